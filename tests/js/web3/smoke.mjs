// Airdrop, SOL transfer and an account subscription, all confirmed through the embedded
// validator's PubSub WebSocket (RPC port + 1, or argv[3]) the way dApps do it: prints JSON.
import {
  Connection, Keypair, LAMPORTS_PER_SOL, SystemProgram, Transaction, sendAndConfirmTransaction,
} from "@solana/web3.js";

const [url, wsEndpoint] = process.argv.slice(2);
const connection = new Connection(url, {
  commitment: "confirmed", disableRetryOnRateLimit: true, ...(wsEndpoint ? { wsEndpoint } : {}),
});
const sender = Keypair.generate();
const receiver = Keypair.generate();
const LAMPORTS = 54321;

// the airdrop, confirmed by a signatureSubscribe notification (block-height expiry strategy)
const latest = await connection.getLatestBlockhash();
const airdrop = await connection.requestAirdrop(sender.publicKey, LAMPORTS_PER_SOL);
const airdropResult = await connection.confirmTransaction({ signature: airdrop, ...latest });
if (airdropResult.value.err) throw new Error(`airdrop failed: ${JSON.stringify(airdropResult.value.err)}`);

// the receiver's account change, seen by accountSubscribe
const accountChange = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("no account notification")), 60_000);
  const id = connection.onAccountChange(receiver.publicKey, (info, context) => {
    clearTimeout(timer);
    connection.removeAccountChangeListener(id).finally(() => resolve({ lamports: info.lamports, slot: context.slot }));
  }, "confirmed");
});
// let the subscription reach the server before the transfer lands
await new Promise((r) => setTimeout(r, 200));

const tx = new Transaction().add(
  SystemProgram.transfer({ fromPubkey: sender.publicKey, toPubkey: receiver.publicKey, lamports: LAMPORTS }),
);
const signature = await sendAndConfirmTransaction(connection, tx, [sender]);
const change = await accountChange;
const { value: [status] } = await connection.getSignatureStatuses([signature]);

console.log(JSON.stringify({
  signature,
  receiver: receiver.publicKey.toBase58(),
  senderBalance: await connection.getBalance(sender.publicKey),
  receiverBalance: await connection.getBalance(receiver.publicKey),
  accountChange: change,
  status,
}));
process.exit(0); // the WebSocket would keep node alive
