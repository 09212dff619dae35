"""sent_at marks buffered per process: one commit for many sends, written within an interval,
at once when the buffer is full, kept for the next round while the ledger is away."""

from __future__ import annotations

import time

from actors.workflows.sent_marks import SentMarks
from tests.fakes.ledger import FakeLedger


def ledger_with_attempts(n: int) -> FakeLedger:
    ledger = FakeLedger()
    with ledger.uow() as uow:
        for i in range(n):
            uow.attempts.record("mint", f"T-{i}", f"sig-{i}", 100)
        uow.commit()
    return ledger


def sent(ledger: FakeLedger) -> set[str]:
    return {a.signature for a in ledger.tables["attempts"].values() if a.sent_at is not None}


def test_many_marks_are_one_commit_written_within_the_interval():
    ledger = ledger_with_attempts(50)
    marks = SentMarks(ledger.uow, interval=0.05)
    before = ledger.commits
    for i in range(50):
        marks.add(f"sig-{i}")
    deadline = time.monotonic() + 5
    while len(sent(ledger)) < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent(ledger) == {f"sig-{i}" for i in range(50)}
    assert ledger.commits - before <= 2  # not one per send


def test_a_full_buffer_is_written_at_once():
    ledger = ledger_with_attempts(4)
    marks = SentMarks(ledger.uow, interval=60, size=4)
    for i in range(4):
        marks.add(f"sig-{i}")
    deadline = time.monotonic() + 5
    while len(sent(ledger)) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(sent(ledger)) == 4  # long before the 60 s interval


def test_marks_stay_buffered_while_the_ledger_is_away():
    ledger = ledger_with_attempts(2)
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("ledger away")
        return ledger.uow()

    marks = SentMarks(flaky, interval=60)
    marks._pending = ["sig-0", "sig-1"]  # as add() leaves them, without the thread
    assert marks.flush() == 0 and sent(ledger) == set()
    assert marks.flush() == 2 and sent(ledger) == {"sig-0", "sig-1"}
