// Reads argument sets (JSON array) on stdin; prints, for each, the official client's
// metadata and master edition PDAs (findMetadataPda / findMasterEditionPda) and its
// CreateMetadataAccountV3 and CreateMasterEditionV3 instruction data (hex) and account metas.
// No address is taken from the caller but the payer and the mint: the builders derive both
// PDAs themselves, with Umi's EdDSA from @metaplex-foundation/umi-eddsa-web3js.
import { createNoopSigner, createUmi, none, publicKey, signerIdentity, some } from "@metaplex-foundation/umi";
import { web3JsEddsa } from "@metaplex-foundation/umi-eddsa-web3js";
import {
  createMasterEditionV3, createMetadataAccountV3, findMasterEditionPda, findMetadataPda,
} from "@metaplex-foundation/mpl-token-metadata";

const RENT = publicKey("SysvarRent111111111111111111111111111111111");

// Umi's program repository needs an RPC to know the cluster; without one, every generated
// call falls back to the program ID it was generated with, which is what we want to check.
const generatedProgramIds = {
  install(umi) {
    umi.programs = { ...umi.programs, getPublicKey: (_name, fallback) => publicKey(fallback) };
  },
};

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => { text += chunk; });
  process.stdin.on("end", () => resolve(text));
}));

const umi = createUmi().use(web3JsEddsa()).use(generatedProgramIds);

const view = (ix) => ({
  programId: ix.programId.toString(),
  data: Buffer.from(ix.data).toString("hex"),
  accounts: ix.keys.map((k) => [k.pubkey.toString(), k.isSigner, k.isWritable]),
});

const out = input.map((a) => {
  const payer = createNoopSigner(publicKey(a.payer));
  umi.use(signerIdentity(payer)); // identity and payer
  const mint = publicKey(a.mint);
  const creators = a.creators === null ? none() : some(a.creators.map((c) => ({
    address: publicKey(c.address), verified: c.verified, share: c.share,
  })));
  // metadata and edition are left out: the builders resolve them with the find*Pda below
  const metadata = createMetadataAccountV3(umi, {
    mint,
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
  const edition = createMasterEditionV3(umi, {
    mint,
    updateAuthority: payer,
    mintAuthority: payer,
    payer,
    rent: RENT,
    maxSupply: some(0),
  }).getInstructions()[0];
  return {
    metadataPda: findMetadataPda(umi, { mint })[0].toString(),
    editionPda: findMasterEditionPda(umi, { mint })[0].toString(),
    metadata: view(metadata),
    edition: view(edition),
  };
});
console.log(JSON.stringify(out));
