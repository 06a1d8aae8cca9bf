"""Statistics and the query log: what the after-answer stage does first, for every reply."""

from __future__ import annotations

import logging
import time
from typing import Protocol

from dnslib import QTYPE, RCODE

from resolver.query.stages import Facts, Labels
from resolver.wire import fastpath, names

qlog = logging.getLogger("policydns.query")

# The types dnslib knows, by number: fixed at import, so it never grows with what is asked.
_QTYPE_NAMES: dict[int, str] = {int(code): str(name) for code, name in QTYPE.forward.items()}


def qtype_name(qtype: int) -> str:
    """The type's metric label: its mnemonic when known, else OTHER.

    Metric label sets must stay bounded: a client can ask for any of 65,536 types.
    """
    return _QTYPE_NAMES.get(qtype, "OTHER")


def type_text(qtype: int) -> str:
    """The type as the query log shows it: its mnemonic, else TYPEnnn (RFC 3597)."""
    if qtype < 0:
        return "-"
    return _QTYPE_NAMES.get(qtype) or f"TYPE{qtype}"


def qname_text(facts: Facts) -> str:
    """The name in presentation form, every octet a log line could misread escaped."""
    if not facts.question:
        return "-"
    return names.escaped(fastpath.labels(facts.question))


_RCODES = tuple(str(RCODE.get(code)) for code in range(16))


def rcode_label(code: int) -> str:
    """The metric label of a reply's 4-bit rcode, from a table (dnslib's lookup is slow)."""
    return _RCODES[code]


class Observer(Protocol):
    """Where each answered query's labels and time go (resolver.metrics.Metrics)."""

    def observe(self, labels: Labels, seconds: float) -> None: ...


class Statistics:
    """Counts every reply for the metrics and, when asked, logs one line per query."""

    def __init__(self, metrics: Observer | None, log_queries: bool) -> None:
        self.metrics = metrics
        self.log_queries = log_queries

    def after(self, facts: Facts, reply: bytes, source: str, tcp: bool, start: float) -> bytes:
        seconds = time.perf_counter() - start
        labels = facts.labels
        if labels is None:  # kept: a replayed reply carries these facts again
            labels = (facts.qtype, _RCODES[reply[3] & 0xF], facts.policy)
            facts.labels = labels
        if self.metrics is not None:
            self.metrics.observe(labels, seconds)
        if self.log_queries:
            subnet = facts.subnet
            qlog.info(
                "query client=%s%s name=%s type=%s rcode=%s policy=%s scope=%s us=%.0f %s%s",
                source,
                f" ecs={subnet.address}/{subnet.source}" if subnet is not None else "",
                qname_text(facts),
                type_text(facts.code),
                labels[1],
                facts.policy,
                facts.scope,
                seconds * 1e6,
                "tcp" if tcp else "udp",
                f" upstream={facts.via}" if facts.via else "",
            )
        return reply
