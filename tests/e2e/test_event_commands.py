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
