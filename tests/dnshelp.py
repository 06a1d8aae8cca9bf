"""What the tests share: asking the server, judging its replies, free ports and polling.

Assertions are named as in PowerDNS's regression tests (assert_rcode,
assert_rrset_in_answer, assert_any_rrset_in_answer, assert_authority_has_soa), so a test
reads as the property it checks.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from bench.common import free_port as free_port  # one helper for tests and benchmarks

TIMEOUT = 3.0  # seconds to wait for a reply that must come

T = TypeVar("T")


class Target(Protocol):
    """Anything that listens for DNS: a ServerProcess, or a (host, port) made into one."""

    host: str
    port: int


class Address:
    """A DNS listener given by host and port (a resolver under test, a second --listen)."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port


# --------------------------------------------------------------------------- asking

Ecs = tuple[str, int] | dns.edns.Option


def make_query(
    name: str,
    rdtype: str = "A",
    rdclass: str = "IN",
    *,
    ecs: Ecs | None = None,
    rd: bool = True,
    ident: int | None = None,
    **kwargs: Any,
) -> dns.message.Message:
    """A dnspython query; `ecs` is (address, source prefix) or a ready-made option."""
    if ecs is not None:
        option = dns.edns.ECSOption(*ecs) if isinstance(ecs, tuple) else ecs
        kwargs["options"] = [*kwargs.get("options", []), option]
        kwargs.setdefault("use_edns", 0)
    message = dns.message.make_query(name, rdtype, rdclass, **kwargs)
    if not rd:
        message.flags &= ~dns.flags.RD
    if ident is not None:
        message.id = ident
    return message


def send(
    target: Target,
    message: dns.message.Message,
    transport: str = "udp",
    *,
    source: str | None = None,
    timeout: float = TIMEOUT,
) -> dns.message.Message:
    """Send a prepared query over "udp" or "tcp", from `source` if given; the parsed reply."""
    if transport == "udp":
        return dns.query.udp(message, target.host, port=target.port, timeout=timeout, source=source)
    return dns.query.tcp(message, target.host, port=target.port, timeout=timeout, source=source)


def ask(
    target: Target,
    name: str,
    rdtype: str = "A",
    transport: str = "udp",
    *,
    rdclass: str = "IN",
    ecs: Ecs | None = None,
    rd: bool = True,
    source: str | None = None,
    timeout: float = TIMEOUT,
    **kwargs: Any,
) -> dns.message.Message:
    """One question to the server; keyword arguments as dnspython's make_query takes them."""
    message = make_query(name, rdtype, rdclass, ecs=ecs, rd=rd, **kwargs)
    return send(target, message, transport, source=source, timeout=timeout)


def query_wire(name: str, rdtype: str = "A", ident: int = 0x1234, **kwargs: Any) -> bytes:
    """The wire form of a dnspython query with a fixed id."""
    return make_query(name, rdtype, ident=ident, **kwargs).to_wire()


def frame(data: bytes) -> bytes:
    """A DNS message with its TCP two-byte length prefix."""
    return struct.pack("!H", len(data)) + data


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    """Read exactly n bytes from a stream socket; ConnectionError if it closes first."""
    chunks = b""
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ConnectionError(f"closed after {len(chunks)} of {n} bytes")
        chunks += chunk
    return chunks


def udp_raw(
    target: Target, data: bytes, *, source: str | None = None, timeout: float = TIMEOUT
) -> bytes | None:
    """Send raw bytes over UDP; the reply bytes, or None if nothing came within timeout."""
    family = socket.AF_INET6 if ":" in target.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        if source is not None:
            sock.bind((source, 0))
        sock.settimeout(timeout)
        sock.sendto(data, (target.host, target.port))
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


def tcp_raw(
    target: Target, messages: list[bytes], replies: int | None = None, timeout: float = TIMEOUT
) -> list[bytes]:
    """Send length-prefixed messages on one TCP connection; read `replies` replies (one per
    message unless told fewer, for messages that must go unanswered)."""
    with socket.create_connection((target.host, target.port), timeout=timeout) as sock:
        sock.sendall(b"".join(frame(m) for m in messages))
        found = []
        for _ in range(len(messages) if replies is None else replies):
            (length,) = struct.unpack("!H", recv_exactly(sock, 2))
            found.append(recv_exactly(sock, length))
        return found


