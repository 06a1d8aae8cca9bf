"""One DNS message in, one reply out (or none): header checks, EDNS, truncation.

Everything a client sends arrives here as bytes; nothing in it may raise past `handle`.
"""

from __future__ import annotations

import logging
import random
import struct
import time
from dataclasses import dataclass

from dnslib import (
    CLASS,
    EDNS0,
    QTYPE,
    RCODE,
    RR,
    TXT,
    DNSHeader,
    DNSQuestion,
    DNSRecord,
    EDNSOption,
)

from healthcheck.view import HealthView
from resolver import ecs, opt
from resolver.clientinfo import make_client
from resolver.engine import QueryContext, Resolver
from resolver.location import Locator
from resolver.metrics import Metrics

log = logging.getLogger("policydns.handler")
qlog = logging.getLogger("policydns.query")

OPT = 41
UDP_PAYLOAD = 1232  # what we advertise and the most we send over UDP (DNS flag day 2020)
MAX_RRS_IN_QUERY = 16  # more than this in a query is an attack, not a client
BADVERS = 16
CH = int(CLASS.reverse["CH"])
IN = int(CLASS.reverse["IN"])
ANY_CLASS = 255
REFUSED_QTYPES = {251, 252}  # IXFR, AXFR: no zone transfers
NOTIMP_QTYPES = {253, 254}  # MAILB, MAILA: obsolete


@dataclass(frozen=True, slots=True)
class Chaos:
    """Answers to CHAOS TXT version.bind / id.server; None turns one off."""

    version: str | None
    identity: str | None

    def lookup(self, qname: str) -> str | None:
        qname = qname.lower().rstrip(".")
        if qname in ("version.bind", "version.server"):
            return self.version
        if qname in ("id.server", "hostname.bind"):
            return self.identity
        return None


