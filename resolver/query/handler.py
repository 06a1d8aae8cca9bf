"""One DNS message in, one reply out (or none): the query path's routing, stage by stage.

`Handler.handle` runs the stages of `stages` in order: replay (a finished reply from
`reuse`), parse (`wire.fastpath` for a plain query, else dnslib and `classify`), answer
(`answer`: reuse, else the engine), finish, and the modules after the answer. A plain
query (one question, at most a plain OPT with ECS) takes the fast route; anything else
the general one; both reach the same answer stage and finishing, so they give the same
bytes for the same question. Nothing a client sends may raise past `handle`.
"""

from __future__ import annotations

import random
import struct
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

from healthcheck.view import HealthView
from resolver.query.answer import answer, outside_body
from resolver.query.chaos import Chaos
from resolver.query.classify import classify
from resolver.query.engine import Resolver
from resolver.query.errorlog import ErrorLog
from resolver.query.location import Locator
from resolver.query.querylog import Observer, Statistics
from resolver.query.reuse import Reusable, Reuse, pick
from resolver.query.stages import FORWARD, AfterAnswer, Facts, Forwarder
from resolver.wire import ecs, fastpath, reply
from resolver.wire.codes import IN, SERVFAIL

Later = Coroutine[Any, Any, "bytes | None"]  # a reply that waits for a forwarder


