// Reads account data sets (JSON array of { kind: "asset" | "collection", data: hex }) on stdin;
// prints what the official client's deserializeAssetV1 / deserializeCollectionV1 read in them,
// reduced to what tests/integration/test_core_onchain.py compares with our decoder.
import { publicKey } from "@metaplex-foundation/umi";
import { deserializeAssetV1, deserializeCollectionV1 } from "@metaplex-foundation/mpl-core";

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => { text += chunk; });
  process.stdin.on("end", () => resolve(text));
}));

const CORE = publicKey("CoREENxT6tW1HoK8ypY1SxRMZTcVPm7R94rH4PZNhX7d");
const ANY = publicKey("11111111111111111111111111111111"); // the account's own address is unused

// The plugins our builders make, under the client's keys; each as [type, authority, offset, data].
const PLUGINS = {
  royalties: ["Royalties", (p) => [p.basisPoints, p.creators.map((c) => [c.address, c.percentage]), p.ruleSet.type]],
  attributes: ["Attributes", (p) => p.attributeList.map((a) => [a.key, a.value])],
  permanentFreezeDelegate: ["PermanentFreezeDelegate", (p) => p.frozen],
  freezeDelegate: ["FreezeDelegate", (p) => p.frozen],
  permanentTransferDelegate: ["PermanentTransferDelegate", () => null],
  permanentBurnDelegate: ["PermanentBurnDelegate", () => null],
};

const plugins = (account) => Object.entries(PLUGINS)
  .filter(([key]) => account[key] !== undefined)
  .map(([key, [type, data]]) => {
    const p = account[key];
    return [type, p.authority.type, Number(p.offset), data(p)];
  })
  .sort((a, b) => a[2] - b[2]);

const out = input.map(({ kind, data }) => {
  const raw = {
    publicKey: ANY, owner: CORE, lamports: { basisPoints: 0n, identifier: "SOL", decimals: 9 },
    executable: false, rentEpoch: 0n, data: Uint8Array.from(Buffer.from(data, "hex")),
  };
  if (kind === "asset") {
    const a = deserializeAssetV1(raw);
    return {
      owner: a.owner.toString(),
      updateAuthority: [a.updateAuthority.type, a.updateAuthority.address?.toString() ?? null],
      name: a.name, uri: a.uri,
      seq: a.seq.__option === "Some" ? Number(a.seq.value) : null,
      plugins: plugins(a),
    };
  }
  const c = deserializeCollectionV1(raw);
  return {
    updateAuthority: c.updateAuthority.toString(), name: c.name, uri: c.uri,
    numMinted: c.numMinted, currentSize: c.currentSize, plugins: plugins(c),
  };
});
console.log(JSON.stringify(out));