class Handler:
    """Turns request bytes into reply bytes against the current resolver."""

    def __init__(
        self,
        resolver: Resolver,
        health: HealthView,
        chaos: Chaos,
        locator: Locator | None = None,
        use_ecs: bool = True,
        metrics: Metrics | None = None,
        log_queries: bool = False,
    ) -> None:
        self.resolver = resolver
        self.health = health
        self.chaos = chaos
        self.locator = locator or Locator({}, {})
        self.use_ecs = use_ecs
        self.metrics = metrics
        self.log_queries = log_queries
        self.rng = random.Random()
        # What the query being answered was about, for metrics and the query log. The
        # handler runs one query at a time on the event loop, so one slot is enough.
        self._note = _Note()

    def handle(self, data: bytes, source: str, tcp: bool) -> bytes | None:
        """Reply bytes for one message, or None when RFCs say not to answer."""
        if len(data) < 12:
            return None
        ident, flags, qdcount, ancount, nscount, arcount = struct.unpack_from("!6H", data)
        if flags & 0x8000:
            return None  # a response: never answer it (reflection loops)
        opcode = (flags >> 11) & 0xF
        start = time.perf_counter()
        self._note = _Note()
        try:
            reply = self._handle(
                data, source, tcp, ident, flags, opcode, qdcount, ancount + nscount + arcount
            )
        except Exception:
            log.exception("internal error answering a query from %s", source)
            reply = _header_only(ident, flags, opcode, int(RCODE.SERVFAIL))
        if self.metrics is not None or self.log_queries:
            self._record(reply, source, tcp, time.perf_counter() - start)
        return reply

    def _record(self, reply: bytes, source: str, tcp: bool, seconds: float) -> None:
        note = self._note
        rcode = str(RCODE.get(reply[3] & 0xF))
        if self.metrics is not None:
            self.metrics.observe(note.qtype, rcode, note.policy, seconds)
        if self.log_queries:
            qlog.info(
                "query client=%s%s name=%s type=%s rcode=%s policy=%s scope=%s us=%.0f %s",
                source,
                f" ecs={note.ecs}" if note.ecs else "",
                note.qname,
                note.qtype,
                rcode,
                note.policy,
                note.scope,
                seconds * 1e6,
                "tcp" if tcp else "udp",
            )

    def _handle(
        self,
        data: bytes,
        source: str,
        tcp: bool,
        ident: int,
        flags: int,
        opcode: int,
        qdcount: int,
        rrcount: int,
    ) -> bytes:
        if qdcount != 1 or rrcount > MAX_RRS_IN_QUERY:
            rcode = RCODE.NOTIMP if opcode != 0 else RCODE.FORMERR
            return _header_only(ident, flags, opcode, int(rcode))
        try:
            request = DNSRecord.parse(data)
        except Exception:  # dnslib raises DNSError, and worse on hostile input
            return _header_only(ident, flags, opcode, int(RCODE.FORMERR))
        if opcode != 0:
            return _header_only(ident, flags, opcode, int(RCODE.NOTIMP))
        if not _valid_name(request.q.qname.label):
            return _header_only(ident, flags, opcode, int(RCODE.FORMERR))
        opts = [rr for rr in request.ar if rr.rtype == OPT]
        edns = opts[0] if opts else None
        reply = DNSRecord(
            DNSHeader(id=ident, qr=1, opcode=0, rd=(flags >> 8) & 1),
            q=request.q,
        )
        if len(opts) > 1 or (edns is not None and edns.rname.label):
            return self._finish(reply, None, int(RCODE.FORMERR), tcp)
        if edns is not None and (edns.ttl >> 16) & 0xFF != 0:
            return self._finish(reply, edns, BADVERS, tcp)
        question = request.q
        qtype, qclass = int(question.qtype), int(question.qclass)
        self._note.qname = str(question.qname)
        self._note.qtype = str(QTYPE.get(qtype))
        if qtype == OPT or qtype == 0:
            return self._finish(reply, edns, int(RCODE.FORMERR), tcp)
        if qclass == CH:
            return self._finish(reply, edns, self._chaos(question, reply), tcp)
        if qclass not in (IN, ANY_CLASS):
            return self._finish(reply, edns, int(RCODE.REFUSED), tcp)
        if qtype in REFUSED_QTYPES:
            return self._finish(reply, edns, int(RCODE.REFUSED), tcp)
        if qtype in NOTIMP_QTYPES:
            return self._finish(reply, edns, int(RCODE.NOTIMP), tcp)
        subnet = None
        if edns is not None:
            try:
                found = opt.options(opt.opt_rdata(data) or b"")
                if self.use_ecs:
                    subnet = _client_subnet(found)
            except (opt.OptError, ecs.EcsError):
                return self._finish(reply, edns, int(RCODE.FORMERR), tcp)
        client = make_client(self.locator, source, subnet)
        result = self.resolver.resolve(
            question.qname, qtype, QueryContext(client, self.health, self.rng)
        )
        self._note.policy = ">".join(result.policies) or "none"
        self._note.scope = result.scope
        if subnet is not None:
            self._note.ecs = f"{subnet.address}/{subnet.source}"
        reply.header.aa = int(result.authoritative and result.rcode != RCODE.REFUSED)
        reply.rr = result.answer
        reply.auth = result.authority
        reply.ar = result.additional
        option = None
        if subnet is not None:
            scope = result.scope
            mapped = client.address is not None and client.address.version == 4
            if scope and subnet.family == 2 and mapped:
                scope += 96  # routed as IPv4, but the option speaks IPv4-mapped IPv6
            option = subnet.reply_option(min(scope, subnet.source))
        return self._finish(reply, edns, result.rcode, tcp, option)

    def _chaos(self, question: DNSQuestion, reply: DNSRecord) -> int:
        if int(question.qtype) not in (int(QTYPE.TXT), 255):
            return int(RCODE.REFUSED)
        text = self.chaos.lookup(str(question.qname))
        if text is None:
            return int(RCODE.REFUSED)
        reply.header.aa = 1
        reply.rr = [RR(question.qname, int(QTYPE.TXT), rclass=CH, ttl=0, rdata=TXT(text))]
        return int(RCODE.NOERROR)

    def _finish(
        self,
        reply: DNSRecord,
        edns: RR | None,
        rcode: int,
        tcp: bool,
        option: EDNSOption | None = None,
    ) -> bytes:
        reply.header.rcode = rcode & 0xF
        limit = 65535 if tcp else 512
        if edns is not None:
            do = "do" if edns.ttl & 0x8000 else ""
            opts = [option] if option is not None else []
            reply.ar.append(EDNS0(udp_len=UDP_PAYLOAD, ext_rcode=rcode >> 4, flags=do, opts=opts))
            if not tcp:
                limit = max(512, min(int(edns.rclass), UDP_PAYLOAD))
        wire = bytes(reply.pack())
        if len(wire) <= limit:
            return wire
        # Too big: header, question and OPT only, with TC; the client retries over TCP.
        reply.header.tc = 1
        reply.rr, reply.auth = [], []
        reply.ar = [rr for rr in reply.ar if rr.rtype == OPT]
        return bytes(reply.pack())


@dataclass(slots=True)
class _Note:
    qname: str = "-"
    qtype: str = "-"
    policy: str = "none"
    scope: int = 0
    ecs: str = ""


def _header_only(ident: int, flags: int, opcode: int, rcode: int) -> bytes:
    """A reply with no sections: for packets whose question cannot be trusted."""
    out_flags = 0x8000 | (opcode << 11) | (flags & 0x0100) | (rcode & 0xF)
    return struct.pack("!6H", ident, out_flags, 0, 0, 0, 0)


def _client_subnet(found: list[tuple[int, bytes]]) -> ecs.ClientSubnet | None:
    subnets = [data for code, data in found if code == ecs.ECS_CODE]
    if len(subnets) > 1:
        raise ecs.EcsError("more than one ECS option")
    return ecs.parse(subnets[0]) if subnets else None


def _valid_name(labels: list[bytes]) -> bool:
    """RFC 1035 limits dnslib does not check when parsing: 63-octet labels, 255 in all."""
    return all(len(label) <= 63 for label in labels) and sum(len(x) + 1 for x in labels) < 255
