"""Prometheus families flattened into monitoring-store rows (no services)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from actors.workflows.report import SERVICE_NAME, rows_from


def test_counters_and_histograms_become_legacy_rows():
    reg = CollectorRegistry()
    sends = Counter("solana_sends", "sends", ["kind"], registry=reg)
    latency = Histogram("lat_seconds", "latency", ["standard"], buckets=(0.1, 1, 10), registry=reg)
    sends.labels("mint").inc(3)
    for seconds in (0.05, 0.5, 0.5, 5):
        latency.labels("token2022").observe(seconds)

    rows = {
        (r["metric_name"], tuple(sorted(r["labels"].items()))): r for r in rows_from(reg.collect())
    }

    total = rows[("solana_sends_total", (("kind", "mint"),))]
    assert (total["value"], total["metric_type"], total["service_name"]) == (
        3,
        "counter",
        SERVICE_NAME,
    )
    key = (("standard", "token2022"),)
    assert rows[("lat_seconds_count", key)]["value"] == 4
    assert rows[("lat_seconds_sum", key)]["value"] == 6.05
    assert rows[("lat_seconds_p50", key)]["value"] == 1  # 2 of 4 observations are ≤ 1 s
    assert rows[("lat_seconds_p99", key)]["value"] == 10
    assert not any(name.endswith(("_created", "_bucket")) for name, _ in rows)