@dataclass(slots=True)
class Pending:
    """A forwarded question's body still to come, and how its reply is finished."""

    body: Awaitable[bytes]
    finish: Callable[[bytes], bytes]


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
        cache: Reuse | None = None,
        forwarding: Forwarder | None = None,
    ) -> None:
        self.resolver = resolver
        self.health = health
        self.chaos = chaos
        self.locator = locator or Locator({}, {})
        self.use_ecs = use_ecs
        self.metrics = metrics
        self.log_queries = log_queries  # the query log wants every query: no replay
        self.cache = cache if cache is not None else Reuse(100000)
        self.forwarding = forwarding  # None: names outside the zones are refused
        self.rng = random.Random()
        # The after-answer stage: statistics and the query log first, then each module of
        # `after_answer` in order. Statistics is called directly, not through the list: on
        # a replayed reply its labels are in the memo entry and the metrics are one call,
        # where the list's generic call cost replays 5-20 % more server CPU per query
        # (python -m bench.serve_bench --baseline, weighted and geo loads).
        self.statistics = (
            Statistics(metrics, log_queries) if metrics is not None or log_queries else None
        )
        self._observe = metrics.observe if metrics is not None else None
        self.after_answer: list[AfterAnswer] = []
        # One slot each is enough: the handler answers one query at a time on the loop.
        self.facts = Facts()
        self.reusable = Reusable()
        self._errors = ErrorLog()

    def swap(self, resolver: Resolver) -> None:
        """New zone data: every reused answer came from the old data."""
        self.resolver = resolver
        self.cache.zones_swapped()

    def health_changed(self, health: HealthView, check_ids: list[str]) -> None:
        self.health = health
        self.cache.checks_changed(check_ids)

    # --- the stages ----------------------------------------------------------------------

    def handle(self, data: bytes, source: str, tcp: bool) -> bytes | Later | None:
        """Reply bytes for one message, or None when RFCs (or a module) say not to answer;
        for a question forwarded upstream, a coroutine that gives either."""
        if len(data) < 12 or data[2] & 0x80:
            return None  # no header, or a response: never answer it (reflection loops)
        start = time.perf_counter()
        # Stage 1, replay: the same bytes again get the finished reply again.
        cache = self.cache
        known = cache.exact[tcp].get(data[2:])
        if known is None:
            by_source = cache.by_source[tcp]
            if by_source:
                known = by_source.get((source, data[2:]))
        if known is not None and known[1] > cache.now():
            draw = known[3]  # a random choice: draw one of its finished replies
            sent = data[:2] + (known[0] if draw is None else pick(draw, self.rng))
            cache.hits += 1
            labels = known[2]
            if labels[2] is FORWARD and self.forwarding is not None:
                self.forwarding.replayed()
            observe = self._observe  # statistics (the query log turns replay off)
            if observe is not None:
                observe(labels, time.perf_counter() - start)
            if not self.after_answer:
                return sent
            facts = self.facts
            facts.refill(known[4], known[5], known[2], known[6])
            return self._modules(facts, sent, source, tcp, start)
        # Stages 2 to 4, parse, answer, finish: by the fast route when it can.
        facts = self.facts = Facts()
        made: bytes | Pending
        try:
            query = fastpath.parse_query(data)
            plain = self._plain(data, query, source, tcp) if query is not None else None
            made = plain if plain is not None else self._general(data, source, tcp)
        except Exception:
            self._errors.report(source)
            ident, flags = struct.unpack_from("!HH", data)
            made = reply.header_only(ident, flags, SERVFAIL)
        if isinstance(made, Pending):  # forwarded upstream: finished when the answer comes
            return self._later(made, facts, data, source, tcp, start)
        return self._after(facts, made, source, tcp, start)

    def _after(
        self, facts: Facts, sent: bytes, source: str, tcp: bool, start: float
    ) -> bytes | None:
        """Stage 5, after the answer: statistics, then every module in order."""
        statistics = self.statistics
        if statistics is not None:
            try:
                statistics.after(facts, sent, source, tcp, start)
            except Exception:
                self._errors.report(source)
        if not self.after_answer:
            return sent
        return self._modules(facts, sent, source, tcp, start)

    def _modules(
        self, facts: Facts, sent: bytes, source: str, tcp: bool, start: float
    ) -> bytes | None:
        """The modules after statistics; one may replace or drop the reply."""
        try:
            for module in self.after_answer:
                out = module.after(facts, sent, source, tcp, start)
                if out is None:
                    return None
                sent = out
        except Exception:
            self._errors.report(source)
        return sent

    async def _later(
        self, pending: Pending, facts: Facts, data: bytes, source: str, tcp: bool, start: float
    ) -> bytes | None:
        """A forwarded question's reply, once its body arrives: finished, then stage 5."""
        try:
            body = await pending.body
            sent = pending.finish(body)
        except Exception:
            self._errors.report(source)
            ident, flags = struct.unpack_from("!HH", data)
            sent = reply.header_only(ident, flags, SERVFAIL)
        return self._after(facts, sent, source, tcp, start)

    def _plain(
        self, data: bytes, q: fastpath.Query, source: str, tcp: bool
    ) -> bytes | Pending | None:
        """The fast route's answer and finish; None hands the query to the general route."""
        subnet = None
        if q.ecs is not None and self.use_ecs:
            try:
                subnet = self.cache.subnet(q.ecs)
            except ecs.EcsError:
                return None  # the general route answers FORMERR
        reusable = self.reusable
        reusable.until = 0.0
        body, scope = answer(self, q.key, None, q.qtype, IN, source, subnet)
        limit = 65535 if tcp else fastpath.udp_limit(q.edns, q.udp_size)
        if self.facts.outside:
            if self.forwarding is not None:
                forwarded = self.forwarding.body(q.key, q.flags, q.do, source, self.facts)
                if forwarded is not None:  # the upstream's answer: it depends on no subnet
                    option = ecs.reply_option(subnet, 0)
                    if isinstance(forwarded, bytes):
                        sent = fastpath.finish_query(q, option, limit, forwarded)
                        self._remember_forwarded(tcp, data, source, sent)
                        return sent
                    return Pending(forwarded, partial(fastpath.finish_query, q, option, limit))
            body = outside_body(q.key)
        self.facts.scope = scope
        sent = fastpath.finish_query(q, ecs.reply_option(subnet, scope), limit, body)
        cache = self.cache
        if reusable.until and cache.max_entries and not self.log_queries:
            # The same bytes asked again get the same reply (or, for a random choice, a
            # draw with the same odds) until the answer expires or health changes.
            drawn = None
            if reusable.draw is not None:
                unscoped = ecs.reply_option(subnet, 0)
                drawn = tuple(
                    fastpath.finish_query(q, unscoped, limit, body) for body in reusable.draw[0]
                )
            per_source = reusable.per_client and subnet is None
            by = source if per_source else None
            cache.remember(tcp, data[2:], by, sent, self.facts, reusable, drawn)
        return sent

    def _remember_forwarded(self, tcp: bool, data: bytes, source: str, sent: bytes) -> None:
        """A forwarded answer from the cache is exact until its TTLs tick down: the same
        bytes from the same source (allow_recursion decided it) replay it until then."""
        cache = self.cache
        holds_for = self.facts.holds_for
        if holds_for > 0 and cache.max_entries and not self.log_queries:
            reusable = self.reusable
            reusable.set(cache.now() + holds_for, True, None)
            cache.remember(tcp, data[2:], source, sent, self.facts, reusable, None)

    def _general(self, data: bytes, source: str, tcp: bool) -> bytes | Pending:
        """The general route: classify (perhaps an early reply), answer and finish."""
        asked = classify(data, tcp, self.chaos, self.use_ecs, self.facts)
        if isinstance(asked, bytes):
            return asked
        subnet = asked.subnet
        body, scope = answer(
            self, asked.key, asked.lowered, asked.qtype, asked.qclass, source, subnet
        )
        if self.facts.outside:
            if self.forwarding is not None:
                edns = asked.edns
                do = edns is not None and bool(edns.ttl & 0x8000)
                forwarded = self.forwarding.body(asked.key, asked.flags, do, source, self.facts)
                if forwarded is not None:
                    option = ecs.reply_option(subnet, 0)
                    if isinstance(forwarded, bytes):
                        return asked.finish(forwarded, option=option)
                    return Pending(forwarded, partial(asked.finish, option=option))
            body = outside_body(asked.key)
        self.facts.scope = scope
        return asked.finish(body, option=ecs.reply_option(subnet, scope))
