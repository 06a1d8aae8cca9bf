"""Statistics and the query log: what the after-answer stage does first, for every reply."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Protocol

from dnslib import QTYPE, RCODE

from resolver.query.logsink import LogSink
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


def edge_location() -> str:
    """Route 53's edge location field: the host name's first label, letters and digits
    only, upper case, at most 8 characters (their codes look like FRA6); else LOCAL."""
    label = socket.gethostname().split(".", 1)[0]
    code = "".join(c for c in label if c.isascii() and c.isalnum()).upper()[:8]
    return code or "LOCAL"


def route53_line(facts: Facts, rcode: str, source: str, tcp: bool, zone_id: str, edge: str) -> str:
    """One line of Route 53's query log, version 1.0: fields separated by one space, the
    name without its trailing dot and escaped, so a name cannot split or forge a line."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    name = qname_text(facts)
    if name != "." and name.endswith("."):
        name = name[:-1]
    subnet = facts.subnet
    ecs = f"{subnet.address}/{subnet.source}" if subnet is not None else "-"
    return (
        f"1.0 {stamp} {zone_id} {name} {type_text(facts.code)} {rcode} "
        f"{'TCP' if tcp else 'UDP'} {edge} {source} {ecs}"
    )


class Statistics:
    """Counts every reply for the metrics and, when asked, logs one line per query."""

    def __init__(
        self,
        metrics: Observer | None,
        log_queries: bool,
        sink: LogSink | None = None,
        fmt: str = "native",
        zone_id: Callable[[bytes], str] | None = None,
    ) -> None:
        self.metrics = metrics
        self.log_queries = log_queries
        self.sink = sink  # None: native lines through the policydns.query logger
        self.route53 = fmt == "route53"
        self.zone_id = zone_id or (lambda question: "-")
        self.edge = edge_location()

    def after(self, facts: Facts, reply: bytes, source: str, tcp: bool, start: float) -> bytes:
        seconds = time.perf_counter() - start
        labels = facts.labels
        if labels is None:  # kept: a replayed reply carries these facts again
            labels = (facts.qtype, _RCODES[reply[3] & 0xF], facts.policy)
            facts.labels = labels
        if self.metrics is not None:
            self.metrics.observe(labels, seconds)
        if self.log_queries:
            self._log(facts, labels[1], source, tcp, seconds)
        return reply

    def _log(self, facts: Facts, rcode: str, source: str, tcp: bool, seconds: float) -> None:
        """Write the query's line in the configured format to the sink or the logger."""
        if self.route53:
            zone = "-" if facts.outside else self.zone_id(facts.question)
            line = route53_line(facts, rcode, source, tcp, zone, self.edge)
            if self.sink is not None:
                self.sink.write(line)
            else:
                qlog.info("%s", line)
            return
        subnet = facts.subnet
        ecs = f" ecs={subnet.address}/{subnet.source}" if subnet is not None else ""
        upstream = f" upstream={facts.via}" if facts.via else ""
        text = (
            f"query client={source}{ecs} name={qname_text(facts)} type={type_text(facts.code)}"
            f" rcode={rcode} policy={facts.policy} scope={facts.scope} us={seconds * 1e6:.0f}"
            f" {'tcp' if tcp else 'udp'}{upstream}"
        )
        if self.sink is not None:
            self.sink.write(text)
        else:
            qlog.info("%s", text)
