"""Statistics writes Route 53 lines: a name in no zone (forwarded or refused) has zone `-`
even when the zone lookup would name one, and the name loses its trailing dot only."""

from __future__ import annotations

import time

from dnslib import DNSRecord

from resolver.query.logsink import LogSink
from resolver.query.querylog import Statistics
from resolver.query.stages import Facts


def facts_for(name: str, outside: bool) -> Facts:
    wire = DNSRecord.question(name, "A").pack()[12:]
    return Facts(question=wire[:-4], code=1, outside=outside)


def test_forwarded_names_have_no_zone_id(tmp_path):
    sink = LogSink(str(tmp_path / "q.log"))
    stats = Statistics(None, True, sink, "route53", lambda q: "ZSHOULDNOTAPPEAR")
    reply = b"\x00\x00\x81\x80" + b"\x00" * 8
    stats.after(facts_for("fwd.example.", True), reply, "127.0.0.1", False, time.perf_counter())
    stats.after(facts_for("in.zone.", False), reply, "::1", True, time.perf_counter())
    sink.flush()
    rows = [row.split(" ") for row in (tmp_path / "q.log").read_text().splitlines()]
    assert [(r[2], r[3], r[6], r[8]) for r in rows] == [
        ("-", "fwd.example", "UDP", "127.0.0.1"),
        ("ZSHOULDNOTAPPEAR", "in.zone", "TCP", "::1"),
    ]
