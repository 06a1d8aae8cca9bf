"""The fast route and the general route give the same bytes; the cache keeps its bounds."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import dns.edns
import dns.message
import pytest

from healthcheck.view import AllHealthy, FixedHealth
from resolver.config import load_config
from resolver.query.chaos import Chaos
from resolver.query.engine import Resolver
from resolver.query.handler import Handler
from resolver.query.location import Locator
from resolver.query.reuse import AnswerCache, Reuse
from resolver.wire import fastpath
from resolver.zones.check import known_regions, load_zone_set
from tests.serverproc import ZONES

REPO = Path(__file__).resolve().parents[2]
CONFIG = """
locations:
  10.1.0.0/16: {continent: NA, country: US, subdivision: CA, latitude: 37.4, longitude: -122.1}
  10.2.0.0/16: {continent: EU, country: DE, latitude: 50.1, longitude: 8.7}
"""
QUESTIONS = [
    ("www.example.com", "A"),
    ("WwW.ExAmPlE.cOm", "AAAA"),
    ("example.com", "MX"),
    ("example.com", "SOA"),
    ("example.com", "ANY"),
    ("nope.example.com", "A"),
    ("lab.example.com", "A"),
    ("x.apps.example.com", "TXT"),
    ("blog.example.com", "A"),
    ("cdn.example.com", "A"),
    ("a.sub.example.com", "A"),
    ("long.example.net", "TXT"),
    ("_svc.example.net", "SVCB"),
    ("app2.example.org", "A"),
    ("www.steer.example", "A"),
    ("pool.steer.example", "A"),
    ("geo.steer.example", "A"),
    ("app.steer.example", "A"),
    ("office.steer.example", "A"),
    ("outside.invalid", "A"),
]
CLIENTS = [None, ("10.1.2.0", 24), ("10.2.3.0", 24), ("81.169.1.0", 24), ("0.0.0.0", 0)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("cfg") / "policydns.yaml"
    path.write_text(CONFIG)
    config = load_config(str(path))
    zone_set = load_zone_set([str(ZONES)], regions=known_regions(config.regions))
    return zone_set, Locator(config.locations, config.latency)


def handler(world, seed: int = 7, health=None) -> Handler:
    zone_set, locator = world
    h = Handler(Resolver(zone_set), health or AllHealthy(), Chaos("v", "id"), locator)
    h.rng = random.Random(seed)
    return h


def query(name: str, qtype: str, subnet, cookie: bool = False, edns: bool = True) -> bytes:
    options = []
    if subnet is not None:
        options.append(dns.edns.ECSOption(subnet[0], subnet[1]))
    if cookie:
        options.append(dns.edns.GenericOption(10, b"\x01" * 8))  # forces the general route
    msg = dns.message.make_query(name, qtype, use_edns=0 if edns else False, options=options)
    msg.id = 4242
    return msg.to_wire()


@pytest.mark.parametrize(("name", "qtype"), QUESTIONS)
@pytest.mark.parametrize("subnet", CLIENTS)
def test_fast_and_general_routes_give_identical_bytes(world, name, qtype, subnet):
    """Fresh, cached, and general-route replies to one question are byte for byte equal."""
    plain = query(name, qtype, subnet)
    general = query(name, qtype, subnet, cookie=True)
    assert fastpath.parse_query(plain) is not None
    assert fastpath.parse_query(general) is None
    fast_handler, slow_handler = handler(world), handler(world)
    fresh = fast_handler.handle(plain, "127.0.0.1", False)
    slow = slow_handler.handle(general, "127.0.0.1", False)
    assert fresh == slow
    # Same seed again for the cached round: random policies draw the same way.
    fast_handler.rng, slow_handler.rng = random.Random(7), random.Random(7)
    cached = fast_handler.handle(plain, "127.0.0.1", False)
    slow_cached = slow_handler.handle(general, "127.0.0.1", False)
    assert cached == fresh
    assert slow_cached == fresh
    assert fast_handler.cache.hits + slow_handler.cache.hits >= 1 or name == "outside.invalid"


def test_question_case_is_patched_into_cached_replies(world):
    """A cached reply carries each query's own letter case and ID."""
    h = handler(world)
    first = h.handle(query("www.example.com", "A", None), "127.0.0.1", False)
    second = h.handle(query("WWW.EXAMPLE.COM", "A", None), "127.0.0.1", False)
    assert h.cache.hits == 1
    assert b"\x03WWW\x07EXAMPLE\x03COM\x00" in second
    assert first.replace(b"\x03www\x07example\x03com", b"\x03WWW\x07EXAMPLE\x03COM") == second


def test_truncation_applies_to_cached_replies(world):
    """A reply too big for the client's UDP size is truncated, cached or not."""
    h = handler(world)
    whole = h.handle(query("big.example.net", "TXT", None), "127.0.0.1", True)
    assert len(whole) > 512  # the fixture's answer does not fit a plain UDP reply
    big = query("big.example.net", "TXT", None, edns=False)
    for _ in range(2):  # built, then from the cache and the memo
        reply = h.handle(big, "127.0.0.1", False)
        flags, qd, an = struct.unpack_from("!xxHHH", reply)
        assert len(reply) <= 512
        assert flags & 0x0200 and an == 0
        assert qd == 1


