"""Intake: the one request model for mints and transfers, validated before anything is written.

The HTTP API, the CLI, the CSV and ``enqueue_mints`` all go through these models, so the same
value gets the same answer everywhere: strict types (a number field takes an integer and only an
integer; ``true`` is not 1), unknown fields refused by name, and nothing dropped on the way to
the chain. The CLI and the CSV give text cells in the flat form (``name,symbol,uri`` at the top);
:func:`from_flat` turns them into the JSON form, converting only what text cannot say otherwise.

Errors name the field as the flat form does (``owner``, ``name``, ``creators[0].address``).
Lengths are UTF-8 bytes, as the programs count them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator
from pydantic import ValidationError as PydanticValidationError
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID

from minter.errors import ValidationError

STANDARDS = ("core", "metaplex", "token2022")
MAX_ID = 128  # characters of ticket_id, transfer_id (ledger columns are varchar(128))
MAX_NAME = 32  # bytes: Metaplex's limits, applied to both standards
MAX_SYMBOL = 10
MAX_URI = 200
MAX_EXTRA = 32  # bytes for event_id, venue_id, seat: keeps one transaction under 1232 bytes
MAX_FEE_BPS = 10_000
MAX_CREATORS = 5
TRANSFER_REASONS = ("claim", "resale", "support")  # resale, support: Core, by the platform

# Identifiers are readable back by their route: no "/", "?", "#", "%", space, and not "." or
# ".." (clients fold those path segments away).
_ID = re.compile(r"(?!\.{1,2}\Z)[A-Za-z0-9._:-]+\Z")


def id_rule(limit: int = MAX_ID) -> str:
    return f"1–{limit} characters from A–Z a–z 0–9 . _ : - (not . or ..)"


# Fields a standard's builder cannot put on chain: refused rather than silently dropped.
TOKEN2022_UNSUPPORTED = ("seller_fee_basis_points", "creators", "is_mutable")
# Core: royalties and creators belong to the event's collection; an asset has no symbol
CORE_UNSUPPORTED = ("seller_fee_basis_points", "creators", "is_mutable")
MAX_ATTRIBUTES = 10
MAX_ATTRIBUTE_KEY = 32  # bytes
MAX_ATTRIBUTE_VALUE = 64
# attribute names the service writes itself
RESERVED_ATTRIBUTES = ("event_id", "venue_id", "seat", "checked_in", "capacity")


# ------------------------------------------------------------------------------------------
# field rules (each raises ValueError with the message the caller sees)


def _storable_text(value: str) -> str:
    """Text the ledger can store: no NUL (PostgreSQL refuses it), valid UTF-8 (no lone
    surrogates, which JSON can carry)."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def storable(field: str, value: str) -> str:
    """:func:`_storable_text` naming ``field`` (for callers outside the models)."""
    try:
        return _storable_text(value)
    except ValueError as exc:
        raise ValidationError(field, str(exc)) from None


def _bytes_at_most(limit: int, *, empty_ok: bool = False):
    def check(value: str) -> str:
        size = len(_storable_text(value).encode("utf-8"))
        if size == 0 and not empty_ok:
            raise ValueError("must not be empty")
        if size > limit:
            raise ValueError(f"is {size} bytes; at most {limit} UTF-8 bytes")
        return value

    return AfterValidator(check)


def is_identifier(value: str, *, limit: int = MAX_ID) -> bool:
    """Whether ``value`` is an id the service could have stored (so a route can say 404 at once)."""
    return 1 <= len(value) <= limit and _ID.match(value) is not None


def _identifier(limit: int):
    def check(value: str) -> str:
        _storable_text(value)
        if not is_identifier(value, limit=limit):
            raise ValueError(f"must be {id_rule(limit)}")
        return value

    return AfterValidator(check)


def _address_text(value: str) -> str:
    try:
        Pubkey.from_string(value)
    except ValueError:
        raise ValueError("is not a 32-byte base58 address") from None
    return value


def _wallet_text(value: str) -> str:
    """A wallet that can receive a ticket: the all-zero key is the system program, and a token
    sent there can never be moved again."""
    if Pubkey.from_string(_address_text(value)) == SYSTEM_PROGRAM_ID:
        raise ValueError("is the system program's all-zero address; no one could ever move it")
    return value


def _between(low: int, high: int):
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return AfterValidator(check)


def _reason(value: str) -> str:
    if value not in TRANSFER_REASONS:
        raise ValueError(f"must be one of {', '.join(TRANSFER_REASONS)}")
    return value


