"""Seeded questions for the differential test, and a plain client that keeps the raw replies.

Every question is built once and its exact bytes are sent to each server, so the servers see
the same message ID, letter case, flags and EDNS options.
"""

from __future__ import annotations

import random
import socket
import struct
import time
from dataclasses import dataclass

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype

from tests.oracle.zonegen import SUPPORTED, ZoneSet

# Types that are not in the zones, plus pairs of codes that differ only in bit 0x20, so a
# lookup that folds letter case into the type code (or keys a memo on text) shows up.
OTHER_TYPES = (
    6, 255, 65534, 65535, 13, 39, 46, 47, 48, 50, 251, 252, 257, 10, 99, 67, 65, 97,
    1, 33, 16, 48, 2, 34, 28, 60, 12, 44, 15, 47, 43, 11, 52, 20, 35, 3, 64, 96, 5, 37, 256,
)  # fmt: skip
EDNS_SIZES = (None, 512, 1232, 4096)
UNKNOWN_OPTION = dns.edns.GenericOption(65001, b"\x01\x02oracle")
NSID_REQUEST = dns.edns.GenericOption(dns.edns.NSID, b"")
CLIENT_COOKIE = dns.edns.GenericOption(dns.edns.COOKIE, bytes.fromhex("0123456789abcdef"))
CLIENT_SUBNETS = (
    dns.edns.ECSOption("198.51.100.0", 24),
    dns.edns.ECSOption("2001:db8:77::", 48),
    dns.edns.ECSOption("0.0.0.0", 0),
)
ODD_LABELS = (b"\xff\xfe", b"caf\xc3\xa9", b"a\x00b", b"sp ace", b"dot\\.ted", b"\x80")


@dataclass(frozen=True)
class Query:
    """One question with everything that shapes the reply."""

    index: int
    qname: dns.name.Name
    qtype: int
    edns: int | None  # advertised UDP size, None = no OPT
    do: bool
    unknown_option: bool
    rd: bool
    cd: bool
    tcp: bool
    ad: bool = False
    edns_version: int = 0
    nsid: bool = False
    qclass: int = dns.rdataclass.IN
    cookie: bool = False
    ecs: int | None = None  # index into CLIENT_SUBNETS

    def wire(self) -> bytes:
        """The query bytes; the message ID is derived from the index (same for every run)."""
        options = [UNKNOWN_OPTION] if self.unknown_option else []
        options += [NSID_REQUEST] if self.nsid else []
        options += [CLIENT_COOKIE] if self.cookie else []
        options += [CLIENT_SUBNETS[self.ecs]] if self.ecs is not None else []
        msg = dns.message.make_query(
            self.qname,
            self.qtype,
            rdclass=self.qclass,
            use_edns=self.edns_version if self.edns is not None else False,
            payload=self.edns or 1232,
            want_dnssec=self.do,
            options=options or None,
        )
        msg.id = (self.index * 7919 + 1) & 0xFFFF
        msg.flags = (dns.flags.RD if self.rd else 0) | (dns.flags.CD if self.cd else 0)
        msg.flags |= dns.flags.AD if self.ad else 0
        return msg.to_wire()

    def describe(self) -> str:
        """The question in one line, as dig options."""
        parts = [self.qname.to_text(), dns.rdatatype.to_text(self.qtype)]
        if self.qclass != dns.rdataclass.IN:
            parts.append(f"-c {dns.rdataclass.to_text(self.qclass)}")
        parts.append("+tcp" if self.tcp else "+notcp")
        parts.append("+noedns" if self.edns is None else f"+bufsize={self.edns}")
        if self.edns is not None and self.edns_version:
            parts.append(f"+edns={self.edns_version}")
        if self.nsid:
            parts.append("+nsid")
        if self.cookie:
            parts.append("+cookie=0123456789abcdef")
        if self.ecs is not None:
            ecs = CLIENT_SUBNETS[self.ecs]
            parts.append(f"+subnet={ecs.address}/{ecs.srclen}")
        if self.ad:
            parts.append("+adflag")
        if self.do:
            parts.append("+dnssec")
        if self.unknown_option:
            parts.append("+ednsopt=65001:01026f7261636c65")
        parts.append("+rec" if self.rd else "+norec")
        if self.cd:
            parts.append("+cdflag")
        return " ".join(parts)


def mixcase(rng: random.Random, name: dns.name.Name) -> dns.name.Name:
    """The name with random letter case (RFC 4343; "0x20" randomisation)."""
    labels = []
    for label in name.labels:
        labels.append(bytes(b ^ 0x20 if 97 <= (b | 0x20) <= 122 and rng.random() < 0.5 else b
                            for b in label))  # fmt: skip
    return dns.name.Name(labels)


