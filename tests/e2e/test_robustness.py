"""Hostile packets over UDP and TCP: the server never crashes, never stops answering others.

Every kind of packet is generated from a seeded random.Random, so a failure reproduces
exactly. Each kind is fired at a fresh server (`start_server`) in non-blocking batches;
then a deterministic sample of the same kind is sent one at a time and its RFC outcome
checked (FORMERR with the same ID, no reply for QR set or a short header, ...), the server
must still answer www.example.com over UDP and TCP, and its log must hold no traceback.
The generators are shared with tests/unit/test_handler_fuzz.py, which runs them in-process.
"""

from __future__ import annotations

import random
import select
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rrset
import pytest

from tests.dnshelp import ask, frame
from tests.serverproc import ZONES

SEED = 20261127

FORMERR = int(dns.rcode.FORMERR)
NOERROR = int(dns.rcode.NOERROR)
NXDOMAIN = int(dns.rcode.NXDOMAIN)
NOTIMP = int(dns.rcode.NOTIMP)
REFUSED = int(dns.rcode.REFUSED)
SERVFAIL = int(dns.rcode.SERVFAIL)
BADVERS = int(dns.rcode.BADVERS)

A, NS, MX, TXT, AAAA, SRV, OPT, ANY = 1, 2, 15, 16, 28, 33, 41, 255
IN, CH = 1, 3

# Questions for names in the fixture zones: (name, type, class).
QUESTIONS = [
    ("www.example.com", "A", "IN"),
    ("www.example.com", "AAAA", "IN"),
    ("example.com", "MX", "IN"),
    ("blog.example.com", "A", "IN"),
    ("x.apps.example.com", "TXT", "IN"),
    ("host.deep.lab.example.com", "A", "IN"),
    ("ns1.sub.example.com", "A", "IN"),
    ("nope.example.com", "A", "IN"),
    ("long.example.net", "TXT", "IN"),
    ("_sip._udp.example.net", "SRV", "IN"),
    ("app2.example.org", "A", "IN"),
    ("example.net", "ANY", "IN"),
    ("version.bind", "TXT", "CH"),
]


# --- wire building -----------------------------------------------------------------------


def header(
    ident: int, flags: int = 0x0100, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0
) -> bytes:
    return struct.pack("!6H", ident, flags, qd, an, ns, ar)


def name_wire(text: str) -> bytes:
    out = b""
    for label in text.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def question(name: bytes, qtype: int = A, qclass: int = IN) -> bytes:
    return name + struct.pack("!HH", qtype, qclass)


def opt_rr(
    payload: int = 1232,
    *,
    owner: bytes = b"\x00",
    ext_rcode: int = 0,
    version: int = 0,
    flags: int = 0,
    rdata: bytes = b"",
    rdlength: int | None = None,
) -> bytes:
    length = len(rdata) if rdlength is None else rdlength
    return owner + struct.pack("!HHBBHH", OPT, payload, ext_rcode, version, flags, length) + rdata


def option(code: int, data: bytes, length: int | None = None) -> bytes:
    return struct.pack("!HH", code, len(data) if length is None else length) + data


def rr(owner: bytes, rtype: int, rdata: bytes, rclass: int = IN, ttl: int = 0) -> bytes:
    return owner + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


WWW_Q = question(name_wire("www.example.com"))


def valid_queries(rng: random.Random) -> list[bytes]:
    """Well-formed queries (dnspython) for fixture zone names, with and without EDNS options."""
    out = []
    for name, rdtype, rdclass in QUESTIONS:
        variants = [
            {"use_edns": False},
            {"use_edns": 0, "payload": 1232},
            {"use_edns": 0, "payload": 4096, "want_dnssec": True},
            {
                "use_edns": 0,
                "payload": 512,
                "options": [
                    dns.edns.ECSOption("192.0.2.0", 24),
                    dns.edns.GenericOption(10, b"\x01\x02\x03\x04\x05\x06\x07\x08"),
                ],
            },
        ]
        for kwargs in variants:
            query = dns.message.make_query(name, rdtype, rdclass, **kwargs)
            query.id = rng.randrange(65536)
            out.append(query.to_wire())
    return out


def set_id(wire: bytes, ident: int) -> bytes:
    return struct.pack("!H", ident) + wire[2:]


def set_flags(wire: bytes, set_bits: int = 0, clear_bits: int = 0) -> bytes:
    (flags,) = struct.unpack_from("!H", wire, 2)
    flags = ((flags & ~clear_bits) | set_bits) & 0xFFFF
    return wire[:2] + struct.pack("!H", flags) + wire[4:]


