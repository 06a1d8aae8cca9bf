"""ForwardCache with a fake clock: countdown, expiry, serve-stale, LRU, DO, max_entries."""

from __future__ import annotations

import struct

import dns.message
import dns.rcode
import dns.rrset

from resolver.forward.cache import ForwardCache
from resolver.forward.scrub import Scrubbed, scrub
from resolver.forward.settings import STALE_TTL
from resolver.wire import names
from resolver.wire.reply import question_wire


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def key_of(name: str) -> bytes:
    return question_wire(names.from_text(name), 1, 1)


def answer(name: str, *ttls: int) -> Scrubbed:
    """A real scrubbed reply for name with one A record per TTL given."""
    query = dns.message.make_query(name, "A")
    reply = dns.message.make_response(query)
    for number, ttl in enumerate(ttls):
        reply.answer.append(dns.rrset.from_text(name, ttl, "IN", "A", f"192.0.2.{number + 1}"))
    reply.answer.append(dns.rrset.from_text(name, max(ttls), "IN", "A", "198.51.100.1"))
    return scrub(reply.to_wire(), key_of(name), (), 0, 86400)


def ttls_in(body: bytes, at: Scrubbed) -> list[int]:
    return [struct.unpack_from("!I", body, offset)[0] for offset in at.ttl_offsets]


def test_ttls_count_down_by_whole_seconds() -> None:
    clock = Clock()
    cache = ForwardCache(10, clock)
    stored = answer("a.test.", 300)
    cache.put(key_of("a.test."), False, stored, 0)
    body = cache.get(key_of("a.test."), False)
    assert body == stored.body
    clock.t += 7.9
    body = cache.get(key_of("a.test."), False)
    assert body is not None and ttls_in(body, stored) == [293, 293]
    assert body[:12] == stored.body[:12] and len(body) == len(stored.body)
    assert dns.message.from_wire(body).answer[0].ttl == 293


def test_every_record_counts_down_from_its_own_ttl() -> None:
    clock = Clock()
    cache = ForwardCache(10, clock)
    stored = answer("a.test.", 60, 3600)
    assert stored.lifetime == 60
    cache.put(key_of("a.test."), False, stored, 0)
    clock.t += 59.99
    body = cache.get(key_of("a.test."), False)
    assert body is not None
    # rrsets: the two records at 60 and 3600 are one RRset in dnspython; read raw TTLs
    assert sorted(set(ttls_in(body, stored))) == [1, 3541]


def test_an_answer_expires_after_its_lifetime() -> None:
    clock = Clock()
    cache = ForwardCache(10, clock)
    cache.put(key_of("a.test."), False, answer("a.test.", 30), 0)
    clock.t += 29.999
    assert cache.get(key_of("a.test."), False) is not None
    clock.t += 0.001
    assert cache.get(key_of("a.test."), False) is None
    assert len(cache) == 0  # no stale window: dropped when met
    assert cache.get(key_of("b.test."), False) is None


def test_a_stale_answer_is_served_with_ttl_30_within_its_window_only() -> None:
    clock = Clock()
    cache = ForwardCache(10, clock)
    stored = answer("a.test.", 60, 600)
    cache.put(key_of("a.test."), False, stored, 100)
    assert cache.stale(key_of("a.test."), False) is None  # still fresh
    clock.t += 61
    assert cache.get(key_of("a.test."), False) is None
    body = cache.stale(key_of("a.test."), False)
    assert body is not None and set(ttls_in(body, stored)) == {STALE_TTL}
    assert dns.message.from_wire(body).rcode() == dns.rcode.NOERROR
    clock.t += 99  # 160 s after storing: lifetime 60 + stale 100
    assert cache.stale(key_of("a.test."), False) is None
    assert len(cache) == 0


def test_without_a_stale_window_nothing_stale_is_served() -> None:
    clock = Clock()
    cache = ForwardCache(10, clock)
    cache.put(key_of("a.test."), False, answer("a.test.", 60), 0)
    clock.t += 60
    assert cache.stale(key_of("a.test."), False) is None


def test_the_do_bit_is_part_of_the_key() -> None:
    cache = ForwardCache(10, Clock())
    plain, signed = answer("a.test.", 60), answer("a.test.", 120)
    cache.put(key_of("a.test."), False, plain, 0)
    assert cache.get(key_of("a.test."), True) is None
    cache.put(key_of("a.test."), True, signed, 0)
    assert cache.get(key_of("a.test."), False) == plain.body
    assert cache.get(key_of("a.test."), True) == signed.body
    assert len(cache) == 2


