"""An answer never depends on what was asked before it, forwarding included: a handler
that has answered a stream of questions (forwarded, refused, our own; any letter case,
DO, RD, EDNS, source) gives each the same bytes as a fresh handler asked it alone.

The clock stands still, so TTLs are the same for both and the reply memo, the forward
cache and in-flight joining are all exercised: a wrong key (a source not allowed getting
a memoised forwarded reply, a DO answer served to a DO-less query, one letter case
leaking into another) shows as a difference."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import dns.flags
import dns.message
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthcheck.view import AllHealthy
from resolver.forward.cache import ForwardCache
from resolver.forward.settings import ForwardSettings
from resolver.forward.stage import Forwarding
from resolver.metrics import Metrics
from resolver.query.chaos import Chaos
from resolver.query.engine import Resolver
from resolver.query.handler import Handler
from resolver.query.reuse import Reuse
from resolver.zones.check import load_zone_set
from tests.property.world import SCALE
from tests.unit.test_forward_cache import Clock
from tests.unit.test_forwarding_stage import UPSTREAM_ZONE, own_zone
from tests.upstreamfake import FakeUpstream, answering

NAMES = [
    "www.upstream.test",  # forwarded, positive
    "alias.upstream.test",  # forwarded CNAME chain
    "nope.upstream.test",  # forwarded NXDOMAIN
    "upstream.test",  # forwarded NODATA for A
    "www.own.test",  # ours
    "missing.own.test",  # ours, NXDOMAIN
]
SOURCES = ["127.0.0.1", "127.0.0.2", "192.0.2.1", "::1", "2001:db8::1"]


def cased(name: str, mask: int) -> str:
    return "".join(c.upper() if (mask >> (i % 16)) & 1 else c for i, c in enumerate(name))


# A question's bytes, then who asks it: each is asked from several sources and
# transports in a row, so the memo and the caches meet the same bytes from a source
# allowed to recurse and one that is not.
ASKED = st.tuples(
    st.sampled_from(NAMES),
    st.sampled_from([0, 0b101, 0xFFFF]),  # letter case
    st.sampled_from(["A", "TXT"]),
    st.booleans(),  # RD
    st.sampled_from([None, False, True]),  # no EDNS, EDNS, EDNS with DO
)
ASKERS = st.lists(st.tuples(st.sampled_from(SOURCES), st.booleans()), min_size=1, max_size=4)
QUESTIONS = st.lists(st.tuples(ASKED, ASKERS), min_size=1, max_size=10).map(
    lambda rounds: [(*asked, *asker) for asked, askers in rounds for asker in askers]
)


def wire(question: tuple) -> bytes:
    name, mask, rdtype, rd, edns, _, _ = question
    if edns is None:
        query = dns.message.make_query(cased(name, mask), rdtype)
    else:
        query = dns.message.make_query(cased(name, mask), rdtype, use_edns=0, want_dnssec=edns)
    if not rd:
        query.flags &= ~dns.flags.RD
    query.id = 4242
    return query.to_wire()


@pytest.fixture(scope="module")
def upstream():
    with FakeUpstream(answering(UPSTREAM_ZONE)) as up:
        yield up


@pytest.fixture(scope="module")
def resolver():
    """One load of our zone for every handler: a load's serial depends on the clock."""
    with tempfile.TemporaryDirectory() as directory:
        return Resolver(load_zone_set([own_zone(Path(directory))]))


def handler(resolver: Resolver, upstream: FakeUpstream, clock: Clock) -> Handler:
    """A handler as the server builds one: reply memo, answer cache, forwarding, clock."""
    metrics = Metrics()
    routes = {(): (upstream.address,)}
    forwarding = Forwarding(
        ForwardSettings(routes=routes),
        ForwardCache(1000, clock),
        metrics.count,
        metrics.time_upstream,
    )
    return Handler(
        resolver,
        AllHealthy(),
        Chaos("t", "t"),
        metrics=metrics,
        cache=Reuse(4000, clock),
        forwarding=forwarding,
    )


async def answer(handler, question: tuple) -> bytes | None:
    out = handler.handle(wire(question), question[5], question[6])
    if out is not None and not isinstance(out, bytes):
        out = await out
    return out


@settings(
    max_examples=int(100 * SCALE) or 1,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(QUESTIONS)
def test_each_answer_equals_a_fresh_handlers(resolver, upstream, questions):
    clock = Clock()

    async def run() -> None:
        seasoned = handler(resolver, upstream, clock)
        for question in questions:
            got = await answer(seasoned, question)
            expected = await answer(handler(resolver, upstream, clock), question)
            assert got == expected, question

    asyncio.run(run())
