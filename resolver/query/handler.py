"""One DNS message in, one reply out (or none): header checks, EDNS, caching, truncation.

Every query takes one of two routes to the same answer. A plain query (one question, at
most a plain OPT with ECS) is read by `fastpath` and answered from the cache when it can;
anything else is parsed by dnslib, checked in full and answered through the same engine,
cache and finishing step, so both routes give the same bytes for the same question.
Nothing a client sends may raise past `handle`.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import random
import struct
import time
from dataclasses import dataclass
from typing import Protocol

from dnslib import QTYPE, RCODE, RR, TXT, DNSHeader, DNSLabel, DNSQuestion, DNSRecord

from healthcheck.view import HealthView
from policies.base import Client
from resolver.query.client import make_client, normalise, source_address
from resolver.query.engine import QueryContext, Resolver, Result
from resolver.query.location import Locator
from resolver.query.reuse import AnswerCache, Draw, Entry
from resolver.wire import ecs, fastpath, message, names, opt
from resolver.wire.codes import (
    ANY_CLASS,
    BADVERS,
    CH,
    FORMERR,
    IN,
    NOERROR,
    NOTIMP,
    OPT,
    REFUSED,
    SERVFAIL,
)

log = logging.getLogger("policydns.handler")
qlog = logging.getLogger("policydns.query")

MAX_RRS_IN_QUERY = 16  # more than this in a query is an attack, not a client
REFUSED_QTYPES = {251, 252}  # IXFR, AXFR: no zone transfers
NOTIMP_QTYPES = {253, 254}  # MAILB, MAILA: obsolete


@dataclass(frozen=True, slots=True)
class Chaos:
    """Answers to CHAOS TXT version.bind / id.server; None turns one off."""

    version: str | None
    identity: str | None

    def lookup(self, labels: tuple[bytes, ...] | list[bytes]) -> str | None:
        """By labels, not text: one label "version.bind" is not the name version.bind."""
        name = tuple(label.lower() for label in labels)
        if name in ((b"version", b"bind"), (b"version", b"server")):
            return self.version
        if name in ((b"id", b"server"), (b"hostname", b"bind")):
            return self.identity
        return None


@dataclass(slots=True)
class _Note:
    """What the query being answered was about, for metrics and the query log.

    Kept raw (the lowercase question, the subnet) and turned into text only for a log
    line: formatting per query would cost more than answering from the cache. Both routes
    fill it the same way, so a question is logged the same whichever route answered it.
    """

    question: bytes = b""  # the wire question, its name's ASCII letters lowercased
    qtype: str = "-"  # the metric label: a known mnemonic or OTHER
    code: int = -1  # the type's number, for the log
    policy: str = "none"
    scope: int = 0  # the ECS scope sent in the reply
    subnet: ecs.ClientSubnet | None = None

    def qname(self) -> str:
        """The name in presentation form, every octet a log line could misread escaped."""
        if not self.question:
            return "-"
        return names.escaped(fastpath.labels(self.question))

    def type_text(self) -> str:
        return "-" if self.code < 0 else _type_text(self.code)


class Observer(Protocol):
    """Where each answered query's labels and time go (resolver.metrics.Metrics)."""

    def observe(self, labels: tuple[str, str, str], seconds: float) -> None: ...


