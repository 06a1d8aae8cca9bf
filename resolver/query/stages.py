"""The stages of one query, and what a module plugged in after the answer sees.

`Handler.handle` runs, in order (the manner of Knot's query plan, STYLE.md 1.7):

1. replay: the same query bytes answered before get the finished reply again, from
   `reuse` (the first stage that can finish a reply: a dict lookup and a slice);
2. parse: a plain query is read by `wire.fastpath`; anything else by dnslib, then
   classified (`classify`): header, EDNS, class and type may end it in an early reply
   (FORMERR, NOTIMP, BADVERS, REFUSED, CHAOS);
3. answer: from `reuse` when an earlier answer still holds, else from the engine
   (`answer`);
4. finish: the body gets the query's ID, question and OPT, and is truncated to fit
   (`wire.fastpath.finish`);
5. after answer: statistics and the query log first (`querylog.Statistics`, called
   directly: on a replay the memo entry holds its labels), then every registered
   `AfterAnswer` module in order; each gets the question's facts and the reply as it
   would be sent, and may replace it or drop it (`None`: no reply). Rate limiting and
   signing each arrive as one more.

Forwarding sits between answer and finish: a question the answer stage finds outside
every zone goes to the `Forwarder` (`resolver.forward.stage`), which gives a body now
(from its cache) or later (a coroutine asking upstream); a later body is finished, and
the after-answer stage run on it, when it arrives (`Handler._later`), so the listeners
get a coroutine to await.

Outcomes are values: `None` is "no reply" (a response packet, a dropped reply); a
`bytes` reply from classify is an early reply; `Facts.policy` says what answered.
"""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from resolver.wire.ecs import ClientSubnet

Labels = tuple[str, str, str]  # the metric labels: qtype, rcode, policy
FORWARD = "forward"  # the policy label of a forwarded answer


@dataclass(slots=True)
class Facts:
    """What the query being answered was about, for the modules after the answer.

    Kept raw (the lowercase question, the subnet) and turned into text only for a log
    line: formatting per query would cost more than answering from the cache. Both routes
    fill it the same way, so a question looks the same whichever route answered it. A
    replayed reply carries the facts of the query that first built it.
    """

    question: bytes = b""  # the wire question, its name's ASCII letters lowercased
    qtype: str = "-"  # the metric label: a known mnemonic or OTHER
    code: int = -1  # the type's number, for the log
    policy: str = "none"
    scope: int = 0  # the ECS scope sent in the reply
    subnet: ClientSubnet | None = None
    labels: Labels | None = None  # the metric labels, once statistics has worked them out
    outside: bool = False  # the name is in no zone: refused, unless forwarding takes it
    via: str = ""  # a forwarded answer's source: a forwarder, cache, stale, ...
    holds_for: float = 0.0  # seconds a forwarded answer from the cache stays exact

    def refill(self, question: bytes, code: int, labels: Labels, scope: int) -> None:
        """Become the facts of a replayed reply, from its memo entry (no subnet: the query
        log, its only reader, turns replay off)."""
        self.question, self.code, self.labels, self.scope = question, code, labels, scope
        self.qtype, _, self.policy = labels
        self.subnet = None
        self.outside, self.via = False, ""


class AfterAnswer(Protocol):
    """A module at the after-answer stage: sees every reply, may replace or drop it."""

    def after(
        self, facts: Facts, reply: bytes, source: str, tcp: bool, start: float
    ) -> bytes | None:
        """The reply to send instead (the same object to keep it), or None to send none.

        `start` is the `time.perf_counter()` reading when the query arrived.
        """
        ...


class Forwarder(Protocol):
    """The forwarding stage (`resolver.forward.stage.Forwarding`), as the handler sees it."""

    def body(
        self, key: bytes, flags: int, do: bool, source: str, facts: Facts
    ) -> bytes | Coroutine[Any, Any, bytes] | None:
        """A body for a question outside every zone: now, later, or None (refused).

        A body given now sets `facts.holds_for`: how long its TTLs stay as they are."""
        ...

    def replayed(self) -> None:
        """The reply memo replayed a forwarded answer (counted as a cache hit)."""
        ...
