"""Response rate limiting at the after-answer stage: UDP replies beyond the rate for a
client prefix and answer class are dropped or slipped truncated (`ratelimit` decides).

Only in `Handler.after_answer` while responses_per_second > 0, so off costs nothing. Each
process limits on its own: with --workers N, a client whose queries the kernel spreads
over N processes may get up to N times the rate. Log lines are bounded however many
prefixes a spoofed flood brings: at most LINES_PER_SECOND start and stop lines a second,
the rest summed in one line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from resolver.query import ratelimit
from resolver.query.querylog import type_text
from resolver.query.ratelimit import POSITIVE, RateLimitSettings, Table
from resolver.query.stages import Facts
from resolver.wire import fastpath, names

log = logging.getLogger("policydns.ratelimit")

FAMILY = "policydns_rate_limited"  # metrics.EVENT_FAMILIES: label action
LINES_PER_SECOND = 5
SWEEP_SECONDS = 1.0

Count = Callable[[str, str], None]  # Metrics.count(family, label)


class Limiter:
    """The AfterAnswer module of rate limiting; `configure` takes reloaded settings."""

    def __init__(self, settings: RateLimitSettings, count: Count) -> None:
        self.count = count
        self.settings = RateLimitSettings()
        self.table = Table(self.settings)
        self.prefixes = ratelimit.Prefixes(self.settings)
        self.starts = ratelimit.LineBudget(LINES_PER_SECOND)
        self.stops = ratelimit.LineBudget(LINES_PER_SECOND)
        self.held_unlogged = 0  # replies held back by accounts whose stop line was skipped
        self._timer: asyncio.TimerHandle | None = None
        self.configure(settings)

    def configure(self, settings: RateLimitSettings) -> None:
        """New settings start a new table; the same settings keep every account."""
        if settings == self.settings:
            return
        self.settings = settings
        self.table = Table(settings)
        self.prefixes = ratelimit.Prefixes(settings)

    def after(
        self, facts: Facts, reply: bytes, source: str, tcp: bool, start: float
    ) -> bytes | None:
        if tcp:
            return reply
        prefix = self.prefixes.key(source)
        if prefix is None:
            return reply  # exempt
        if reply[3] & 0x0F == 0 and (reply[6] or reply[7]):  # an answer: the common case
            kind, name = POSITIVE, facts.question
        else:
            kind, name = ratelimit.answer_class(reply, facts.question)
        action = self.table.decide(prefix, name, kind, start)
        if self._timer is None:
            self._arm()
        if not action:
            return reply
        if action & ratelimit.STARTED and self.starts.allow(start):
            log.warning(
                "rate limit: %s limited for %s",
                self.prefixes.text(prefix),
                class_text(name),
            )
        if action & ratelimit.SLIP:
            self.count(FAMILY, "slipped")
            return ratelimit.truncated(reply, facts.question)
        self.count(FAMILY, "dropped")
        return None

    def _arm(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called off a loop (a unit test): sweep only when asked
            return
        self._timer = loop.call_later(SWEEP_SECONDS, self.sweep)

    def sweep(self) -> None:
        """Once a second while there are accounts: stop lines, summaries, idle accounts."""
        self._timer = None
        now = time.perf_counter()  # the clock of `start` in after()
        for ended in self.table.sweep(now):
            if self.stops.allow(now):
                log.warning(
                    "rate limit: %s no longer limited for %s: held back %d replies "
                    "(%d slipped) in %.1f s",
                    self.prefixes.text(ended.key[0]),
                    class_text(ended.key[1]),
                    ended.held,
                    ended.slipped,
                    ended.seconds,
                )
            else:
                self.held_unlogged += ended.held
        evicted, self.table.evicted_count = self.table.evicted_count, 0
        if evicted:
            log.warning(
                "rate limit: the table is full (%d accounts): %d limited ones pushed out",
                self.table.max_accounts,
                evicted,
            )
        more = self.starts.take_skipped()
        if more:
            log.warning("rate limit: and %d more prefixes and classes limited", more)
        more = self.stops.take_skipped()
        if more:
            log.warning(
                "rate limit: and %d more no longer limited: held back %d replies",
                more,
                self.held_unlogged,
            )
            self.held_unlogged = 0
        if self.table.accounts:
            self._arm()

    def close(self) -> None:
        """Stop the sweep timer (the module leaves `after_answer`)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def class_text(name: bytes) -> str:
    """An account's class for a log line: `www.example.com. A`, `nxdomain example.com.`."""
    tag = name[:1]
    if tag == b"E":
        return "errors"
    if tag in (b"N", b"R"):
        kind = "nxdomain" if tag == b"N" else "referrals to"
        return f"{kind} {names.escaped(fastpath.labels(name[1:]))}" if len(name) > 1 else kind
    if not name:
        return "answers without a question"
    labels = fastpath.labels(name)
    end = sum(len(label) + 1 for label in labels) + 1
    return f"{names.escaped(labels)} {type_text(int.from_bytes(name[end : end + 2]))}"


def place(after_answer: list, limiter: Limiter, settings: RateLimitSettings) -> None:
    """Put the limiter in the after-answer list when settings turn it on, take it out
    when off (zero cost), and give it the settings."""
    limiter.configure(settings)
    present = limiter in after_answer
    if settings.on and not present:
        after_answer.append(limiter)
    elif not settings.on and present:
        after_answer.remove(limiter)
        limiter.close()