class Handler:
    """Turns request bytes into reply bytes against the current resolver."""

    def __init__(
        self,
        resolver: Resolver,
        health: HealthView,
        chaos: Chaos,
        locator: Locator | None = None,
        use_ecs: bool = True,
        metrics: Observer | None = None,
        log_queries: bool = False,
        cache: AnswerCache | None = None,
    ) -> None:
        self.resolver = resolver
        self.health = health
        self.chaos = chaos
        self.locator = locator or Locator({}, {})
        self.use_ecs = use_ecs
        self.metrics = metrics
        self.log_queries = log_queries
        self.cache = cache if cache is not None else AnswerCache(100000)
        self.rng = random.Random()
        # One slot is enough: the handler answers one query at a time on the event loop.
        self._note = _Note()
        self._reuse = _Reuse()
        # Finished replies by the exact query bytes after the ID, per transport: the
        # cheapest possible hit. `_exact` holds answers the bytes alone decide (static
        # ones, a client's answer when its ECS option decided it, weighted draws); and
        # `_by_source` answers decided by the packet's source, keyed (source, bytes).
        # Both are emptied with the cache and on every health change.
        #
        # Bound: the memo and the answer cache share cache.max_entries. Each memo entry
        # (each reply of a draw) counts one against it, the memo at most half of it
        # (`AnswerCache.memo_room`); the cache evicts bodies to keep the sum within it.
        # When the memo has its half it starts again empty: cheaper than LRU bookkeeping
        # on every hit, and each reply is one cache lookup away. The key cannot be
        # normalised (the hit is a lookup of the raw bytes), so keys that differ only in
        # what does not change the reply (the EDNS UDP size: 65,536 values) are separate
        # entries; but their replies are one object, interned in `_replies`, so what the
        # memo holds in bytes is a key of at most ~300 octets (a plain query) per entry
        # plus each distinct reply once, never a copy per UDP size.
        self._exact: dict[bool, dict[bytes, _Memo]] = {False: {}, True: {}}
        self._by_source: dict[bool, dict[tuple[str, bytes], _Memo]] = {False: {}, True: {}}
        self._replies: dict[bytes, bytes] = {}
        self._errors = ErrorLog()

    def swap(self, resolver: Resolver) -> None:
        """New zone data: every cached answer came from the old data."""
        self.resolver = resolver
        self.cache.clear()
        self._clear_exact()

    def health_changed(self, health: HealthView, check_ids: list[str]) -> None:
        self.health = health
        self.cache.drop_checks(check_ids)
        self._clear_exact()

    def _clear_exact(self) -> None:
        for exact in self._exact.values():
            exact.clear()
        for by_source in self._by_source.values():
            by_source.clear()
        self._replies.clear()
        self.cache.memo_size = 0

    # --- entry point -------------------------------------------------------------------

    def handle(self, data: bytes, source: str, tcp: bool) -> bytes | None:
        """Reply bytes for one message, or None when RFCs say not to answer."""
        if len(data) < 12 or data[2] & 0x80:
            return None  # no header, or a response: never answer it (reflection loops)
        start = time.perf_counter()
        known = self._exact[tcp].get(data[2:])
        if known is None:
            by_source = self._by_source[tcp]
            if by_source:
                known = by_source.get((source, data[2:]))
        if known is not None and known[1] > self.cache.now():
            reply = known[0]
            if reply is None:  # a random choice: draw one of its finished replies
                reply = _pick(known[3], self.rng)  # type: ignore[arg-type]
            self.cache.hits += 1
            if self.metrics is not None:
                self.metrics.observe(known[2], time.perf_counter() - start)
            return data[:2] + reply
        self._note = _Note()
        try:
            query = fastpath.parse_query(data)
            reply = self._plain(data, query, source, tcp) if query is not None else None
            if reply is None:
                reply = self._general(data, source, tcp)
        except Exception:
            self._internal_error(source)
            ident, flags = struct.unpack_from("!HH", data)
            reply = _header_only(ident, flags, SERVFAIL)
        if self.metrics is not None or self.log_queries:
            try:
                self._record(reply, source, tcp, time.perf_counter() - start)
            except Exception:
                self._internal_error(source)
        return reply

    def _internal_error(self, source: str) -> None:
        """Log a bug on the query path, rate-limited: a client could trigger it at will."""
        full, missed = self._errors.decide(time.monotonic())
        if missed:
            log.error(
                "%d more internal errors in the %.0f s after the last one logged in full",
                missed,
                self._errors.interval,
            )
        if full:
            log.exception("internal error answering a query from %s", source)

    # --- plain queries -----------------------------------------------------------------

    def _plain(self, data: bytes, q: fastpath.Query, source: str, tcp: bool) -> bytes | None:
        subnet = None
        if q.ecs is not None and self.use_ecs:
            try:
                subnet = ecs.parse_cached(q.ecs)
            except ecs.EcsError:
                return None  # the general route answers FORMERR
        reuse = self._reuse
        reuse.until = 0.0
        body, scope = self._answer(q.key, None, q.qtype, IN, source, subnet)
        self._note.scope = scope
        limit = 65535 if tcp else fastpath.udp_limit(q.edns, q.udp_size)
        reply = _finish_plain(q, subnet, limit, body, scope)
        if reuse.until and self.cache.max_entries and not self.log_queries:
            # The same bytes asked again get the same reply (or, for a random choice, a
            # draw with the same odds) until the answer expires or health changes.
            size = 1 if reuse.draw is None else len(reuse.draw[0])
            if not self.cache.memo_room(size):
                self._clear_exact()  # the answer cache still holds it all: refills fast
                if not self.cache.memo_room(size):
                    return reply  # more replies than the memo's share of the bound
            rcode = str(RCODE.get(reply[3] & 0xF))
            metric = (self._note.qtype, rcode, self._note.policy)
            interned = self._replies
            tail = reply[2:]
            memo: _Memo = (interned.setdefault(tail, tail), reuse.until, metric, None)
            if reuse.draw is not None:
                bodies, cumulative, total = reuse.draw
                tails = (_finish_plain(q, subnet, limit, b, 0)[2:] for b in bodies)
                replies = tuple(interned.setdefault(t, t) for t in tails)
                memo = (None, reuse.until, metric, (replies, cumulative, total))
            if reuse.per_client and subnet is None:
                self._by_source[tcp][(source, data[2:])] = memo
            else:
                self._exact[tcp][data[2:]] = memo
        return reply

    def _build_draw(self, key: bytes, entry: Entry) -> Draw | bool:
        """Every body a random group's policy can give now, with its odds, kept on the
        entry; False when the policy lists no odds (then each query runs the policy)."""
        group = entry.direct
        ctx = QueryContext(Client(None, 0), self.health, self.rng)
        consulted = Result()
        odds = self.resolver.odds(group, ctx, consulted)
        if odds is None:
            self.cache.put_draw(key, False, ())
            return False
        labels = fastpath.labels(key)
        bodies = []
        for chosen, _ in odds:
            choices = ((group.name, group.rtype, chosen),)
            found = entry.variants.get(choices)
            if found is not None:
                bodies.append(found[0])
                continue
            ctx.forced = (group, chosen)
            result = self.resolver.resolve(DNSLabel(list(labels)), group.rtype, ctx)
            body = _render(labels, group.rtype, IN, result)
            ttl = result.min_ttl()
            self.cache.put_variant(key, choices, body, 0, ttl, entry.policy, result.checks)
            bodies.append(body)
        cumulative = tuple(itertools.accumulate(weight for _, weight in odds))
        draw = (tuple(bodies), cumulative, cumulative[-1])
        self.cache.put_draw(key, draw, consulted.checks)
        return draw

    def _answer(
        self,
        key: bytes,
        labels: tuple[bytes, ...] | None,
        qtype: int,
        qclass: int,
        source: str,
        subnet: ecs.ClientSubnet | None,
    ) -> tuple[bytes, int]:
        """The reply body (no OPT, lowercase question) and the ECS scope it depends on.

        `key` is the lowercase wire question; `labels` its name's labels, if already known.
        """
        note = self._note
        if not note.question:
            note.question, note.code, note.qtype = key, qtype, _qtype_name(qtype)
        note.subnet = subnet
        cache = self.cache
        reuse = self._reuse
        entry = cache.get(key)
        if entry is not None and not entry.dynamic:
            cache.hits += 1
            note.policy = entry.policy
            reuse.set(entry.expires, False, None)
            return entry.body, 0
        who = _client_bits(source, subnet)
        if entry is not None and entry.scopes and who is not None:
            found = entry.for_client(*who)
            if found is not None:
                cache.hits += 1
                note.policy = entry.policy
                reuse.set(entry.expires, True, None)
                return found[0], _reply_scope(found[1], subnet, who[0])
        client = make_client(self.locator, source, subnet)
        ctx = QueryContext(client, self.health, self.rng)
        if entry is not None and entry.direct is not None:
            # A random choice within one group: draw by its odds, or decide just that group.
            draw = entry.draw if entry.draw is not None else self._build_draw(key, entry)
            body: bytes | None
            if draw:
                body = _pick(draw, self.rng)  # type: ignore[arg-type]
            else:
                group = entry.direct
                chosen = self.resolver.choose(group, ctx)
                found = entry.variants.get(((group.name, group.rtype, chosen),))
                body = found[0] if found is not None else None
            if body is not None:
                cache.hits += 1
                note.policy = entry.policy
                if draw:
                    reuse.set(entry.expires, False, draw)  # type: ignore[arg-type]
                return body, 0
        if labels is None:
            labels = fastpath.labels(key)
        result = self.resolver.resolve(DNSLabel(list(labels)), qtype, ctx)
        note.policy = ">".join(result.policies) or "none"
        scope = _reply_scope(
            result.scope, subnet, client.address.version if client.address else None
        )
        # The decision (the sets chosen at every level) determines the records: a body
        # encoded for it before, for another client network or an earlier draw, serves.
        choices = tuple(result.choices)
        encoded = entry.variants.get(choices) if entry is not None else None
        if encoded is not None:
            cache.hits += 1
            if result.random:
                return encoded[0], scope
            body = encoded[0]
        else:
            cache.misses += 1
            body = _render(labels, qtype, qclass, result)
        if result.rcode in (NOERROR, 3) and result.zones:
            ttl = result.min_ttl() if result.answer or result.authority else 0
            until = cache.now() + ttl if ttl > 0 else 0.0
            if not result.dynamic:
                cache.put_static(key, body, ttl, note.policy, result.checks)
                reuse.set(until, False, None)
            elif not result.random and who is not None:
                # Decided by client network and health only: reuse it within the scope.
                cache.put_client(
                    key, who, result.scope, body, result.scope, ttl, note.policy, result.checks
                )
                if encoded is None:
                    cache.put_variant(key, choices, body, scope, ttl, note.policy, result.checks)
                reuse.set(until, True, None)
            else:
                cache.put_variant(key, choices, body, scope, ttl, note.policy, result.checks)
                entry = cache.get(key)
                if entry is not None and entry.direct is None:
                    entry.direct = self.resolver.direct_group(labels, qtype, result)
                    if entry.direct is not None:
                        draw = self._build_draw(key, entry)
                        if draw:
                            reuse.set(until, False, draw)  # type: ignore[arg-type]
        return body, scope

    # --- everything else ---------------------------------------------------------------

    def _general(self, data: bytes, source: str, tcp: bool) -> bytes:
        ident, flags, qdcount, ancount, nscount, arcount = struct.unpack_from("!6H", data)
        if (flags >> 11) & 0xF:
            return _header_only(ident, flags, NOTIMP)  # whatever follows: not read at all
        if qdcount != 1 or ancount + nscount + arcount > MAX_RRS_IN_QUERY:
            return _header_only(ident, flags, FORMERR)
        try:
            request, opt_rdata = message.parse(data)
        except Exception:  # a malformed message; dnslib raises worse on hostile input
            return _header_only(ident, flags, FORMERR)
        question = request.q
        labels = question.qname.label  # bytes as sent: any octet (message.py)
        if not _valid_name(labels):
            return _header_only(ident, flags, FORMERR)
        qtype, qclass = int(question.qtype), int(question.qclass)
        lowered = names.lower(labels)
        key = _question_wire(lowered, qtype, qclass)
        note = self._note
        note.question, note.code, note.qtype = key, qtype, _qtype_name(qtype)
        wire_question = _question_wire(labels, qtype, qclass)
        opts = [rr for rr in request.ar if rr.rtype == OPT]
        edns = opts[0] if opts else None

        def reply(
            body: bytes, ext_rcode: int = 0, option: bytes = b"", use_edns: bool = True
        ) -> bytes:
            opt_rr = None
            if edns is not None and use_edns:
                opt_rr = fastpath.opt_record(bool(edns.ttl & 0x8000), ext_rcode, option)
            limit = 65535 if tcp else fastpath.udp_limit(opt_rr is not None, _udp_size(edns))
            return fastpath.finish(body, ident, flags, wire_question, opt_rr, limit)

        def simple(rcode: int, records: list[RR] | None = None, aa: bool = False) -> bytes:
            return _pack(DNSHeader(qr=1, aa=int(aa), rcode=rcode), question, records or [])

        if len(opts) > 1 or (edns is not None and edns.rname.label):
            return reply(simple(FORMERR), use_edns=False)
        if edns is not None and (edns.ttl >> 16) & 0xFF:
            return reply(simple(BADVERS & 0xF), ext_rcode=BADVERS >> 4)
        if qtype in (OPT, 0):
            return reply(simple(FORMERR))
        if qclass == CH:
            rcode, records = self._chaos(question)
            return reply(simple(rcode, records, aa=rcode == NOERROR))
        if qclass not in (IN, ANY_CLASS) or qtype in REFUSED_QTYPES:
            return reply(simple(REFUSED))
        if qtype in NOTIMP_QTYPES:
            return reply(simple(NOTIMP))
        subnet = None
        if edns is not None:
            try:
                found = opt.options(opt_rdata or b"")
                if self.use_ecs:
                    subnet = _client_subnet(found)
            except (opt.OptError, ecs.EcsError):
                return reply(simple(FORMERR))
        body, scope = self._answer(key, lowered, qtype, qclass, source, subnet)
        note.scope = scope
        return reply(body, option=_ecs_reply(subnet, scope))

    def _chaos(self, question: DNSQuestion) -> tuple[int, list[RR]]:
        if int(question.qtype) not in (int(QTYPE.TXT), 255):
            return REFUSED, []
        text = self.chaos.lookup(question.qname.label)
        if text is None:
            return REFUSED, []
        return NOERROR, [RR(question.qname, int(QTYPE.TXT), rclass=CH, ttl=0, rdata=TXT(text))]

    def _record(self, reply: bytes, source: str, tcp: bool, seconds: float) -> None:
        note = self._note
        rcode = str(RCODE.get(reply[3] & 0xF))
        if self.metrics is not None:
            self.metrics.observe((note.qtype, rcode, note.policy), seconds)
        if self.log_queries:
            subnet = note.subnet
            qlog.info(
                "query client=%s%s name=%s type=%s rcode=%s policy=%s scope=%s us=%.0f %s",
                source,
                f" ecs={subnet.address}/{subnet.source}" if subnet is not None else "",
                note.qname(),
                note.type_text(),
                rcode,
                note.policy,
                note.scope,
                seconds * 1e6,
                "tcp" if tcp else "udp",
            )