def test_weighted_choices_stay_random_with_a_warm_cache(world):
    """Weighted answers are drawn per query even when every variant is cached."""
    h = handler(world, seed=1)
    us, eu = bytes([192, 0, 2, 10]), bytes([198, 51, 100, 10])
    ask = query("www.steer.example", "A", None)
    replies = [h.handle(ask, "127.0.0.1", False) for _ in range(200)]
    share = sum(us in r for r in replies) / len(replies)
    assert all((us in r) != (eu in r) for r in replies)
    assert 0.55 < share < 0.85
    assert h.cache.hits >= 190


def test_geo_answers_are_never_served_to_the_wrong_client(world):
    """A client-dependent cached answer is chosen by the decision for each client."""
    h = handler(world)
    for _ in range(3):
        ca = h.handle(query("geo.steer.example", "A", ("10.1.2.0", 24)), "127.0.0.1", False)
        eu = h.handle(query("geo.steer.example", "A", ("10.2.3.0", 24)), "127.0.0.1", False)
        assert bytes([192, 0, 2, 41]) in ca
        assert bytes([198, 51, 100, 43]) in eu


def test_health_change_reaches_cached_answers(world):
    """After a check fails, the failover answer changes although it was cached."""
    h = handler(world)
    primary = h.handle(query("api.steer.example", "A", None), "127.0.0.1", False)
    assert bytes([192, 0, 2, 30]) in primary
    h.health_changed(FixedHealth({"db": False}), ["db"])
    secondary = h.handle(query("api.steer.example", "A", None), "127.0.0.1", False)
    assert bytes([198, 51, 100, 30]) in secondary


def test_repeated_bytes_are_not_served_past_the_ttl(world):
    """The exact-bytes shortcut expires with the answer's TTL like the cache itself."""
    clock = [1000.0]
    h = handler(world)
    h.cache = Reuse(100, now=lambda: clock[0])
    ask = query("www.example.com", "A", None)
    h.handle(ask, "127.0.0.1", False)
    h.handle(ask, "127.0.0.1", False)
    assert (h.cache.hits, h.cache.misses) == (1, 1)
    clock[0] += 301  # www.example.com has TTL 300
    h.handle(ask, "127.0.0.1", False)
    assert (h.cache.hits, h.cache.misses) == (1, 2)


def test_weighted_draws_from_repeated_bytes_follow_health(world):
    """Identical query bytes keep drawing by weight, and a health change reaches the draw
    at once: with web-eu down every reply is the US set."""
    h = handler(world, seed=3)
    us, eu = bytes([192, 0, 2, 10]), bytes([198, 51, 100, 10])
    ask = query("www.steer.example", "A", None)
    replies = [h.handle(ask, "127.0.0.1", False) for _ in range(2000)]
    assert 0.66 < sum(us in r for r in replies) / 2000 < 0.74
    assert all(r[:2] == ask[:2] for r in replies)
    h.health_changed(FixedHealth({"web-eu": False}), ["web-eu"])
    assert all(us in h.handle(ask, "127.0.0.1", False) for _ in range(300))
    h.health_changed(FixedHealth({"web-eu": True, "web-us": False}), ["web-eu", "web-us"])
    assert all(eu in h.handle(ask, "127.0.0.1", False) for _ in range(300))


def test_weighted_draw_kept_in_the_cache_follows_health(world):
    """Queries whose bytes all differ (0x20 letter case) skip the exact-bytes memo but
    draw from the cached odds; a change of a check only the odds consulted reaches them."""
    h = handler(world, seed=4)
    us, eu = bytes([192, 0, 2, 10]), bytes([198, 51, 100, 10])
    rng = random.Random(9)

    def ask() -> bytes:
        name = "".join(c.upper() if rng.random() < 0.5 else c for c in "www.steer.example")
        return h.handle(query(name, "A", None), "127.0.0.1", False)

    replies = [ask() for _ in range(1500)]
    assert 0.65 < sum(us in r for r in replies) / 1500 < 0.75
    key = query("www.steer.example", "A", None)[12:-11]  # the question, lowercase
    assert h.cache.answers.get(key).checks == {"web-us", "web-eu"}
    h.health_changed(FixedHealth({"web-us": False}), ["web-us"])
    assert all(eu in ask() for _ in range(300))


def test_weighted_draws_match_freshly_decided_replies(world):
    """Every reply a draw can give is byte for byte a reply the policy itself gives."""
    decided, drawn = handler(world, seed=5), handler(world, seed=5)
    ask = query("WWW.steer.example", "A", ("10.1.2.0", 24))
    drawn.handle(ask, "127.0.0.1", False)  # builds the draw for these bytes
    from_draw = {drawn.handle(ask, "127.0.0.1", False) for _ in range(200)}
    fresh = set()
    for _ in range(200):
        decided.swap(decided.resolver)  # empty caches: every reply decided anew
        fresh.add(decided.handle(ask, "127.0.0.1", False))
    assert len(from_draw) == 2
    assert from_draw == fresh


