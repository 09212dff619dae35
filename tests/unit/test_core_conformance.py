"""Our Metaplex Core instructions equal, byte for byte, what the official client builds.

The official side is `@metaplex-foundation/mpl-core` with Umi (tests/js/core, pinned in its
lockfile), run by Node: `createCollection` and `create` through its high-level helpers, which
map plugin arguments to the program's enums themselves (so a wrong plugin or authority index
on our side shows), the lifecycle instructions through its generated builders. The same
argument sets go to both; data bytes and account metas must be equal.
"""

from __future__ import annotations

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from minter.nft.core import (
    CoreAsset,
    CoreCollection,
    burn_v1,
    create_collection_v2,
    create_v2,
    transfer_v1,
    update_plugin_v1,
)
from minter.nft.core_plugins import (
    Attributes,
    AuthorityKind,
    Creator,
    FreezeDelegate,
    PermanentBurnDelegate,
    PermanentFreezeDelegate,
    PermanentTransferDelegate,
    PluginType,
    Royalties,
)
from minter.nft.decode_core import (
    AssetState,
    CollectionState,
    UpdateAuthorityKind,
    decode_core_asset,
    decode_core_collection,
)
from tests.support.node import instruction_view, node_runner

# An off-curve owner: a smart wallet's PDA
PDA_OWNER = Pubkey.find_program_address(
    [b"wallet"], Pubkey.from_string("SMPLecH534NA9acpos4G6x7uf3LWbCAwZQE9e8ZekMu")
)[0]


def key() -> Pubkey:
    return Keypair().pubkey()


@pytest.fixture(scope="module")
def official():
    return node_runner("core")


view = instruction_view


