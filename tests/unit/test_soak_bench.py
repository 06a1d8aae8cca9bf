"""bench/soak.py's pure parts: the malformed packets are what their kinds claim (so the soak
really sends them), and the verdict holds issue 12's bounds."""

from __future__ import annotations

import random
import struct

import dns.exception
import dns.message
import pytest

from bench.soak import MALFORMED, Report, judge, malformed_pool, reference_sample

# Kinds that are well-formed DNS messages the server must refuse on meaning, not syntax.
PARSEABLE = {"QR set", "QDCOUNT 0", "QDCOUNT 2", "unknown opcode", "unknown class"}
PARSEABLE |= {"EDNS version 1", "oversize datagram"}  # dnspython ignores trailing bytes
PARSEABLE |= {"ECS bad prefix"}  # scope set in a query, address bits past the prefix


def report(**changes: object) -> Report:
    base: dict = dict(
        capacity_qps=None, capacity_runs=[], offered_qps=1000, duration_s=300, sent=300_000,
        completed=300_000, lost=0, loss=0.0, rcodes={}, udp_receive_drops=0,
        malformed_sent=3000, malformed_by_kind={}, malformed_replies={},
        malformed_send_errors=0, rss_reference_at_s=60, rss_reference_kib=50_000,
        rss_end_kib=50_000, rss_max_kib=50_000, rss_ratio=1.0,
    )  # fmt: skip
    base.update(changes)
    return Report(**base)


@pytest.mark.parametrize("kind", sorted(set(MALFORMED) - PARSEABLE))
def test_each_syntax_kind_fails_to_parse(kind: str) -> None:
    rng = random.Random(1)
    for _ in range(20):
        packet = MALFORMED[kind](rng)
        with pytest.raises((dns.exception.DNSException, ValueError, IndexError, struct.error)):
            dns.message.from_wire(packet)


def test_specific_shapes() -> None:
    rng = random.Random(2)
    assert all(len(MALFORMED["truncated header"](rng)) < 12 for _ in range(50))
    assert MALFORMED["QR set"](rng)[2] & 0x80
    assert struct.unpack_from("!H", MALFORMED["QDCOUNT 2"](rng), 4)[0] == 2
    assert MALFORMED["label over 63"](rng)[12] > 63
    assert len(MALFORMED["name over 255"](rng)) - 12 - 4 > 255
    sizes = {len(MALFORMED["oversize datagram"](rng)) for _ in range(100)}
    assert max(sizes) > 65_000 and min(sizes) > 512


def test_pool_holds_every_kind_equally() -> None:
    pool = malformed_pool(random.Random(3), size=len(MALFORMED) * 10)
    counts = {kind: sum(1 for k, _ in pool if k == kind) for kind in MALFORMED}
    assert set(counts.values()) == {10}


def test_verdict_bounds() -> None:
    assert report().checks == {} and all(judge(report()).values())
    assert not judge(report(lost=300, loss=0.001))["< 0.1 % lost"]
    assert judge(report(lost=299, loss=0.000997))["< 0.1 % lost"]
    assert not judge(report(sent=0))["< 0.1 % lost"]  # nothing measured is no pass
    assert not judge(report(exited=-11))["0 crashes"]
    assert not judge(report(crash_count=1))["0 crashes"]
    assert not judge(report(rss_ratio=1.101))["RSS end within 10 % of 1 min"]
    assert judge(report(rss_ratio=0.7))["RSS end within 10 % of 1 min"]  # shrinking is fine


def test_reference_sample_is_first_at_or_after() -> None:
    samples = [(5.0, 1), (59.9, 2), (60.1, 3), (65.0, 4)]
    assert reference_sample(samples, 60) == (60.1, 3)
    assert reference_sample(samples, 100) == (65.0, 4)
