"""The forwarding stage of the query path (SPEC 8): a question outside every zone, with
RD set, from a client allowed to recurse, answered from the forward cache or by the
forwarders. The handler knows it only as a `stages.Forwarder`.

`Forwarding.body` runs right after the answer stage said "outside every zone". It
returns None when the question is not to be forwarded (the REFUSED stands), a body
straight from the cache (the common case, no await), or a coroutine that asks upstream.
The coroutine is shared: identical questions in flight at once wait on one upstream
exchange (a dict of futures), and the number of exchanges and of waiters is capped, so a
flood of new names costs a bounded number of sockets and tasks. When every forwarder
fails, an answer expired no longer ago than `cache.serve_stale` is served with TTL 30
(RFC 8767), else SERVFAIL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from resolver.forward import upstream
from resolver.forward.cache import ForwardCache
from resolver.forward.scrub import Scrubbed, ScrubError, scrub
from resolver.forward.settings import ForwardSettings, Recursion, Route
from resolver.query.stages import FORWARD, Facts
from resolver.wire import fastpath, names, reply
from resolver.wire.codes import SERVFAIL

log = logging.getLogger("policydns.forward")

CountFn = Callable[..., None]  # Metrics.count: (family, label or labels[, n])
TimeFn = Callable[[str, float], None]  # Metrics.time_upstream: (forwarder, seconds)
Later = Coroutine[Any, Any, bytes]

# Metric families (resolver.metrics.EVENT_FAMILIES declares them).
CACHE_FAMILY = "policydns_forward_cache"  # result: hit, miss, coalesced, stale
FAILURE_FAMILY = "policydns_forward_failures"  # forwarder, reason
IGNORED_FAMILY = "policydns_forward_replies_ignored"  # route: the forwarders' domain
# Upstream exchanges at once, and clients waiting on them, per process: past these a new
# question gets SERVFAIL (or a stale answer) at once. A resolver's whole network asking
# distinct new names fits well within; a flood of random names cannot open sockets and
# tasks without bound.
MAX_EXCHANGES = 512
MAX_WAITING = 4096
RD = 0x0100
CLASS_IN = b"\x00\x01"


class Forwarding:
    """Forwarding for one process: its settings, the forward cache, questions in flight."""

    def __init__(
        self,
        settings: ForwardSettings,
        cache: ForwardCache,
        count: CountFn,
        time_upstream: TimeFn,
    ) -> None:
        self.settings = settings
        self.recursion = Recursion(settings.allow_recursion)
        self.cache = cache
        self.count = count
        self.time_upstream = time_upstream
        self.in_flight: dict[tuple[bytes, bool], asyncio.Future[Scrubbed | None]] = {}
        self.waiting = 0

    def reconfigure(self, settings: ForwardSettings) -> None:
        """A reload: new settings. Answers cached from other forwarders, or clamped by
        other TTL bounds, are not what the new settings would give: they go."""
        if settings == self.settings:
            return
        if (settings.routes, settings.min_ttl, settings.max_ttl) != (
            self.settings.routes,
            self.settings.min_ttl,
            self.settings.max_ttl,
        ):
            self.cache.clear()
        self.settings = settings
        self.recursion = Recursion(settings.allow_recursion)

    def body(
        self, key: bytes, flags: int, do: bool, source: str, facts: Facts
    ) -> bytes | Later | None:
        """The forwarded body for a question outside every zone, now or later; None: not
        forwarded (no RD, a source outside allow_recursion, no forwarders for the name)."""
        if not self.settings.enabled:
            return None
        if not flags & RD or key[-2:] != CLASS_IN or not self.recursion.allowed(source):
            return None
        route = self.settings.route(fastpath.labels(key))
        if route is None:
            return None
        facts.policy = FORWARD
        found = self.cache.get(key, do)
        if found is not None:
            self.count(CACHE_FAMILY, "hit")
            facts.via = "cache"
            facts.holds_for = self.cache.holds_for
            return found
        return self._ask(key, do, route, facts)

    def replayed(self) -> None:
        """The reply memo answered a forwarded question again: a forward-cache hit too."""
        self.count(CACHE_FAMILY, "hit")

    async def _ask(self, key: bytes, do: bool, route: Route, facts: Facts) -> bytes:
        """Ask upstream, or wait for the identical question already asked."""
        slot = (key, do)
        future = self.in_flight.get(slot)
        answer: Scrubbed | None = None
        if future is None:
            if len(self.in_flight) < MAX_EXCHANGES:
                self.count(CACHE_FAMILY, "miss")
                future = asyncio.get_running_loop().create_future()
                self.in_flight[slot] = future
                try:
                    answer = await self._exchange(key, do, route, facts)
                finally:
                    del self.in_flight[slot]
                    if not future.done():
                        future.set_result(answer)
            else:
                self.count(FAILURE_FAMILY, ("-", "busy"))
        elif self.waiting < MAX_WAITING:
            self.count(CACHE_FAMILY, "coalesced")
            self.waiting += 1
            try:
                answer = await asyncio.shield(future)
            finally:
                self.waiting -= 1
            facts.via = "coalesced"
        else:
            self.count(FAILURE_FAMILY, ("-", "busy"))
        if answer is not None:
            return answer.body
        stale = self.cache.stale(key, do) if self.settings.serve_stale else None
        if stale is not None:
            self.count(CACHE_FAMILY, "stale")
            facts.via = "stale"
            return stale
        facts.via = facts.via or "failed"
        return servfail(key)

    async def _exchange(self, key: bytes, do: bool, route: Route, facts: Facts) -> Scrubbed | None:
        """One exchange with the route's forwarders, counted, scrubbed and cached."""
        settings = self.settings
        domain, servers = route
        done = await upstream.exchange(key, do, servers, settings.try_timeout, settings.deadline)
        for server, reason in done.failures:
            self.count(FAILURE_FAMILY, (str(server), reason))
        if done.ignored:  # wrong ID, question or source: spoofing, or a confused server
            self.count(IGNORED_FAMILY, names.to_text(domain), done.ignored)
        if done.reply is None or done.server is None:
            return None
        where = str(done.server)
        self.time_upstream(where, done.latency)
        facts.via = where
        try:
            answer = scrub(done.reply, key, domain, settings.min_ttl, settings.max_ttl)
        except ScrubError as exc:
            self.count(FAILURE_FAMILY, (where, "malformed"))
            log.debug("unusable reply from %s: %s", where, exc)
            return None
        self.cache.put(key, do, answer, settings.serve_stale)
        return answer


def servfail(key: bytes) -> bytes:
    """The body of a forwarded question no forwarder answered: SERVFAIL, with RA."""
    return reply.empty(key, SERVFAIL, recursion=True)