def test_multivalue_stays_random_for_repeated_bytes(world):
    """Multivalue lists no odds, so identical bytes still get varying answers."""
    h = handler(world, seed=2)
    ask = query("pool.steer.example", "A", None)
    assert len({h.handle(ask, "127.0.0.1", False) for _ in range(100)}) > 1


def test_answers_decided_by_the_source_are_kept_per_source(world):
    """Without ECS the packet source decides: identical bytes from two networks get
    each their own answer, however they interleave."""
    h = handler(world)
    ask = query("geo.steer.example", "A", None)
    for _ in range(3):
        assert bytes([192, 0, 2, 41]) in h.handle(ask, "10.1.2.3", False)
        assert bytes([198, 51, 100, 43]) in h.handle(ask, "10.2.3.4", False)
        assert bytes([203, 0, 113, 44]) in h.handle(ask, "127.0.0.1", False)
    assert h.cache.hits >= 6


def test_ecs_decided_answers_ignore_the_source(world):
    """With ECS the option decides, whichever resolver relays it."""
    h = handler(world)
    ask = query("geo.steer.example", "A", ("10.2.3.0", 24))
    for source in ("10.1.2.3", "127.0.0.1", "10.1.2.3"):
        assert bytes([198, 51, 100, 43]) in h.handle(ask, source, False)


def test_no_memo_when_the_cache_is_off(world):
    """cache.max_entries 0 turns off every reuse, the exact-bytes shortcut included."""
    h = handler(world)
    h.cache = Reuse(0)
    ask = query("www.example.com", "A", None)
    for _ in range(3):
        h.handle(ask, "127.0.0.1", False)
    assert (h.cache.hits, h.cache.misses) == (0, 3)


def test_memo_holds_at_most_max_entries_replies(world):
    """The exact-bytes memo shares the cache's bound, a weighted draw counting each reply."""
    h = handler(world)
    h.cache = Reuse(5)
    questions = [("www.example.com", "A"), ("www.steer.example", "A"), ("example.com", "MX")]
    questions += [("blog.example.com", "A"), ("geo.steer.example", "A"), ("cdn.example.com", "A")]
    for _ in range(3):
        for name, qtype in questions:
            for source in ("127.0.0.1", "10.1.2.3"):
                h.handle(query(name, qtype, None), source, False)
                h.handle(query(name, qtype, None), source, True)
                tables = (*h.cache.exact.values(), *h.cache.by_source.values())
                held = sum(1 if m[3] is None else len(m[3][0]) for t in tables for m in t.values())
                assert held <= 5
                assert len(h.cache.answers) + held <= len(h.cache) <= 5


class TestAnswerCache:
    def test_entries_expire_with_their_ttl(self):
        """An entry is not served once its TTL has passed."""
        clock = [100.0]
        cache = AnswerCache(10, now=lambda: clock[0])
        cache.put_static(b"k", b"body", 30, "simple", [])
        assert cache.get(b"k") is not None
        clock[0] += 30
        assert cache.get(b"k") is None

    def test_zero_ttl_is_not_cached(self):
        """A TTL of 0 means the answer must not be kept."""
        cache = AnswerCache(10)
        cache.put_static(b"k", b"body", 0, "simple", [])
        assert cache.get(b"k") is None

    def test_bounded_with_least_recently_used_eviction(self):
        """Past max_entries the least recently used entry goes first."""
        cache = AnswerCache(3)
        for key in (b"a", b"b", b"c"):
            cache.put_static(key, key, 60, "simple", [])
        cache.get(b"a")
        cache.put_static(b"d", b"d", 60, "simple", [])
        assert cache.get(b"b") is None
        assert all(cache.get(k) is not None for k in (b"a", b"c", b"d"))
        assert len(cache) == 3

    def test_variants_count_towards_the_bound(self):
        """Every cached decision of a dynamic entry counts as one entry."""
        cache = AnswerCache(2)
        cache.put_variant(b"w", (1,), b"one", 0, 60, "weighted", [])
        cache.put_variant(b"w", (2,), b"two", 0, 60, "weighted", [])
        assert len(cache) == 2
        cache.put_static(b"x", b"x", 60, "simple", [])
        assert len(cache) <= 2

    def test_health_change_drops_dependent_entries(self):
        """Entries that consulted a check are dropped when it changes; others stay."""
        cache = AnswerCache(10)
        cache.put_variant(b"api", (0,), b"p", 0, 60, "failover", ["db"])
        cache.put_static(b"www", b"w", 60, "simple", [])
        cache.drop_checks(["db"])
        assert cache.get(b"api") is None
        assert cache.get(b"www") is not None