TicketId = Annotated[str, _identifier(MAX_ID)]
EventId = Annotated[str, _identifier(MAX_EXTRA)]
Address = Annotated[str, AfterValidator(_address_text)]
Wallet = Annotated[str, AfterValidator(_wallet_text)]
Extra = Annotated[str, _bytes_at_most(MAX_EXTRA)]


class _Strict(BaseModel):
    # strict: no "250" for 250, no true for 1; forbid: an unknown field is an error, not a drop
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class CreatorBody(_Strict):
    address: Address
    share: Annotated[int, _between(0, 100)]


def check_creators(value: list[CreatorBody] | None) -> list[CreatorBody] | None:
    """1 to 5 distinct creators whose shares sum to 100 (Metaplex's rule, Core's too)."""
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_CREATORS:
        raise ValueError(f"must be a list of 1 to {MAX_CREATORS} creators")
    if sum(c.share for c in value) != 100:
        raise ValueError("shares must sum to 100")
    if len({c.address for c in value}) != len(value):
        raise ValueError("must not repeat an address")
    return value


class MetadataBody(_Strict):
    name: Annotated[str, _bytes_at_most(MAX_NAME)]
    symbol: Annotated[str, _bytes_at_most(MAX_SYMBOL, empty_ok=True)] = ""
    uri: Annotated[str, _bytes_at_most(MAX_URI)]
    seller_fee_basis_points: Annotated[int, _between(0, MAX_FEE_BPS)] | None = None
    creators: list[CreatorBody] | None = None  # None: the payer, verified, 100 %
    is_mutable: bool | None = None  # None: immutable

    @field_validator("creators")
    @classmethod
    def _shares(cls, value: list[CreatorBody] | None) -> list[CreatorBody] | None:
        return check_creators(value)


def _attributes(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    if len(value) > MAX_ATTRIBUTES:
        raise ValueError(f"has {len(value)} entries; at most {MAX_ATTRIBUTES}")
    for key, text in value.items():
        size = len(_storable_text(key).encode("utf-8"))
        if not 1 <= size <= MAX_ATTRIBUTE_KEY:
            raise ValueError(f"name {key!r} must be 1 to {MAX_ATTRIBUTE_KEY} UTF-8 bytes")
        if key in RESERVED_ATTRIBUTES:
            raise ValueError(f"name {key!r} is reserved: the service writes it")
        if len(_storable_text(text).encode("utf-8")) > MAX_ATTRIBUTE_VALUE:
            raise ValueError(f"value of {key!r} is over {MAX_ATTRIBUTE_VALUE} UTF-8 bytes")
    return value


class MintBody(_Strict):
    """A mint request (DESIGN.md, Interfaces): the body of ``POST /v1/mints``."""

    ticket_id: TicketId
    owner: Wallet
    standard: Literal["core", "metaplex", "token2022"] | None = None  # None: NFT_STANDARD
    event_id: EventId | None = None
    venue_id: Extra | None = None
    seat: Extra | None = None
    attributes: Annotated[dict[str, str], AfterValidator(_attributes)] | None = None  # core
    metadata: MetadataBody


class TransferBody(_Strict):
    """A transfer request: the body of ``POST /v1/transfers``."""

    transfer_id: TicketId
    ticket_id: TicketId
    to: Wallet
    reason: Annotated[str, AfterValidator(_reason)] = "claim"


# ------------------------------------------------------------------------------------------
# errors: pydantic's, named and worded the same for every entry point

_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a field this service supports",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "list_type": "must be a list",
}


def field_name(loc: tuple) -> str:
    """``("metadata", "creators", 0, "address")`` → ``creators[0].address`` (the flat name)."""
    if len(loc) > 1 and loc[0] == "metadata":
        loc = loc[1:]
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "request"


def field_errors(errors: list[dict]) -> list[ValidationError]:
    """pydantic's error dicts as :class:`ValidationError` s, in the model's field order."""
    out = []
    for err in errors:
        kind, msg = err.get("type", ""), err.get("msg", "")
        if kind == "value_error":
            msg = msg.removeprefix("Value error, ")
        elif kind == "literal_error":
            msg = "must be " + msg.removeprefix("Input should be ")
        else:
            msg = _MESSAGES.get(kind, msg)
        out.append(ValidationError(field_name(tuple(err.get("loc", ()))), msg))
    return out


def _validate(model: type[_Strict], data) -> _Strict:
    if not isinstance(data, Mapping):
        raise ValidationError("request", "must be a JSON object")
    try:
        return model.model_validate(dict(data))
    except PydanticValidationError as exc:
        raise field_errors(exc.errors())[0] from None


