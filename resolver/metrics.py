"""Counters the query path bumps cheaply, turned into Prometheus metrics only when scraped.

The hot path does a dict increment and a bisect per query; prometheus-client objects are
built at scrape time by a custom collector, so scraping costs nothing per query. A scrape
copies the counters on the event loop (a few dict copies, bounded by MAX_LABEL_SETS) and
renders the text in a thread, so a large /metrics never holds up DNS answers.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.exposition import generate_latest

from resolver.query.limiter import FAMILY as RATE_LIMITED_FAMILY
from resolver.serve.admission import REFUSED_FAMILY, TIMED_OUT_FAMILY

# Answer latency buckets in seconds: 10 us .. 100 ms.
BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1)
FIRST_BUCKET = BUCKETS[0]
# Distinct (qtype, rcode, policy) tuples kept as they are; later new ones are counted as
# ("OTHER", rcode, policy), and past MAX_LABEL_SETS + OVERFLOW_SETS as all-"OTHER". Real
# traffic needs far fewer (types x rcodes x policy chains); the cap is defence in depth
# against a label space a client can grow.
MAX_LABEL_SETS = 2000
OVERFLOW_SETS = 200
OTHER = "OTHER"
Labels = tuple[str, str, str]
# Counters of events outside the answer path (rate limiting, TCP connections): family ->
# (help, label name). A module that counts an event declares its family here and calls
# Metrics.count(family, label value); the label values a family takes are fixed by its
# caller, never by a client, so the counters stay bounded.
EVENT_FAMILIES: dict[str, tuple[str, str]] = {
    RATE_LIMITED_FAMILY: ("UDP replies held back by rate limiting", "action"),
    REFUSED_FAMILY: ("TCP connections closed at accept: a connection cap was reached", "reason"),
    TIMED_OUT_FAMILY: ("TCP connections the server closed on a timeout", "reason"),
}


def admit(queries: Mapping[Labels, int], labels: Labels, cap: int) -> Labels:
    """The key a new label tuple is counted under in queries, which holds at most
    cap + OVERFLOW_SETS + 1 keys."""
    if len(queries) < cap:
        return labels
    folded = (OTHER, labels[1], labels[2])
    if folded in queries or len(queries) < cap + OVERFLOW_SETS:
        return folded
    return (OTHER, OTHER, OTHER)


class Metrics:
    """Everything /metrics reports, kept as plain counters."""

    def __init__(self, max_label_sets: int = MAX_LABEL_SETS) -> None:
        self.max_label_sets = max_label_sets
        self.queries: dict[Labels, int] = {}
        self.reloads: Counter[str] = Counter()
        self.transitions: Counter[str] = Counter()
        self.latency_buckets = [0] * (len(BUCKETS) + 1)
        self.latency_sum = 0.0
        self.health_states: Callable[[], Mapping[str, Any]] = dict
        self.cache_stats: Callable[[], tuple[int, int]] = lambda: (0, 0)
        # The latest counters reported by each worker process (--workers), added in.
        self.remote: dict[int, dict[str, Any]] = {}
        self.events: Counter[tuple[str, str]] = Counter()

    def count(self, family: str, label: str, n: int = 1) -> None:
        """One (or n) more of an event of a family declared in EVENT_FAMILIES."""
        self.events[family, label] += n

    def observe(self, labels: tuple[str, str, str], seconds: float) -> None:
        """One answered query: labels are (qtype, rcode, policy)."""
        queries = self.queries
        count = queries.get(labels)
        if count is None:
            labels = admit(queries, labels, self.max_label_sets)
            count = queries.get(labels, 0)
        queries[labels] = count + 1
        if seconds <= FIRST_BUCKET:  # nearly every query: skip the search
            self.latency_buckets[0] += 1
        else:
            self.latency_buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    def snapshot(self) -> Snapshot:
        """Copies of every counter, cheap enough for the event loop; the remote snapshots
        are replaced whole on each report, never changed, so keeping them is enough."""
        hits, misses = self.cache_stats()
        return Snapshot(
            dict(self.queries),
            list(self.latency_buckets),
            self.latency_sum,
            hits,
            misses,
            dict(self.reloads),
            dict(self.transitions),
            {check_id: state.healthy for check_id, state in self.health_states().items()},
            list(self.remote.values()),
            self.max_label_sets,
            dict(self.events),
        )

    def render(self) -> bytes:
        return self.snapshot().render()

    async def render_off_loop(self) -> bytes:
        """The Prometheus text, rendered in a thread from a snapshot taken on the loop."""
        snapshot = self.snapshot()
        return await asyncio.get_running_loop().run_in_executor(None, snapshot.render)


@dataclass
class Snapshot:
    """What one scrape reports: plain values, safe to render away from the event loop."""

    queries: dict[Labels, int]
    latency_buckets: list[int]
    latency_sum: float
    hits: int
    misses: int
    reloads: dict[str, int]
    transitions: dict[str, int]
    healthy: dict[str, bool]
    remote: list[dict[str, Any]] = field(default_factory=list)
    max_label_sets: int = MAX_LABEL_SETS
    events: dict[tuple[str, str], int] = field(default_factory=dict)

    def registry(self) -> CollectorRegistry:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self))
        return registry

    def render(self) -> bytes:
        return generate_latest(self.registry())


class _Collector:
    def __init__(self, snapshot: Snapshot) -> None:
        self.m = snapshot

    def collect(self) -> Iterator[Any]:
        m = self.m
        queries = CounterMetricFamily(
            "policydns_queries", "DNS queries answered", labels=["qtype", "rcode", "policy"]
        )
        totals = dict(m.queries)
        buckets_total = list(m.latency_buckets)
        latency_sum = m.latency_sum
        hits, misses = m.hits, m.misses
        for snapshot in m.remote:
            for labels, count in snapshot["queries"].items():
                if labels not in totals:  # the workers' tuples together stay bounded too
                    labels = admit(totals, labels, m.max_label_sets)
                totals[labels] = totals.get(labels, 0) + count
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
            reloads.add_metric([outcome], m.reloads.get(outcome, 0))
        yield reloads
        up = GaugeMetricFamily(
            "policydns_health_check_up", "1 healthy, 0 unhealthy", labels=["check"]
        )
        transitions = CounterMetricFamily(
            "policydns_health_check_transitions", "Health state changes", labels=["check"]
        )
        for check_id, healthy in sorted(m.healthy.items()):
            up.add_metric([check_id], 1.0 if healthy else 0.0)
            transitions.add_metric([check_id], m.transitions.get(check_id, 0))
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
        events: Counter[tuple[str, str]] = Counter(m.events)
        for snapshot in m.remote:
            events.update(snapshot.get("events", {}))
        for family, (text, label) in sorted(EVENT_FAMILIES.items()):
            counter = CounterMetricFamily(family, text, labels=[label])
            for (name, value), count in sorted(events.items()):
                if name == family:
                    counter.add_metric([value], count)
            yield counter
