"""Response rate limiting: the pure decisions (clock passed in) and the after-answer module,
against replies the real handler builds from the fixture zones."""

from __future__ import annotations

import logging
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.config import load_config
from resolver.errors import LoadFailed
from resolver.query import ratelimit
from resolver.query.handler import Handler
from resolver.query.limiter import FAMILY, Limiter, class_text, place
from resolver.query.ratelimit import (
    DROP,
    ERROR,
    MAX_ACCOUNTS,
    NXDOMAIN,
    PASS,
    POSITIVE,
    REFERRAL,
    SLIP,
    STARTED,
    Prefixes,
    RateLimitSettings,
    Table,
    answer_class,
    truncated,
)
from resolver.query.stages import Facts
from tests.property.world import load, make_handler


@pytest.fixture(scope="module")
def handler(tmp_path_factory: pytest.TempPathFactory) -> Handler:
    return make_handler(load(tmp_path_factory.mktemp("zones")))


def reply_of(handler: Handler, name: str, rdtype: str = "A", edns: bool = False) -> bytes:
    query = dns.message.make_query(name, rdtype, use_edns=0 if edns else None)
    query.flags &= ~dns.flags.RD
    out = handler.handle(query.to_wire(), "192.0.2.9", False)
    assert out is not None
    return out


def lowered_question(reply: bytes) -> bytes:
    message = dns.message.from_wire(reply)
    q = message.question[0]
    return q.name.to_wire().lower() + q.rdtype.to_bytes(2) + b"\x00\x01"


# --- client prefixes ------------------------------------------------------------------


def test_ipv4_prefix_24_groups_a_slash_24():
    p = Prefixes(RateLimitSettings(10))
    assert p.key("192.0.2.1") == p.key("192.0.2.254") != p.key("192.0.3.1")
    assert p.text(p.key("192.0.2.77") or 0) == "192.0.2.0/24"


def test_ipv4_prefix_32_separates_addresses():
    p = Prefixes(RateLimitSettings(10, ipv4_prefix=32))
    assert p.key("127.0.0.1") != p.key("127.0.0.2")


def test_ipv6_prefix_56_and_mapped_ipv4():
    p = Prefixes(RateLimitSettings(10))
    assert p.key("2001:db8:0:ff::1") == p.key("2001:db8:0:1::2") != p.key("2001:db8:0:100::1")
    assert p.text(p.key("2001:db8:0:ff::1") or 0) == "2001:db8::/56"
    assert p.key("::ffff:192.0.2.1") == p.key("192.0.2.7")
    # an IPv6 prefix never shares an account with an IPv4 one
    assert p.key("::") != p.key("0.0.0.0")


def test_exempt_blocks_of_any_length():
    p = Prefixes(RateLimitSettings(10, exempt=("10.0.0.0/8", "192.0.2.5/32", "2001:db8::/32")))
    assert p.key("10.200.1.1") is None
    assert p.key("192.0.2.5") is None
    assert p.key("192.0.2.6") is not None  # same /24, not exempt
    assert p.key("2001:db8:1::1") is None
    assert p.key("2001:db9::1") is not None


# --- answer classes from real replies ----------------------------------------------------


def test_positive_answer_is_keyed_by_question(handler: Handler):
    reply = reply_of(handler, "WWW.example.com")
    assert answer_class(reply, b"q") == (POSITIVE, b"q")


def test_nodata_is_keyed_by_question(handler: Handler):
    reply = reply_of(handler, "mail.example.com", "TXT")
    assert dns.message.from_wire(reply).rcode() == dns.rcode.NOERROR
    question = lowered_question(reply)
    assert answer_class(reply, question) == (POSITIVE, question)


