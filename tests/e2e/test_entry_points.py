"""One request model behind every entry point: the HTTP API, `minter enqueue` flags, the CSV and
`enqueue_mints` give the same answer for the same value, refuse what they cannot mint as asked
(no ledger row, nothing sent), and answer each item of a batch that names a ticket twice."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from fastapi.testclient import TestClient
from solders.keypair import Keypair

from devtools.stack import Stack
from tests.e2e.helpers import FAST, enqueue

JWT_SECRET = "j" * 40
OWNER = str(Keypair().pubkey())
SYSTEM_PROGRAM = "11111111111111111111111111111111"
# the flat cells every case starts from; a case overrides some of them
CELLS = {
    "ticket_id": "EP-1",
    "owner": OWNER,
    "standard": "metaplex",
    "name": "Ticket",
    "symbol": "TIX",
    "uri": "https://t.example/1.json",
}
_META = ("name", "symbol", "uri", "seller_fee_basis_points", "creators", "is_mutable")
FLAG = {"creators": "--creator"}  # other flags are the column name with dashes

# (field named, the cells as the CLI and the CSV give them, the same value as JSON)
CASES = [
    (
        "seller_fee_basis_points",
        {"seller_fee_basis_points": "true"},
        {"seller_fee_basis_points": True},
    ),
    (
        "seller_fee_basis_points",
        {"seller_fee_basis_points": "2.5"},
        {"seller_fee_basis_points": 2.5},
    ),
    (
        "seller_fee_basis_points",
        {"seller_fee_basis_points": "10001"},
        {"seller_fee_basis_points": 10001},
    ),
    ("is_mutable", {"is_mutable": "yes"}, {"is_mutable": "yes"}),
    ("owner", {"owner": SYSTEM_PROGRAM}, {"owner": SYSTEM_PROGRAM}),
    ("owner", {"owner": "nope"}, {"owner": "nope"}),
    ("ticket_id", {"ticket_id": "EP/1"}, {"ticket_id": "EP/1"}),
    ("ticket_id", {"ticket_id": "T" * 129}, {"ticket_id": "T" * 129}),
    ("creators", {"creators": f"{OWNER}:60"}, {"creators": [{"address": OWNER, "share": 60}]}),
    ("creators[0].share", {"creators": OWNER}, {"creators": [{"address": OWNER}]}),
    ("name", {"name": "n" * 33}, {"name": "n" * 33}),
    ("standard", {"standard": "erc721"}, {"standard": "erc721"}),
    # Token-2022 has no royalties: refused, not minted without them
    (
        "seller_fee_basis_points",
        {"standard": "token2022", "seller_fee_basis_points": "250"},
        {"standard": "token2022", "seller_fee_basis_points": 250},
    ),
]
# a field the service does not know: the CSV and the API name it; argparse refuses the flag
UNKNOWN = ("colour", {"colour": "red"}, {"colour": "red"})


def as_json(over: dict) -> dict:
    merged = {**{k: v for k, v in CELLS.items()}, **over}
    body = {k: v for k, v in merged.items() if k not in _META}
    body["metadata"] = {k: v for k, v in merged.items() if k in _META}
    return body


def as_flags(cells: dict) -> list[str]:
    argv = []
    for key, value in {**CELLS, **cells}.items():
        argv += [FLAG.get(key, "--" + key.replace("_", "-")), value]
    return argv


def as_csv(path, cells: dict) -> str:
    row = {**CELLS, **cells}
    path.write_text(",".join(row) + "\n" + ",".join(row.values()) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def stack(postgres, redis_server, _localnet_session):
    env = {**FAST, "JWT_SECRET": JWT_SECRET}
    with Stack(
        postgres=postgres, redis=redis_server, rpc_url=_localnet_session.url, extra_env=env
    ) as s:
        yield s


@pytest.fixture(scope="module")
def api(stack):
    from actors.entrypoints.http.app import build_app
    from actors.infra import config as cfg

    settings = cfg.load_settings(stack.env, require=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN + cfg.API)
    claims = {"sub": "t", "role": "service", "exp": int(time.time()) + 600}
    token = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
    with TestClient(build_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@pytest.mark.parametrize(
    "field,cells,value", [*CASES, UNKNOWN], ids=lambda v: v if isinstance(v, str) else None
)
def test_the_same_refusal_from_api_cli_and_csv(
    stack, api, _localnet_session, tmp_path, field, cells, value
):
    sends = _localnet_session.stats()["send_requests"]
    res = api.post("/v1/mints", json=as_json(value))
    assert res.status_code == 422, res.text
    answer = (res.json()["field"], res.json()["message"])
    assert answer[0] == field

    from_csv = stack.minter("enqueue", "--csv", as_csv(tmp_path / "one.csv", cells), check=False)
    assert from_csv.returncode == 2
    assert from_csv.stderr == f"minter: {answer[0]}: {answer[1]}\n"

    from_flags = stack.minter("enqueue", *as_flags(cells), check=False)
    assert from_flags.returncode == 2
    if (field, cells, value) == UNKNOWN:  # no such flag: argparse's usage error names it
        assert "unrecognized arguments: --colour" in from_flags.stderr
    else:
        assert from_flags.stderr == f"minter: {answer[0]}: {answer[1]}\n"

    assert stack.statuses() == {}  # no ledger row
    assert _localnet_session.stats()["send_requests"] == sends  # nothing sent


def test_every_builder_field_through_every_entry_point(stack, api, tmp_path):
    """What the Metaplex builder takes, set through the API, the flags and the CSV, lands in the
    ledger's request exactly as given."""
    second = str(Keypair().pubkey())
    cells = {
        "seller_fee_basis_points": "250",
        "creators": f"{OWNER}:70;{second}:30",
        "is_mutable": "true",
        "event_id": "E-7",
        "venue_id": "V-3",
        "seat": "B12",
    }
    value = {
        "seller_fee_basis_points": 250,
        "creators": [{"address": OWNER, "share": 70}, {"address": second, "share": 30}],
        "is_mutable": True,
        "event_id": "E-7",
        "venue_id": "V-3",
        "seat": "B12",
    }
    assert api.post("/v1/mints", json=as_json({**value, "ticket_id": "ALL-API"})).status_code == 202
    flags = as_flags({**cells, "ticket_id": "ALL-CLI"})
    flags += ["--creator", f"{second}:30"]  # the flag repeats: one creator each
    flags[flags.index("--creator") + 1] = f"{OWNER}:70"
    stack.minter("enqueue", *flags)
    stack.minter(
        "enqueue", "--csv", as_csv(tmp_path / "all.csv", {**cells, "ticket_id": "ALL-CSV"})
    )
    import psycopg

    with psycopg.connect(stack.database_url) as conn:
        rows = dict(
            conn.execute("SELECT ticket_id, payload FROM nft_mints WHERE ticket_id LIKE 'ALL-%'")
        )
    assert set(rows) == {"ALL-API", "ALL-CLI", "ALL-CSV"}
    strip = [{k: v for k, v in p.items() if k not in ("ticket_id",)} for p in rows.values()]
    assert strip[0] == strip[1] == strip[2]
    assert strip[0]["metadata"]["creators"] == value["creators"]
    assert (
        strip[0]["metadata"]["seller_fee_basis_points"],
        strip[0]["metadata"]["is_mutable"],
    ) == (250, True)
    assert (strip[0]["event_id"], strip[0]["venue_id"], strip[0]["seat"]) == ("E-7", "V-3", "B12")


