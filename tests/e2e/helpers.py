"""What the end-to-end tests share: requests, enqueueing, claims, ledger reads and reconcile runs
against a :class:`devtools.stack.Stack`."""

from __future__ import annotations

import json
import time

import psycopg
from solana.rpc.api import Client
from solana.rpc.types import TxOpts
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from spl.token.constants import TOKEN_2022_PROGRAM_ID
from spl.token.instructions import get_associated_token_address

from devtools.stack import Stack
from minter.transfer import TOKEN_PROGRAMS, TicketTransfer, build_transfer_transaction

FAST = {
    "MINT_SEND_RATE": "1000",
    "MINT_PENDING_AGE": "3",
    "MINT_SWEEP_INTERVAL": "1",
    "SOLANA_RPC_TIMEOUT": "2",
}


def requests_for(n: int, prefix: str, *, owners: list[str] | None = None) -> list[dict]:
    owners = owners or [str(Keypair().pubkey()) for _ in range(n)]
    return [
        {
            "ticket_id": f"{prefix}-{i:05d}",
            "owner": owners[i],
            "standard": "token2022",
            "event_id": "E-7",
            "venue_id": "V-3",
            "seat": f"S{i}",
            "metadata": {"name": f"Ticket {i}", "symbol": "TIX", "uri": f"https://t.example/{i}"},
        }
        for i in range(n)
    ]


def enqueue(stack: Stack, items: list[dict], **kw):
    from actors.infra import config as cfg
    from actors.infra.bootstrap import build_services
    from actors.workflows.intake import enqueue_mints

    settings = cfg.load_settings(stack.env, require=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN)
    services = build_services(settings, chain=False)
    try:
        return enqueue_mints(
            items,
            uow_factory=services.uow_factory,
            mint_secret=cfg.reveal(settings.signer.mint_key_secret),
            default_standard=settings.minting.standard,
            notify=services.notify,
            **kw,
        )
    finally:
        services.close()


def quiet_sends(localnet, *, quiet: float = 2.5, timeout: float = 30.0) -> int:
    """The validator's count of sends once it has not moved for ``quiet`` seconds: a confirmer
    pass that saw a transaction not landed yet sends it again after its commit, and on a busy
    machine that resend can come after another pass has completed the row."""
    deadline = time.monotonic() + timeout
    count, since = localnet.stats()["send_requests"], time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, "the validator never stopped receiving sends"
        time.sleep(0.25)
        now = localnet.stats()["send_requests"]
        if now != count:
            count, since = now, time.monotonic()
    return count


def mint_to_custody(stack: Stack, n: int, prefix: str):
    custody = str(stack.payer.pubkey())
    items = requests_for(n, prefix, owners=[custody] * n)
    results = enqueue(stack, items)
    ids = [i["ticket_id"] for i in items]
    assert set(stack.wait_until_resolved(ids, timeout=300).values()) == {"completed"}
    return ids, [r.mint_address for r in results]


def claim(stack: Stack, transfers: list[tuple[str, str, str]], *, check: bool = True):
    from actors.infra import config as cfg
    from actors.infra.bootstrap import build_services
    from actors.workflows.transfers import TransferSigner, enqueue_transfer

    settings = cfg.load_settings(stack.env, require=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN)
    services = build_services(settings, chain=False)
    try:
        return [
            enqueue_transfer(
                {"transfer_id": t, "ticket_id": k, "to": to},
                uow_factory=services.uow_factory,
                signer=TransferSigner(payer=settings.signer.payer),
                notify=services.notify_transfers,
            )
            for t, k, to in transfers
        ]
    finally:
        services.close()


def transfer_statuses(stack: Stack, ids) -> dict[str, str]:
    import psycopg

    with psycopg.connect(stack.database_url) as conn:
        return dict(
            conn.execute(
                "SELECT transfer_id, status FROM nft_transfers WHERE transfer_id = ANY(%s)",
                (list(ids),),
            ).fetchall()
        )


def wait_transfers(stack: Stack, ids, timeout=300.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        st = transfer_statuses(stack, ids)
        if all(v in ("completed", "failed") for v in st.values()) and len(st) == len(ids):
            return st
        if time.monotonic() > deadline:
            return st
        time.sleep(0.25)


def holdings(url: str, owner: str, mint: str) -> tuple[int, bool]:
    """(amount the owner's token account holds, whether that account exists)."""
    ata = get_associated_token_address(
        Pubkey.from_string(owner), Pubkey.from_string(mint), TOKEN_2022_PROGRAM_ID
    )
    acc = Client(url).get_account_info(ata).value
    if acc is None:
        return 0, False
    return int.from_bytes(bytes(acc.data)[64:72], "little"), True


def reconcile(stack: Stack, *flags: str) -> tuple[int, dict]:
    res = stack.minter("reconcile", "--json", *flags, check=False)
    assert res.returncode in (0, 1) and res.stdout.startswith("{"), res.stderr[-2000:]
    return res.returncode, json.loads(res.stdout)


def found(report: dict) -> list[tuple[str, str, str]]:
    return sorted((d["kind"], d["table"], d["key"]) for d in report["discrepancies"])


def sql(stack: Stack, statement: str, *params) -> None:
    with psycopg.connect(stack.database_url) as conn:
        conn.execute(statement, params)


def row(stack: Stack, key: str, *, table: str = "nft_mints") -> dict:
    """One ledger row as a dict: a mint by ticket id, or (``table="nft_transfers"``) a transfer."""
    column = {"nft_mints": "ticket_id", "nft_transfers": "transfer_id"}[table]
    with psycopg.connect(stack.database_url) as conn:
        cur = conn.execute(f"SELECT * FROM {table} WHERE {column} = %s", (key,))
        return dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))


def move_outside_the_ledger(stack: Stack, mint: Pubkey, owner: Keypair, elsewhere: Pubkey):
    """The holder moves the token on chain itself, as a wallet would: the ledger never hears."""
    stack.fund(owner.pubkey(), 10_000_000)
    client = Client(stack.rpc_url)
    move = TicketTransfer(
        mint=mint,
        source_owner=owner.pubkey(),
        destination_owner=elsewhere,
        payer=owner.pubkey(),
        token_program=TOKEN_PROGRAMS[stack.standard],
        close_source=False,
    )
    tx = build_transfer_transaction(
        move,
        payer=owner,
        source=owner,
        recent_blockhash=client.get_latest_blockhash().value.blockhash,
        compute_unit_limit=200_000,
    )
    sig = client.send_raw_transaction(bytes(tx), TxOpts(skip_confirmation=True)).value
    client.confirm_transaction(sig, commitment="confirmed", sleep_seconds=0.05)


def kill_workers_while_running(stack: Stack, ids: list[str], *, kills: int, rng) -> list[int]:
    """SIGKILL the workers ``kills`` times at random moments, restarting them each time; how
    many tickets were not completed at each kill."""
    import signal

    outstanding = []
    for _ in range(kills):
        time.sleep(rng.uniform(0.5, 3.0))
        stack.stop_workers(sig=signal.SIGKILL)
        outstanding.append(len(ids) - list(stack.statuses(ids).values()).count("completed"))
        stack.start_workers(processes=2, threads=8)
    return outstanding
