"""The hostile packets of tests/e2e/test_robustness.py, fed to Handler.handle in-process.

Faster and more exact than over sockets: every packet's reply is checked, not a sample,
and a failure names the packet. Replies must be well-formed responses to the query, and
nothing may reach the handler's internal-error path (which logs and answers SERVFAIL).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator

import pytest

from healthcheck.view import AllHealthy
from resolver.query.chaos import Chaos
from resolver.query.engine import Resolver
from resolver.query.handler import Handler
from resolver.zones.check import load_zone_set
from tests.e2e.test_robustness import (
    ANSWERED,
    KINDS,
    NO_REPLY,
    SEED,
    ZONES,
    Expect,
    mutate,
    packets,
    problems,
    valid_queries,
)


@pytest.fixture(scope="module")
def handler() -> Handler:
    return Handler(Resolver(load_zone_set([str(ZONES)])), AllHealthy(), Chaos("test", "test"))


def default_expect(wire: bytes) -> Expect:
    """Without a specific outcome: a reply to any full header with QR=0, else none."""
    return ANSWERED if len(wire) >= 12 and not wire[2] & 0x80 else NO_REPLY


class Collect(logging.Handler):
    """Keeps the messages of error records (instead of pytest printing thousands of them)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def errors() -> Iterator[Collect]:
    logger = logging.getLogger("policydns")
    collect, propagate = Collect(), logger.propagate
    logger.addHandler(collect)
    logger.propagate = False
    yield collect
    logger.removeHandler(collect)
    logger.propagate = propagate


def run(handler: Handler, wires, errors: Collect) -> list[str]:
    failures = []
    for wire, expect in wires:
        for tcp in (False, True):
            errors.messages.clear()
            reply = handler.handle(wire, "192.0.2.99", tcp)
            found = problems(wire, reply, expect or default_expect(wire))
            if not tcp and reply is not None and len(reply) > 1232:
                found.append(f"{len(reply)}-byte UDP reply, over the 1232 the server advertises")
            if errors.messages:
                found.append(f"logged {errors.messages[0]!r}")
            if found:
                failures.append(f"{'tcp' if tcp else 'udp'} {wire.hex()}: {'; '.join(found)}")
    return failures


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_hostile_packet_gets_a_proper_reply(handler, kind, errors):
    """Every packet of a kind gets the right reply (or none), and none hits an internal error."""
    failures = run(handler, packets(kind), errors)
    assert not failures, f"{len(failures)} failures, first ones:\n" + "\n".join(failures[:15])


def test_random_mutations_of_valid_queries(handler, errors):
    """25,000 randomly mutated valid queries, handled as UDP and as TCP, get proper replies."""
    rng = random.Random(f"{SEED}-unit")
    bases = valid_queries(rng)
    wires = [(mutate(rng, rng.choice(bases), rng.randint(1, 8)), None) for _ in range(25_000)]
    failures = run(handler, wires, errors)
    assert not failures, f"{len(failures)} failures, first ones:\n" + "\n".join(failures[:15])