def _item(ticket_id: str, owner: str) -> dict:
    return as_json({"ticket_id": ticket_id, "owner": owner, "standard": "token2022"})


@pytest.mark.parametrize("batch_size", [500, 1])  # one chunk, and a repeat in a later chunk
def test_batch_naming_a_ticket_twice_through_enqueue_mints(stack, batch_size):
    a, b, other = str(Keypair().pubkey()), str(Keypair().pubkey()), str(Keypair().pubkey())
    prefix = f"DUP{batch_size}"
    items = [
        _item(f"{prefix}-A", a),
        _item(f"{prefix}-A", a),
        _item(f"{prefix}-B", b),
        _item(f"{prefix}-B", other),
    ]
    results = enqueue(stack, items, batch_size=batch_size)
    assert [r.outcome for r in results] == ["created", "repeat", "created", "conflict"]
    assert [r.created for r in results] == [True, False, True, False]
    assert results[0].mint_address == results[1].mint_address
    import psycopg

    with psycopg.connect(stack.database_url) as conn:
        owners = dict(
            conn.execute(
                "SELECT ticket_id, owner_address FROM nft_mints WHERE ticket_id LIKE %s",
                (prefix + "-%",),
            )
        )
    assert owners == {f"{prefix}-A": a, f"{prefix}-B": b}  # the first payload kept, not overwritten


def test_batch_naming_a_ticket_twice_through_the_csv(stack, tmp_path):
    a, b, other = str(Keypair().pubkey()), str(Keypair().pubkey()), str(Keypair().pubkey())
    path = tmp_path / "dup.csv"
    header = "ticket_id,owner,standard,name,symbol,uri\n"
    line = "{},{},token2022,Ticket,TIX,https://t.example/1.json\n"
    path.write_text(
        header
        + line.format("CSVD-A", a)
        + line.format("CSVD-A", a)
        + line.format("CSVD-B", b)
        + line.format("CSVD-B", other)
    )
    res = stack.minter("enqueue", "--csv", str(path), "--json", check=False)
    assert res.returncode == 1  # a conflict is a difference the caller must see
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert [r["result"] for r in rows] == ["created", "repeat", "created", "conflict"]
    assert "row 4: conflict: ticket CSVD-B" in res.stderr  # said as the CSV goes
    assert "4 tickets: 2 new, 1 repeats, 1 conflicts" in res.stderr  # the summary
    table = stack.minter("enqueue", "--csv", str(path), check=False)
    lines = table.stdout.splitlines()
    assert [x.split()[-1] for x in lines[2:]] == ["repeat", "repeat", "repeat", "conflict"]
    assert "4 tickets: 0 new, 3 repeats, 1 conflicts" in table.stderr


def test_a_ticket_named_twice_through_the_flags_and_the_api(stack, api):
    a, other = str(Keypair().pubkey()), str(Keypair().pubkey())
    cells = {"ticket_id": "FLAG-A", "owner": a, "standard": "token2022"}
    first = stack.minter("enqueue", *as_flags(cells), "--json")
    again = stack.minter("enqueue", *as_flags(cells), "--json")
    clash = stack.minter("enqueue", *as_flags({**cells, "owner": other}), "--json", check=False)
    assert [json.loads(r.stdout)["result"] for r in (first, again, clash)] == [
        "created",
        "repeat",
        "conflict",
    ]
    assert clash.returncode == 1 and "1 conflicts" in clash.stderr

    body = _item("API-A", a)
    assert api.post("/v1/mints", json=body).status_code == 202
    assert api.post("/v1/mints", json=body).status_code == 200
    refused = api.post("/v1/mints", json=_item("API-A", other))
    assert refused.status_code == 409 and refused.json()["field"] == "ticket_id"
    assert stack.statuses(["FLAG-A", "API-A"]) == {"FLAG-A": "pending", "API-A": "pending"}
    assert enqueue(stack, [body])[0].outcome == "repeat"  # and through the Python batch API