def with_opcode(wire: bytes, opcode: int) -> bytes:
    return set_flags(wire, opcode << 11, 0x7800)


def mutate(rng: random.Random, wire: bytes, count: int) -> bytes:
    """count random bit flips, insertions, deletions and byte overwrites."""
    data = bytearray(wire)
    for _ in range(count):
        how = rng.randrange(4)
        at = rng.randrange(len(data) + 1)
        if how == 0 and at < len(data):
            data[at] ^= 1 << rng.randrange(8)
        elif how == 1:
            data.insert(at, rng.randrange(256))
        elif how == 2 and at < len(data):
            del data[at]
        elif at < len(data):
            data[at] = rng.randrange(256)
    return bytes(data)


# --- expected outcomes -------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """What the server must do with one query: reply or not, and with which rcode."""

    reply: bool = True
    rcode: int | None = None  # the full (extended) rcode; None: anything but SERVFAIL
    question: bool | None = None  # True: echoes one question; False: QDCOUNT 0


NO_REPLY = Expect(reply=False)
ANSWERED = Expect()
FORMERR_BARE = Expect(rcode=FORMERR, question=False)
FORMERR_Q = Expect(rcode=FORMERR, question=True)
FORMERR_ANY = Expect(rcode=FORMERR)  # with or without the (unprintable) question


def problems(query: bytes, reply: bytes | None, expect: Expect) -> list[str]:
    """What is wrong with reply (None: no reply) as the answer to query; [] if nothing."""
    if not expect.reply:
        return [] if reply is None else [f"expected no reply, got {reply.hex()}"]
    if reply is None:
        return ["expected a reply, got none"]
    found = []
    if len(reply) < 12:
        return [f"reply shorter than a header: {reply.hex()}"]
    ident, flags, qdcount = struct.unpack_from("!3H", reply)
    if ident != struct.unpack_from("!H", query)[0]:
        found.append(f"reply ID {ident} is not the query's")
    if not flags & 0x8000:
        found.append("reply has QR=0")
    if (flags >> 11) & 0xF != (query[2] >> 3) & 0xF:
        found.append("reply opcode differs from the query's")
    try:
        message = dns.message.from_wire(reply)
        rcode = int(message.rcode())
    except Exception as exc:
        return [*found, f"dnspython cannot parse the reply ({exc}): {reply.hex()}"]
    if expect.rcode is None:
        if rcode == SERVFAIL:
            found.append("SERVFAIL (an internal error)")
    elif rcode != expect.rcode:
        found.append(
            f"rcode {dns.rcode.to_text(rcode)}, expected {dns.rcode.to_text(expect.rcode)}"
        )
    if expect.question is not None and (qdcount == 1) != expect.question:
        found.append(f"QDCOUNT {qdcount}, expected {'1' if expect.question else '0'}")
    return found


# --- the kinds of hostile packet ---------------------------------------------------------
#
# Each kind yields (wire, Expect | None): None for bulk packets fired without a check,
# an Expect for the sample sent one at a time and checked.

Packet = tuple[bytes, Expect | None]


def kind_random_bytes(rng: random.Random) -> Iterator[Packet]:
    for _ in range(1500):
        yield rng.randbytes(rng.randint(0, 600)), None
    for _ in range(500):  # a plausible header (QUERY, QDCOUNT 1) over a random body
        body = rng.randbytes(rng.randint(0, 600))
        yield header(rng.randrange(65536)) + body, None
    for length in range(12):
        yield rng.randbytes(length), NO_REPLY
    for _ in range(20):  # anything header-complete with QR=0 gets some reply
        wire = set_flags(rng.randbytes(rng.randint(12, 600)), clear_bits=0x8000)
        yield wire, ANSWERED
        yield header(rng.randrange(65536)) + rng.randbytes(rng.randint(0, 600)), ANSWERED


