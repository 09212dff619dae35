// Reads argument sets (JSON array) on stdin; prints, for each, the official Metaplex Core
// client's instruction (program id, data hex, account metas [pubkey, isSigner, isWritable]).
// Each set names its instruction in `ix`: createCollection and create go through the client's
// high-level helpers (which map plugin arguments to the program's enums themselves);
// updatePluginV1, transferV1 and burnV1 through the generated builders, which need no RPC.
import { createNoopSigner, createUmi, publicKey, signerIdentity } from "@metaplex-foundation/umi";
import { web3JsEddsa } from "@metaplex-foundation/umi-eddsa-web3js";
import {
  burnV1, create, createCollection, ruleSet, transferV1, updatePluginV1,
} from "@metaplex-foundation/mpl-core";

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

const view = (builder) => {
  const [ix] = builder.getInstructions();
  return {
    programId: ix.programId.toString(),
    data: Buffer.from(ix.data).toString("hex"),
    accounts: ix.keys.map((k) => [k.pubkey.toString(), k.isSigner, k.isWritable]),
  };
};

const signer = (key) => createNoopSigner(publicKey(key));
const optional = (key) => (key === null || key === undefined ? undefined : publicKey(key));
const UPDATE_AUTHORITY = { type: "UpdateAuthority" };

// Plugin arguments in the high-level client's shape ({ type, ...fields, authority }).
const plugin = (p) => {
  switch (p.type) {
    case "Royalties":
      return {
        type: "Royalties",
        basisPoints: p.basisPoints,
        creators: p.creators.map((c) => ({ address: publicKey(c.address), percentage: c.percentage })),
        ruleSet: ruleSet("None"),
        authority: UPDATE_AUTHORITY,
      };
    case "Attributes":
      return { type: "Attributes", attributeList: p.attributeList, authority: UPDATE_AUTHORITY };
    case "PermanentFreezeDelegate":
      return { type: "PermanentFreezeDelegate", frozen: p.frozen, authority: UPDATE_AUTHORITY };
    default: // the permanent transfer and burn delegates carry no data
      return { type: p.type, authority: UPDATE_AUTHORITY };
  }
};

// The generated builders' Plugin enum value, for UpdatePluginV1.
const pluginData = (p) => {
  switch (p.type) {
    case "Attributes":
      return { __kind: "Attributes", fields: [{ attributeList: p.attributeList }] };
    default: // PermanentFreezeDelegate, FreezeDelegate
      return { __kind: p.type, fields: [{ frozen: p.frozen }] };
  }
};

const build = (a) => {
  const payer = signer(a.payer);
  umi.use(signerIdentity(payer)); // identity and payer
  switch (a.ix) {
    case "createCollection":
      return createCollection(umi, {
        collection: signer(a.collection),
        updateAuthority: publicKey(a.updateAuthority),
        payer,
        name: a.name,
        uri: a.uri,
        plugins: a.plugins.map(plugin),
      });
    case "create":
      return create(umi, {
        asset: signer(a.asset),
        // the high-level helper wants the collection account's data; only its address is used
        collection: a.collection ? { publicKey: publicKey(a.collection) } : undefined,
        authority: signer(a.authority),
        updateAuthority: optional(a.updateAuthority),
        payer,
        owner: publicKey(a.owner),
        name: a.name,
        uri: a.uri,
        plugins: a.plugins.map(plugin),
      });
    case "updatePluginV1":
      return updatePluginV1(umi, {
        asset: publicKey(a.asset),
        collection: optional(a.collection),
        payer,
        authority: signer(a.authority),
        plugin: pluginData(a.plugin),
      });
    case "transferV1":
      return transferV1(umi, {
        asset: publicKey(a.asset),
        collection: optional(a.collection),
        payer,
        authority: signer(a.authority),
        newOwner: publicKey(a.newOwner),
      });
    case "burnV1":
      return burnV1(umi, {
        asset: publicKey(a.asset),
        collection: optional(a.collection),
        payer,
        authority: signer(a.authority),
      });
    default:
      throw new Error(`unknown instruction ${a.ix}`);
  }
};

console.log(JSON.stringify(input.map((a) => view(build(a)))));
