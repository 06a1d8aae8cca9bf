"""An upstream reply cut to what may be served and cached (issue 13 item 4).

Only records inside the question's bailiwick survive: the CNAME/DNAME chain from the
question's name inside the route's domain, and the authority and glue of the zone the
upstream answered from. What is kept is re-encoded as a reply body (resolver.wire.reply)
with TTLs clamped, and its lifetime decided (RFC 2308 for negative answers, RFC 2181
section 8 for TTLs with the top bit set). Pure: bytes in, a Scrubbed out.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from dnslib import QTYPE, RD, RDMAP

from resolver.wire import fastpath, names, walk
from resolver.wire.codes import NOERROR, NXDOMAIN, OPT
from resolver.wire.message import parse
from resolver.wire.names import Name
from resolver.wire.rdata import target_name
from resolver.wire.reply import render

A, NS, CNAME, SOA, AAAA, DNAME, DS, RRSIG, NSEC, NSEC3 = 1, 2, 5, 6, 28, 39, 43, 46, 47, 50
SIG, TSIG, ANY = 24, 250, 255
MAX_HOPS = 16  # CNAMEs followed from the question's name
MAX_TTL = 2**31 - 1  # RFC 2181 section 8: a TTL with the top bit set counts as 0
MAX_BODY = 65535  # what one TCP message can hold
AUTHORITY_TYPES = frozenset({SOA, NS, DS, NSEC, NSEC3, RRSIG})
# Never passed on: EDNS and transaction signatures belong to the upstream's exchange
# (SIG(0) is a SIG). And types whose RDATA may hold compressed names (RFC 1035, RFC 3597
# section 4) that dnslib keeps as raw octets: their pointers point into the upstream's
# message, not ours (MD, MF, MB, MG, MR, MINFO, AFSDB, RT, PX, NXT).
NEVER_KEPT = frozenset({OPT, TSIG, SIG, 3, 4, 7, 8, 9, 14, 18, 21, 26, 30})
PARSED_TYPES = frozenset(int(QTYPE.reverse[name]) for name in RDMAP)  # not kept as raw RD


class ScrubError(ValueError):
    """The reply cannot be used at all."""


@dataclass(frozen=True, slots=True)
class Scrubbed:
    """A reply body ready to cache and serve, and where its TTLs are."""

    body: bytes  # ID 0, question = key, no OPT; QR and RA set; the upstream's rcode
    ttl_offsets: tuple[int, ...]  # offset in body of each record's 32-bit TTL
    ttls: tuple[int, ...]  # each record's TTL as stored (after clamping)
    lifetime: int  # seconds the answer may be cached; 0 = do not cache
    negative: bool  # NXDOMAIN or NODATA
    dropped: int  # records left out (OPT not counted)


def _owner(rr: Any) -> Name:
    return names.lower(rr.rname.label)


def _plain_name(data: bytes) -> bool:
    """Whether data is exactly one uncompressed name (a DNAME's RDATA, RFC 6672 2.5)."""
    pos = 0
    while pos < len(data) and pos <= 255:
        length = data[pos]
        if length == 0:
            return pos + 1 == len(data)
        if length > 63:
            return False
        pos += 1 + length
    return False


def _usable(rr: Any, qclass: int) -> bool:
    """Not a record to drop whatever its name: another class, a type never passed on, or
    RDATA that is not what its type holds."""
    if rr.rclass != qclass or rr.rtype in NEVER_KEPT:
        return False
    if rr.rtype in PARSED_TYPES and type(rr.rdata) is RD:
        return False  # an empty RDATA where dnslib's class for the type needs fields
    return rr.rtype != DNAME or _plain_name(getattr(rr.rdata, "data", b""))


def _chain(answer: list[Any], qname: Name, qtype: int, domain: Name) -> tuple[list[Name], set[int]]:
    """The names from the question's name along its CNAMEs (those inside domain), and the
    id() of each CNAME record followed."""
    chain: list[Name] = [qname]
    followed: set[int] = set()
    if qtype == CNAME:
        return chain, followed
    for _ in range(MAX_HOPS):
        current = chain[-1]
        if not names.is_subdomain(current, domain):
            break
        for rr in answer:
            if rr.rtype == CNAME and _owner(rr) == current:
                target = target_name(rr.rdata)
                if target is not None:
                    chain.append(target)
                    followed.add(id(rr))
                    break
        else:
            break
    return chain, followed


def _signed(records: list[Any], section: list[Any]) -> list[Any]:
    """records with the RRSIGs in section that sign them, in section's order."""
    signs = {(_owner(rr), rr.rtype) for rr in records}
    kept = {id(rr) for rr in records}
    return [
        rr
        for rr in section
        if id(rr) in kept
        or (rr.rtype == RRSIG and (_owner(rr), getattr(rr.rdata, "covered", -1)) in signs)
    ]


def _answer(
    answer: list[Any], chain: list[Name], followed: set[int], qtype: int, domain: Name
) -> tuple[list[Any], bool]:
    """The answer records kept, and whether the chain's final name has the data asked."""
    final = chain[-1]
    kept, found = [], False
    for rr in answer:
        owner = _owner(rr)
        if not names.is_subdomain(owner, domain):
            continue
        above_chain = rr.rtype == DNAME and any(
            names.is_subdomain(name, owner) and name != owner for name in chain
        )
        if id(rr) in followed or above_chain:
            kept.append(rr)
        elif owner == final and (rr.rtype == qtype or qtype == ANY):
            kept.append(rr)
            found = True
    return _signed(kept, answer), found


def _zone(authority: list[Any], final: Name, domain: Name) -> Name:
    """The zone as the upstream answered it: its SOA's owner, else its NS records'."""
    for wanted in (SOA, NS):
        for rr in authority:
            if rr.rtype == wanted:
                owner = _owner(rr)
                if names.is_subdomain(final, owner) and names.is_subdomain(owner, domain):
                    return owner
    return domain


def _authority(authority: list[Any], final: Name, zone: Name) -> list[Any]:
    kept = []
    for rr in authority:
        owner = _owner(rr)
        if rr.rtype not in AUTHORITY_TYPES or not names.is_subdomain(owner, zone):
            continue
        if rr.rtype in (SOA, NS, DS) and not names.is_subdomain(final, owner):
            continue
        kept.append(rr)
    return kept


def _glue(additional: list[Any], authority: list[Any], zone: Name) -> list[Any]:
    """A and AAAA records for names a kept NS points at, inside the zone."""
    servers = {target_name(rr.rdata) for rr in authority if rr.rtype == NS}
    kept = [
        rr
        for rr in additional
        if rr.rtype in (A, AAAA)
        and (owner := _owner(rr)) in servers
        and names.is_subdomain(owner, zone)
    ]
    return _signed(kept, additional)


def _ttl(value: int, min_ttl: int, max_ttl: int) -> int:
    return min(max(0 if value > MAX_TTL else value, min_ttl), max_ttl)


def _ttl_offsets(body: bytes, key: bytes, count: int) -> tuple[int, ...]:
    """Where each record's TTL is in a body we rendered: after its owner, type, class."""
    offsets = []
    pos = walk.question_end(body, key)
    for _ in range(count):
        offsets.append(walk.skip_name(body, pos) + 4)
        pos = walk.skip_records(body, pos, 1)
    if pos != len(body):
        raise ScrubError("the re-encoded body does not hold the records kept")
    return tuple(offsets)


# Records an upstream reply may hold: dnslib's parse and our re-encoding cost ~25 us a
# record on the event loop, so a hostile 64 KiB reply of 4,000 records would stall every
# client for ~110 ms. A real answer, even a large TXT or NS set over TCP, holds far fewer.
MAX_RECORDS = 512


def scrub(reply: bytes, key: bytes, domain: Name, min_ttl: int, max_ttl: int) -> Scrubbed:
    """The part of an upstream reply (matched to our query by ID and question) that may be
    served and cached for the question `key` routed to the forwarders of `domain`.

    Raises ScrubError for a reply that is unusable: unparsable, not a response to a
    QUERY, or for another question.
    """
    if len(reply) < 12 or sum(struct.unpack_from("!3H", reply, 6)) > MAX_RECORDS:
        raise ScrubError(f"more than {MAX_RECORDS} records, or no header")
    try:
        message, _ = parse(reply)
    except Exception as exc:  # hostile bytes: dnslib can raise anything
        raise ScrubError(f"unparsable upstream reply: {exc}") from exc
    header = message.header
    qlabels = fastpath.labels(key)
    qname = names.lower(qlabels)
    qtype, qclass = struct.unpack_from("!HH", key, len(key) - 4)
    if not header.qr or header.opcode != 0:
        raise ScrubError("not a response to a QUERY")
    if len(message.questions) != 1:
        raise ScrubError("the reply does not hold exactly one question")
    question = message.questions[0]
    if (names.lower(question.qname.label), question.qtype, question.qclass) != (
        qname,
        qtype,
        qclass,
    ):
        raise ScrubError("the reply is for another question")
    rcode = header.rcode
    extended_rcode = any(rr.rtype == OPT and rr.ttl >> 24 for rr in message.ar)
    total = len(message.rr) + len(message.auth) + sum(rr.rtype != OPT for rr in message.ar)

    answer_in = [rr for rr in message.rr if _usable(rr, qclass)]
    chain, followed = _chain(answer_in, qname, qtype, domain)
    final = chain[-1]
    answer, found = _answer(answer_in, chain, followed, qtype, domain)
    authority_in = [rr for rr in message.auth if _usable(rr, qclass)]
    zone = _zone(authority_in, final, domain)
    authority = _authority(authority_in, final, zone)
    additional = _glue([rr for rr in message.ar if _usable(rr, qclass)], authority, zone)
    negative = rcode == NXDOMAIN or (rcode == NOERROR and not found)

    records = answer + authority + additional
    overflow = any(rr.ttl > MAX_TTL for rr in records)
    has_soa = False
    for rr in records:
        rr.ttl = _ttl(rr.ttl, min_ttl, max_ttl)
    if negative:
        for rr in authority:  # RFC 2308 section 5: min(SOA TTL, SOA MINIMUM), clamped
            if rr.rtype == SOA:
                has_soa = True
                rr.ttl = _ttl(min(rr.ttl, rr.rdata.times[4]), min_ttl, max_ttl)
    ttls = tuple(rr.ttl for rr in records)
    cacheable = (
        rcode in (NOERROR, NXDOMAIN)
        and not extended_rcode
        and not header.tc
        and not overflow
        and (has_soa or not negative)
    )
    lifetime = min(ttls) if cacheable and ttls else 0

    try:
        rendered = render(qlabels, qtype, qclass, rcode, False, (answer, authority, additional))
    except Exception as exc:  # a value dnslib parsed but cannot pack again
        raise ScrubError(f"the kept records cannot be re-encoded: {exc}") from exc
    if len(rendered) > MAX_BODY:
        raise ScrubError("the re-encoded reply is larger than a DNS message")
    # ID 0; QR and RA; the upstream's rcode; AA, TC, RD, AD and CD clear (finish sets RD).
    body = struct.pack("!HH", 0, 0x8080 | (rcode & 0xF)) + rendered[4:]
    try:
        offsets = _ttl_offsets(body, key, len(records))
    except (IndexError, ValueError) as exc:
        raise ScrubError(f"the re-encoded body cannot be walked: {exc}") from exc
    return Scrubbed(body, offsets, ttls, lifetime, negative, total - len(records))
