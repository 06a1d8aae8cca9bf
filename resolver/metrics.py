"""Counters the query path bumps cheaply, turned into Prometheus metrics only when scraped.

The hot path does a dict increment and a bisect per query; prometheus-client objects are
built at scrape time by a custom collector, so scraping costs nothing per query.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.exposition import generate_latest

# Answer latency buckets in seconds: 10 us .. 100 ms.
BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1)
FIRST_BUCKET = BUCKETS[0]


class Metrics:
    """Everything /metrics reports, kept as plain counters."""

    def __init__(self) -> None:
        self.queries: Counter[tuple[str, str, str]] = Counter()
        self.reloads: Counter[str] = Counter()
        self.transitions: Counter[str] = Counter()
        self.latency_buckets = [0] * (len(BUCKETS) + 1)
        self.latency_sum = 0.0
        self.health_states: Callable[[], Mapping[str, Any]] = dict
        self.cache_stats: Callable[[], tuple[int, int]] = lambda: (0, 0)
        # The latest counters reported by each worker process (--workers), added in.
        self.remote: dict[int, dict[str, Any]] = {}

    def observe(self, labels: tuple[str, str, str], seconds: float) -> None:
        """One answered query: labels are (qtype, rcode, policy)."""
        self.queries[labels] += 1
        if seconds <= FIRST_BUCKET:  # nearly every query: skip the search
            self.latency_buckets[0] += 1
        else:
            self.latency_buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    def registry(self) -> CollectorRegistry:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self))
        return registry

    def render(self) -> bytes:
        return generate_latest(self.registry())


class _Collector:
    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[Any]:
        m = self.m
        queries = CounterMetricFamily(
            "policydns_queries", "DNS queries answered", labels=["qtype", "rcode", "policy"]
        )
        totals = Counter(m.queries)
        buckets_total = list(m.latency_buckets)
        latency_sum = m.latency_sum
        hits, misses = m.cache_stats()
        for snapshot in m.remote.values():
            totals.update(snapshot["queries"])
            buckets_total = [a + b for a, b in zip(buckets_total, snapshot["buckets"], strict=True)]
            latency_sum += snapshot["sum"]
            hits += snapshot["hits"]
            misses += snapshot["misses"]
        for (qtype, rcode, policy), count in sorted(totals.items()):
            queries.add_metric([qtype, rcode, policy], count)
        yield queries
        cache = CounterMetricFamily("policydns_cache", "Answer cache lookups", labels=["result"])
        cache.add_metric(["hit"], hits)
        cache.add_metric(["miss"], misses)
        yield cache
        reloads = CounterMetricFamily("policydns_reloads", "Reloads", labels=["outcome"])
        for outcome in ("ok", "error"):
            reloads.add_metric([outcome], m.reloads[outcome])
        yield reloads
        up = GaugeMetricFamily(
            "policydns_health_check_up", "1 healthy, 0 unhealthy", labels=["check"]
        )
        transitions = CounterMetricFamily(
            "policydns_health_check_transitions", "Health state changes", labels=["check"]
        )
        for check_id, state in sorted(m.health_states().items()):
            up.add_metric([check_id], 1.0 if state.healthy else 0.0)
            transitions.add_metric([check_id], m.transitions[check_id])
        yield up
        yield transitions
        cumulative, buckets = 0, []
        for bound, count in zip((*BUCKETS, float("inf")), buckets_total, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        latency = HistogramMetricFamily(
            "policydns_answer_seconds", "Time to answer a query (handler, excluding socket I/O)"
        )
        latency.add_metric([], buckets, latency_sum)
        yield latency