def test_nxdomain_is_keyed_by_the_zone_whatever_the_name(handler: Handler):
    zone = b"\x07example\x03com\x00"
    for name in ("nope.example.com", "X.Y.Example.COM", "zz9.deep.lab.example.com"):
        reply = reply_of(handler, name, edns=True)
        assert dns.message.from_wire(reply).rcode() == dns.rcode.NXDOMAIN
        assert answer_class(reply, lowered_question(reply)) == (NXDOMAIN, b"N" + zone)
        # without the question's copy: the owner read from the reply, pointers followed
        assert answer_class(reply, b"") == (NXDOMAIN, b"N" + zone)
    # a CNAME chain into a zone where the target does not exist: that zone's account
    reply = reply_of(handler, "gone.example.com")
    assert dns.message.from_wire(reply).rcode() == dns.rcode.NXDOMAIN
    assert answer_class(reply, lowered_question(reply)) == (
        NXDOMAIN,
        b"N\x07example\x03net\x00",
    )


def test_referral_is_keyed_by_the_delegation(handler: Handler):
    for name in ("a.sub.example.com", "b.c.sub.example.com"):
        reply = reply_of(handler, name)
        assert answer_class(reply, lowered_question(reply)) == (
            REFERRAL,
            b"R\x03sub\x07example\x03com\x00",
        )


def test_errors_share_one_class(handler: Handler):
    refused = reply_of(handler, "outside.invalid")
    assert dns.message.from_wire(refused).rcode() == dns.rcode.REFUSED
    assert answer_class(refused, b"q") == (ERROR, b"E")
    # a reply this module cannot walk (never ours) falls into the errors class too
    assert answer_class(b"\x00\x00\x84\x03\x00\x01\x00\x00\x00\x01\x00\x00\x05", b"q") == (
        ERROR,
        b"E",
    )


def test_class_text_for_the_log(handler: Handler):
    reply = reply_of(handler, "www.example.com", "AAAA")
    assert class_text(lowered_question(reply)) == "www.example.com. AAAA"
    assert class_text(b"N\x07example\x03com\x00") == "nxdomain example.com."
    assert class_text(b"E") == "errors"


def test_truncated_keeps_id_question_and_opt(handler: Handler):
    reply = reply_of(handler, "www.example.com", edns=True)
    slipped = dns.message.from_wire(truncated(reply, lowered_question(reply)))
    full = dns.message.from_wire(reply)
    assert slipped.id == full.id and slipped.flags & dns.flags.TC
    assert slipped.question == full.question
    assert not slipped.answer and not slipped.authority
    assert slipped.edns == 0
    nx = reply_of(handler, "nope.example.com")
    plain = dns.message.from_wire(truncated(nx, lowered_question(nx)))
    assert dns.message.from_wire(truncated(nx, b"")).question == plain.question
    assert plain.flags & dns.flags.TC and plain.edns == -1 and not plain.authority
    assert plain.rcode() == dns.rcode.NXDOMAIN


# --- the bucket --------------------------------------------------------------------------


def run(table: Table, times: list[float], kind: int = POSITIVE, name: bytes = b"k") -> list[int]:
    return [table.decide(1, name, kind, t) for t in times]


rates = st.integers(1, 50)


@settings(max_examples=200, deadline=None)
@given(rates, st.lists(st.floats(0, 5, allow_nan=False), min_size=1, max_size=300))
def test_any_interval_gets_at_most_rate_t_plus_burst(rate: int, times: list[float]):
    times.sort()
    table = Table(RateLimitSettings(rate))
    passed = [t for t, action in zip(times, run(table, times), strict=True) if action == PASS]
    for i in range(len(passed)):
        for j in range(i, len(passed)):
            assert j - i + 1 <= rate * (passed[j] - passed[i]) + rate + 1e-6


@settings(max_examples=200, deadline=None)
@given(rates, st.lists(st.floats(0, 3, allow_nan=False), max_size=200), st.floats(0, 100))
def test_a_client_under_the_rate_is_never_limited(rate: int, extra: list[float], t0: float):
    # replies at least 1/rate apart, or any pattern with at most `rate` in each second
    gaps = [1 / rate + x for x in extra]
    times, now = [], t0
    for gap in gaps:
        now += gap
        times.append(now)
    assert run(Table(RateLimitSettings(rate)), times) == [PASS] * len(times)


@settings(max_examples=100, deadline=None)
@given(rates, st.lists(st.floats(0, 0.999, allow_nan=False), max_size=50), st.integers(1, 5))
def test_at_most_rate_in_each_second_is_never_limited(rate: int, offsets: list[float], n: int):
    per_second = sorted(offsets)[:rate]
    times = [second + offset for second in range(n) for offset in per_second]
    assert run(Table(RateLimitSettings(rate)), times) == [PASS] * len(times)


