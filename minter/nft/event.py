"""Events (DESIGN.md, Events and collections): the body of ``PUT /v1/events/{event_id}``.

An event's collection is written on chain once, with every field here, so the canonical form
(:meth:`EventRequest.to_ledger_payload`) is what a repeat is compared against, field by field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, field_validator
from solders.pubkey import Pubkey

from minter.errors import ValidationError
from minter.nft.request import (
    MAX_FEE_BPS,
    MAX_NAME,
    MAX_SYMBOL,
    MAX_URI,
    Creator,
    CreatorBody,
    Extra,
    _between,
    _bytes_at_most,
    _Strict,
    _validate,
    check_creators,
)

TRANSFER_POLICIES = ("transferable", "locked_until_checkin", "non_transferable")
EVENT_STANDARDS = ("core",)  # Token-2022 groups and Token Metadata collections: not yet
MAX_CAPACITY = 10_000_000
# policies whose tickets are minted frozen (their own permanent freeze delegate)
FROZEN_AT_MINT = ("locked_until_checkin", "non_transferable")


def _standard(value: str) -> str:
    if value not in EVENT_STANDARDS:
        raise ValueError("must be core: only Core collections are built in this version")
    return value


class EventBody(_Strict):
    name: Annotated[str, _bytes_at_most(MAX_NAME)]
    symbol: Annotated[str, _bytes_at_most(MAX_SYMBOL, empty_ok=True)] = ""
    uri: Annotated[str, _bytes_at_most(MAX_URI)]
    venue_id: Extra | None = None
    seller_fee_basis_points: Annotated[int, _between(0, MAX_FEE_BPS)] = 0
    creators: list[CreatorBody] | None = None  # None: the platform's authority, 100 %
    capacity: Annotated[int, _between(1, MAX_CAPACITY)] | None = None
    transfer_policy: Literal["transferable", "locked_until_checkin", "non_transferable"] = (
        "transferable"
    )
    standard: Annotated[str, AfterValidator(_standard)] = "core"

    @field_validator("creators")
    @classmethod
    def _shares(cls, value: list[CreatorBody] | None) -> list[CreatorBody] | None:
        return check_creators(value)


@dataclass(frozen=True)
class EventRequest:
    event_id: str
    name: str
    symbol: str
    uri: str
    venue_id: str | None
    seller_fee_basis_points: int
    creators: tuple[Creator, ...] | None
    capacity: int | None
    transfer_policy: str
    standard: str

    @property
    def frozen_at_mint(self) -> bool:
        return self.transfer_policy in FROZEN_AT_MINT

    def to_ledger_payload(self) -> dict:
        return {
            "event_id": self.event_id,
            "name": self.name,
            "symbol": self.symbol,
            "uri": self.uri,
            "venue_id": self.venue_id,
            "seller_fee_basis_points": self.seller_fee_basis_points,
            "creators": None
            if self.creators is None
            else [{"address": str(c.address), "share": c.share} for c in self.creators],
            "capacity": self.capacity,
            "transfer_policy": self.transfer_policy,
            "standard": self.standard,
        }


def parse_event_request(event_id: str, data: Mapping) -> EventRequest:
    """Validate an event body for ``event_id``; raises :class:`ValidationError` naming the field.

    ``event_id`` comes from the route; a body that names another one is refused."""
    if isinstance(data, Mapping) and "event_id" in data:
        if data["event_id"] != event_id:
            raise ValidationError("event_id", "must match the event id of the route")
        data = {k: v for k, v in data.items() if k != "event_id"}
    body = _validate(EventBody, data)
    creators = None
    if body.creators is not None:
        creators = tuple(Creator(Pubkey.from_string(c.address), c.share) for c in body.creators)
    return EventRequest(
        event_id=event_id,
        name=body.name,
        symbol=body.symbol,
        uri=body.uri,
        venue_id=body.venue_id,
        seller_fee_basis_points=body.seller_fee_basis_points,
        creators=creators,
        capacity=body.capacity,
        transfer_policy=body.transfer_policy,
        standard=body.standard,
    )