def questions(zones: ZoneSet, seed: int, count: int) -> list[Query]:
    """`count` questions: every owner and absent name with all types, then random mixes."""
    rng = random.Random(seed)
    names = [dns.name.from_text(n) for n in zones.owners() + zones.absent + zones.outside]
    parent = dns.name.from_text(zones.zones[0].origin)
    names += [dns.name.Name((label, *parent.labels)) for label in ODD_LABELS]
    names += [dns.name.Name((b"x", label, *parent.labels)) for label in ODD_LABELS[:2]]
    types = [dns.rdatatype.from_text(t) for t in SUPPORTED] + list(OTHER_TYPES)
    types.append(dns.rdatatype.SOA)
    pairs: list[tuple[dns.name.Name, int]] = []
    # Every name with its interesting types first (apex, cuts and absent names get all).
    for name in names:
        for qtype in rng.sample(types, min(len(types), 6)):
            pairs.append((name, qtype))
    for name in names:
        for qtype in (1, 28, 16, 255, 43, 65, 97, 99, 67, 5):
            pairs.append((name, qtype))
    while len(pairs) < count:
        pairs.append((rng.choice(names), rng.choice(types)))
    rng.shuffle(pairs)
    out = []
    for i, (name, qtype) in enumerate(pairs[:count]):
        edns = rng.choice(EDNS_SIZES)
        if edns is not None and rng.random() < 0.03:
            edns = rng.choice((0, 100, 511, 65535))  # below 512 means 512 (RFC 6891 6.2.5)
        out.append(
            Query(
                index=i,
                qname=mixcase(rng, name) if rng.random() < 0.6 else name,
                qtype=qtype,
                edns=edns,
                do=edns is not None and rng.random() < 0.4,
                unknown_option=edns is not None and rng.random() < 0.2,
                rd=rng.random() < 0.5,
                cd=rng.random() < 0.15,
                tcp=rng.random() < 0.1,
                ad=rng.random() < 0.1,
                edns_version=1 if edns is not None and rng.random() < 0.03 else 0,
                nsid=edns is not None and rng.random() < 0.05,
                qclass=rng.choice((3, 255, 254, 4)) if rng.random() < 0.02 else 1,
                cookie=edns is not None and rng.random() < 0.05,
                ecs=rng.randrange(len(CLIENT_SUBNETS))
                if edns is not None and rng.random() < 0.1
                else None,
            )
        )
    return out


class Client:
    """A UDP socket (and TCP per question) to one server; returns the raw reply bytes."""

    def __init__(self, host: str, port: int, timeout: float = 3.0) -> None:
        self.addr = (host, port)
        self.timeout = timeout
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.settimeout(timeout)

    def close(self) -> None:
        self.udp.close()

    def ask(self, query: Query) -> bytes | None:
        """The reply, or None when there was none (after one retry over UDP)."""
        wire = query.wire()
        if query.tcp:
            return self._tcp(wire)
        for _ in range(2):
            self.udp.sendto(wire, self.addr)
            try:
                while True:
                    data, _ = self.udp.recvfrom(65535)
                    if data[:2] == wire[:2]:
                        return data
            except TimeoutError:
                continue
        return None

    def ask_all(self, queries: list[Query], window: int = 16) -> dict[int, bytes | None]:
        """Replies to every query, in order: up to `window` UDP questions in flight at once
        (matched by message ID), a TCP question only after the UDP ones before it."""
        results: dict[int, bytes | None] = {}
        batch: list[Query] = []
        for query in [*queries, None]:
            if query is not None and not query.tcp and len(batch) < window:
                batch.append(query)
                continue
            results.update(self._udp_batch(batch))
            batch = []
            if query is None:
                break
            if query.tcp:
                results[query.index] = self.ask(query)
            else:
                batch.append(query)
        return results

    def _udp_batch(self, batch: list[Query]) -> dict[int, bytes | None]:
        pending = {q.wire()[:2]: q for q in batch}
        results: dict[int, bytes | None] = {}
        for _ in range(2):
            for query in pending.values():
                self.udp.sendto(query.wire(), self.addr)
            deadline = time.monotonic() + self.timeout
            while pending and (left := deadline - time.monotonic()) > 0:
                self.udp.settimeout(left)
                try:
                    data, _ = self.udp.recvfrom(65535)
                except TimeoutError:
                    break
                query = pending.pop(data[:2], None)
                if query is not None:
                    results[query.index] = data
            if not pending:
                break
        self.udp.settimeout(self.timeout)
        results.update({q.index: None for q in pending.values()})
        return results

    def _tcp(self, wire: bytes) -> bytes | None:
        with socket.create_connection(self.addr, timeout=self.timeout) as conn:
            conn.sendall(struct.pack("!H", len(wire)) + wire)
            try:
                head = _read(conn, 2)
                return _read(conn, struct.unpack("!H", head)[0])
            except (TimeoutError, ConnectionError):
                return None


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data