def kind_mutated(rng: random.Random) -> Iterator[Packet]:
    bases = valid_queries(rng)
    for wire in bases[:12]:  # every offset: truncate, delete, insert, flip
        for at in range(len(wire) + 1):
            yield wire[:at], None
            if at < len(wire):
                yield wire[:at] + wire[at + 1 :], None
                yield wire[:at] + bytes([wire[at] ^ (1 << rng.randrange(8))]) + wire[at + 1 :], None
            yield wire[:at] + bytes([rng.randrange(256)]) + wire[at:], None
    for _ in range(1200):
        yield mutate(rng, rng.choice(bases), rng.randint(1, 6)), None
    for wire in (bases[0], bases[1], bases[3]):  # every truncation, checked
        for at in range(len(wire)):
            yield wire[:at], (NO_REPLY if at < 12 else FORMERR_BARE)
    for _ in range(30):
        wire = set_flags(mutate(rng, rng.choice(bases), rng.randint(1, 4)), clear_bits=0x8000)
        yield wire, (ANSWERED if len(wire) >= 12 else NO_REPLY)


def kind_short_headers(rng: random.Random) -> Iterator[Packet]:
    bases = valid_queries(rng)
    for _ in range(50):
        for length in range(12):
            yield rng.choice([rng.randbytes(length), rng.choice(bases)[:length]]), None
    for length in range(12):
        yield bases[0][:length], NO_REPLY
        yield b"\x00" * length, NO_REPLY
        yield b"\xff" * length, NO_REPLY


