"""A bulk intake is written in chunks that start small and double: the workers are woken for
the first tickets while the rest are still being written."""

from __future__ import annotations

from solders.keypair import Keypair

from actors.workflows.intake import enqueue_mints
from tests.unit.conftest import METADATA, SECRET, World


def test_chunks_start_small_double_and_each_wakes_its_own_tickets(world: World):
    items = [
        {"ticket_id": f"C-{i}", "owner": str(Keypair().pubkey()), "metadata": dict(METADATA)}
        for i in range(1000)
    ]
    woken: list[list[str]] = []
    committed: list[int] = []  # tickets in the ledger when each chunk's wake-up went out

    def notify(ids: list[str]) -> None:
        committed.append(len(world.ledger.tables["mints"]))
        woken.append(ids)

    results = enqueue_mints(
        items,
        uow_factory=world.uow,
        mint_secret=SECRET,
        default_standard="token2022",
        notify=notify,
        batch_size=300,
    )
    assert [len(ids) for ids in woken] == [64, 128, 256, 300, 252]
    assert committed == [64, 192, 448, 748, 1000]  # each woken once it was committed
    assert [t for ids in woken for t in ids] == [f"C-{i}" for i in range(1000)]
    assert all(r.created for r in results)
