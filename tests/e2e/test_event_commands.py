"""`minter event put|show` as an operator runs them (no Core binary needed: nothing is sent
without workers), and `minter enqueue` of a Core ticket that names it."""

from __future__ import annotations

import json

from solders.keypair import Keypair

PUT = ["event", "put", "E-cli", "--name", "Concert", "--uri", "https://t.example/e.json"]


def test_event_put_show_repeat_and_conflict(stack):
    creator = f"{Keypair().pubkey()}:100"
    first = stack.minter(*PUT, "--capacity", "2", "--venue-id", "V-3", "--creator", creator,
                         "--seller-fee-basis-points", "500")  # fmt: skip
    event = json.loads(first.stdout)
    assert event["capacity"] == 2 and event["seller_fee_basis_points"] == 500
    assert event["collection_status"] == "pending" and event["transfer_policy"] == "transferable"
    shown = stack.minter("event", "show", "E-cli")
    assert json.loads(shown.stdout) == event
    # pending, never sent: a changed body is taken
    changed = json.loads(stack.minter(*PUT, "--capacity", "3", "--venue-id", "V-3").stdout)
    assert changed["capacity"] == 3
    missing = stack.minter("event", "show", "E-none", check=False)
    assert missing.returncode == 1 and "no event E-none" in missing.stderr
    bad = stack.minter(*PUT, "--capacity", "lots", check=False)
    assert bad.returncode == 2 and "capacity" in bad.stderr
    policy = stack.minter(*PUT, "--transfer-policy", "sometimes", check=False)
    assert policy.returncode == 2 and "transfer_policy" in policy.stderr


def test_enqueue_a_core_ticket_of_the_event_and_capacity(stack):
    stack.minter(*PUT, "--capacity", "1", "--venue-id", "V-3")
    ticket = ["enqueue", "--name", "Ticket", "--uri", "https://t.example/1", "--event-id", "E-cli"]
    one = stack.minter(*ticket, "--ticket-id", "C-1", "--owner", str(Keypair().pubkey()),
                       "--attributes", '{"tier": "VIP"}', "--json")  # fmt: skip
    row = json.loads(one.stdout.splitlines()[0])
    assert row["result"] == "created"
    full = stack.minter(
        *ticket, "--ticket-id", "C-2", "--owner", str(Keypair().pubkey()), check=False
    )
    assert full.returncode == 1 and "event_id" in full.stderr and "full" in full.stderr
    attrs = stack.minter(*ticket, "--ticket-id", "C-3", "--owner", str(Keypair().pubkey()),
                         "--attributes", "not json", check=False)  # fmt: skip
    assert attrs.returncode == 2 and "attributes" in attrs.stderr
    assert stack.statuses() == {"C-1": "pending"}


def test_ticket_commands_decide_in_the_ledger(stack):
    stack.minter(*PUT, "--venue-id", "V-3")
    owner = str(Keypair().pubkey())
    stack.minter("enqueue", "--name", "Ticket", "--uri", "https://t.example/1",
                 "--event-id", "E-cli", "--ticket-id", "C-1", "--owner", owner)  # fmt: skip
    scan = ["ticket", "check-in", "C-1", "--gate", "North"]
    first = json.loads(stack.minter(*scan, "--operation-id", "s-1").stdout)
    assert first["state"] == "checked_in" and first["new"] is True
    second = stack.minter(*scan, "--operation-id", "s-2", check=False)
    assert second.returncode == 1 and "already checked in" in second.stderr
    assert "North" in second.stderr
    void = stack.minter("ticket", "invalidate", "C-1", "--operation-id", "v-1", "--reason", "fraud")
    assert json.loads(void.stdout)["state"] == "invalidated"
    new_owner = str(Keypair().pubkey())
    again = stack.minter("ticket", "reissue", "C-1", "--operation-id", "r-1", "--owner", new_owner)
    assert json.loads(again.stdout)["version"] == 2
    history = json.loads(stack.minter("ticket", "history", "C-1").stdout)
    assert history["holder"] == new_owner and history["state"] == "reissued"
    assert [s["kind"] for s in history["history"]] == ["mint", "check_in", "invalidate", "reissue"]
    missing = stack.minter("ticket", "history", "C-404", check=False)
    assert missing.returncode == 1 and "no ticket C-404" in missing.stderr
    bad = stack.minter("ticket", "check-in", "C-1", "--operation-id", "s 3", "--gate", "N",
                       check=False)  # fmt: skip
    assert bad.returncode == 2 and "operation_id" in bad.stderr
