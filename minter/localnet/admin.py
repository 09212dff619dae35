"""Client side of the validator's admin methods (faults and counters)."""

from __future__ import annotations

import httpx

DEFAULT_TIMEOUT = 10.0


def _call(url: str, method: str, params: list | None = None) -> object:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
    resp = httpx.post(url, json=body, timeout=DEFAULT_TIMEOUT)
    resp.raise_for_status()
    data = resp.json()
    if "error" in data:
        raise RuntimeError(f"{method}: {data['error']['message']}")
    return data["result"]


def set_faults(url: str, *, seed: int | None = None, **rates: float) -> dict:
    """Replace the validator's fault set (no arguments clears it)."""
    payload = dict(rates)
    if seed is not None:
        payload["seed"] = seed
    return _call(url, "localnet_setFaults", [payload])


def get_stats(url: str) -> dict:
    return _call(url, "localnet_getStats")


def get_slot_times(url: str, first: int, last: int) -> dict[int, float]:
    """When each slot from ``first`` to ``last`` began (unix seconds): when the levels moved."""
    times = _call(url, "localnet_getSlotTimes", [first, last])
    return {int(slot): when for slot, when in times.items()}
