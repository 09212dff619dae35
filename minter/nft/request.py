"""Intake: a mint request, validated before anything is written or sent.

Accepts DESIGN.md's JSON (nested ``metadata``) and the flat CSV form (``name``, ``symbol``,
``uri``, ``seller_fee_basis_points`` at the top). Errors name the field as the flat form does
(``owner``, ``name``, ``seller_fee_basis_points`` …). Lengths are UTF-8 bytes, as the programs
count them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from solders.pubkey import Pubkey

from minter.errors import ValidationError

STANDARDS = ("metaplex", "token2022")
MAX_TICKET_ID = 128  # characters
MAX_NAME = 32  # bytes: Metaplex's limits, applied to both standards
MAX_SYMBOL = 10
MAX_URI = 200
MAX_EXTRA = 32  # bytes for event_id, venue_id, seat: keeps one transaction under 1232 bytes
MAX_FEE_BPS = 10_000
MAX_CREATORS = 5


@dataclass(frozen=True)
class Creator:
    address: Pubkey
    share: int


@dataclass(frozen=True)
class MintRequest:
    ticket_id: str
    owner: Pubkey
    standard: str
    name: str
    symbol: str
    uri: str
    seller_fee_basis_points: int = 0
    event_id: str | None = None
    venue_id: str | None = None
    seat: str | None = None
    creators: tuple[Creator, ...] | None = None  # None: the payer, verified, 100 %
    is_mutable: bool = False

    @property
    def extra_fields(self) -> list[tuple[str, str]]:
        """Token-2022 additional metadata, in a fixed order."""
        pairs = (("event", self.event_id), ("venue", self.venue_id), ("seat", self.seat))
        return [(k, v) for k, v in pairs if v]

    def to_ledger_payload(self) -> dict:
        """The canonical request: stored in the ledger, compared on repeats, parsed back."""
        return {
            "ticket_id": self.ticket_id,
            "owner": str(self.owner),
            "standard": self.standard,
            "event_id": self.event_id,
            "venue_id": self.venue_id,
            "seat": self.seat,
            "metadata": {
                "name": self.name,
                "symbol": self.symbol,
                "uri": self.uri,
                "seller_fee_basis_points": self.seller_fee_basis_points,
                "creators": None
                if self.creators is None
                else [{"address": str(c.address), "share": c.share} for c in self.creators],
                "is_mutable": self.is_mutable,
            },
        }


def _text(field: str, value, *, max_bytes: int, required: bool = True) -> str | None:
    if value is None or value == "":
        if required:
            raise ValidationError(field, "is required")
        return None
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    size = len(storable(field, value).encode("utf-8"))
    if size > max_bytes:
        raise ValidationError(field, f"is {size} bytes; at most {max_bytes} UTF-8 bytes")
    return value


def storable(field: str, value: str) -> str:
    """Text the ledger can store: no NUL (PostgreSQL refuses it), valid UTF-8 (no lone
    surrogates, which JSON can carry)."""
    if "\x00" in value:
        raise ValidationError(field, "must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(field, "must be valid Unicode text") from None
    return value


def _address(field: str, value) -> Pubkey:
    if not isinstance(value, str) or not value:
        raise ValidationError(field, "must be a base58 address")
    try:
        return Pubkey.from_string(value)
    except ValueError:
        raise ValidationError(field, "is not a 32-byte base58 address") from None


def _int(field: str, value, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, "must be an integer")
    if not low <= value <= high:
        raise ValidationError(field, f"must be between {low} and {high}")
    return value


def _creators(value) -> tuple[Creator, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_CREATORS:
        raise ValidationError("creators", f"must be a list of 1 to {MAX_CREATORS} creators")
    out = []
    for i, c in enumerate(value):
        if not isinstance(c, Mapping):
            raise ValidationError(f"creators[{i}]", "must be an object with address and share")
        out.append(
            Creator(
                _address(f"creators[{i}].address", c.get("address")),
                _int(f"creators[{i}].share", c.get("share"), low=0, high=100),
            )
        )
    if sum(c.share for c in out) != 100:
        raise ValidationError("creators", "shares must sum to 100")
    if len({c.address for c in out}) != len(out):
        raise ValidationError("creators", "must not repeat an address")
    return tuple(out)


def parse_mint_request(data: Mapping, *, default_standard: str) -> MintRequest:
    """Validate ``data``; raises :class:`ValidationError` naming the first bad field."""
    if not isinstance(data, Mapping):
        raise ValidationError("request", "must be a JSON object")
    meta = data.get("metadata", data)
    if not isinstance(meta, Mapping):
        raise ValidationError("metadata", "must be an object")
    ticket_id = data.get("ticket_id")
    if not isinstance(ticket_id, str) or not ticket_id.strip():
        raise ValidationError("ticket_id", "is required")
    if len(storable("ticket_id", ticket_id)) > MAX_TICKET_ID:
        raise ValidationError("ticket_id", f"is longer than {MAX_TICKET_ID} characters")
    standard = data.get("standard") or default_standard
    if standard not in STANDARDS:
        raise ValidationError("standard", f"must be one of {', '.join(STANDARDS)}")
    is_mutable = meta.get("is_mutable", False)
    if not isinstance(is_mutable, bool):
        raise ValidationError("is_mutable", "must be true or false")
    fee = meta.get("seller_fee_basis_points")
    return MintRequest(
        ticket_id=ticket_id,
        owner=_address("owner", data.get("owner")),
        standard=standard,
        name=_text("name", meta.get("name"), max_bytes=MAX_NAME),
        symbol=_text("symbol", meta.get("symbol"), max_bytes=MAX_SYMBOL, required=False) or "",
        uri=_text("uri", meta.get("uri"), max_bytes=MAX_URI),
        seller_fee_basis_points=0
        if fee is None
        else _int("seller_fee_basis_points", fee, low=0, high=MAX_FEE_BPS),
        event_id=_text("event_id", data.get("event_id"), max_bytes=MAX_EXTRA, required=False),
        venue_id=_text("venue_id", data.get("venue_id"), max_bytes=MAX_EXTRA, required=False),
        seat=_text("seat", data.get("seat"), max_bytes=MAX_EXTRA, required=False),
        creators=_creators(meta.get("creators")),
        is_mutable=is_mutable,
    )
