"""The `minter` commands as an operator runs them, against the real stack."""

from __future__ import annotations

import json

from solders.keypair import Keypair


def test_enqueue_csv_then_status(stack, tmp_path, localnet):
    owners = [str(Keypair().pubkey()) for _ in range(3)]
    csv = tmp_path / "tickets.csv"
    csv.write_text(
        "ticket_id,owner,name,symbol,uri,event_id,seat\n"
        + "".join(
            f"CSV-{i},{o},Ticket {i},TIX,https://t.example/{i},E-7,A{i}\n"
            for i, o in enumerate(owners)
        )
    )
    res = stack.minter("enqueue", "--csv", str(csv), "--json")
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["ticket_id"] for r in rows] == ["CSV-0", "CSV-1", "CSV-2"]
    assert all(r["status"] == "pending" and r["new"] for r in rows)

    single = stack.minter(
        "enqueue",
        "--ticket-id",
        "ONE-1",
        "--owner",
        owners[0],
        "--name",
        "Solo",
        "--symbol",
        "TIX",
        "--uri",
        "https://t.example/solo",
    )
    assert "ONE-1" in single.stdout and "pending" in single.stdout

    stack.start_workers(processes=1, threads=4)
    ids = ["CSV-0", "CSV-1", "CSV-2", "ONE-1"]
    assert set(stack.wait_until_resolved(ids).values()) == {"completed"}

    status = stack.minter("status", "CSV-1", "--json")
    report = json.loads(status.stdout)
    assert report["status"] == "completed" and report["agrees"] is True
    assert report["chain"] == "minted as asked" and report["owner"] == owners[1]

    again = stack.minter("enqueue", "--csv", str(csv), "--json")
    assert [json.loads(line)["new"] for line in again.stdout.splitlines()] == [False] * 3

    other = stack.minter(
        "enqueue",
        "--ticket-id",
        "ONE-1",
        "--owner",
        owners[1],
        "--name",
        "Solo",
        "--symbol",
        "TIX",
        "--uri",
        "https://t.example/solo",
        check=False,
    )
    assert other.returncode == 1 and "conflict" in other.stdout


def test_status_of_an_unknown_ticket(stack):
    res = stack.minter("status", "NOPE", check=False)
    assert res.returncode == 1 and "no ticket NOPE" in res.stderr