def creators(n: int) -> tuple[Creator, ...]:
    shares = [100 // n + (1 if i < 100 % n else 0) for i in range(n)] if n else []
    return tuple(Creator(key(), s) for s in shares)


COLLECTIONS = [
    dict(
        name="Concert 2026",
        uri="https://t.example/c.json",
        bps=500,
        creators=1,
        td=True,
        bd=True,
        attrs=(("capacity", "5000"),),
    ),
    dict(name="é" * 32, uri="u" * 200, bps=10000, creators=5, td=True, bd=True),  # 64 bytes
    dict(name="🎫 Fête", uri="ipfs://bafy", bps=0, creators=0, td=False, bd=True),
    dict(name="x", uri="", bps=250, creators=3, td=True, bd=False, attrs=(("capacité", "🎫"),)),
    dict(name="no royalties", uri="u", bps=None, creators=0, td=False, bd=False),
    dict(name="n" * 64, uri="🎫" * 50, bps=None, creators=0, td=True, bd=True),
]


def collection_case(case: dict, same_payer: bool):
    authority = key()
    payer = authority if same_payer else key()
    royalties = None
    if case["bps"] is not None:
        royalties = Royalties(case["bps"], creators(case["creators"]))
    p = CoreCollection(
        collection=key(),
        update_authority=authority,
        payer=payer,
        name=case["name"],
        uri=case["uri"],
        royalties=royalties,
        permanent_transfer_delegate=PermanentTransferDelegate() if case["td"] else None,
        permanent_burn_delegate=PermanentBurnDelegate() if case["bd"] else None,
        attributes=Attributes(case["attrs"]) if case.get("attrs") else None,
    )
    plugins = []
    if royalties is not None:
        plugins.append(
            {
                "type": "Royalties",
                "basisPoints": royalties.basis_points,
                "creators": [
                    {"address": str(c.address), "percentage": c.percentage}
                    for c in royalties.creators
                ],
            }
        )
    if case.get("attrs"):
        items = [{"key": k, "value": v} for k, v in case["attrs"]]
        plugins.append({"type": "Attributes", "attributeList": items})
    plugins += [{"type": "PermanentTransferDelegate"}] if case["td"] else []
    plugins += [{"type": "PermanentBurnDelegate"}] if case["bd"] else []
    args = {
        "ix": "createCollection",
        "collection": str(p.collection),
        "updateAuthority": str(authority),
        "payer": str(payer),
        "name": p.name,
        "uri": p.uri,
        "plugins": plugins,
    }
    return create_collection_v2(p), args


def attributes(n: int) -> tuple[tuple[str, str], ...]:
    base = [("event_id", "E-2026-0001"), ("venue_id", "V-Pärís"), ("seat", "B12")]
    extra = [(f"extra_{i}é", "🎫" * i) for i in range(max(0, n - 3))]
    return tuple((base + extra)[:n])


ASSETS = [
    dict(name="Ticket #1", uri="https://t.example/1.json", attrs=3, frozen=True, coll=True),
    dict(name="é" * 32, uri="u" * 200, attrs=10, frozen=False, coll=True),
    dict(name="🎫 Entrée", uri="ipfs://bafy/é", attrs=0, frozen=True, coll=False),
    dict(name="n" * 64, uri="", attrs=1, frozen=None, coll=True, pda_owner=True),
    dict(name="x", uri="x", attrs=None, frozen=False, coll=False, same_payer=True),
    dict(name="plain", uri="u", attrs=None, frozen=None, coll=True, same_payer=True),
    dict(name="Seat Z99", uri="u" * 199, attrs=5, frozen=True, coll=False, pda_owner=True),
]


def asset_case(case: dict):
    authority = key()
    payer = authority if case.get("same_payer") else key()
    owner = PDA_OWNER if case.get("pda_owner") else key()
    attrs = None if case["attrs"] is None else Attributes(attributes(case["attrs"]))
    freeze = None if case["frozen"] is None else PermanentFreezeDelegate(case["frozen"])
    p = CoreAsset(
        asset=key(),
        owner=owner,
        payer=payer,
        name=case["name"],
        uri=case["uri"],
        authority=authority,
        collection=key() if case["coll"] else None,
        attributes=attrs,
        permanent_freeze_delegate=freeze,
    )
    plugins = []
    if attrs is not None:
        items = [{"key": k, "value": v} for k, v in attrs.attributes]
        plugins.append({"type": "Attributes", "attributeList": items})
    if freeze is not None:
        plugins.append({"type": "PermanentFreezeDelegate", "frozen": freeze.frozen})
    args = {
        "ix": "create",
        "asset": str(p.asset),
        "collection": None if p.collection is None else str(p.collection),
        "authority": str(authority),
        # the official helper passes through whatever update authority it is given
        "updateAuthority": None if p.collection is not None else str(authority),
        "payer": str(payer),
        "owner": str(owner),
        "name": p.name,
        "uri": p.uri,
        "plugins": plugins,
    }
    return create_v2(p), args


def lifecycle_cases():
    """(ours, official args) for UpdatePluginV1, TransferV1 and BurnV1."""
    out = []
    for n, collection in [(0, None), (4, key()), (10, key())]:
        asset, authority, payer = key(), key(), key()
        attrs = Attributes(attributes(n) + (("checked_in", "true"),))
        common = {"asset": str(asset), "payer": str(payer), "authority": str(authority)}
        common["collection"] = None if collection is None else str(collection)
        items = [{"key": k, "value": v} for k, v in attrs.attributes]
        kw = dict(authority=authority, payer=payer, collection=collection)
        out.append(
            (
                update_plugin_v1(asset, attrs, **kw),
                {
                    **common,
                    "ix": "updatePluginV1",
                    "plugin": {"type": "Attributes", "attributeList": items},
                },
            )
        )
        for frozen in (True, False):
            for cls in (PermanentFreezeDelegate, FreezeDelegate):
                official = {"type": cls.__name__, "frozen": frozen}
                ix = update_plugin_v1(asset, cls(frozen), **kw)
                out.append((ix, {**common, "ix": "updatePluginV1", "plugin": official}))
        new_owner = PDA_OWNER if collection is None else key()
        out.append(
            (
                transfer_v1(asset, new_owner, **kw),
                {**common, "ix": "transferV1", "newOwner": str(new_owner)},
            )
        )
        out.append((burn_v1(asset, **kw), {**common, "ix": "burnV1"}))
    return out


def check(official, pairs):
    theirs = official([args for _, args in pairs])
    for (ix, args), their in zip(pairs, theirs, strict=True):
        assert view(ix) == their, args


def test_create_collection_v2_matches_the_official_client(official):
    check(official, [collection_case(c, same) for c in COLLECTIONS for same in (False, True)])


def test_create_v2_matches_the_official_client(official):
    check(official, [asset_case(c) for c in ASSETS])


def test_lifecycle_instructions_match_the_official_client(official):
    check(official, lifecycle_cases())


# Pinned bytes, so that a machine without Node still checks the layout: a collection with
# Royalties (5%, one creator) and both permanent delegates, and an asset with one attribute
# and a frozen PermanentFreezeDelegate (from the official client).
ONE = Pubkey.from_string("11111111111111111111111111111112")


def test_pinned_bytes_of_the_official_client():
    coll = CoreCollection(
        collection=ONE,
        update_authority=ONE,
        payer=ONE,
        name="c",
        uri="u",
        royalties=Royalties(500, (Creator(ONE, 100),)),
        permanent_transfer_delegate=PermanentTransferDelegate(),
        permanent_burn_delegate=PermanentBurnDelegate(),
    )
    assert bytes(create_collection_v2(coll).data).hex() == (
        "1501000000630100000075010300000000f4010100000000000000000000000000000000000000000000"
        "00000000000000000000000001640001020701020801020100000000"
    )
    asset = CoreAsset(
        asset=ONE,
        owner=ONE,
        payer=ONE,
        name="é",
        uri="u",
        authority=ONE,
        collection=ONE,
        attributes=Attributes((("a", "b"),)),
        permanent_freeze_delegate=PermanentFreezeDelegate(True),
    )
    assert bytes(create_v2(asset).data).hex() == (
        "140002000000c3a9010000007501020000000601000000010000006101000000620102050101020100000000"
    )


# Accounts as the Core program wrote them on the embedded validator (tests/integration/
# test_core_onchain.py's builders): a collection with Royalties (3 creators) and both permanent
# delegates; a frozen ticket in it; a ticket after UpdatePluginV1 added `checked_in` and froze
# it (its freeze delegate's data moved); an asset with no plugin and no collection.
ACCOUNTS = {
    "collection": (
        "0504fa49929e7f7d51183c3b489f86d902a167659eb9be3aa5825fbd94dae2d38b1d00000046c3aa74652064"
        "65206c61204d757369717565203230323620f09f8eab3400000068747470733a2f2f742e6578616d706c652f"
        "6576656e74732f452d323032362d303030312f636f6c6c656374696f6e2e6a736f6e020000000200000003f8"
        "0000000000000000f401030000001d3aad0f40a59019db952680baf463d59a00b98e3c6ebef58b3ac0e6df24"
        "d6dd220145c78982d6f4c2e5f0635ea78f514d9e79fb704f2461ce3b2e95e41cf920b321aae6464116304b92"
        "770c4e7f389468b2eec4319e6293ff5915231ec5b55a6a9021000708040300000000028b0000000000000007"
        "02f6000000000000000802f70000000000000000000000"
    ),
    "frozen": (
        "01fbe7813c7f05594712eb248a607bc42ff013683bc91a09b27563792af152a34b02ffc01d9ebe1b143ebde1"
        "d7ec36886f791873ba6eda7bd2997810010a690161b6320000005469636b657420452d323032362d30303031"
        "20736561742042313220e2809420456e7472c3a9652067c3a96ec3a972616c652b00000068747470733a2f2f"
        "742e6578616d706c652f7469636b6574732f542d303030303030303030312e6a736f6e00030a010000000000"
        "000604000000080000006576656e745f69640b000000452d323032362d303030310800000076656e75655f69"
        "6409000000562d50c3a472c3ad73040000007365617403000000423132040000007469657203000000564950"
        "050104020000000602b1000000000000000502080100000000000000000000"
    ),
    "updated": (
        "0118cfebf00654006119412b1444f6542a21b50e981a18a2664b20a02f15d1115702ffc01d9ebe1b143ebde1"
        "d7ec36886f791873ba6eda7bd2997810010a690161b6320000005469636b657420452d323032362d30303031"
        "20736561742042313220e2809420456e7472c3a9652067c3a96ec3a972616c652b00000068747470733a2f2f"
        "742e6578616d706c652f7469636b6574732f542d303030303030303030312e6a736f6e000323010000000000"
        "000605000000080000006576656e745f69640b000000452d323032362d303030310800000076656e75655f69"
        "6409000000562d50c3a472c3ad73040000007365617403000000423132040000007469657203000000564950"
        "0a000000636865636b65645f696e0700000079657320e29c93050104020000000602b1000000000000000502"
        "210100000000000000000000"
    ),
    "bare": (
        "01fac85d86c5dcb85cd07feb488481da99ea3a4879da71b1ac338ab3f55c9b8e3c0104fa49929e7f7d51183c"
        "3b489f86d902a167659eb9be3aa5825fbd94dae2d38b0400000062617265010000007500"
    ),
}


def camel(name: str) -> str:
    return "".join(w.capitalize() for w in name.split("_"))


def plugin_view(state: AssetState | CollectionState) -> list:
    out = []
    for e in state.plugins:
        match e.plugin:
            case Royalties() as r:
                creators = [[str(c.address), c.percentage] for c in r.creators]
                data = [r.basis_points, creators, camel(r.rule_set.name)]
            case Attributes() as a:
                data = [list(kv) for kv in a.attributes]
            case PermanentFreezeDelegate() | FreezeDelegate() as f:
                data = f.frozen
            case _:
                data = None
        out.append([camel(e.type.name), camel(e.authority.kind.name), e.offset, data])
    return out


def decoded_view(kind: str, data: bytes) -> dict:
    if kind == "collection":
        c = decode_core_collection(data)
        return {
            "updateAuthority": str(c.update_authority),
            "name": c.name,
            "uri": c.uri,
            "numMinted": c.num_minted,
            "currentSize": c.current_size,
            "plugins": plugin_view(c),
        }
    a = decode_core_asset(data)
    ua = a.update_authority
    return {
        "owner": str(a.owner),
        "updateAuthority": [camel(ua.kind.name), None if ua.address is None else str(ua.address)],
        "name": a.name,
        "uri": a.uri,
        "seq": a.seq,
        "plugins": plugin_view(a),
    }


def test_decoder_reads_what_the_official_client_reads(official):
    kinds = {k: "collection" if k == "collection" else "asset" for k in ACCOUNTS}
    args = [{"kind": kinds[k], "data": v} for k, v in ACCOUNTS.items()]
    theirs = official(args, "decode.mjs")
    for (name, data), their in zip(ACCOUNTS.items(), theirs, strict=True):
        assert decoded_view(kinds[name], bytes.fromhex(data)) == their, name


def test_decoder_reads_tickets_and_collections():
    coll = decode_core_collection(bytes.fromhex(ACCOUNTS["collection"]))
    assert (coll.num_minted, coll.current_size) == (2, 2)
    assert coll.royalties.basis_points == 500
    assert [c.percentage for c in coll.royalties.creators] == [34, 33, 33]
    assert coll.plugin(PluginType.PERMANENT_TRANSFER_DELEGATE) == PermanentTransferDelegate()
    assert coll.plugin(PluginType.PERMANENT_BURN_DELEGATE) == PermanentBurnDelegate()
    frozen = decode_core_asset(bytes.fromhex(ACCOUNTS["frozen"]))
    assert frozen.collection is not None and frozen.frozen is True
    assert frozen.attributes[:3] == (
        ("event_id", "E-2026-0001"),
        ("venue_id", "V-Pärís"),
        ("seat", "B12"),
    )
    updated = decode_core_asset(bytes.fromhex(ACCOUNTS["updated"]))
    assert updated.collection == frozen.collection and updated.frozen is True
    assert updated.attributes[-1] == ("checked_in", "yes ✓")
    bare = decode_core_asset(bytes.fromhex(ACCOUNTS["bare"]))
    assert bare.plugins == () and bare.frozen is None and bare.attributes is None
    assert bare.update_authority.kind == UpdateAuthorityKind.ADDRESS
    assert all(e.authority.kind == AuthorityKind.UPDATE_AUTHORITY for e in frozen.plugins)
    with pytest.raises(ValueError):
        decode_core_asset(bytes.fromhex(ACCOUNTS["collection"]))
    with pytest.raises(ValueError):
        decode_core_collection(bytes.fromhex(ACCOUNTS["bare"]))
