"""The priority-fee policy: nearest-rank percentile, raise per rebuild, cap per transaction."""

from __future__ import annotations

import pytest

from minter.fees import (
    DEFAULT_MAX_PRIORITY_LAMPORTS,
    DEFAULT_PERCENTILE,
    DEFAULT_STEP,
    PriorityFeePolicy,
    nearest_rank,
)

TENS = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]  # ten values
BIG = 10**12  # a cap that never binds


def test_defaults():
    policy = PriorityFeePolicy()
    assert (policy.percentile, policy.step, policy.max_lamports) == (
        DEFAULT_PERCENTILE,
        DEFAULT_STEP,
        DEFAULT_MAX_PRIORITY_LAMPORTS,
    )


@pytest.mark.parametrize(
    ("percentile", "expected"),
    [(0, 0), (10, 0), (11, 10), (50, 40), (75, 70), (90, 80), (91, 90), (100, 90)],
)
def test_nearest_rank_percentile(percentile, expected):
    # rank = ceil(p/100 * n): p75 of ten values is the 8th smallest
    assert nearest_rank(TENS, percentile) == expected
    policy = PriorityFeePolicy(percentile=percentile, max_lamports=BIG)
    assert policy.price(TENS, units=200_000) == expected


def test_order_of_recent_fees_does_not_matter():
    policy = PriorityFeePolicy(percentile=75, max_lamports=BIG)
    assert policy.price(list(reversed(TENS)), units=1) == policy.price(TENS, units=1) == 70


def test_no_recent_fees_is_zero():
    assert PriorityFeePolicy().price([], units=200_000) == 0
    assert PriorityFeePolicy().price([], units=200_000, rebuilds=3) == 0
    assert PriorityFeePolicy().price([0, 0, 0], units=200_000) == 0


def test_each_rebuild_raises_by_step():
    policy = PriorityFeePolicy(percentile=100, step=1.5, max_lamports=BIG)
    assert policy.price([1000], units=200_000) == 1000
    assert policy.price([1000], units=200_000, rebuilds=1) == 1500
    assert policy.price([1000], units=200_000, rebuilds=2) == 2250  # x step**2
    assert policy.price([1001], units=200_000, rebuilds=1) == 1501  # floor of 1501.5
    prices = [policy.price([1000], units=200_000, rebuilds=n) for n in range(8)]
    assert prices == sorted(prices) and len(set(prices)) == len(prices)


def test_cap_bounds_lamports_per_transaction():
    policy = PriorityFeePolicy(percentile=100, max_lamports=1_000)
    # 1_000 lamports over 200_000 units: at most 5_000 micro-lamports per unit
    assert policy.price([4_999], units=200_000) == 4_999
    assert policy.price([5_000], units=200_000) == 5_000
    assert policy.price([1_000_000], units=200_000) == 5_000
    assert policy.price([4_000], units=200_000, rebuilds=5) == 5_000  # rebuilds stop at the cap
    assert policy.price([10**9], units=300_000) == 3_333  # floor: 3_333 * 0.3 = 999.9 lamports


@pytest.mark.parametrize("units", [1, 7, 1_000, 199_999, 200_000, 1_400_000])
@pytest.mark.parametrize("recent", [[1], [5_000], [10**6], [10**9, 10**12]])
@pytest.mark.parametrize("rebuilds", [0, 1, 4, 20])
def test_fee_never_above_the_cap(units, recent, rebuilds):
    policy = PriorityFeePolicy(percentile=75, max_lamports=1_000)
    price = policy.price(recent, units=units, rebuilds=rebuilds)
    assert 0 <= price
    assert price * units <= 1_000 * 1_000_000  # price * units / 1e6 <= max_lamports, exactly


def test_zero_units_is_safe():
    policy = PriorityFeePolicy(percentile=100, max_lamports=1_000)
    assert policy.price([7_000], units=0) == 7_000  # no units: no fee to cap, no division
    assert PriorityFeePolicy(max_lamports=0).price([7_000], units=0) == 7_000
    assert PriorityFeePolicy(percentile=100, max_lamports=0).price([7_000], units=1) == 0


@pytest.mark.parametrize(
    "kwargs", [{"percentile": -1}, {"percentile": 101}, {"step": 0.5}, {"max_lamports": -1}]
)
def test_invalid_policy(kwargs):
    with pytest.raises(ValueError):
        PriorityFeePolicy(**kwargs)


def test_invalid_arguments():
    with pytest.raises(ValueError):
        PriorityFeePolicy().price([1], units=-1)
    with pytest.raises(ValueError):
        PriorityFeePolicy().price([1], units=1, rebuilds=-1)
    with pytest.raises(TypeError):
        PriorityFeePolicy().price([1], 200_000)  # keyword-only


def test_frozen():
    with pytest.raises(AttributeError):
        PriorityFeePolicy().step = 2.0


def test_localnet_fee_cache_keeps_150_slots_and_parses_messages():
    from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
    from solders.hash import Hash
    from solders.keypair import Keypair
    from solders.message import Message, MessageV0
    from solders.system_program import TransferParams, transfer

    from minter.localnet.fees import FeeCache, compute_unit_price, writable_keys

    payer, to = Keypair().pubkey(), Keypair().pubkey()
    pay = transfer(TransferParams(from_pubkey=payer, to_pubkey=to, lamports=1))
    priced = [set_compute_unit_limit(1_000), set_compute_unit_price(7_000), pay]
    v0 = MessageV0.try_compile(payer, priced, [], Hash.default())
    legacy = Message.new_with_blockhash([pay], payer, Hash.default())
    assert (compute_unit_price(v0), compute_unit_price(legacy)) == (7_000, 0)
    assert writable_keys(v0) == writable_keys(legacy) == [payer, to]  # not the programs

    cache = FeeCache()
    for slot in range(1, 201):
        cache.record(slot, v0)
    assert min(cache.slots) == 51 and len(cache.slots) == 150
    answer = cache.recent(1, 200, [to])
    assert [a["slot"] for a in answer] == list(range(51, 201))
    assert {a["prioritizationFee"] for a in answer} == {7_000}
    other = Keypair().pubkey()
    free = transfer(TransferParams(from_pubkey=other, to_pubkey=Keypair().pubkey(), lamports=1))
    cache.record(200, Message.new_with_blockhash([free], other, Hash.default()))  # price 0
    assert cache.recent(200, 200, [])[0]["prioritizationFee"] == 0  # the slot's minimum
    assert cache.recent(200, 200, [other])[0]["prioritizationFee"] == 0
    assert cache.recent(200, 200, [to])[0]["prioritizationFee"] == 7_000  # to's own minimum
    assert cache.recent(200, 200, [other, to])[0]["prioritizationFee"] == 7_000
    assert cache.recent(201, 202, [to]) == [
        {"slot": 201, "prioritizationFee": 0},
        {"slot": 202, "prioritizationFee": 0},
    ]