def _pick(draw: Draw, rng: random.Random) -> bytes:
    """One of a draw's items, each with its weight's share of the chances."""
    items, cumulative, total = draw
    return items[bisect.bisect_right(cumulative, rng.random() * total)]


def _finish_plain(
    q: fastpath.Query, subnet: ecs.ClientSubnet | None, limit: int, body: bytes, scope: int
) -> bytes:
    """A plain query's reply: body finished with its ID, question and EDNS (and ECS)."""
    opt_rr = fastpath.opt_record(q.do, 0, _ecs_reply(subnet, scope)) if q.edns else None
    return fastpath.finish(body, q.ident, q.flags, q.question, opt_rr, limit)


@dataclass(slots=True)
class _Reuse:
    """Whether the reply being built may answer the same query bytes again, and how."""

    until: float = 0.0  # 0: never; else while the clock is below this
    per_client: bool = False  # the client decided it: key by source unless ECS did
    draw: Draw | None = None  # a random choice: memo every reply it can give

    def set(self, until: float, per_client: bool, draw: Draw | None) -> None:
        self.until, self.per_client, self.draw = until, per_client, draw


# A finished reply after the ID (None for a draw), its expiry, its metric labels and,
# for a random choice, its finished replies as a Draw.
_Memo = tuple[bytes | None, float, tuple[str, str, str], Draw | None]


