"""The flat text form of the CLI and the CSV: ``name,symbol,uri`` at the top, cells as text.

:func:`from_flat` turns a row into the JSON form of :mod:`minter.nft.request`, converting only
what text cannot say otherwise; the model then answers as it does for the API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

METADATA_FIELDS = ("name", "symbol", "uri", "seller_fee_basis_points", "creators", "is_mutable")
_INT_CELLS = ("seller_fee_basis_points",)
_BOOL_CELLS = {"true": True, "false": False}


def int_cell(raw: str) -> int | str:
    return int(raw) if re.fullmatch(r"-?[0-9]+", raw.strip()) else raw


def _cell(key: str, raw: str):
    """A text cell as the JSON value it spells; anything else stays text, for the model to
    refuse with the same words as the API."""
    if key in _INT_CELLS:
        return int_cell(raw)
    if key == "is_mutable" and raw in _BOOL_CELLS:
        return _BOOL_CELLS[raw]
    if key == "attributes":  # a JSON object: {"row": "B", "gate": "North"}
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    if key == "creators":  # ADDRESS:SHARE[;ADDRESS:SHARE…]
        out = []
        for item in raw.split(";"):
            address, sep, share = item.strip().partition(":")
            creator: dict = {"address": address}
            if sep:
                creator["share"] = int_cell(share)
            out.append(creator)
        return out
    return raw


def from_flat(row: Mapping[str, str]) -> dict:
    """One CSV row (or the CLI's flags) in the JSON form: metadata names nested, cells typed."""
    out: dict = {}
    metadata: dict = {}
    for key, raw in row.items():
        value = _cell(key, raw) if isinstance(raw, str) else raw
        (metadata if key in METADATA_FIELDS else out)[key] = value
    out["metadata"] = metadata
    return out
