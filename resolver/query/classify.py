"""The parse stage of the general route: a query fastpath would not read, parsed by
dnslib and checked in full, ending in an early reply or in a question to answer.

`classify` returns `bytes` for an early reply (FORMERR, NOTIMP, BADVERS, REFUSED, the
CHAOS answers) or a `Question` for the answer stage; it fills the query's `Facts` either
way, so an early reply is counted and logged like any other.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dnslib import RR, DNSQuestion

from resolver.query.chaos import Chaos
from resolver.query.querylog import qtype_name
from resolver.query.stages import Facts
from resolver.wire import ecs, fastpath, message, names, opt, reply
from resolver.wire.codes import ANY_CLASS, BADVERS, CH, FORMERR, IN, NOERROR, NOTIMP, OPT, REFUSED

MAX_RRS_IN_QUERY = 16  # more than this in a query is an attack, not a client
REFUSED_QTYPES = {251, 252}  # IXFR, AXFR: no zone transfers
NOTIMP_QTYPES = {253, 254}  # MAILB, MAILA: obsolete


@dataclass(slots=True)
class Question:
    """A checked question of the general route, and how to finish its reply."""

    ident: int
    flags: int
    question: DNSQuestion
    wire: bytes  # the question as sent (letter case kept)
    key: bytes  # the question with the name lowercased: the reuse key
    lowered: tuple[bytes, ...]  # the name's labels, lowercased
    qtype: int
    qclass: int
    edns: RR | None  # the query's OPT record
    subnet: ecs.ClientSubnet | None
    tcp: bool

    def finish(
        self, body: bytes, ext_rcode: int = 0, option: bytes = b"", use_edns: bool = True
    ) -> bytes:
        """The reply to send: `body` with the query's ID, question and (our) OPT."""
        edns = self.edns
        opt_rr = None
        if edns is not None and use_edns:
            opt_rr = fastpath.opt_record(bool(edns.ttl & 0x8000), ext_rcode, option)
        size = int(edns.rclass) if edns is not None else 512
        limit = 65535 if self.tcp else fastpath.udp_limit(opt_rr is not None, size)
        return fastpath.finish(body, self.ident, self.flags, self.wire, opt_rr, limit)

    def early(self, rcode: int, records: list[RR] | None = None, aa: bool = False) -> bytes:
        """An early reply: the handler's own rcode (and records), finished."""
        return self.finish(reply.simple(self.question, rcode, records, aa))


def classify(data: bytes, tcp: bool, chaos: Chaos, use_ecs: bool, facts: Facts) -> bytes | Question:
    """An early reply, or the question to answer (with its ECS subnet when `use_ecs`)."""
    ident, flags, qdcount, ancount, nscount, arcount = struct.unpack_from("!6H", data)
    if (flags >> 11) & 0xF:
        return reply.header_only(ident, flags, NOTIMP)  # whatever follows: not read at all
    if qdcount != 1 or ancount + nscount + arcount > MAX_RRS_IN_QUERY:
        return reply.header_only(ident, flags, FORMERR)
    try:
        request, opt_rdata = message.parse(data)
    except Exception:  # a malformed message; dnslib raises worse on hostile input
        return reply.header_only(ident, flags, FORMERR)
    question = request.q
    labels = question.qname.label  # bytes as sent: any octet (message.py)
    if not reply.valid_name(labels):
        return reply.header_only(ident, flags, FORMERR)
    qtype, qclass = int(question.qtype), int(question.qclass)
    lowered = names.lower(labels)
    key = reply.question_wire(lowered, qtype, qclass)
    facts.question, facts.code, facts.qtype = key, qtype, qtype_name(qtype)
    opts = [rr for rr in request.ar if rr.rtype == OPT]
    edns = opts[0] if opts else None
    wire = reply.question_wire(labels, qtype, qclass)
    asked = Question(ident, flags, question, wire, key, lowered, qtype, qclass, edns, None, tcp)
    if len(opts) > 1 or (edns is not None and edns.rname.label):
        return asked.finish(reply.simple(question, FORMERR, None, False), use_edns=False)
    if edns is not None and (edns.ttl >> 16) & 0xFF:
        return asked.finish(reply.simple(question, BADVERS & 0xF, None, False), BADVERS >> 4)
    if qtype in (OPT, 0):
        return asked.early(FORMERR)
    if qclass == CH:
        rcode, records = chaos.answer(question)
        return asked.early(rcode, records, aa=rcode == NOERROR)
    if qclass not in (IN, ANY_CLASS) or qtype in REFUSED_QTYPES:
        return asked.early(REFUSED)
    if qtype in NOTIMP_QTYPES:
        return asked.early(NOTIMP)
    if edns is not None:
        try:
            found = opt.options(opt_rdata or b"")
            if use_ecs:
                asked.subnet = ecs.from_options(found)
        except (opt.OptError, ecs.EcsError):
            return asked.early(FORMERR)
    return asked
