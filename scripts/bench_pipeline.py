"""End-to-end throughput and latency against the validator's own ceiling, and cost per ticket.

    .venv/bin/python -m scripts.bench_pipeline [--tickets 1000] [--processes N] [--threads N]
        [--commitment confirmed] [--out bench-out]

At the service's default settings unless a flag overrides one. In one run: (1) the ceiling:
the same mint transactions executed directly in LiteSVM, in-process, right before and right
after the full-speed run (their mean); (2) the whole pipeline
(enqueue → Redis → workers → embedded validator → PostgreSQL) for N tickets as fast as it
goes, with CPU per mint by component; (3) the pipeline at half that rate, with enqueue→
``processed`` and enqueue→``confirmed`` latency percentiles (the workers restarted at each
commitment); (4) lamports per ticket from the payer's balance, beside
the legacy two-transaction design computed from the same rent figures. Writes JSON, a Markdown
table and a PNG plot (``pip install -e '.[bench]'`` for matplotlib). Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from solders.keypair import Keypair
from solders.litesvm import LiteSVM

from actors.workflows.health import KNOWN_COST
from devtools.stack import Stack
from minter.keys import Payer
from minter.localnet import admin
from minter.nft import build_mint_transaction, parse_mint_request
from minter.nft.transaction import rent_exempt

FEE = 5000
COMPONENTS = (
    ("validator", "minter.localnet"),
    ("workers", "actors.entrypoints.cli worker"),
    ("postgres", "postgres"),
    ("redis", "redis-server"),
)
TOKEN_ACCOUNT = 165


def request(i: int, owner: str | None = None, prefix: str = "B") -> dict:
    return {
        "ticket_id": f"{prefix}-{i:06d}",
        "owner": owner or str(Keypair().pubkey()),
        "standard": "token2022",
        "event_id": "E-7",
        "venue_id": "V-3",
        "seat": f"S{i}",
        "metadata": {"name": f"Ticket #{i}", "symbol": "TIX", "uri": f"https://t.example/{i}"},
    }


def ceiling(n: int) -> float:
    """Mint transactions of the same shape, executed directly in LiteSVM (tx/s)."""
    svm = LiteSVM()
    payer = Keypair()
    svm.airdrop(payer.pubkey(), 10**13)
    txs = [
        build_mint_transaction(
            parse_mint_request(request(i), default_standard="token2022"),
            payer=Payer(payer),
            mint=Keypair(),
            recent_blockhash=svm.latest_blockhash(),
            compute_unit_limit=120_000,
        )
        for i in range(n)
    ]
    start = time.perf_counter()
    for tx in txs:
        res = svm.send_transaction(tx)
        assert not hasattr(res, "err"), res
    return n / (time.perf_counter() - start)


def enqueue_all(stack: Stack, items: list[dict], *, rate: float | None = None):
    from actors.entrypoints.services import services_for
    from actors.infra import config as cfg
    from actors.workflows.intake import enqueue_mints

    settings = cfg.load_settings(stack.env, require=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN)
    services = services_for(settings, chain=False)
    kw = dict(
        uow_factory=services.uow_factory,
        mint_secret=cfg.reveal(settings.signer.mint_key_secret),
        default_standard="token2022",
        notify=services.notify,
    )
    try:
        if rate is None:
            enqueue_mints(items, **kw)
            return
        start = time.monotonic()
        for i, item in enumerate(items):  # paced one at a time, like ticket sales
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            enqueue_mints([item], **kw)
    finally:
        services.close()


def cpu_by_component() -> dict[str, float]:
    """CPU seconds used so far by each part of the stack, read from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        part = next((name for name, mark in COMPONENTS if mark in cmd), None)
        if part:
            out[part] = out.get(part, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


class Watcher:
    """Watches a run from the ledger over one connection, lightly: a count every ``poll``
    seconds (a fresh connection and 1,000 statuses every 50 ms cost the machine a tenth of a
    core, taken from the pipeline it measures), and the run's end read from the ledger's own
    ``completed_at`` (its confirmer pass's start; the commit follows within the pass), not from
    when a poll happened to see it."""

    def __init__(self, stack: Stack, *, poll: float = 0.2) -> None:
        import psycopg

        self.conn = psycopg.connect(stack.database_url, autocommit=True)
        self.poll = poll

    def now(self):
        return self.conn.execute("SELECT clock_timestamp()").fetchone()[0]

    def wait(self, prefix: str, n: int, *, timeout: float) -> tuple[dict[str, int], object]:
        """Until the ``n`` tickets named ``prefix``-… are completed or failed: the count of
        each status, and the last completion."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.conn.execute(
                "SELECT status, count(*), max(completed_at) FROM nft_mints"
                " WHERE ticket_id LIKE %s GROUP BY status",
                (f"{prefix}-%",),
            ).fetchall()
            counts = {status: c for status, c, _ in rows}
            if counts.get("completed", 0) + counts.get("failed", 0) >= n:
                return counts, max(last for _, _, last in rows if last is not None)
            if time.monotonic() > deadline:
                return counts, None
            time.sleep(self.poll)

    def close(self) -> None:
        self.conn.close()


def latencies(stack: Stack, ids: list[str]) -> list[float]:
    import psycopg

    with psycopg.connect(stack.database_url) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM completed_at - created_at) FROM nft_mints"
            " WHERE ticket_id = ANY(%s) AND status = 'completed'",
            (ids,),
        ).fetchall()
    return sorted(float(r[0]) for r in rows)


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run(args) -> dict:
    out: dict = {
        "tickets": args.tickets,
        "processes": args.processes,
        "threads": args.threads,
        "commitment": args.commitment,
    }
    # measured right before and right after the full-speed run, and averaged: this machine's
    # speed drifts by a third within minutes, and one reading taken before would favour or
    # penalise the ratio by as much
    # over as many mints as the pipeline runs, into a ledger of the same size: this VM runs
    # a second or two of work up to twice as fast as a sustained load (400 mints read 595 tx/s
    # where 1,000 read 332, a second apart), and a short reading caught such bursts
    ceilings = [ceiling(args.tickets)]
    # the service's defaults (the adaptive send rate from MINT_SEND_RATE up) unless asked
    env = {"SOLANA_COMMITMENT": args.commitment}
    if args.send_rate is not None:
        env["MINT_SEND_RATE"] = str(args.send_rate)
    if args.confirm_interval is not None:
        env["MINT_CONFIRM_INTERVAL"] = str(args.confirm_interval)
    with Stack(extra_env=env) as stack:
        stack.start_workers(processes=args.processes, threads=args.threads)
        time.sleep(2)  # workers booted
        from solana.rpc.api import Client

        client = Client(stack.rpc_url)
        before = client.get_balance(stack.payer.pubkey(), "confirmed").value
        full = [request(i, prefix="FULL") for i in range(args.tickets)]
        watcher = Watcher(stack)
        bank_before = admin.get_stats(stack.rpc_url)
        cpu_before = cpu_by_component()
        start = watcher.now()
        enqueue_all(stack, full)
        counts, last = watcher.wait("FULL", len(full), timeout=900)
        cpu_after = cpu_by_component()
        bank_after = admin.get_stats(stack.rpc_url)
        # enqueue's start → the last completion (or the give-up, if the run never ended)
        elapsed = ((last or watcher.now()) - start).total_seconds()
        watcher.close()
        ceilings.append(ceiling(args.tickets))
        out["ceiling_readings_tx_per_s"] = ceilings
        out["ceiling_tx_per_s"] = statistics.fmean(ceilings)
        done = counts.get("completed", 0)
        out["pipeline_mints_per_s"] = done / elapsed
        out["wall_s"] = elapsed
        out["cpu_ms_per_mint"] = {
            k: 1000 * (cpu_after.get(k, 0) - cpu_before.get(k, 0)) / max(done, 1) for k in cpu_after
        }
        # the validator's bank thread runs every transaction in turn: busy for nearly the
        # whole run, it is the pipeline's bottleneck; busy beyond its CPU is time it was ready
        # to run and waited (for a core the other processes held, or for its own GIL)
        busy, on_cpu = (bank_after[k] - bank_before[k] for k in ("bank_busy_s", "bank_cpu_s"))
        out["bank_ms_per_mint"] = {
            "busy": 1000 * busy / max(done, 1),
            "on CPU": 1000 * on_cpu / max(done, 1),
        }
        out["bank_busy_share"] = busy / elapsed
        out["ratio_to_ceiling"] = out["pipeline_mints_per_s"] / out["ceiling_tx_per_s"]
        time.sleep(1)
        spent = before - client.get_balance(stack.payer.pubkey(), "confirmed").value
        out["lamports_per_ticket_token2022"] = spent / done

        plain = [
            dict(request(i, prefix="PLAIN"), event_id=None, venue_id=None, seat=None)
            for i in range(20)
        ]
        plain = [{k: v for k, v in r.items() if v is not None} for r in plain]
        before = client.get_balance(stack.payer.pubkey(), "confirmed").value
        enqueue_all(stack, plain)
        stack.wait_until_resolved([r["ticket_id"] for r in plain], timeout=300, poll=0.05)
        time.sleep(1)
        spent = before - client.get_balance(stack.payer.pubkey(), "confirmed").value
        out["lamports_per_ticket_token2022_plain"] = spent / len(plain)

        half = out["pipeline_mints_per_s"] / 2
        out["half_rate_per_s"] = half
        out["latency_s"] = {}
        for level in ("processed", "confirmed"):  # the level a mint is completed at
            stack.stop_workers()
            stack.extra_env["SOLANA_COMMITMENT"] = level
            stack.start_workers(processes=args.processes, threads=args.threads)
            time.sleep(2)  # workers booted
            n = min(args.tickets, int(half * 20))
            paced = [request(i, prefix=f"HALF-{level}") for i in range(n)]
            enqueue_all(stack, paced, rate=half)
            stack.wait_until_resolved([r["ticket_id"] for r in paced], timeout=900, poll=0.05)
            lat = latencies(stack, [r["ticket_id"] for r in paced])
            out["latency_s"][level] = {
                "p50": pct(lat, 50),
                "p95": pct(lat, 95),
                "p99": pct(lat, 99),
                "mean": statistics.fmean(lat),
                "count": len(lat),
            }
            out[f"latency_samples_{level}"] = lat
    # Metaplex from rent figures, for the design comparison: mint, metadata (679 bytes), master
    # edition (282), the owner's token account, two signatures. The legacy design mints to the
    # payer, then a second transaction creates the owner's token account and transfers: one more
    # token account and one more fee per ticket. The current Token Metadata program also charges
    # a protocol fee per create (both designs pay it): the measured figure is KNOWN_COST's.
    metaplex = sum(rent_exempt(n) for n in (82, 679, 282, TOKEN_ACCOUNT)) + 2 * FEE
    legacy = metaplex + rent_exempt(TOKEN_ACCOUNT) + FEE
    out["lamports_per_ticket_metaplex_computed"] = metaplex
    out["lamports_per_ticket_metaplex_measured"] = KNOWN_COST["metaplex"]
    out["legacy_lamports_per_ticket"] = legacy
    out["cost_ratio_metaplex"] = metaplex / legacy
    out["cost_ratio_token2022_plain"] = out["lamports_per_ticket_token2022_plain"] / legacy
    out["cost_ratio_token2022_extras"] = out["lamports_per_ticket_token2022"] / legacy
    return out


def write(out: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench.json").write_text(json.dumps(out, indent=2))
    lat = out["latency_s"]

    def percentiles(level: str) -> str:
        v = lat[level]
        return f"{v['p50'] * 1000:.0f} / {v['p95'] * 1000:.0f} / {v['p99'] * 1000:.0f}"

    rows = [
        (
            "LiteSVM ceiling (in-process, before / after the run), tx/s",
            f"{out['ceiling_tx_per_s']:.0f} ("
            + " / ".join(f"{c:.0f}" for c in out["ceiling_readings_tx_per_s"])
            + ")",
        ),
        ("pipeline, completed mints/s", f"{out['pipeline_mints_per_s']:.1f}"),
        ("ratio to ceiling (target ≥ 0.6)", f"{out['ratio_to_ceiling']:.2f}"),
        ("half rate, tickets/s", f"{out['half_rate_per_s']:.1f}"),
        ("enqueue → processed p50 / p95 / p99, ms", percentiles("processed")),
        ("enqueue → confirmed p50 / p95 / p99, ms", percentiles("confirmed")),
        (
            "CPU ms per mint: " + ", ".join(out["cpu_ms_per_mint"]),
            ", ".join(f"{v:.1f}" for v in out["cpu_ms_per_mint"].values()),
        ),
        (
            "validator bank thread, ms per mint: busy (on CPU); busy share of the run",
            f"{out['bank_ms_per_mint']['busy']:.1f} ({out['bank_ms_per_mint']['on CPU']:.1f});"
            f" {100 * out['bank_busy_share']:.0f} %",
        ),
        (
            "lamports per ticket, Token-2022 name/symbol/uri (measured)",
            f"{out['lamports_per_ticket_token2022_plain']:.0f}",
        ),
        (
            "lamports per ticket, Token-2022 + event/venue/seat (measured)",
            f"{out['lamports_per_ticket_token2022']:.0f}",
        ),
        (
            "lamports per ticket, Metaplex (rent figures)",
            f"{out['lamports_per_ticket_metaplex_computed']:.0f}",
        ),
        (
            "lamports per ticket, Metaplex measured on the 2026 program (protocol fee included)",
            f"{out['lamports_per_ticket_metaplex_measured']:.0f}",
        ),
        ("legacy two-transaction Metaplex design", f"{out['legacy_lamports_per_ticket']:.0f}"),
        ("ratio Metaplex / legacy (target ≤ 0.855)", f"{out['cost_ratio_metaplex']:.3f}"),
        ("ratio Token-2022 / legacy (target ≤ 0.39)", f"{out['cost_ratio_token2022_plain']:.3f}"),
        ("ratio Token-2022 with extras / legacy", f"{out['cost_ratio_token2022_extras']:.3f}"),
    ]
    md = "| figure | value |\n|---|---|\n" + "".join(f"| {a} | {b} |\n" for a, b in rows)
    (folder / "bench.md").write_text(md)
    print(md)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no PNG; pip install -e '.[bench]')")
        return
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.bar(["LiteSVM ceiling", "pipeline"], [out["ceiling_tx_per_s"], out["pipeline_mints_per_s"]])
    a.set_ylabel("mints per second")
    for level in ("processed", "confirmed"):
        b.hist([x * 1000 for x in out[f"latency_samples_{level}"]], bins=30, alpha=0.6, label=level)
    b.legend()
    b.set_xlabel("enqueue → processed / confirmed (ms) at half load")
    fig.tight_layout()
    fig.savefig(folder / "bench.png", dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=None, help="default: minter worker's")
    parser.add_argument("--threads", type=int, default=None, help="default: minter worker's")
    parser.add_argument(
        "--commitment", default="confirmed", choices=("processed", "confirmed", "finalized")
    )
    parser.add_argument("--out", default="bench-out")
    parser.add_argument(
        "--send-rate", type=int, default=None, help="MINT_SEND_RATE (default: the service's)"
    )
    parser.add_argument(
        "--confirm-interval",
        type=float,
        default=None,
        help="MINT_CONFIRM_INTERVAL (default: the service's)",
    )
    args = parser.parse_args()
    write(run(args), Path(args.out))


if __name__ == "__main__":
    main()
