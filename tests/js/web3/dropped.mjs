// confirmTransaction while the validator drops every PubSub notification (pubsub_drop=1.0):
// prints JSON {already, pending} for the Python test to judge.
import { Connection, Keypair, LAMPORTS_PER_SOL } from "@solana/web3.js";

const [url] = process.argv.slice(2);
const connection = new Connection(url, { commitment: "confirmed", disableRetryOnRateLimit: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function confirm(signature, latest, commitment) {
  const start = Date.now();
  try {
    const res = await connection.confirmTransaction({ signature, ...latest }, commitment);
    return { outcome: "resolved", err: res.value.err, ms: Date.now() - start };
  } catch (e) {
    return { outcome: "threw", error: e.name, ms: Date.now() - start };
  }
}

// already confirmed before confirmTransaction: its one status check after subscribing answers
let latest = await connection.getLatestBlockhash();
const first = await connection.requestAirdrop(Keypair.generate().publicKey, LAMPORTS_PER_SOL);
for (;;) {
  const { value: [s] } = await connection.getSignatureStatuses([first]);
  if (s && s.confirmationStatus !== "processed") break;
  await sleep(20);
}
const already = await confirm(first, latest, "confirmed");

// not yet finalized when confirmTransaction subscribes: only the (dropped) notification could tell
latest = await connection.getLatestBlockhash();
const second = await connection.requestAirdrop(Keypair.generate().publicKey, LAMPORTS_PER_SOL);
const pending = await confirm(second, latest, "finalized");
const { value: [status] } = await connection.getSignatureStatuses([second]);

console.log(JSON.stringify({ already, pending: { ...pending, status } }));
process.exit(0);
