"""Atheris target: the real query handler, in-process, fed hostile bytes.

    python fuzz/handler_target.py -max_total_time=600 fuzz/corpus/handler

Input layout (so the fuzzer chooses the client as well as the packet): byte 0 is flags
(bit 0 TCP, bit 1 IPv6 source, bit 2 flip one health check first, bits 3-7 which check),
then 4 or 16 bytes of source address, then the DNS message. Short inputs are padded.

A finding is any exception: the handler's internal-error path (which would log and answer
SERVFAIL) is made to raise, and every reply is checked against the invariants of SPEC
section 7 (see `check`). Zones: tests/fixtures/zones (every routing policy, aliases, health
checks, wildcards, CNAMEs, a delegation) plus the oracle's generated zones (every type,
wildcards beside and below names, empty non-terminals, CNAME chains, cuts with DS), with
`locations` and `latency` tables so ECS subnets steer the geo and latency policies.
"""

from __future__ import annotations

import ipaddress
import logging
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["resolver", "policies", "healthcheck"]):
    from resolver.metrics import Metrics
    from resolver.query.chaos import Chaos
    from resolver.query.engine import Resolver
    from resolver.query.handler import Handler
    from resolver.query.location import Locator
    from resolver.query.reuse import Reuse
    from resolver.zones.check import load_zone_set
    from resolver.zones.model import ZoneSet

import dns.flags
import dns.message

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.oracle import zonegen  # noqa: E402

CHECKS = ("web", "web-us", "web-eu", "db")
LOCATIONS = {
    "10.1.0.0/16": {"continent": "NA", "country": "US", "subdivision": "CA",
                    "latitude": 37.4, "longitude": -122.1},
    "10.2.0.0/16": {"continent": "EU", "country": "DE", "latitude": 50.1, "longitude": 8.7},
    "2001:db8:1::/48": {"continent": "EU", "country": "FR"},
}  # fmt: skip
LATENCY = {
    "10.1.0.0/16": {"us-east-1": 70, "eu-central-1": 150},
    "10.2.0.0/16": {"eu-central-1": 5},
}
UDP_PAYLOAD = 1232  # what the server advertises; a UDP reply is never larger


class Finding(Exception):
    """A reply broke an invariant, or the handler hit its internal-error path."""


class RaiseOnError:
    """Stands in for the handler's ErrorLog: an internal error becomes a crash here."""

    def report(self, source: str) -> None:
        raise Finding(f"internal error answering {source}")


class FlipHealth:
    """A health view the input can change: the unhealthy checks are a set."""

    def __init__(self) -> None:
        self.down: set[str] = set()

    def is_healthy(self, check_id: str) -> bool:
        return check_id not in self.down


def quiet() -> None:
    """Errors are raised here, not logged; the query log is off."""
    logger = logging.getLogger("policydns")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False


def handler_for(zone_set: ZoneSet, health: Any) -> Handler:
    """The real handler, as app.build_handler makes it, with internal errors raising."""
    handler = Handler(
        Resolver(zone_set),
        health,
        Chaos("fuzz", "fuzz"),
        Locator(LOCATIONS, LATENCY),
        True,
        Metrics(),
        False,
        Reuse(2000),  # small: eviction runs too
    )
    handler._errors = RaiseOnError()  # type: ignore[assignment]
    return handler


def build() -> Handler:
    root = Path(tempfile.mkdtemp(prefix="policydns-fuzz-"))
    zonegen.generate(7).write(root / "oracle", root / "master")
    zone_set = load_zone_set([str(REPO / "tests" / "fixtures" / "zones"), str(root / "oracle")])
    return handler_for(zone_set, HEALTH)


HEALTH = FlipHealth()
HANDLER: Handler | None = None


def split(data: bytes) -> tuple[bool, str, bool, int, bytes]:
    """(tcp, source, flip health?, which check, message) from one fuzzer input."""
    flags = data[0] if data else 0
    size = 16 if flags & 2 else 4
    raw = data[1 : 1 + size].ljust(size, b"\0")
    source = str(ipaddress.ip_address(raw))
    return bool(flags & 1), source, bool(flags & 4), flags >> 3, data[1 + size :]


def question_of(message: dns.message.Message) -> tuple[tuple[bytes, ...], int, int] | None:
    if len(message.question) != 1:
        return None
    q = message.question[0]
    return q.name.labels, int(q.rdtype), int(q.rdclass)


def check(handler: Handler, wire: bytes, reply: bytes | None, tcp: bool) -> int | None:
    """Raise Finding if `reply` is not a valid answer to `wire`; the reply's rcode."""
    if len(wire) < 12 or wire[2] & 0x80:
        if reply is not None:
            raise Finding("replied to a packet with QR set or without a header")
        return None
    if reply is None:
        raise Finding("no reply to a header-complete query")
    if len(reply) < 12 or reply[:2] != wire[:2]:
        raise Finding("reply ID differs from the query's")
    flags = struct.unpack_from("!H", reply, 2)[0]
    if not flags & 0x8000 or (flags >> 11) & 0xF != (wire[2] >> 3) & 0xF:
        raise Finding("reply has QR=0 or another opcode")
    try:
        answer = dns.message.from_wire(reply)
    except Exception as exc:
        raise Finding(f"dnspython cannot parse the reply: {exc!r}") from exc
    try:
        # Leniently: the server may answer a query with bytes after its last record.
        query: dns.message.Message | None = dns.message.from_wire(wire, ignore_trailing=True)
    except Exception:
        query = None  # hostile: only the ID and the server's own UDP size are owed
    if query is not None and query.opcode() == 0 and answer.question:
        asked = question_of(query)
        if asked is not None and question_of(answer) != asked:
            raise Finding(f"question not echoed: {answer.question} for {query.question}")
    if not tcp:
        limit = UDP_PAYLOAD  # what the server advertises, whatever it read of the query
        if query is not None:
            limit = max(512, min(query.payload, UDP_PAYLOAD)) if query.edns >= 0 else 512
        if len(reply) > limit:
            raise Finding(f"{len(reply)}-byte UDP reply over the limit {limit}")
    elif flags & 0x0200:
        raise Finding("TC set over TCP")
    if flags & 0x0200:
        if answer.answer or answer.authority:
            # A truncated reply carries no partial answer (SPEC 7: the client retries on TCP).
            raise Finding("TC set with records in the answer or authority")
        if not tcp:
            whole = handler.handle(wire, "192.0.2.1", True)
            least = limit if query is not None else 512  # unparsed: its size is unknown
            if whole is not None and len(whole) <= least:
                raise Finding(f"TC set, but the TCP reply is {len(whole)} bytes of {limit}")
    return int(answer.rcode())


def ask_twice(handler: Handler, wire: bytes, source: str, tcp: bool) -> None:
    """Check the reply, and the reply to the same bytes again (the replay path)."""
    first = check(handler, wire, handler.handle(wire, source, tcp), tcp)
    again = check(handler, wire, handler.handle(wire, source, tcp), tcp)
    if first != again:
        raise Finding(f"same bytes asked twice: rcode {first} then {again}")


def TestOneInput(data: bytes) -> None:
    tcp, source, flip, which, wire = split(data)
    handler = HANDLER
    if handler is None:
        return
    if flip:
        check_id = CHECKS[which % len(CHECKS)]
        HEALTH.down ^= {check_id}
        handler.health_changed(HEALTH, [check_id])  # type: ignore[arg-type]
    ask_twice(handler, wire, source, tcp)


def main() -> None:
    global HANDLER
    quiet()
    HANDLER = build()
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
