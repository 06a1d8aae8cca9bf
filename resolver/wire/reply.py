"""Reply bodies and the byte-level pieces of a reply the general route needs.

A "body" is a reply packed with ID 0, the question in lowercase and no OPT record; the
finishing step (`fastpath.finish`) turns it into the bytes sent. These helpers pack
bodies with dnslib, and build what does not need dnslib at all: a header-only reply for
a packet whose question cannot be trusted, and a question's wire form.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from dnslib import RR, DNSHeader, DNSLabel, DNSQuestion, DNSRecord

from resolver.wire import fastpath


def render(
    labels: tuple[bytes, ...],
    qtype: int,
    qclass: int,
    rcode: int,
    authoritative: bool,
    sections: tuple[Sequence[Any], Sequence[Any], Sequence[Any]],
) -> bytes:
    """A body from an answer: its rcode, AA and (answer, authority, additional) records,
    each anything that packs itself as dnslib's RR does."""
    answer, authority, additional = sections
    header = DNSHeader(qr=1, aa=int(authoritative), rcode=rcode & 0xF)
    question = DNSQuestion(DNSLabel(list(labels)), qtype, qclass)
    record = DNSRecord(header, q=question, rr=list(answer), auth=list(authority))
    record.ar = list(additional)
    return bytes(record.pack())


def empty(key: bytes, rcode: int, recursion: bool = False) -> bytes:
    """A body with no records for a checked wire question (`key`, lowercase): the rcode
    alone, no AA; RA when recursion was offered (a forwarded question that failed)."""
    qtype, qclass = struct.unpack_from("!HH", key, len(key) - 4)
    body = bytearray(render(fastpath.labels(key), qtype, qclass, rcode, False, ((), (), ())))
    if recursion:
        body[3] |= 0x80
    return bytes(body)


def simple(question: DNSQuestion, rcode: int, records: list[RR] | None, aa: bool) -> bytes:
    """A body the handler decides itself (errors, CHAOS): the question and its records."""
    header = DNSHeader(id=0, qr=1, aa=int(aa), rcode=rcode)
    return bytes(DNSRecord(header, q=question, rr=records or []).pack())


def question_wire(labels: Sequence[bytes], qtype: int, qclass: int) -> bytes:
    """A question in wire form, the labels as given (no compression)."""
    name = b"".join(bytes((len(label),)) + bytes(label) for label in labels) + b"\x00"
    return name + struct.pack("!HH", qtype, qclass)


def valid_name(labels: Sequence[bytes]) -> bool:
    """RFC 1035 limits dnslib does not check when parsing: 63-octet labels, 255 in all."""
    return all(len(label) <= 63 for label in labels) and sum(len(x) + 1 for x in labels) < 255


def header_only(ident: int, flags: int, rcode: int) -> bytes:
    """A reply with no sections: for packets whose question cannot be trusted.

    The opcode is echoed. RD is echoed for QUERY only: RD, RA, AD, CD and AA are QUERY's
    flags, and a reply to any other opcode has them clear (ISC's EDNS compliance test).
    """
    keep = 0x7900 if not flags & 0x7800 else 0x7800
    out_flags = 0x8000 | (flags & keep) | (rcode & 0xF)
    return struct.pack("!6H", ident, out_flags, 0, 0, 0, 0)
