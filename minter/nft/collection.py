"""An event's Core collection: one CreateCollectionV2 transaction, with the plugins that make
the ticket lifecycle possible (Core takes permanent plugins only at creation).

Royalties (the event's basis points and creators; by default the platform's authority, 100 %),
Attributes (capacity, transfer policy and venue, for outsiders to read),
PermanentTransferDelegate (the platform's resale) and PermanentBurnDelegate (invalidation),
each with authority UpdateAuthority: the platform's authority key, the collection's update
authority. Freezing is per ticket (each asset's own PermanentFreezeDelegate), so check-in
freezes one ticket, never the whole event.
"""

from __future__ import annotations

from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.transaction import VersionedTransaction

from minter.budget import compute_budget
from minter.keys import Payer
from minter.nft.core import CoreCollection, create_collection_v2
from minter.nft.core_plugins import (
    Attributes,
    Creator,
    PermanentBurnDelegate,
    PermanentTransferDelegate,
    Royalties,
)
from minter.nft.event import EventRequest


def collection_instruction(event: EventRequest, *, payer: Payer, collection: Keypair):
    creators = (
        (Creator(payer.pubkey, 100),)
        if event.creators is None
        else tuple(Creator(c.address, c.share) for c in event.creators)
    )
    return create_collection_v2(
        CoreCollection(
            collection=collection.pubkey(),
            update_authority=payer.pubkey,
            payer=payer.pubkey,
            name=event.name,
            uri=event.uri,
            royalties=Royalties(event.seller_fee_basis_points, creators),
            permanent_transfer_delegate=PermanentTransferDelegate(),
            permanent_burn_delegate=PermanentBurnDelegate(),
            attributes=_public_attributes(event),
        )
    )


def _public_attributes(event: EventRequest) -> Attributes | None:
    """What scanners and marketplaces may read of the event beside its name: its capacity
    and venue, and the transfer policy its tickets follow."""
    pairs = [("transfer_policy", event.transfer_policy)]
    if event.capacity is not None:
        pairs.insert(0, ("capacity", str(event.capacity)))
    if event.venue_id is not None:
        pairs.append(("venue_id", event.venue_id))
    return Attributes(tuple(pairs))


def build_collection_transaction(
    event: EventRequest,
    *,
    payer: Payer,
    collection: Keypair,
    recent_blockhash: Hash,
    compute_unit_limit: int,
    compute_unit_price: int | None = None,
) -> VersionedTransaction:
    """The signed transaction that creates ``event``'s collection at ``collection``."""
    ixs = compute_budget(compute_unit_limit, compute_unit_price) + [
        collection_instruction(event, payer=payer, collection=collection)
    ]
    message = MessageV0.try_compile(payer.pubkey, ixs, [], recent_blockhash)
    return VersionedTransaction(message, [payer.keypair, collection])