# ------------------------------------------------------------------------------------------
# what the builders take


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
    attributes: tuple[tuple[str, str], ...] = ()  # extra attributes (core), in the given order

    @property
    def core_attributes(self) -> list[tuple[str, str]]:
        """The Core asset's Attributes plugin: what the ticket names, then the extras."""
        pairs = (("event_id", self.event_id), ("venue_id", self.venue_id), ("seat", self.seat))
        return [(k, v) for k, v in pairs if v] + list(self.attributes)

    @property
    def extra_fields(self) -> list[tuple[str, str]]:
        """Token-2022 additional metadata, in a fixed order."""
        pairs = (("event", self.event_id), ("venue", self.venue_id), ("seat", self.seat))
        return [(k, v) for k, v in pairs if v] + list(self.attributes)

    def to_ledger_payload(self) -> dict:
        """The canonical request: stored in the ledger, compared on repeats, parsed back.
        It holds only what the standard puts on chain, so it parses back under the same rules."""
        metadata: dict = {"name": self.name, "symbol": self.symbol, "uri": self.uri}
        if self.standard == "core":
            metadata = {"name": self.name, "uri": self.uri}
        elif self.standard != "token2022":
            metadata["seller_fee_basis_points"] = self.seller_fee_basis_points
            metadata["creators"] = (
                None
                if self.creators is None
                else [{"address": str(c.address), "share": c.share} for c in self.creators]
            )
            metadata["is_mutable"] = self.is_mutable
        out = {
            "ticket_id": self.ticket_id,
            "owner": str(self.owner),
            "standard": self.standard,
            "event_id": self.event_id,
            "venue_id": self.venue_id,
            "seat": self.seat,
            "metadata": metadata,
        }
        if self.attributes:
            out["attributes"] = dict(self.attributes)
        return out

    def with_venue(self, venue_id: str) -> MintRequest:
        """The same request taking its event's venue (a ticket that named none)."""
        return replace(self, venue_id=venue_id)


def parse_mint_request(data: Mapping, *, default_standard: str) -> MintRequest:
    """Validate ``data`` (the JSON form); raises :class:`ValidationError` naming the first bad
    field."""
    body = _validate(MintBody, data)
    standard = body.standard or default_standard
    meta = body.metadata
    _refuse_unsupported(body, standard)
    creators = None
    if meta.creators is not None:
        creators = tuple(Creator(Pubkey.from_string(c.address), c.share) for c in meta.creators)
    return MintRequest(
        ticket_id=body.ticket_id,
        owner=Pubkey.from_string(body.owner),
        standard=standard,
        name=meta.name,
        symbol=meta.symbol,
        uri=meta.uri,
        seller_fee_basis_points=meta.seller_fee_basis_points or 0,
        event_id=body.event_id,
        venue_id=body.venue_id,
        seat=body.seat,
        creators=creators,
        is_mutable=bool(meta.is_mutable),
        attributes=tuple((body.attributes or {}).items()),
    )


def _refuse_unsupported(body: MintBody, standard: str) -> None:
    """What ``standard`` cannot put on chain is refused by name, never dropped."""
    meta = body.metadata
    if standard == "token2022":
        for name in TOKEN2022_UNSUPPORTED:
            if getattr(meta, name) is not None:
                raise ValidationError(
                    name, "is not supported by the token2022 standard; leave it out or use metaplex"
                )
    if standard == "core":
        for name in CORE_UNSUPPORTED:
            if getattr(meta, name) is not None:
                raise ValidationError(
                    name,
                    "is not supported by the core standard: royalties and creators are the "
                    "event's (PUT /v1/events/{event_id}); leave it out",
                )
        if meta.symbol:
            raise ValidationError("symbol", "is not supported by the core standard; leave it out")
    elif body.attributes is not None:
        raise ValidationError(
            "attributes", f"is not supported by the {standard} standard; use core"
        )


@dataclass(frozen=True)
class TransferRequest:
    transfer_id: str
    ticket_id: str
    to: Pubkey
    reason: str = "claim"

    def to_ledger_payload(self) -> dict:
        return {
            "transfer_id": self.transfer_id,
            "ticket_id": self.ticket_id,
            "to": str(self.to),
            "reason": self.reason,
        }


def parse_transfer_request(data: Mapping) -> TransferRequest:
    """Validate a transfer request; raises :class:`ValidationError` naming the first bad field."""
    body = _validate(TransferBody, data)
    to = Pubkey.from_string(body.to)
    return TransferRequest(body.transfer_id, body.ticket_id, to, body.reason)
