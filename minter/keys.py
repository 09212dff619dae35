"""Key material: the payer keypairs (a pool of fee payers, the authority) and deterministic
per-ticket mint keys.

``str(Keypair)`` is the secret key in base58, so every key is held in :class:`Payer`, whose
``repr`` and ``str`` show only the public key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from minter.errors import KeypairError

DEFAULT_KEYPAIR_PATH = Path("~/.config/solana/id.json")
MINT_SEED_DOMAIN = "ticket-mint:v1:"
COLLECTION_SEED_DOMAIN = "event-collection:v1:"


class Payer:
    """The fee payer. Signs; never shows its secret in ``repr``, ``str`` or pickles."""

    __slots__ = ("_keypair", "_pubkey")

    def __init__(self, keypair: Keypair) -> None:
        self._keypair = keypair
        self._pubkey = keypair.pubkey()  # derived once: a build asks for it a dozen times

    @property
    def pubkey(self) -> Pubkey:
        return self._pubkey

    @property
    def keypair(self) -> Keypair:
        """The signer, for building transactions. Never format it."""
        return self._keypair

    def __repr__(self) -> str:
        return f"Payer(pubkey={self.pubkey}, secret=<redacted>)"

    __str__ = __repr__

    def __reduce__(self):  # a pickled payer would carry the secret into queues or logs
        raise TypeError("Payer cannot be pickled")


def load_keypair_file(path: str | Path = DEFAULT_KEYPAIR_PATH) -> Payer:
    """Read a Solana CLI keypair file (a JSON array of 64 bytes) into a :class:`Payer`."""
    p = Path(path).expanduser()
    try:
        raw = json.loads(p.read_text())
    except FileNotFoundError:
        raise KeypairError(f"keypair file not found: {p}") from None
    except (OSError, ValueError):
        raise KeypairError(f"keypair file is not readable JSON: {p}") from None
    if (
        not isinstance(raw, list)
        or len(raw) != 64
        or not all(isinstance(b, int) and 0 <= b <= 255 for b in raw)
    ):
        raise KeypairError(f"keypair file is not a JSON array of 64 bytes: {p}")
    try:
        return Payer(Keypair.from_bytes(bytes(raw)))
    except ValueError:
        raise KeypairError(f"keypair file holds an invalid ed25519 keypair: {p}") from None


def pool_files(spec: str | Path) -> list[Path]:
    """The files of a payer pool: ``spec`` is a comma-separated list of keypair files, or a
    folder whose ``*.json`` files are taken in name order."""
    parts = [p.strip() for p in str(spec).split(",") if p.strip()]
    if not parts:
        raise KeypairError("names no keypair file")
    if len(parts) == 1 and Path(parts[0]).expanduser().is_dir():
        folder = Path(parts[0]).expanduser()
        files = sorted((f for f in folder.glob("*.json") if f.is_file()), key=lambda f: f.name)
        if not files:
            raise KeypairError(f"keypair folder holds no *.json file: {folder}")
        return files
    return [Path(p).expanduser() for p in parts]


def load_payer_pool(spec: str | Path) -> tuple[Payer, ...]:
    """Every payer of ``spec`` (:func:`pool_files`), in order; a key named twice is refused
    (naming both files, never the key)."""
    payers: list[Payer] = []
    seen: dict[Pubkey, Path] = {}
    for path in pool_files(spec):
        payer = load_keypair_file(path)
        if payer.pubkey in seen:
            raise KeypairError(f"keypair files {seen[payer.pubkey]} and {path} hold the same key")
        seen[payer.pubkey] = path
        payers.append(payer)
    return tuple(payers)


def write_keypair_file(keypair: Keypair, path: str | Path) -> Path:
    """Write ``keypair`` as a Solana CLI keypair file readable only by its owner."""
    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True)
    p.touch(mode=0o600, exist_ok=True)
    p.write_text(json.dumps(list(bytes(keypair))))
    return p


def derive_collection_keypair(secret: bytes, event_id: str) -> Keypair:
    """The event's collection keypair: one address per event, so the chain refuses a second."""
    seed = hmac.new(secret, (COLLECTION_SEED_DOMAIN + event_id).encode(), hashlib.sha256).digest()
    return Keypair.from_seed(seed)


def derive_version_keypair(secret: bytes, ticket_id: str, version: int) -> Keypair:
    """Version ``version`` of a ticket (a reissue makes the next): ``"ticket-mint:vN:" + id``;
    version 1 is :func:`derive_mint_keypair`'s."""
    if version < 1:
        raise ValueError("a ticket's versions start at 1")
    domain = f"ticket-mint:v{version}:"
    seed = hmac.new(secret, (domain + ticket_id).encode(), hashlib.sha256).digest()
    return Keypair.from_seed(seed)


def derive_mint_keypair(secret: bytes, ticket_id: str) -> Keypair:
    """The ticket's mint keypair: the same ticket always gives the same mint address."""
    seed = hmac.new(secret, (MINT_SEED_DOMAIN + ticket_id).encode(), hashlib.sha256).digest()
    return Keypair.from_seed(seed)
