"""The one request model: unsupported or mistyped fields refused by name, nothing coerced or
dropped, and the flat text form of the CLI and the CSV answered as the JSON form is."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair

from minter.errors import ValidationError
from minter.nft import from_flat, parse_mint_request, parse_transfer_request

OWNER = str(Keypair().pubkey())
SYSTEM_PROGRAM = "11111111111111111111111111111111"
META = {"name": "Ticket", "symbol": "TIX", "uri": "https://t.example/1.json"}
BASE = {"ticket_id": "T-1", "owner": OWNER, "standard": "metaplex", "metadata": META}


def meta(**over) -> dict:
    return {**BASE, "metadata": {**META, **over}}


# (field named, JSON body, the same value as flat text cells or None where text cannot say it)
REFUSED = [
    ("creatorz", meta(creatorz="x"), {"creatorz": "x"}),
    ("colour", {**BASE, "colour": "red"}, {"colour": "red"}),
    ("attributes", {**BASE, "attributes": {"tier": "vip"}}, None),
    (
        "seller_fee_basis_points",
        meta(seller_fee_basis_points=True),
        {"seller_fee_basis_points": "true"},
    ),
    ("seller_fee_basis_points", meta(seller_fee_basis_points="250"), None),
    (
        "seller_fee_basis_points",
        meta(seller_fee_basis_points=2.5),
        {"seller_fee_basis_points": "2.5"},
    ),
    (
        "seller_fee_basis_points",
        meta(seller_fee_basis_points=10001),
        {"seller_fee_basis_points": "10001"},
    ),
    ("is_mutable", meta(is_mutable="yes"), {"is_mutable": "yes"}),
    ("is_mutable", meta(is_mutable=1), None),
    ("owner", {**BASE, "owner": SYSTEM_PROGRAM}, {"owner": SYSTEM_PROGRAM}),
    ("owner", {**BASE, "owner": "nope"}, {"owner": "nope"}),
    ("ticket_id", {**BASE, "ticket_id": "a/b"}, {"ticket_id": "a/b"}),
    ("ticket_id", {**BASE, "ticket_id": "a b"}, {"ticket_id": "a b"}),
    ("ticket_id", {**BASE, "ticket_id": "a?b"}, {"ticket_id": "a?b"}),
    ("ticket_id", {**BASE, "ticket_id": ".."}, {"ticket_id": ".."}),
    ("ticket_id", {**BASE, "ticket_id": "T" * 129}, {"ticket_id": "T" * 129}),
    ("ticket_id", {**BASE, "ticket_id": 1001}, None),
    ("event_id", {**BASE, "event_id": "E/7"}, {"event_id": "E/7"}),
    ("seat", {**BASE, "seat": ""}, None),
    ("creators[0].share", meta(creators=[{"address": OWNER, "share": "100"}]), None),
    ("creators[0].share", meta(creators=[{"address": OWNER}]), {"creators": OWNER}),
    ("creators", meta(creators=[{"address": OWNER, "share": 60}]), {"creators": f"{OWNER}:60"}),
    ("creators[0].address", meta(creators=[{"address": "x", "share": 100}]), {"creators": "x:100"}),
    (
        "creators[0].verified",
        meta(creators=[{"address": OWNER, "share": 100, "verified": True}]),
        None,
    ),
    ("name", meta(name="n" * 33), {"name": "n" * 33}),
    ("symbol", meta(symbol=None), None),
    ("standard", {**BASE, "standard": "erc721"}, {"standard": "erc721"}),
]


def flat_of(body: dict) -> dict:
    out = {k: v for k, v in body.items() if k != "metadata"}
    return out | {k: v for k, v in body["metadata"].items() if isinstance(v, str)}


@pytest.mark.parametrize(
    "field,body,cells", REFUSED, ids=[f"{f}-{i}" for i, (f, *_) in enumerate(REFUSED)]
)
def test_refused_with_the_field_named_the_same_in_every_form(field, body, cells):
    with pytest.raises(ValidationError) as json_err:
        parse_mint_request(body, default_standard="metaplex")
    assert json_err.value.field == field, json_err.value
    if cells is None:
        return
    flat = {**flat_of(BASE), **cells}
    with pytest.raises(ValidationError) as text_err:
        parse_mint_request(from_flat(flat), default_standard="metaplex")
    assert (text_err.value.field, text_err.value.message) == (
        json_err.value.field,
        json_err.value.message,
    )


@pytest.mark.parametrize("field", ["seller_fee_basis_points", "creators", "is_mutable"])
def test_token2022_refuses_what_it_cannot_put_on_chain(field):
    value = {"seller_fee_basis_points": 0, "creators": [{"address": OWNER, "share": 100}]}.get(
        field, False
    )
    with pytest.raises(ValidationError) as err:
        parse_mint_request(
            {**meta(**{field: value}), "standard": "token2022"}, default_standard="x"
        )
    assert err.value.field == field and "token2022" in err.value.message
    # the same through the default standard
    with pytest.raises(ValidationError):
        parse_mint_request(
            {**meta(**{field: value}), "standard": None}, default_standard="token2022"
        )


def test_every_builder_field_is_carried_to_the_request():
    creators = [{"address": OWNER, "share": 60}, {"address": str(Keypair().pubkey()), "share": 40}]
    body = {
        **meta(seller_fee_basis_points=250, creators=creators, is_mutable=True),
        "event_id": "E-7",
        "venue_id": "V-3",
        "seat": "B12",
    }
    req = parse_mint_request(body, default_standard="token2022")
    assert (req.seller_fee_basis_points, req.is_mutable, req.seat) == (250, True, "B12")
    assert [(str(c.address), c.share) for c in req.creators] == [
        (OWNER, 60),
        (creators[1]["address"], 40),
    ]
    # the ledger's payload parses back to the same request, for both standards
    assert parse_mint_request(req.to_ledger_payload(), default_standard="x") == req
    t22 = parse_mint_request({**BASE, "standard": "token2022"}, default_standard="x")
    assert parse_mint_request(t22.to_ledger_payload(), default_standard="x") == t22


@pytest.mark.parametrize(
    "ticket_id", ["T-1", "a.b_c:d-e", "T" * 128, "...", "0", "event:E-7:seat:B12"]
)
def test_identifiers_of_the_alphabet_are_accepted(ticket_id):
    assert (
        parse_mint_request({**BASE, "ticket_id": ticket_id}, default_standard="x").ticket_id
        == ticket_id
    )


TRANSFER = {"transfer_id": "X-1", "ticket_id": "T-1", "to": OWNER}


@pytest.mark.parametrize(
    "field,body",
    [
        ("to", {**TRANSFER, "to": SYSTEM_PROGRAM}),
        ("to", {**TRANSFER, "to": 5}),
        ("transfer_id", {**TRANSFER, "transfer_id": "x/1"}),
        ("ticket_id", {**TRANSFER, "ticket_id": "T 1"}),
        ("reason", {**TRANSFER, "reason": "gift"}),
        ("amount", {**TRANSFER, "amount": 1}),
    ],
)
def test_transfer_request_refusals_name_the_field(field, body):
    with pytest.raises(ValidationError) as err:
        parse_transfer_request(body)
    assert err.value.field == field


def test_transfer_request_defaults_to_claim():
    assert parse_transfer_request(TRANSFER).to_ledger_payload()["reason"] == "claim"
