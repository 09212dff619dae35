"""Ticket lifecycle operations (DESIGN.md, Ticket lifecycle): their request bodies, and the
Core instructions that write each one on chain.

Every operation is keyed by the caller's ``operation_id``; a repeat with the same body is the
same operation. On chain, a Core ticket is changed by the platform's authority (the collection's
update authority and its permanent delegates), never by the holder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from minter.nft.core import burn_v1, update_plugin_v1
from minter.nft.core_plugins import Attributes, PermanentFreezeDelegate
from minter.nft.request import (
    MAX_ID,
    Wallet,
    _bytes_at_most,
    _identifier,
    _Strict,
    _validate,
)

CHECK_IN, INVALIDATE, REISSUE = "check_in", "invalidate", "reissue"
MAX_GATE = 64  # bytes
MAX_REASON = 200
CHECKED_IN = "checked_in"  # the attribute a check-in adds


class CheckInBody(_Strict):
    operation_id: Annotated[str, _identifier(MAX_ID)]
    gate: Annotated[str, _bytes_at_most(MAX_GATE)]


class InvalidateBody(_Strict):
    operation_id: Annotated[str, _identifier(MAX_ID)]
    reason: Annotated[str, _bytes_at_most(MAX_REASON)]


class ReissueBody(_Strict):
    operation_id: Annotated[str, _identifier(MAX_ID)]
    owner: Wallet | None = None  # None: the holder of the invalidated version


BODIES = {CHECK_IN: CheckInBody, INVALIDATE: InvalidateBody, REISSUE: ReissueBody}


@dataclass(frozen=True)
class OperationRequest:
    kind: str
    operation_id: str
    body: dict  # the validated body, canonical: compared on repeats

    @property
    def owner(self) -> Pubkey | None:
        owner = self.body.get("owner")
        return None if owner is None else Pubkey.from_string(owner)


def parse_operation(kind: str, data: Mapping) -> OperationRequest:
    """Validate a lifecycle body; raises :class:`minter.errors.ValidationError` naming the field."""
    body = _validate(BODIES[kind], data)
    return OperationRequest(kind, body.operation_id, body.model_dump())


def iso_utc(when: datetime) -> str:
    """``2026-12-31T21:04:05Z``: the form the ``checked_in`` attribute carries."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Core, on chain


@dataclass(frozen=True)
class CoreTicket:
    """The asset an operation acts on, and who may change it."""

    asset: Pubkey
    authority: Pubkey  # the platform's key: the collection's update authority and delegates
    payer: Pubkey
    collection: Pubkey | None  # None: a ticket outside any collection (its own authority)


def check_in_instructions(
    t: CoreTicket, attributes: list[tuple[str, str]], checked_in: str
) -> list[Instruction]:
    """Attributes gain ``checked_in`` (the others kept), and the asset's own permanent freeze
    delegate freezes it: a scanned ticket cannot be passed on."""
    pairs = [(k, v) for k, v in attributes if k != CHECKED_IN] + [(CHECKED_IN, checked_in)]
    kw = dict(authority=t.authority, payer=t.payer, collection=t.collection)
    return [
        update_plugin_v1(t.asset, Attributes(tuple(pairs)), **kw),
        update_plugin_v1(t.asset, PermanentFreezeDelegate(frozen=True), **kw),
    ]


def invalidate_instructions(t: CoreTicket) -> list[Instruction]:
    """Burned by the collection's permanent burn delegate; a ticket outside a collection has
    none, so it is frozen for good instead."""
    kw = dict(authority=t.authority, payer=t.payer, collection=t.collection)
    if t.collection is None:
        return [update_plugin_v1(t.asset, PermanentFreezeDelegate(frozen=True), **kw)]
    return [burn_v1(t.asset, **kw)]
