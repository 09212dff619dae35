// Reads argument sets (JSON array) on stdin; prints, for each, what the official SPL clients
// build for a Token-2022 ticket: the mint's instructions after its account's creation (metadata
// pointer, permanent delegate, InitializeMint with a freeze authority, TokenMetadata Initialize
// and UpdateField, the owner's token account, MintTo, SetAuthority), the lifecycle's (FreezeAccount,
// ThawAccount, BurnChecked, TransferChecked), the owner's token account address and the mint's
// length before TokenMetadata (getMintLen), each instruction as programId, data (hex), accounts.
import { PublicKey } from "@solana/web3.js";
import {
  AuthorityType, ExtensionType, TOKEN_2022_PROGRAM_ID,
  createAssociatedTokenAccountIdempotentInstruction, createBurnCheckedInstruction,
  createFreezeAccountInstruction, createInitializeMetadataPointerInstruction,
  createInitializeMintInstruction, createInitializePermanentDelegateInstruction,
  createMintToInstruction, createSetAuthorityInstruction, createThawAccountInstruction,
  createTransferCheckedInstruction, getAssociatedTokenAddressSync, getMintLen,
} from "@solana/spl-token";
import { createInitializeInstruction, createUpdateFieldInstruction } from "@solana/spl-token-metadata";

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => { text += chunk; });
  process.stdin.on("end", () => resolve(text));
}));

const view = (ix) => ({
  programId: ix.programId.toString(),
  data: Buffer.from(ix.data).toString("hex"),
  accounts: ix.keys.map((k) => [k.pubkey.toString(), k.isSigner, k.isWritable]),
});

const P = TOKEN_2022_PROGRAM_ID;
const out = input.map((a) => {
  const [payer, mint, owner, to] = [a.payer, a.mint, a.owner, a.to].map((k) => new PublicKey(k));
  const ata = (who) => getAssociatedTokenAddressSync(mint, who, true, P);
  const mintIxs = [
    createInitializeMetadataPointerInstruction(mint, payer, mint, P),
    createInitializePermanentDelegateInstruction(mint, payer, P),
    createInitializeMintInstruction(mint, 0, payer, payer, P),
    createInitializeInstruction({
      programId: P, metadata: mint, updateAuthority: payer, mint, mintAuthority: payer,
      name: a.name, symbol: a.symbol, uri: a.uri,
    }),
    ...a.extra.map(([key, value]) => createUpdateFieldInstruction({
      programId: P, metadata: mint, updateAuthority: payer, field: key, value,
    })),
    createAssociatedTokenAccountIdempotentInstruction(payer, ata(owner), owner, mint, P),
    createMintToInstruction(mint, ata(owner), payer, 1, [], P),
    createSetAuthorityInstruction(mint, payer, AuthorityType.MintTokens, null, [], P),
  ];
  const lifecycle = {
    checkIn: createUpdateFieldInstruction({
      programId: P, metadata: mint, updateAuthority: payer, field: "checked_in", value: a.checkedIn,
    }),
    freeze: createFreezeAccountInstruction(ata(owner), mint, payer, [], P),
    thaw: createThawAccountInstruction(ata(owner), mint, payer, [], P),
    burn: createBurnCheckedInstruction(ata(owner), mint, payer, 1, 0, [], P),
    destination: createAssociatedTokenAccountIdempotentInstruction(payer, ata(to), to, mint, P),
    transfer: createTransferCheckedInstruction(ata(owner), mint, ata(to), payer, 1, 0, [], P),
  };
  return {
    ownerAccount: ata(owner).toString(),
    mintLen: getMintLen([ExtensionType.MetadataPointer, ExtensionType.PermanentDelegate]),
    mint: mintIxs.map(view),
    lifecycle: Object.fromEntries(Object.entries(lifecycle).map(([k, ix]) => [k, view(ix)])),
  };
});
process.stdout.write(JSON.stringify(out));
