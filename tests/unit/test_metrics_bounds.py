"""Metrics keep a bounded label space and render a scrape without holding the event loop."""

from __future__ import annotations

import asyncio
import time

from prometheus_client.parser import text_string_to_metric_families

from resolver.metrics import MAX_LABEL_SETS, OTHER, OVERFLOW_SETS, Metrics

BOUND = MAX_LABEL_SETS + OVERFLOW_SETS + 1


def query_samples(text: bytes) -> dict[tuple[str, str, str], float]:
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        if family.name == "policydns_queries":
            for sample in family.samples:
                labels = sample.labels
                out[(labels["qtype"], labels["rcode"], labels["policy"])] = sample.value
    return out


def test_distinct_label_tuples_are_capped_and_every_query_counted():
    metrics = Metrics()
    for n in range(20000):
        metrics.observe((f"TYPE{n}", "NOERROR", f"policy{n % 500}"), 1e-6)
    metrics.observe(("A", "NOERROR", "simple"), 1e-6)  # past every cap: all "OTHER"
    assert len(metrics.queries) <= BOUND
    samples = query_samples(metrics.render())
    assert len(samples) <= BOUND
    assert sum(samples.values()) == 20001
    assert ("TYPE0", "NOERROR", "policy0") in samples  # early tuples keep their labels
    assert samples[(OTHER, "NOERROR", "policy0")] > 0  # folded, the policy kept
    assert ("A", "NOERROR", "simple") not in samples
    assert samples[(OTHER, OTHER, OTHER)] > 0


def test_known_tuples_keep_counting_past_the_cap():
    metrics = Metrics(max_label_sets=3)
    for labels in [
        ("A", "NOERROR", "simple"),
        ("AAAA", "NOERROR", "simple"),
        ("MX", "NOERROR", "x"),
    ]:
        metrics.observe(labels, 1e-6)
    metrics.observe(("TXT", "NOERROR", "simple"), 1e-6)
    metrics.observe(("A", "NOERROR", "simple"), 1e-6)
    assert metrics.queries[("A", "NOERROR", "simple")] == 2
    assert metrics.queries[(OTHER, "NOERROR", "simple")] == 1
    assert ("TXT", "NOERROR", "simple") not in metrics.queries


def test_worker_snapshots_merged_stay_bounded():
    metrics = Metrics()
    for worker in (1, 2):
        queries = {(f"TYPE{worker}-{n}", "NOERROR", "none"): 1 for n in range(3000)}
        metrics.remote[worker] = {
            "queries": queries,
            "buckets": [0] * len(metrics.latency_buckets),
            "sum": 0.0,
            "hits": 0,
            "misses": 0,
        }
    samples = query_samples(metrics.render())
    assert len(samples) <= BOUND
    assert sum(samples.values()) == 6000


def test_a_large_scrape_does_not_hold_the_event_loop():
    """Rendering 60,000 samples takes a long while; the loop keeps ticking meanwhile."""
    metrics = Metrics(max_label_sets=10**6)
    for n in range(60000):
        metrics.observe((f"TYPE{n}", "NOERROR", "none"), 1e-6)

    async def scrape() -> tuple[float, float, bytes]:
        gaps: list[float] = []

        async def tick() -> None:
            last = time.perf_counter()
            while True:
                await asyncio.sleep(0.001)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        body = await metrics.render_off_loop()
        took = time.perf_counter() - started
        ticker.cancel()
        return took, max(gaps), body

    took, worst_gap, body = asyncio.run(scrape())
    assert len(query_samples(body)) == 60000
    assert took > 0.2, f"the render took only {took:.3f}s: the test proves nothing"
    # Rendered on the loop, the gap would be the whole render; in a thread the loop only
    # waits for the GIL, which a busy 2-core machine can stretch to a few hundred ms.
    assert worst_gap < min(0.5, took / 3), (
        f"the loop stalled {worst_gap:.3f}s of a {took:.3f}s render"
    )


def test_event_counters_render_with_the_workers_counts_added_in(monkeypatch) -> None:
    from resolver import metrics as metrics_module

    monkeypatch.setitem(
        metrics_module.EVENT_FAMILIES, "policydns_test_events", ("Test events", "kind")
    )
    m = Metrics()
    m.count("policydns_test_events", "a")
    m.count("policydns_test_events", "a")
    m.count("policydns_test_events", "b", 5)
    m.remote[1] = {
        "queries": {},
        "buckets": [0] * len(m.latency_buckets),
        "sum": 0.0,
        "hits": 0,
        "misses": 0,
        "events": {("policydns_test_events", "a"): 3},
    }
    text = m.render().decode()
    assert 'policydns_test_events_total{kind="a"} 5.0' in text
    assert 'policydns_test_events_total{kind="b"} 5.0' in text
