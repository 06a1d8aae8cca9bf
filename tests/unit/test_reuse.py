"""The seams of the query path: answer reuse's one bound and its invalidation, and the
after-answer stage where a module may replace or drop a reply."""

from __future__ import annotations

import random
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import pytest

from healthcheck.view import AllHealthy, FixedHealth
from resolver.config import load_config
from resolver.query.chaos import Chaos
from resolver.query.engine import Resolver
from resolver.query.handler import Handler
from resolver.query.location import Locator
from resolver.query.reuse import Reuse
from resolver.query.stages import Facts
from resolver.zones.check import known_regions, load_zone_set
from resolver.zones.model import ZoneSet

CONFIG = """
locations:
  10.1.0.0/16: {continent: NA, country: US}
  10.2.0.0/16: {continent: EU, country: DE}
"""
ZONE = """
zone: reuse.test
ttl: 300
health_checks:
  db: {type: tcp, target: 127.0.0.1, port: 15432}
  web-us: {type: tcp, target: 127.0.0.1, port: 15433}
records:
  ns:
    - {type: A, values: [192.0.2.53]}
  www:
    - {type: A, values: [VALUE]}
  api:
    - {type: A, set_id: primary, failover: primary, values: [192.0.2.30], health_check: db}
    - {type: A, set_id: backup, failover: secondary, values: [198.51.100.30]}
  wtd:
    - {type: A, set_id: us, weight: 70, values: [192.0.2.10], health_check: web-us}
    - {type: A, set_id: eu, weight: 30, values: [198.51.100.10]}
  geo:
    - {type: A, set_id: us, geolocation: {country: US}, values: [192.0.2.42]}
    - {type: A, set_id: eu, geolocation: {continent: EU}, values: [198.51.100.43]}
    - {type: A, set_id: rest, geolocation: {country: "*"}, values: [203.0.113.44]}
"""
NAMES = [f"n{i}" for i in range(60)]


def zone_set(tmp: Path, value: str) -> ZoneSet:
    """The test zone with www at `value`, and 60 more static names."""
    directory = tmp / value
    directory.mkdir()
    extra = "".join(
        f"  {n}:\n    - {{type: A, values: [192.0.2.{i + 100}]}}\n" for i, n in enumerate(NAMES)
    )
    (directory / "reuse.test.yaml").write_text(ZONE.replace("VALUE", value) + extra)
    config = tmp / "policydns.yaml"
    config.write_text(CONFIG)
    return load_zone_set([str(directory)], regions=known_regions(load_config(str(config)).regions))


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Locator]:
    config = tmp_path / "policydns.yaml"
    config.write_text(CONFIG)
    loaded = load_config(str(config))
    return tmp_path, Locator(loaded.locations, loaded.latency)


def make(world, value: str = "192.0.2.1", max_entries: int = 100000, **kwargs) -> Handler:
    tmp, locator = world
    resolver = Resolver(zone_set(tmp, value))
    cache = Reuse(max_entries)
    h = Handler(resolver, AllHealthy(), Chaos("v", "id"), locator, cache=cache, **kwargs)
    h.rng = random.Random(3)
    return h


def query(name: str, subnet=None, cookie: bool = False, size: int = 1232) -> bytes:
    options = []
    if subnet is not None:
        options.append(dns.edns.ECSOption(subnet, 24))
    if cookie:
        options.append(dns.edns.GenericOption(10, b"\x01" * 8))  # forces the general route
    msg = dns.message.make_query(name, "A", use_edns=0, payload=size, options=options)
    msg.id = 99
    return msg.to_wire()


def addresses(reply: bytes | None) -> set[str]:
    assert reply is not None
    return {rd.address for rrset in dns.message.from_wire(reply).answer for rd in rrset}


def held(cache: Reuse) -> tuple[int, int]:
    """(memo replies, table entries) counted from the stores themselves."""
    memo = [m for t in (*cache.exact.values(), *cache.by_source.values()) for m in t.values()]
    replies = sum(1 if m[3] is None else len(m[3][0]) for m in memo)
    tables = len(cache._subnets) + len(cache._sources) + len(cache._bits)
    return replies, tables


# --- one bound --------------------------------------------------------------------------


@pytest.mark.parametrize("bound", [1, 7, 40])
def test_memo_cache_and_tables_together_never_pass_the_bound(world, bound):
    """Many distinct questions, subnets, sources and UDP sizes: everything answer reuse
    holds (cache bodies, memo replies, parsed options and sources, client bits) stays
    within max_entries, and each store's count is what it really holds."""
    h = make(world, max_entries=bound)
    cache = h.cache
    names = [f"{n}.reuse.test" for n in NAMES] + ["www.reuse.test", "wtd.reuse.test"]
    names += ["geo.reuse.test", "api.reuse.test"]
    tables_seen = memo_seen = 0
    for i in range(400):
        name = names[i % len(names)]
        subnet = f"10.{1 + i % 2}.{i % 250}.0" if i % 3 else None
        source = f"10.{i % 7}.{i % 5}.{i % 11}"
        wire = query(name, subnet, cookie=i % 5 == 0, size=1232 + i % 9)
        assert h.handle(wire, source, i % 4 == 0) is not None
        assert h.handle(wire, source, i % 4 == 0) is not None  # a replay, when kept
        memo, tables = held(cache)
        assert (memo, tables) == (cache.memo_size, cache.tables_size)
        assert len(cache) == len(cache.answers) + memo + tables <= bound
        tables_seen, memo_seen = max(tables_seen, tables), max(memo_seen, memo)
    if bound >= 40:
        assert tables_seen and memo_seen  # every store was used, within its share