# The types dnslib knows, by number: fixed at import, so it never grows with what is asked.
_QTYPE_NAMES: dict[int, str] = {int(code): str(name) for code, name in QTYPE.forward.items()}


def _qtype_name(qtype: int) -> str:
    """The type's metric label: its mnemonic when known, else OTHER.

    Metric label sets must stay bounded: a client can ask for any of 65,536 types.
    """
    return _QTYPE_NAMES.get(qtype, "OTHER")


def _type_text(qtype: int) -> str:
    """The type as the query log shows it: its mnemonic, else TYPEnnn (RFC 3597)."""
    return _QTYPE_NAMES.get(qtype) or f"TYPE{qtype}"


def _render(labels: tuple[bytes, ...], qtype: int, qclass: int, result: Result) -> bytes:
    """Pack an engine result as a reply body: ID 0, lowercase question, no OPT."""
    header = DNSHeader(
        qr=1,
        aa=int(result.authoritative and result.rcode != REFUSED),
        rcode=result.rcode & 0xF,
    )
    question = DNSQuestion(DNSLabel(list(labels)), qtype, qclass)
    record = DNSRecord(header, q=question, rr=result.answer, auth=result.authority)
    record.ar = list(result.additional)
    return bytes(record.pack())


def _pack(header: DNSHeader, question: DNSQuestion, answer: list[RR]) -> bytes:
    header.id = 0
    return bytes(DNSRecord(header, q=question, rr=answer).pack())