def kind_bad_labels(rng: random.Random) -> Iterator[Packet]:
    def overrun() -> bytes:
        """A label whose length byte runs past the end of the packet."""
        prefix = rng.choice([b"", b"\x03www", b"\x03www\x07example"])
        length = rng.randint(1, 63)
        return prefix + bytes([length]) + b"a" * rng.randrange(length)

    for _ in range(400):
        ident = rng.randrange(65536)
        yield header(ident) + overrun(), None
        yield header(ident, ar=1) + WWW_Q + overrun(), None
    for length in range(64, 192):  # label types 01 and 10: RFC 1035 4.1.4, RFC 6891 5
        for suffix in (b"\x03com\x00", b"\x00"):
            label = bytes([length]) + bytes(rng.choice(b"abcxyz019-") for _ in range(length))
            yield header(rng.randrange(65536)) + question(label + suffix), None
            yield header(rng.randrange(65536)) + question(label[: length // 2]), None
    for length in (64, 65, 100, 127, 128, 150, 191):
        label = bytes([length]) + b"a" * length
        yield header(rng.randrange(65536)) + question(label + b"\x00"), FORMERR_ANY
        yield header(rng.randrange(65536)) + question(b"\x03www" + label + b"\x00"), FORMERR_ANY
    for cut in (1, 5, 17, 30):
        yield header(rng.randrange(65536)) + name_wire("www.example.com")[:cut], FORMERR_BARE
    yield header(7) + question(b"\x3f" + b"a" * 10 + b"\x00"), FORMERR_BARE


def long_name(rng: random.Random, wire_length: int, suffix: str = "example.com") -> bytes:
    """A name of exactly wire_length octets, legal labels only, ending in suffix."""
    tail = name_wire(suffix)
    labels = b""
    room = wire_length - len(tail)  # octets still to fill with labels (length byte + data)
    while room > 0:
        size = room - 1 if room <= 64 else rng.randint(1, min(63, room - 3))
        labels += bytes([size]) + bytes(rng.choice(b"abcdefgh") for _ in range(size))
        room -= size + 1
    return labels + tail


def kind_long_names(rng: random.Random) -> Iterator[Packet]:
    for _ in range(500):
        length = rng.randint(250, 1500)
        yield header(rng.randrange(65536)) + question(long_name(rng, length)), None
    for length in (250, 254, 255):  # the longest legal names: answered normally
        name = long_name(rng, length)
        yield header(rng.randrange(65536)) + question(name), Expect(rcode=NXDOMAIN)
    for length in (256, 257, 300, 1000):  # RFC 1035 section 3.1: at most 255 octets
        name = long_name(rng, length)
        yield header(rng.randrange(65536)) + question(name), FORMERR_ANY


def pointer(offset: int) -> bytes:
    return struct.pack("!H", 0xC000 | offset)


def chain_query(ident: int, links: int) -> bytes:
    """A query whose second additional record's owner is a chain of links backward pointers."""
    head = header(ident, ar=2) + WWW_Q
    base = len(head) + 11  # RR1: root owner (1) + type/class/ttl/rdlength (10)
    links = min(links, (0x3FFF - base) // 2)
    chain = pointer(12) + b"".join(pointer(base + 2 * (k - 1)) for k in range(1, links))
    rr1 = rr(b"\x00", 0xFF00, chain)
    rr2 = rr(pointer(base + 2 * (links - 1)), A, b"\xc0\x00\x02\x01")
    return head + rr1 + rr2


def loop_queries(ident: int) -> list[bytes]:
    """Names that loop: on themselves, through each other, or via labels back to the start."""
    tq = struct.pack("!HH", A, IN)
    return [
        header(ident) + pointer(12) + tq,  # a pointer to itself
        header(ident) + b"\x01a" + pointer(12) + tq,  # a label, then back to the start
        header(ident) + pointer(14) + pointer(12) + tq,  # two pointers to each other
        header(ident) + b"\x01b" + pointer(15) + b"c" * 15 + pointer(12) + tq,  # alternating
        header(ident) + b"\x03www" + pointer(13) + tq,  # into its own label
        header(ident, ar=1) + WWW_Q + pointer(33) + struct.pack("!HHIH", A, IN, 0, 4) + b"1234",
    ]


def forward_queries(ident: int) -> list[bytes]:
    tq = struct.pack("!HH", A, IN)
    return [
        header(ident) + pointer(16) + tq + name_wire("www.example.com"),
        header(ident) + pointer(0x3FFF) + tq,
        header(ident) + b"\x03www" + pointer(40) + tq + b"\x00" * 30,
    ]


def kind_pointers(rng: random.Random) -> Iterator[Packet]:
    for _ in range(60):
        ident = rng.randrange(65536)
        for wire in loop_queries(ident) + forward_queries(ident):
            yield wire, None
        for links in (1, 2, 10, 100, 500, 999, 1000, 1500, 3000, 8000):
            yield chain_query(ident, links), None
    for _ in range(200):  # pointers anywhere, including into the header and past the end
        body = b"".join(
            rng.choice([pointer(rng.randrange(0x4000)), pointer(rng.randrange(40)), b"\x01a"])
            for _ in range(rng.randint(1, 6))
        )
        yield header(rng.randrange(65536)) + body + struct.pack("!HH", A, IN), None
    for wire in loop_queries(101) + forward_queries(102):
        yield wire, FORMERR_BARE
    yield header(103) + pointer(5) + struct.pack("!HH", A, IN), ANSWERED  # into the header
    yield chain_query(104, 3), Expect(rcode=NOERROR, question=True)
    for links in (1000, 8000):
        yield chain_query(105, links), ANSWERED


def kind_huge_counts(rng: random.Random) -> Iterator[Packet]:
    fields = ("qd", "an", "ns", "ar")
    for _ in range(600):
        counts = {f: rng.choice([0, 1, 2, 17, 0x7FFF, 0xFFFF]) for f in fields}
        counts[rng.choice(fields)] = 0xFFFF
        body = rng.choice([b"", WWW_Q, WWW_Q + rng.randbytes(rng.randint(0, 40))])
        yield header(rng.randrange(65536), **counts) + body, None
    for field in fields:
        counts = {"qd": 1, **{field: 0xFFFF}}
        yield header(201, **counts) + WWW_Q, FORMERR_BARE
    yield header(202, qd=0xFFFF, an=0xFFFF, ns=0xFFFF, ar=0xFFFF), FORMERR_BARE
    yield header(203, qd=0) + WWW_Q, FORMERR_BARE
    yield header(204, qd=2) + WWW_Q + WWW_Q, FORMERR_BARE
    seventeen = b"".join(rr(b"\x00", A, b"\x01\x02\x03\x04") for _ in range(17))
    yield header(205, ar=17) + WWW_Q + seventeen, FORMERR_BARE


def kind_bad_opt(rng: random.Random) -> Iterator[Packet]:
    def bad() -> tuple[bytes, Expect]:
        ident = rng.randrange(65536)
        cases = [
            (header(ident, ar=1) + WWW_Q + opt_rr(owner=name_wire("www.example.com")), FORMERR_Q),
            (header(ident, ar=1) + WWW_Q + opt_rr(owner=pointer(12)), FORMERR_Q),
            (header(ident, ar=2) + WWW_Q + opt_rr() + opt_rr(), FORMERR_Q),
            (header(ident, ar=2) + WWW_Q + opt_rr(4096) + opt_rr(512, version=1), FORMERR_Q),
            (
                header(ident, ar=1) + WWW_Q + opt_rr(rdata=option(10, b"12345678", length=40)),
                FORMERR_BARE,
            ),
            (
                header(ident, ar=1) + WWW_Q + opt_rr(rdata=option(8, b"\x00\x01", 8) + b"\x00"),
                FORMERR_BARE,
            ),
            (header(ident, ar=1) + WWW_Q + opt_rr(rdlength=30, rdata=b"\x00\x0a"), FORMERR_BARE),
            (header(ident, ar=1) + WWW_Q + opt_rr()[:-3], FORMERR_BARE),
            (header(ident, ar=1) + WWW_Q + opt_rr(version=255), Expect(rcode=BADVERS)),
            (header(ident, ar=1) + WWW_Q + opt_rr(version=1, flags=0x8000), Expect(rcode=BADVERS)),
            (header(ident, ar=1) + WWW_Q + opt_rr(0xFFFF), Expect(rcode=NOERROR)),
            (header(ident, ar=1) + WWW_Q + opt_rr(0), Expect(rcode=NOERROR)),
            (header(ident, ar=1) + WWW_Q + opt_rr(1, flags=0xFFFF), Expect(rcode=NOERROR)),
            (header(ident, ar=1) + WWW_Q + opt_rr(ext_rcode=0xFF), ANSWERED),
            (header(ident, ar=1) + WWW_Q + opt_rr(rdata=b"\x00\x0a\x00"), ANSWERED),
            (header(ident, an=1) + WWW_Q + opt_rr(), ANSWERED),  # OPT in the answer section
            (
                header(ident, ar=1)
                + WWW_Q
                + opt_rr(rdata=b"".join(option(rng.randrange(65536), b"x" * 4) for _ in range(99))),
                Expect(rcode=NOERROR),
            ),
        ]
        return rng.choice(cases)

    def ecs(family: int, source: int, scope: int, address: bytes) -> bytes:
        return option(8, struct.pack("!HBB", family, source, scope) + address)

    def with_options(*options: bytes) -> bytes:
        return header(rng.randrange(65536), ar=1) + WWW_Q + opt_rr(rdata=b"".join(options))

    ecs_cases = [  # RFC 7871 section 6: a malformed ECS option gets FORMERR
        (with_options(ecs(3, 24, 0, b"\xc0\x00\x02")), FORMERR_Q),
        (with_options(ecs(1, 33, 0, b"\xc0\x00\x02\x00\x00")), FORMERR_Q),
        (with_options(ecs(2, 129, 0, b"\x20" * 17)), FORMERR_Q),
        (with_options(ecs(1, 24, 8, b"\xc0\x00\x02")), FORMERR_Q),
        (with_options(ecs(1, 24, 0, b"\xc0\x00\x02\x00")), FORMERR_Q),
        (with_options(ecs(1, 24, 0, b"\xc0\x00")), FORMERR_Q),
        (with_options(ecs(1, 20, 0, b"\xc0\x00\x02")), FORMERR_Q),
        (with_options(ecs(1, 24, 0, b"\xc0\x00\x02"), ecs(1, 8, 0, b"\x0a")), FORMERR_Q),
        (with_options(option(8, b"\x00\x01\x18")), FORMERR_Q),
        (with_options(option(8, b"")), FORMERR_Q),
        (with_options(ecs(1, 24, 0, b"\xc0\x00\x02")), Expect(rcode=NOERROR)),
        (with_options(ecs(1, 0, 0, b"")), Expect(rcode=NOERROR)),
        (with_options(ecs(2, 56, 0, b"\x20\x01\x0d\xb8\x00\x00\x01")), Expect(rcode=NOERROR)),
        (with_options(ecs(2, 128, 0, b"\x20\x01" + b"\x00" * 13 + b"\x01")), Expect(rcode=NOERROR)),
    ]
    for _ in range(20):
        for wire, _ in ecs_cases:
            yield mutate(rng, wire, rng.randint(1, 2)), None
    yield from ecs_cases
    for _ in range(700):
        wire, _ = bad()
        yield (mutate(rng, wire, 1) if rng.random() < 0.3 else wire), None
    for _ in range(60):
        yield bad()


def kind_qtype_qclass(rng: random.Random) -> Iterator[Packet]:
    names = [name_wire(n) for n in ("www.example.com", "example.com", "long.example.net", "a.b")]
    values = [0, 0xFFFF, 255, 41, 251, 252, 253, 254, 3, 4, 254, 65280, 1]
    for _ in range(500):
        wire = question(rng.choice(names), rng.choice(values), rng.choice(values))
        yield header(rng.randrange(65536), ar=rng.choice([0, 1])) + wire + opt_rr(), None
        yield header(rng.randrange(65536)) + wire, None
    www = name_wire("www.example.com")
    yield header(301) + question(www, 0, IN), FORMERR_Q
    yield header(302) + question(www, 0xFFFF, IN), Expect(rcode=NOERROR, question=True)
    yield header(303) + question(www, A, 0), Expect(rcode=REFUSED, question=True)
    yield header(304) + question(www, A, 0xFFFF), Expect(rcode=REFUSED, question=True)
    yield header(305) + question(www, 0, 0), Expect(rcode=FORMERR, question=True)
    yield header(306) + question(www, 0xFFFF, 0xFFFF), Expect(rcode=REFUSED, question=True)
    yield header(307) + question(www, OPT, IN), FORMERR_Q
    yield header(308) + question(www, 252, IN), Expect(rcode=REFUSED, question=True)
    yield header(309) + question(www, A, ANY), Expect(rcode=NOERROR, question=True)


def kind_qr_set(rng: random.Random) -> Iterator[Packet]:
    bases = valid_queries(rng)
    for _ in range(600):
        wire = rng.choice(bases)
        if rng.random() < 0.5:
            wire = mutate(rng, wire, rng.randint(1, 3))
        yield set_flags(wire, 0x8000), None
    for wire in bases[:20]:
        yield set_flags(wire, 0x8000), NO_REPLY
        yield set_flags(wire, 0x8000 | rng.randrange(0x10000)), NO_REPLY
    yield header(401, flags=0x8000, qd=0xFFFF), NO_REPLY
    yield header(402, flags=0xFFFF) + rng.randbytes(50), NO_REPLY


def kind_opcodes(rng: random.Random) -> Iterator[Packet]:
    bases = valid_queries(rng)
    for _ in range(50):
        for opcode in range(16):
            wire = with_opcode(rng.choice(bases), opcode)
            yield wire, None
            yield mutate(rng, wire, 2), None
            yield set_flags(wire, 0x8000), None
    for opcode in range(16):
        wire = with_opcode(set_id(bases[0], 500 + opcode), opcode)
        yield wire, Expect(rcode=NOERROR if opcode == 0 else NOTIMP)
        yield set_flags(wire, 0x8000), NO_REPLY
        yield (
            header(520 + opcode, flags=opcode << 11, qd=0),
            Expect(rcode=FORMERR if opcode == 0 else NOTIMP, question=False),
        )


KINDS: dict[str, Callable[[random.Random], Iterator[Packet]]] = {
    "random_bytes": kind_random_bytes,
    "mutated": kind_mutated,
    "short_headers": kind_short_headers,
    "bad_labels": kind_bad_labels,
    "long_names": kind_long_names,
    "pointers": kind_pointers,
    "huge_counts": kind_huge_counts,
    "bad_opt": kind_bad_opt,
    "qtype_qclass": kind_qtype_qclass,
    "qr_set": kind_qr_set,
    "opcodes": kind_opcodes,
}


def packets(kind: str) -> list[Packet]:
    return list(KINDS[kind](random.Random(f"{SEED}-{kind}")))


# --- talking to the server ---------------------------------------------------------------


@pytest.fixture
def fuzz_server(start_server):
    """A fresh server on the fixture zones, so a crash here does not take other tests down."""
    return start_server("--zones", str(ZONES), "--listen", "127.0.0.1:0", "--no-http")


class UdpBlaster:
    """Fires datagrams in batches without waiting for their replies, keeping what comes back.

    Each batch ends with a normal query; its answer (or a short deadline) paces the next
    batch so that the hostile packets reach the server instead of overflowing its buffer.
    """

    def __init__(self, server) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.connect((server.host, server.port))
        self.sock.setblocking(False)
        self.replies: list[bytes] = []
        self.paced = 0  # batches whose pacing query was answered

    def drain(self, wait: float = 0.0, until: bytes | None = None) -> bool:
        """Read what is available, waiting up to `wait` for more; True once `until` arrived."""
        deadline = time.monotonic() + wait
        while select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))[0]:
            try:
                data = self.sock.recv(65535)
            except (BlockingIOError, ConnectionRefusedError):  # refused: nobody listens
                return False
            if until is not None and data[:2] == until and data[2] & 0x80:
                return True
            self.replies.append(data)
        return False

    def blast(self, wires: list[bytes], batch_size: int = 64, batch_bytes: int = 32_000) -> None:
        batches: list[list[bytes]] = [[]]
        for wire in wires:
            batch = batches[-1]
            if len(batch) >= batch_size or sum(map(len, batch)) + len(wire) > batch_bytes:
                batches.append([])
            batches[-1].append(wire)
        for number, batch in enumerate(batches):
            for wire in batch:
                try:
                    self.sock.send(wire)
                except (BlockingIOError, ConnectionRefusedError):
                    self.drain(0.01)
            ident = struct.pack("!H", 0xF000 | number % 0x1000)
            try:
                self.sock.send(ident + PACING_QUERY[2:])
            except ConnectionRefusedError:
                return  # the server is gone; assert_alive reports it
            self.paced += self.drain(1.0, until=ident)
        self.drain(0.3)


PACING_QUERY = dns.message.make_query("www.example.com", "A").to_wire()


def exchange_udp(sock: socket.socket, wire: bytes) -> bytes | None:
    """Send wire, then a sentinel query; the reply to wire, or None if the sentinel came first."""
    ident = 0xD00D if wire[:2] != b"\xd0\x0d" else 0xD00E
    sentinel = dns.message.make_query("www.example.com", "A")
    sentinel.id = ident
    sock.send(wire)
    sock.send(sentinel.to_wire())
    replies = []
    deadline = time.monotonic() + 3
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no answer to the sentinel after sending {wire.hex()}"
        sock.settimeout(remaining)
        data = sock.recv(65535)
        if data[:2] == struct.pack("!H", ident) and len(data) > 12 and data[2] & 0x80:
            assert_www(dns.message.from_wire(data))
            break
        replies.append(data)
    assert len(replies) <= 1, f"{len(replies)} replies to {wire.hex()}"
    return replies[0] if replies else None


WWW_RRSET = dns.rrset.from_text("www.example.com.", 300, "IN", "A", "192.0.2.10", "192.0.2.11")


def assert_www(reply: dns.message.Message) -> None:
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.QR
    assert reply.flags & dns.flags.AA
    assert reply.answer == [WWW_RRSET]


def assert_alive(server) -> None:
    """The process runs and answers www.example.com A over UDP and TCP."""
    assert server.proc.poll() is None, f"server exited with {server.proc.returncode}"
    assert_www(ask(server, "www.example.com", "A", "udp"))
    assert_www(ask(server, "www.example.com", "A", "tcp"))


def traceback_in_log(server) -> list[str]:
    """The first internal error in the server's log, if any (it is logged with a traceback)."""
    log = server.log()
    at = log.find("Traceback")
    return [] if at < 0 else ["internal error logged:\n" + log[max(0, at - 200) : at + 2500]]


def sample_failures(server, sample: list[tuple[bytes, Expect]]) -> list[str]:
    """Each sampled query sent alone, its reply (or its absence) checked."""
    failures = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((server.host, server.port))
        for wire, expect in sample:
            found = problems(wire, exchange_udp(sock, wire), expect)
            if found:
                failures.append(f"query {wire.hex()}: {'; '.join(found)}")
    if not failures:
        return []
    listed = "\n".join(failures[:20])
    return [f"{len(failures)} of {len(sample)} checked queries are wrong:\n{listed}"]


def bulk_failures(replies: list[bytes]) -> list[str]:
    """Every reply is a response (QR=1, at least a header), and none is a SERVFAIL."""
    found = [f"short reply {r.hex()}" for r in replies if len(r) < 12]
    found += [f"reply with QR=0: {r.hex()}" for r in replies if len(r) >= 12 and not r[2] & 0x80]
    servfails = [r for r in replies if len(r) >= 12 and r[3] & 0xF == SERVFAIL]
    if servfails:
        found.append(f"{len(servfails)} SERVFAIL replies, e.g. {servfails[0].hex()}")
    return found


def assert_no_failures(failures: list[str]) -> None:
    assert not failures, "\n\n".join(failures)


# --- the tests ---------------------------------------------------------------------------


def test_at_least_ten_thousand_packets():
    """The kinds together make at least 10,000 UDP packets, every kind with a checked sample."""
    total = 0
    for kind in KINDS:
        made = packets(kind)
        assert any(expect is not None for _, expect in made), kind
        total += len(made)
    assert total >= 10_000


@pytest.mark.parametrize("kind", list(KINDS))
def test_hostile_udp(fuzz_server, kind):
    """A kind of hostile UDP packet neither crashes nor silences the server; RFC outcomes hold."""
    made = packets(kind)
    blaster = UdpBlaster(fuzz_server)
    with blaster.sock:
        blaster.blast([wire for wire, _ in made])
    assert_alive(fuzz_server)
    failures = bulk_failures(blaster.replies)
    owed = sum(answerable(wire) for wire, _ in made)  # every one of these deserves a reply
    if len(blaster.replies) < 0.9 * owed:
        failures.append(f"only {len(blaster.replies)} replies to {owed} answerable packets")
    failures += sample_failures(fuzz_server, [(w, e) for w, e in made if e is not None])
    assert_alive(fuzz_server)
    assert_no_failures(failures + traceback_in_log(fuzz_server))


# --- TCP ---------------------------------------------------------------------------------


def read_frames(buffer: bytearray) -> list[bytes]:
    """Complete length-prefixed messages taken off the front of buffer."""
    out = []
    while len(buffer) >= 2:
        (length,) = struct.unpack_from("!H", buffer)
        if len(buffer) < 2 + length:
            break
        out.append(bytes(buffer[2 : 2 + length]))
        del buffer[: 2 + length]
    return out


class TcpStream:
    """One connection: writes in chunks and reads replies without blocking in between."""

    def __init__(self, server) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray()
        self.replies: list[bytes] = []
        self.eof = False

    def pump(self, wait: float = 0.0) -> None:
        while not self.eof and select.select([self.sock], [], [], wait)[0]:
            wait = 0.0
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
            self.buffer += chunk
            self.replies += read_frames(self.buffer)

    def send(self, data: bytes) -> None:
        self.sock.settimeout(5)
        self.sock.sendall(data)
        self.pump()

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.replies) < count and not self.eof and time.monotonic() < deadline:
            self.pump(0.05)

    def close(self, reset: bool = False) -> None:
        if reset:  # RST instead of FIN
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def answerable(wire: bytes) -> bool:
    """The server must answer this message: a full header with QR=0."""
    return len(wire) >= 12 and not wire[2] & 0x80


