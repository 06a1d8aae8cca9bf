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

from resolver.forward.stage import CACHE_FAMILY, FAILURE_FAMILY, IGNORED_FAMILY
from resolver.query.limiter import FAMILY as RATE_LIMITED_FAMILY
from resolver.query.logsink import DROPPED_FAMILY as QUERY_LOG_DROPPED_FAMILY
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
Label = str | tuple[str, ...]  # an event's label value, or values for several labels
# Counters of events outside the answer path (rate limiting, TCP connections,
# forwarding): family -> (help, label name or names). A module that counts an event
# declares its family here and calls Metrics.count(family, label value, or a tuple of
# values for several labels); the label values a family takes are fixed by its caller
# or the config, never by a client, so the counters stay bounded.
EVENT_FAMILIES: dict[str, tuple[str, str | tuple[str, ...]]] = {
    RATE_LIMITED_FAMILY: ("UDP replies held back by rate limiting", "action"),
    REFUSED_FAMILY: ("TCP connections closed at accept: a connection cap was reached", "reason"),
    TIMED_OUT_FAMILY: ("TCP connections the server closed on a timeout", "reason"),
    CACHE_FAMILY: (
        "Forwarded questions: answered from the forward cache (hit), asked upstream "
        "(miss), joined to the same question in flight (coalesced), served stale",
        "result",
    ),
    FAILURE_FAMILY: (
        "Tries at a forwarder that gave no usable answer, by forwarder and reason",
        ("forwarder", "reason"),
    ),
    QUERY_LOG_DROPPED_FAMILY: (
        "Query-log lines not written: the batch was full (a disk slower than the queries)"
        " or the file refused the write",
        "reason",
    ),
    IGNORED_FAMILY: (
        "Datagrams from forwarders dropped: wrong ID, question or source, or malformed",
        "route",
    ),
}
# Upstream round trips in seconds: 1 ms .. 3 s (the forwarding deadline).
UPSTREAM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0)


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
        self.events: Counter[tuple[str, Label]] = Counter()
        # Per forwarder: the count in each of UPSTREAM_BUCKETS (and +Inf), then the sum.
        self.upstream: dict[str, list[float]] = {}

    def count(self, family: str, label: Label, n: int = 1) -> None:
        """One (or n) more of an event of a family declared in EVENT_FAMILIES."""
        self.events[family, label] += n

    def time_upstream(self, forwarder: str, seconds: float) -> None:
        """One answer from a forwarder (a config address: the label set stays bounded)."""
        found = self.upstream.get(forwarder)
        if found is None:
            found = self.upstream[forwarder] = [0.0] * (len(UPSTREAM_BUCKETS) + 2)
        found[bisect.bisect_left(UPSTREAM_BUCKETS, seconds)] += 1
        found[-1] += seconds

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
            {forwarder: list(counts) for forwarder, counts in self.upstream.items()},
            overrides={
                check_id: state.override.state
                for check_id, state in self.health_states().items()
                if getattr(state, "override", None) is not None
            },
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
    events: dict[tuple[str, Label], int] = field(default_factory=dict)
    upstream: dict[str, list[float]] = field(default_factory=dict)
    overrides: dict[str, bool] = field(default_factory=dict)  # check id -> forced state

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
        # _up is what the probes say; an override forces answers without changing it.
        forced = GaugeMetricFamily(
            "policydns_health_check_override",
            "1 for a check under a manual override, labelled with the forced state",
            labels=["check", "state"],
        )
        for check_id, state in sorted(m.overrides.items()):
            forced.add_metric([check_id, "healthy" if state else "unhealthy"], 1.0)
        yield forced
        latency = HistogramMetricFamily(
            "policydns_answer_seconds", "Time to answer a query (handler, excluding socket I/O)"
        )
        latency.add_metric([], cumulative(BUCKETS, buckets_total), latency_sum)
        yield latency
        events: Counter[tuple[str, Label]] = Counter(m.events)
        for snapshot in m.remote:
            events.update(snapshot.get("events", {}))
        for family, (text, label) in sorted(EVENT_FAMILIES.items()):
            names = [label] if isinstance(label, str) else list(label)
            counter = CounterMetricFamily(family, text, labels=names)
            for (name, value), count in sorted(events.items(), key=str):
                if name == family:
                    counter.add_metric([value] if isinstance(value, str) else list(value), count)
            yield counter
        yield self._upstream()

    def _upstream(self) -> HistogramMetricFamily:
        """The forwarders' round trips, every process's added together."""
        totals: dict[str, list[float]] = {}
        for source in (self.m.upstream, *(s.get("upstream", {}) for s in self.m.remote)):
            for forwarder, counts in source.items():
                found = totals.setdefault(forwarder, [0.0] * len(counts))
                totals[forwarder] = [a + b for a, b in zip(found, counts, strict=True)]
        family = HistogramMetricFamily(
            "policydns_forward_upstream_seconds",
            "Time from a query sent to a forwarder to its accepted answer",
            labels=["forwarder"],
        )
        for forwarder, counts in sorted(totals.items()):
            buckets = cumulative(UPSTREAM_BUCKETS, counts[:-1])  # the last is the sum
            family.add_metric([forwarder], buckets, counts[-1])
        return family


def cumulative(
    bounds: tuple[float, ...], counts: list[int] | list[float]
) -> list[tuple[str, float]]:
    """Prometheus histogram buckets: per-bucket counts (one more for +Inf) made cumulative."""
    total, buckets = 0.0, []
    for bound, count in zip((*bounds, float("inf")), counts, strict=True):
        total += count
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), total))
    return buckets