def test_least_recently_used_is_evicted_at_max_entries() -> None:
    cache = ForwardCache(3, Clock())
    for name in ("a.test.", "b.test.", "c.test."):
        cache.put(key_of(name), False, answer(name, 300), 0)
    assert cache.get(key_of("a.test."), False) is not None  # a is now the most recent
    cache.put(key_of("d.test."), False, answer("d.test.", 300), 0)
    assert len(cache) == 3
    assert cache.get(key_of("b.test."), False) is None
    for name in ("a.test.", "c.test.", "d.test."):
        assert cache.get(key_of(name), False) is not None


def test_a_dead_entry_goes_before_a_live_older_one() -> None:
    clock = Clock()
    cache = ForwardCache(3, clock)
    cache.put(key_of("old.test."), False, answer("old.test.", 3600), 0)
    cache.put(key_of("short.test."), False, answer("short.test.", 5), 0)
    cache.put(key_of("c.test."), False, answer("c.test.", 3600), 0)
    clock.t += 10  # short.test is dead; old.test is the least recently used
    cache.put(key_of("d.test."), False, answer("d.test.", 3600), 0)
    assert cache.get(key_of("old.test."), False) is not None
    assert cache.get(key_of("d.test."), False) is not None
    assert len(cache) == 3


def test_a_stale_entry_in_its_window_is_not_dead() -> None:
    clock = Clock()
    cache = ForwardCache(2, clock)
    cache.put(key_of("a.test."), False, answer("a.test.", 5), 600)
    cache.put(key_of("b.test."), False, answer("b.test.", 3600), 0)
    clock.t += 10
    cache.get(key_of("a.test."), False)  # expired: a miss, but kept for stale()
    assert cache.stale(key_of("a.test."), False) is not None  # and now most recent
    cache.put(key_of("c.test."), False, answer("c.test.", 3600), 0)
    assert cache.get(key_of("b.test."), False) is None  # b was least recently used
    assert cache.stale(key_of("a.test."), False) is not None


def test_a_put_replaces_the_earlier_entry() -> None:
    clock = Clock()
    cache = ForwardCache(10, clock)
    cache.put(key_of("a.test."), False, answer("a.test.", 10), 0)
    clock.t += 5
    newer = answer("a.test.", 100)
    cache.put(key_of("a.test."), False, newer, 0)
    clock.t += 20
    body = cache.get(key_of("a.test."), False)
    assert body is not None and ttls_in(body, newer) == [80, 80]
    assert len(cache) == 1


def test_lifetime_zero_and_max_entries_zero_store_nothing() -> None:
    zero = answer("a.test.", 0)
    assert zero.lifetime == 0
    cache = ForwardCache(10, Clock())
    cache.put(key_of("a.test."), False, zero, 300)
    assert len(cache) == 0 and cache.stale(key_of("a.test."), False) is None
    off = ForwardCache(0, Clock())
    off.put(key_of("a.test."), False, answer("a.test.", 60), 0)
    assert len(off) == 0 and off.get(key_of("a.test."), False) is None


def test_lowering_max_entries_evicts_at_once_least_recent_first() -> None:
    cache = ForwardCache(10, Clock())
    names_ = [f"n{i}.test." for i in range(10)]
    for name in names_:
        cache.put(key_of(name), False, answer(name, 300), 0)
    cache.get(key_of(names_[0]), False)
    cache.max_entries = 4
    assert cache.max_entries == 4 and len(cache) == 4
    kept = [name for name in names_ if cache.get(key_of(name), False) is not None]
    assert kept == [names_[0], *names_[7:]]
    cache.max_entries = 0
    assert len(cache) == 0


def test_clear_empties_the_cache() -> None:
    cache = ForwardCache(10, Clock())
    cache.put(key_of("a.test."), False, answer("a.test.", 60), 30)
    cache.clear()
    assert len(cache) == 0 and cache.get(key_of("a.test."), False) is None
    assert cache.stale(key_of("a.test."), False) is None


def test_many_replacements_keep_the_death_queue_bounded() -> None:
    clock = Clock()
    cache = ForwardCache(4, clock)
    for round_ in range(2000):
        name = f"n{round_ % 6}.test."
        cache.put(key_of(name), False, answer(name, 1 + round_ % 50), round_ % 3)
        clock.t += 0.3
    assert len(cache) <= 4
    assert len(cache._deaths) <= 2 * len(cache) + 65
