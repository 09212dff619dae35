// Reads argument sets (JSON array) on stdin; prints, for each, the official client's
// CreateMetadataAccountV3 and CreateMasterEditionV3 instruction data (hex) and account metas.
import { createNoopSigner, publicKey, none, some } from "@metaplex-foundation/umi";
import { createMetadataAccountV3, createMasterEditionV3 } from "@metaplex-foundation/mpl-token-metadata";

const RENT = publicKey("SysvarRent111111111111111111111111111111111");
const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => { text += chunk; });
  process.stdin.on("end", () => resolve(text));
}));

function context(payer) {
  return {
    programs: { getPublicKey: (_name, fallback) => publicKey(fallback) },
    eddsa: { findPda: () => { throw new Error("PDAs are passed in explicitly"); } },
    identity: payer,
    payer,
  };
}

const view = (ix) => ({
  programId: ix.programId.toString(),
  data: Buffer.from(ix.data).toString("hex"),
  accounts: ix.keys.map((k) => [k.pubkey.toString(), k.isSigner, k.isWritable]),
});

const out = input.map((a) => {
  const payer = createNoopSigner(publicKey(a.payer));
  const ctx = context(payer);
  const creators = a.creators === null ? none() : some(a.creators.map((c) => ({
    address: publicKey(c.address), verified: c.verified, share: c.share,
  })));
  const metadata = createMetadataAccountV3(ctx, {
    metadata: publicKey(a.metadataPda),
    mint: publicKey(a.mint),
    mintAuthority: payer,
    payer,
    updateAuthority: payer,
    rent: RENT,
    data: {
      name: a.name, symbol: a.symbol, uri: a.uri,
      sellerFeeBasisPoints: a.sellerFeeBasisPoints,
      creators, collection: none(), uses: none(),
    },
    isMutable: a.isMutable,
    collectionDetails: none(),
  }).getInstructions()[0];
  const edition = createMasterEditionV3(ctx, {
    edition: publicKey(a.editionPda),
    mint: publicKey(a.mint),
    updateAuthority: payer,
    mintAuthority: payer,
    payer,
    metadata: publicKey(a.metadataPda),
    rent: RENT,
    maxSupply: some(0),
  }).getInstructions()[0];
  return { metadata: view(metadata), edition: view(edition) };
});
console.log(JSON.stringify(out));
