// Airdrop, SOL transfer, confirm at `confirmed`, read balances and the status: prints JSON.
// Confirmation polls getSignatureStatuses: the embedded validator serves HTTP, not pubsub.
import {
  Connection, Keypair, LAMPORTS_PER_SOL, SystemProgram, Transaction,
} from "@solana/web3.js";

const url = process.argv[2];
const connection = new Connection(url, { commitment: "confirmed", disableRetryOnRateLimit: true });
const sender = Keypair.generate();
const receiver = Keypair.generate();

async function confirmed(signature) {
  for (let i = 0; i < 600; i++) {
    const { value } = await connection.getSignatureStatuses([signature], { searchTransactionHistory: true });
    const s = value[0];
    if (s && s.err) throw new Error(`transaction failed: ${JSON.stringify(s.err)}`);
    if (s && (s.confirmationStatus === "confirmed" || s.confirmationStatus === "finalized")) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not confirmed: ${signature}`);
}

await confirmed(await connection.requestAirdrop(sender.publicKey, LAMPORTS_PER_SOL));
const tx = new Transaction().add(
  SystemProgram.transfer({ fromPubkey: sender.publicKey, toPubkey: receiver.publicKey, lamports: 54321 }),
);
const signature = await connection.sendTransaction(tx, [sender]);
const status = await confirmed(signature);

console.log(JSON.stringify({
  signature,
  receiver: receiver.publicKey.toBase58(),
  senderBalance: await connection.getBalance(sender.publicKey),
  receiverBalance: await connection.getBalance(receiver.publicKey),
  status,
}));