def test_a_flood_gets_the_rate_and_the_slips():
    table = Table(RateLimitSettings(10, slip=2))
    actions = run(table, [i / 1000 for i in range(3000)])  # 1,000 a second for 3 s
    full = actions.count(PASS)
    assert 30 <= full <= 41
    suppressed = len(actions) - full
    slipped = sum(1 for a in actions if a & SLIP)
    assert abs(slipped - suppressed / 2) <= 1
    assert sum(1 for a in actions if a & STARTED) == 1


@pytest.mark.parametrize(("slip", "share"), [(0, 0.0), (1, 1.0), (3, 1 / 3)])
def test_slip_sends_every_nth_suppressed_reply(slip: int, share: float):
    table = Table(RateLimitSettings(5, slip=slip))
    actions = [a & ~STARTED for a in run(table, [i / 1000 for i in range(1000)])]
    suppressed = [a for a in actions if a != PASS]
    assert set(suppressed) <= {DROP, SLIP}
    assert abs(suppressed.count(SLIP) - share * len(suppressed)) <= 1


def test_class_rates_nxdomain_errors_and_zero_unlimited():
    table = Table(RateLimitSettings(100, nxdomains_per_second=2, errors_per_second=0))
    times = [i / 100 for i in range(100)]
    assert run(table, times, NXDOMAIN, b"N").count(PASS) <= 4
    assert run(table, times, ERROR, b"E") == [PASS] * 100
    assert run(table, times, POSITIVE).count(PASS) == 100


def test_accounts_are_per_prefix_and_class():
    table = Table(RateLimitSettings(1, slip=0))
    assert table.decide(1, b"a", POSITIVE, 0.0) == PASS
    assert table.decide(1, b"a", POSITIVE, 0.1) & DROP
    assert table.decide(2, b"a", POSITIVE, 0.1) == PASS
    assert table.decide(1, b"b", POSITIVE, 0.1) == PASS