def _question_wire(labels: tuple[bytes, ...] | list[bytes], qtype: int, qclass: int) -> bytes:
    name = b"".join(bytes((len(label),)) + bytes(label) for label in labels) + b"\x00"
    return name + struct.pack("!HH", qtype, qclass)


def _udp_size(edns: RR | None) -> int:
    return int(edns.rclass) if edns is not None else 512


_SUBNET_BITS: dict[ecs.ClientSubnet, tuple[int, int, int, int]] = {}


def _client_bits(source: str, subnet: ecs.ClientSubnet | None) -> tuple[int, int, int, int] | None:
    """(family, address as int, address bits, known prefix) of the client policies see."""
    if subnet is not None:
        found = _SUBNET_BITS.get(subnet)
        if found is None:
            found = _subnet_bits(subnet)
            if len(_SUBNET_BITS) >= 65536:
                _SUBNET_BITS.clear()
            _SUBNET_BITS[subnet] = found
        return found
    address = source_address(source)
    if address is None:
        return None
    return (address.version, int(address), address.max_prefixlen, address.max_prefixlen)


def _subnet_bits(subnet: ecs.ClientSubnet) -> tuple[int, int, int, int]:
    if subnet.source == 0:
        return (0, 0, 0, 0)  # no address: every such client is the same client
    address = normalise(subnet.address)
    prefix = subnet.source - (96 if address.version != subnet.address.version else 0)
    return (address.version, int(address), address.max_prefixlen, max(prefix, 0))