def exchange(target: Target, data: bytes, transport: str = "udp") -> bytes | None:
    """One raw message over "udp" or "tcp"; the raw reply (None: no UDP reply came)."""
    if transport == "udp":
        return udp_raw(target, data)
    return tcp_raw(target, [data])[0]


def answered(target: Target, data: bytes, transport: str = "udp") -> bytes:
    """The raw reply to one raw message, which must come and carry the query's ID."""
    reply = exchange(target, data, transport)
    assert reply is not None, f"no {transport} reply"
    assert reply[:2] == data[:2], f"reply ID {reply[:2].hex()} to query ID {data[:2].hex()}"
    return reply


# --------------------------------------------------------------------------- judging


def addresses(reply: dns.message.Message) -> list[str]:
    """The addresses in an answer of A or AAAA records only, in wire order."""
    return [rd.address for rrset in reply.answer for rd in rrset]


def rrset(name: str, ttl: int, rdtype: str, *values: str, rdclass: str = "IN") -> dns.rrset.RRset:
    """An expected RRset, parsed by dnspython from presentation format."""
    return dns.rrset.from_text(name, ttl, rdclass, rdtype, *values)


def rrset_key(rr: dns.rrset.RRset) -> tuple[str, int, int, int, list[str]]:
    """Everything that identifies an RRset on the wire, TTL included (dnspython's == skips it)."""
    return (
        rr.name.to_text().lower(),
        rr.rdclass,
        rr.rdtype,
        rr.ttl,
        sorted(rd.to_text() for rd in rr),
    )


def assert_rcode(reply: dns.message.Message, rcode: int, aa: bool | None = True) -> None:
    """The reply has this (extended) rcode and, unless aa is None, this AA flag."""
    assert dns.rcode.to_text(reply.rcode()) == dns.rcode.to_text(rcode)
    assert reply.flags & dns.flags.QR
    if aa is not None:
        assert bool(reply.flags & dns.flags.AA) == aa


def assert_section(section: list[dns.rrset.RRset], expected: list[dns.rrset.RRset]) -> None:
    """The section holds exactly these RRsets, in this order, with these TTLs."""
    assert [rrset_key(r) for r in section] == [rrset_key(r) for r in expected]


def assert_rrset_in_answer(reply: dns.message.Message, expected: dns.rrset.RRset) -> None:
    """The answer holds this RRset with the same TTL."""
    found = [rrset_key(r) for r in reply.answer]
    assert rrset_key(expected) in found, f"{rrset_key(expected)} not in answer {found}"


def assert_any_rrset_in_answer(
    reply: dns.message.Message, candidates: list[dns.rrset.RRset]
) -> None:
    """The answer holds at least one of these RRsets (a weighted or random choice)."""
    found = [rrset_key(r) for r in reply.answer]
    wanted = [rrset_key(c) for c in candidates]
    assert any(w in found for w in wanted), f"none of {wanted} in answer {found}"


def assert_authority_has_soa(reply: dns.message.Message, zone: str, ttl: int) -> Any:
    """The authority section is exactly the zone's SOA with this TTL; returns its rdata."""
    assert len(reply.authority) == 1, reply.authority
    soa = reply.authority[0]
    assert soa.name == dns.name.from_text(zone)
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa.rdclass == dns.rdataclass.IN
    assert soa.ttl == ttl
    assert len(soa) == 1
    return soa[0]


# --------------------------------------------------------------------------- ports, time


def wait_until(
    probe: Callable[[], T],
    what: str,
    timeout: float = 10.0,
    holds: Callable[[T], object] = bool,
    interval: float = 0.02,
) -> T:
    """Poll probe() until holds(value); fail after the deadline, showing the last value seen.

    A DNS timeout or a refused connection inside the probe counts as "not yet".
    """
    deadline = time.monotonic() + timeout
    last: object = "nothing (every probe raised)"
    while True:
        try:
            value = probe()
        except (dns.exception.Timeout, ConnectionError) as exc:
            last = exc
        else:
            if holds(value):
                return value
            last = value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}; last seen: {last!r}")
        time.sleep(interval)


def settled(path: Path) -> Path:
    """Date a just-written zone or config file 10 s back, so the server trusts it at once
    instead of waiting for a just-written file to hold still (resolver/zones/settled.py)."""
    past = time.time_ns() - 10_000_000_000
    os.utime(path, ns=(past, past))
    return path


def write_settled(path: Path, text: str) -> Path:
    """Write a zone or config file, dated back (see settled)."""
    path.write_text(text, encoding="utf-8")
    return settled(path)