def test_hostile_tcp(fuzz_server):
    """Hostile frames, wrong prefixes, truncated frames and dropped connections over TCP."""
    rng = random.Random(f"{SEED}-tcp")
    pool = [wire for kind in KINDS for wire, _ in packets(kind) if len(wire) < 2000]
    frames_sent = 0
    failures: list[str] = []

    # Well-framed hostile messages (and 0-length frames): every answerable one gets a reply,
    # in order, and the connection still answers a normal query at the end.
    for _ in range(6):
        stream = TcpStream(fuzz_server)
        wires = [rng.choice(pool) if rng.random() < 0.95 else b"" for _ in range(400)]
        for start in range(0, len(wires), 50):
            stream.send(b"".join(frame(w) for w in wires[start : start + 50]))
        final = dns.message.make_query("www.example.com", "A")
        final.id = 0xBEEF
        stream.send(frame(final.to_wire()))
        expected = [w[:2] for w in wires if answerable(w)] + [b"\xbe\xef"]
        stream.wait_for(len(expected))
        stream.close()
        frames_sent += len(wires) + 1
        if stream.eof:
            failures.append("the server closed a connection that sent well-framed messages")
        got = [r[:2] for r in stream.replies]
        if got != expected:
            failures.append(
                f"replies by ID {b''.join(got).hex()}, expected {b''.join(expected).hex()}"
            )
        failures += bulk_failures(stream.replies)
        if got == expected:  # the last is the reply to the normal query
            assert_www(dns.message.from_wire(stream.replies[-1]))

    # Wrong length prefixes: the framing desynchronises; the server must cope and stay up.
    for _ in range(4):
        stream = TcpStream(fuzz_server)
        for _ in range(250):
            wire = rng.choice(pool)
            claimed = rng.choice([len(wire) + 1, max(0, len(wire) - 1), rng.randrange(65536), 0])
            stream.send(struct.pack("!H", claimed) + wire)
            frames_sent += 1
        stream.pump(0.05)
        stream.close(reset=rng.random() < 0.5)
        failures += bulk_failures(stream.replies)

    # Truncated frames and connections closed mid-prefix or mid-message (FIN or RST).
    for i in range(300):
        stream = TcpStream(fuzz_server)
        wire = frame(rng.choice(pool))
        cut = rng.choice([0, 1, 2, rng.randrange(len(wire) + 1)])
        if cut:
            stream.send(wire[:cut])
        frames_sent += 1
        stream.close(reset=i % 2 == 1)

    assert frames_sent >= 3000
    assert_alive(fuzz_server)
    assert_no_failures(failures + traceback_in_log(fuzz_server))