def _reply_scope(scope: int, subnet: ecs.ClientSubnet | None, routed_as: int | None) -> int:
    """The ECS scope in the option's own family (IPv4-mapped IPv6 counts 96 more bits).

    `routed_as` is the IP version the client was routed as (4 for a mapped address).
    """
    if subnet is None:
        return 0
    mapped = routed_as == 4 and subnet.family == 2
    if scope and mapped:
        scope += 96  # routed as IPv4, but the option speaks IPv4-mapped IPv6
    return min(scope, subnet.source)


def _ecs_reply(subnet: ecs.ClientSubnet | None, scope: int) -> bytes:
    if subnet is None:
        return b""
    size = (subnet.source + 7) // 8
    return fastpath.ecs_option(subnet.family, subnet.source, scope, subnet.address.packed[:size])


def _header_only(ident: int, flags: int, rcode: int) -> bytes:
    """A reply with no sections: for packets whose question cannot be trusted.

    The opcode is echoed. RD is echoed for QUERY only: RD, RA, AD, CD and AA are QUERY's
    flags, and a reply to any other opcode has them clear (ISC's EDNS compliance test).
    """
    keep = 0x7900 if not flags & 0x7800 else 0x7800
    out_flags = 0x8000 | (flags & keep) | (rcode & 0xF)
    return struct.pack("!6H", ident, out_flags, 0, 0, 0, 0)


def _client_subnet(found: list[tuple[int, bytes]]) -> ecs.ClientSubnet | None:
    subnets = [data for code, data in found if code == ecs.ECS_CODE]
    if len(subnets) > 1:
        raise ecs.EcsError("more than one ECS option")
    return ecs.parse(subnets[0]) if subnets else None


def _valid_name(labels: list[bytes]) -> bool:
    """RFC 1035 limits dnslib does not check when parsing: 63-octet labels, 255 in all."""
    return all(len(label) <= 63 for label in labels) and sum(len(x) + 1 for x in labels) < 255


class ErrorLog:
    """When to log an internal error: the first of each interval with its traceback, the
    rest only counted, the count reported with the next one logged after the interval.

    Pure (the caller passes the clock) so it can be tested without logging or time. A
    packet that triggers a bug can be sent at line rate; a traceback for each would cost
    more than the answer and flood the log.
    """

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._since: float | None = None  # when the current interval began
        self._missed = 0

    def decide(self, now: float) -> tuple[bool, int]:
        """(log this one in full?, errors suppressed since the last one logged in full)."""
        if self._since is not None and now - self._since < self.interval:
            self._missed += 1
            return False, 0
        missed, self._missed, self._since = self._missed, 0, now
        return True, missed