def test_the_table_is_bounded_whatever_the_sources():
    table = Table(RateLimitSettings(1, slip=0), max_accounts=1000)
    for i in range(20000):
        table.decide(i // 2, b"a", POSITIVE, i // 2 * 1e-4)  # twice at once (from 0.0): limited
    assert 1000 - 1000 // ratelimit.EVICT_SHARE < len(table.accounts) <= 1000
    assert set(table.limited) <= set(table.accounts)
    assert table.evicted_count == 20000 // 2 - len(table.accounts)
    assert len(table.evicted) <= 100
    assert MAX_ACCOUNTS <= 50000


def test_sweep_ends_limited_accounts_after_the_window_and_drops_idle_ones():
    table = Table(RateLimitSettings(1, window=5, slip=0))
    run(table, [0.0, 0.1, 0.2, 0.3])
    table.decide(2, b"b", POSITIVE, 0.3)
    assert table.sweep(3.0) == []
    assert list(table.accounts) == [(1, b"k")]  # idle and not limited: dropped
    ended = table.sweep(5.4)
    assert [(e.key, e.held, e.slipped) for e in ended] == [((1, b"k"), 3, 0)]
    assert not table.limited
    table.sweep(7.0)
    assert not table.accounts


def test_line_budget():
    budget = ratelimit.LineBudget(3)
    assert [budget.allow(10.0 + i / 100) for i in range(10)] == [True] * 3 + [False] * 7
    assert budget.allow(11.0) and budget.take_skipped() == 7


# --- the module ---------------------------------------------------------------------------


def test_limiter_drops_slips_counts_and_passes_tcp(handler: Handler):
    counted: list[tuple[str, str]] = []
    limiter = Limiter(RateLimitSettings(5, slip=2), lambda f, label: counted.append((f, label)))
    reply = reply_of(handler, "www.example.com")
    facts = Facts(question=lowered_question(reply))
    outs = [limiter.after(facts, reply, "192.0.2.1", False, i / 1000) for i in range(100)]
    assert sum(1 for o in outs if o is reply) <= 6
    slipped = [o for o in outs if o is not None and o is not reply]
    assert all(dns.message.from_wire(o).flags & dns.flags.TC for o in slipped)
    assert counted.count((FAMILY, "slipped")) == len(slipped)
    assert counted.count((FAMILY, "dropped")) == outs.count(None) > 40
    assert limiter.after(facts, reply, "192.0.2.1", True, 0.1) is reply  # TCP: never
    assert limiter.after(facts, reply, "192.0.3.1", False, 0.1) is reply  # another /24


def test_limiter_log_lines_are_bounded_under_a_spoofed_flood(handler: Handler, caplog):
    limiter = Limiter(RateLimitSettings(1, slip=0, window=1), lambda f, label: None)
    reply = reply_of(handler, "www.example.com")
    facts = Facts(question=lowered_question(reply))
    now = __import__("time").perf_counter()
    with caplog.at_level(logging.WARNING, "policydns.ratelimit"):
        for i in range(2000):
            source = f"10.{i % 250}.{i // 250}.1"
            limiter.after(facts, reply, source, False, now)
            limiter.after(facts, reply, source, False, now)
        starts = [r.getMessage() for r in caplog.records]
        assert len(starts) == 5
        assert starts[0] == "rate limit: 10.0.0.0/24 limited for www.example.com. A"
        limiter.sweep()  # the window has not passed: the summary of the starts only
        assert caplog.records[-1].getMessage() == (
            "rate limit: and 1995 more prefixes and classes limited"
        )
    caplog.clear()
    with caplog.at_level(logging.WARNING, "policydns.ratelimit"):
        limiter.table.window = 0.0  # as if the window had passed
        limiter.sweep()
        lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 6
    assert lines[0].startswith("rate limit: 10.0.0.0/24 no longer limited for www.example.com. A")
    assert "held back 1 replies" in lines[0]
    assert lines[-1] == "rate limit: and 1995 more no longer limited: held back 1995 replies"


def test_place_puts_the_module_in_only_when_on():
    after: list = []
    limiter = Limiter(RateLimitSettings(), lambda f, label: None)
    place(after, limiter, RateLimitSettings())
    assert after == []
    on = RateLimitSettings(10)
    place(after, limiter, on)
    assert after == [limiter]
    table = limiter.table
    place(after, limiter, RateLimitSettings(10))  # unchanged: the accounts stay
    assert limiter.table is table and after == [limiter]
    place(after, limiter, RateLimitSettings(20))
    assert limiter.table is not table and limiter.table.rates[0] == 20
    place(after, limiter, RateLimitSettings(0))
    assert after == []


# --- the config ---------------------------------------------------------------------------


def test_config_reads_the_section(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "rate_limit: {responses_per_second: 7, errors_per_second: 2, window: 5, slip: 0,\n"
        "  ipv4_prefix: 32, ipv6_prefix: 64, exempt: [10.0.0.0/8]}\n"
    )
    config = load_config(str(path))
    assert config.rate_limit == RateLimitSettings(7, None, 2, 5, 0, 32, 64, ("10.0.0.0/8",))
    assert config.rate_limit.rates() == (7, 7, 7, 2)
    assert not config.warnings


def test_config_errors_keep_the_default(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("rate_limit: {responses_per_second: 5, window: 0}\n")
    with pytest.raises(LoadFailed) as failed:
        load_config(str(path))
    assert [e.what for e in failed.value.errors] == ["rate_limit.window"]


def test_a_spoofed_flood_of_new_prefixes_does_not_free_a_limited_account():
    table = Table(RateLimitSettings(1, slip=0), max_accounts=100)
    assert table.decide(7, b"victim", POSITIVE, 0.0) == PASS
    assert table.decide(7, b"victim", POSITIVE, 0.0) & DROP  # limited
    for i in range(10000):  # fresh prefixes, one reply each: never limited
        table.decide(1000 + i, b"x", POSITIVE, i * 1e-5)
    assert len(table.accounts) <= 100
    assert (7, b"victim") in table.accounts and (7, b"victim") in table.limited
    assert table.decide(7, b"victim", POSITIVE, 0.2) & DROP  # still held to its rate