def test_no_reuse_at_all_when_the_bound_is_zero(world):
    h = make(world, max_entries=0)
    for i in range(20):
        h.handle(query("geo.reuse.test", f"10.1.{i}.0"), f"10.9.9.{i}", False)
    assert len(h.cache) == 0 and held(h.cache) == (0, 0)


# --- invalidation -----------------------------------------------------------------------


@pytest.mark.parametrize("cookie", [False, True], ids=["fast", "general"])
def test_a_zone_swap_is_never_answered_from_old_data(world, cookie):
    h = make(world, "192.0.2.1")
    tmp, _ = world
    ask = query("www.reuse.test", cookie=cookie)
    for _ in range(3):  # answered, then replayed
        assert addresses(h.handle(ask, "10.1.2.3", False)) == {"192.0.2.1"}
    h.swap(Resolver(zone_set(tmp, "192.0.2.2")))
    assert len(h.cache.answers) == 0 and h.cache.memo_size == 0
    for _ in range(3):
        assert addresses(h.handle(ask, "10.1.2.3", False)) == {"192.0.2.2"}


def test_a_check_change_is_never_answered_from_old_data(world):
    """The failover answer and the weighted draw, replayed and from the cache (0x20
    bytes), both follow a check that changes, from any source."""
    h = make(world)
    failover = query("api.reuse.test")
    mixed = [query(n) for n in ("API.reuse.test", "aPi.reuse.test", "ApI.REUSE.test")]
    for wire in [failover, failover, *mixed]:
        assert addresses(h.handle(wire, "10.1.2.3", False)) == {"192.0.2.30"}
    draws = [addresses(h.handle(query("wtd.reuse.test"), "10.1.2.3", False)) for _ in range(50)]
    assert {"192.0.2.10"} in draws
    h.health_changed(FixedHealth({"db": False, "web-us": False}), ["db", "web-us"])
    for wire in [failover, failover, *mixed]:
        for source in ("10.1.2.3", "10.2.0.9"):
            assert addresses(h.handle(wire, source, False)) == {"198.51.100.30"}
    for name in ("wtd.reuse.test", "WTD.reuse.test"):
        for _ in range(50):
            assert addresses(h.handle(query(name), "10.1.2.3", False)) == {"198.51.100.10"}


# --- the after-answer stage --------------------------------------------------------------


class Recorder:
    """Sees every reply with its facts; drops or replaces those for one name."""

    def __init__(self, drop: bytes = b"", refuse: bytes = b"") -> None:
        self.seen: list[tuple[str, int, str]] = []
        self.drop, self.refuse = drop, refuse

    def after(self, facts: Facts, reply: bytes, source: str, tcp: bool, start: float):
        self.seen.append((facts.policy, reply[3] & 0xF, source))
        if self.drop and self.drop in facts.question:
            return None
        if self.refuse and self.refuse in facts.question:
            return reply[:3] + bytes([(reply[3] & 0xF0) | 5]) + reply[4:]  # REFUSED
        return reply


class Counting:
    def __init__(self) -> None:
        self.labels: list[tuple[str, str, str]] = []

    def observe(self, labels, seconds):
        self.labels.append(labels)


@pytest.mark.parametrize("cookie", [False, True], ids=["fast", "general"])
def test_an_after_answer_module_drops_a_reply_also_when_replayed(world, cookie):
    h = make(world)
    recorder = Recorder(drop=b"\x03www")
    h.after_answer.append(recorder)
    ask = query("www.reuse.test", cookie=cookie)
    assert [h.handle(ask, "10.1.2.3", False) for _ in range(3)] == [None] * 3
    assert recorder.seen == [("simple", 0, "10.1.2.3")] * 3
    assert addresses(h.handle(query("api.reuse.test", cookie=cookie), "10.1.2.3", False))


@pytest.mark.parametrize("cookie", [False, True], ids=["fast", "general"])
def test_an_after_answer_module_replaces_a_reply_after_statistics(world, cookie):
    """Statistics, first at the stage, counts the answer; the next module's REFUSED is
    what is sent, fresh and replayed."""
    metrics = Counting()
    h = make(world, metrics=metrics)
    h.after_answer.append(Recorder(refuse=b"\x03api"))
    ask = query("api.reuse.test", cookie=cookie)
    replies = [dns.message.from_wire(h.handle(ask, "10.1.2.3", False)) for _ in range(3)]
    assert [r.rcode() for r in replies] == [dns.rcode.REFUSED] * 3
    assert [r.id for r in replies] == [99] * 3
    assert metrics.labels == [("A", "NOERROR", "failover")] * 3
    assert addresses(h.handle(query("www.reuse.test", cookie=cookie), "10.1.2.3", False))


def test_a_smaller_bound_applies_at_once(world):
    """A reload that lowers cache.max_entries leaves no store above its new share."""
    h = make(world, max_entries=400)
    for i in range(120):
        h.handle(query(f"n{i % 60}.reuse.test", f"10.1.{i}.0"), f"10.9.{i}.1", False)
    assert h.cache.tables_size > 10 and h.cache.memo_size > 10
    h.cache.max_entries = 10
    assert len(h.cache) <= 10
    memo, tables = held(h.cache)
    assert (memo, tables) == (h.cache.memo_size, h.cache.tables_size)
