// Metaplex Umi against the embedded validator, as a dApp runs it: an airdrop confirmed by Umi,
// `transferSol` and `createAccount` with `sendAndConfirm`, then the accounts fetched back.
// Umi confirms through web3.js's confirmTransaction, i.e. a signatureSubscribe on RPC port + 1.
// Prints JSON; argv: RPC URL.
import { createUmi } from "@metaplex-foundation/umi-bundle-defaults";
import {
  generateSigner, keypairIdentity, publicKey, sol, lamports,
} from "@metaplex-foundation/umi";
import { createAccount, transferSol } from "@metaplex-foundation/mpl-toolbox";

const [url] = process.argv.slice(2);
const umi = createUmi(url, { commitment: "confirmed" });
const payer = generateSigner(umi);
umi.use(keypairIdentity(payer));
const receiver = generateSigner(umi).publicKey;
const SPACE = 42;
const SENT = 54321;

// requestAirdrop, then Umi's own confirm (blockhash strategy)
await umi.rpc.airdrop(payer.publicKey, sol(1));

const transfer = await transferSol(umi, { destination: receiver, amount: lamports(SENT) })
  .sendAndConfirm(umi);

const newAccount = generateSigner(umi);
const rent = await umi.rpc.getRent(SPACE);
const create = await createAccount(umi, {
  newAccount,
  lamports: rent,
  space: SPACE,
  programId: publicKey("11111111111111111111111111111111"),
}).sendAndConfirm(umi);

const fetched = await umi.rpc.getAccount(newAccount.publicKey);
const landed = await umi.rpc.getTransaction(transfer.signature);
const big = (x) => Number(x.basisPoints);

console.log(JSON.stringify({
  receiver: receiver.toString(),
  transferErr: transfer.result.value.err,
  createErr: create.result.value.err,
  payerBalance: big(await umi.rpc.getBalance(payer.publicKey)),
  receiverBalance: big(await umi.rpc.getBalance(receiver)),
  account: fetched.exists
    ? { size: fetched.data.length, lamports: big(fetched.lamports), owner: fetched.owner.toString() }
    : null,
  rent: big(rent),
  transferSlot: landed ? Number(landed.response.slot) : null,
  transferFee: landed ? big(landed.meta.fee) : null,
}));
process.exit(0); // the WebSocket would keep node alive
