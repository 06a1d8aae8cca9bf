"""The bytes of a query and of a reply, handled directly: the one module that does so.

A plain query (one question, no records but an optional OPT carrying at most an ECS
option) is read here without dnslib, and every reply is finished here from a cached or
freshly packed "body": the reply without OPT, with the question in lowercase. Finishing
patches the ID, the RD bit and the question's letter case, appends the OPT record, and
truncates what does not fit, so a cached reply and a freshly built one are the same bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from resolver.wire.codes import OPT
from resolver.wire.ecs import ECS_CODE

UDP_PAYLOAD = 1232
# Types that need the full path: zone transfers and obsolete mail types (refused or
# NOTIMP there), OPT and type 0 (FORMERR there).
SLOW_QTYPES = frozenset({0, OPT, 251, 252, 253, 254})
_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")


@dataclass(slots=True)
class Query:
    """What the fast path needs of a plain query."""

    ident: int
    flags: int
    question: bytes  # wire form of name, type and class, as sent (letter case kept)
    key: bytes  # the question with the name's ASCII letters lowercased; type, class as sent
    qtype: int
    edns: bool
    udp_size: int
    do: bool
    ecs: bytes | None  # raw ECS option data, validated by the caller


def parse_query(data: bytes) -> Query | None:
    """A plain query, or None when anything is unusual (the full path then decides)."""
    size = len(data)
    if size < 17:
        return None
    ident, flags, qdcount, ancount, nscount, arcount = struct.unpack_from("!6H", data)
    if flags & 0xF800 or qdcount != 1 or ancount or nscount or arcount > 1:
        return None  # a response, another opcode, or more than a plain question
    pos = 12
    while True:
        if pos >= size:
            return None
        length = data[pos]
        if length == 0:
            pos += 1
            break
        if length > 63:
            return None  # compression pointer or reserved label type
        pos += 1 + length
        if pos - 12 > 254 or pos > size:
            return None  # the name with its root label would pass 255 octets
    if pos + 4 > size:
        return None
    qtype, qclass = struct.unpack_from("!HH", data, pos)
    if qclass != 1 or qtype in SLOW_QTYPES:
        return None
    question = data[12 : pos + 4]
    # Only the name's letters fold: type and class are numbers (HTTPS is 0x0041, "A";
    # TYPE97 is 0x0061, "a"). Length octets are at most 63, below "A", so they stay.
    key = data[12:pos].translate(_LOWER) + data[pos : pos + 4]
    pos += 4
    edns, udp_size, do, ecs = False, 512, False, None
    if arcount:
        # Exactly one OPT: root owner, version 0, and nothing but an ECS option.
        if pos + 11 > size or data[pos] != 0:
            return None
        rtype, udp_size, ttl, rdlength = struct.unpack_from("!HHIH", data, pos + 1)
        pos += 11
        if rtype != OPT or (ttl >> 16) & 0xFF or pos + rdlength != size:
            return None
        if rdlength:
            if rdlength < 4:
                return None
            code, length = struct.unpack_from("!HH", data, pos)
            if code != ECS_CODE or 4 + length != rdlength:
                return None
            ecs = data[pos + 4 : pos + 4 + length]
        edns, do = True, bool(ttl & 0x8000)
    elif pos != size:
        return None
    return Query(ident, flags, question, key, qtype, edns, udp_size, do, ecs)


def labels(key: bytes) -> tuple[bytes, ...]:
    """The labels of the name a checked question starts with (wanted only on a miss)."""
    out = []
    pos = 0
    length = key[0]
    while length:
        out.append(key[pos + 1 : pos + 1 + length])
        pos += 1 + length
        length = key[pos]
    return tuple(out)


def opt_record(do: bool, ext_rcode: int = 0, option: bytes = b"") -> bytes:
    """Our OPT: UDP size 1232, version 0, the DO bit echoed, an optional option."""
    ttl = (ext_rcode << 24) | (0x8000 if do else 0)
    return b"\x00" + struct.pack("!HHIH", OPT, UDP_PAYLOAD, ttl, len(option)) + option


def finish_query(q: Query, option: bytes, limit: int, body: bytes) -> bytes:
    """A plain query's reply: body finished with its ID, question and EDNS (and `option`,
    the ECS echo, when it had EDNS)."""
    opt = opt_record(q.do, 0, option) if q.edns else None
    return finish(body, q.ident, q.flags, q.question, opt, limit)


def finish(
    body: bytes,
    ident: int,
    flags: int,
    question: bytes,
    opt: bytes | None,
    limit: int,
) -> bytes:
    """The reply to send: body with the query's ID, RD bit and question, plus OPT.

    `body` is a reply packed with ARCOUNT not counting an OPT; `opt` is appended when
    the query had EDNS. A reply longer than `limit` becomes header, question and OPT with
    TC set (the client retries over TCP).
    """
    qend = 12 + len(question)
    out_flags = (body[2] << 8 | body[3]) & ~0x0100 | (flags & 0x0100)
    arcount = body[10] << 8 | body[11]
    if opt is not None:
        arcount += 1
    reply = b"".join(
        (
            struct.pack("!HH", ident, out_flags),
            body[4:10],
            struct.pack("!H", arcount),
            question,
            body[qend:],
            opt or b"",
        )
    )
    if len(reply) <= limit:
        return reply
    head = struct.pack("!HHHHHH", ident, out_flags | 0x0200, 1, 0, 0, 1 if opt else 0)
    return head + question + (opt or b"")


def udp_limit(query_edns: bool, udp_size: int) -> int:
    return max(512, min(udp_size, UDP_PAYLOAD)) if query_edns else 512
