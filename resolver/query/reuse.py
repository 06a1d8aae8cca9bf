"""Answer reuse, all of it: finished replies, encoded answers, weighted draws, and the
per-query tables, behind one invalidation interface and one size bound (SPEC 8).

- The memo of finished replies (`Reuse.exact`, `Reuse.by_source`): the reply after the
  ID by the exact query bytes after the ID, per transport; the replay stage's one dict
  lookup and slice. `exact` holds replies the bytes alone decide (static answers, an
  answer its ECS option decided, weighted draws); `by_source` those the packet's source
  decided, keyed (source, bytes).
- The answer cache (`AnswerCache`): encoded reply bodies keyed by the lowercased
  question. A static entry holds the one body every client gets. A dynamic entry (the
  answer came from a routing policy) holds one body per decision: the engine decides
  again for every query, with this client, this health and a fresh random draw, and the
  decision (the record sets chosen at every level) selects the body. So weighted and
  multivalue choices are made per query, never frozen, and a client-dependent answer is
  never served to the wrong client, while the expensive part, encoding, is done once.
- Weighted draws (`Entry.draw`): for a random answer one group decides, every body its
  odds can give, drawn by weight per query instead of running the policy.
- The per-query tables: ECS options parsed, packet sources parsed, client bits.

One bound, `max_entries`, for everything held: cache bodies, memo replies (each reply of
a draw counts) and table entries. The memo takes at most half of it and the tables a
quarter; each starts again empty when full (cheaper than LRU bookkeeping on every hit,
and each is one cache lookup or one parse away), and the cache evicts its least recently
used entries to keep the sum within the bound (DNS popularity is skewed: LRU keeps the
names that are asked for). No answer outlives the smallest TTL in it; `zones_swapped`
drops every answer, `checks_changed` every one that consulted a check that changed.
"""

from __future__ import annotations

import bisect
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from policies.base import IPAddress
from resolver.query.client import ClientBits, source_address, source_bits, subnet_bits
from resolver.query.querylog import rcode_label
from resolver.query.stages import Facts, Labels
from resolver.wire import ecs
from resolver.wire.names import Name
from resolver.zones.model import RecordGroup

# The decision behind a dynamic answer: (group name, type, sets chosen) at every level.
Choices = tuple[tuple[Name, int, tuple[int, ...]], ...]
# Items, cumulative weights and their total: item i is drawn with weight i's share.
Draw = tuple[tuple[bytes, ...], tuple[float, ...], float]


def pick(draw: Draw, rng: random.Random) -> bytes:
    """One of a draw's items, each with its weight's share of the chances."""
    items, cumulative, total = draw
    return items[bisect.bisect_right(cumulative, rng.random() * total)]


@dataclass(slots=True)
class Entry:
    dynamic: bool
    expires: float
    policy: str
    body: bytes = b""
    variants: dict[Choices, tuple[bytes, int]] = field(default_factory=dict)  # body, scope
    # Deterministic policy answers (no random choice) by the client network they hold for:
    # (family, address >> (bits - scope), scope) -> (body, reply scope).
    by_client: dict[tuple[int, int, int], tuple[bytes, int]] = field(default_factory=dict)
    scopes: list[int] = field(default_factory=list)  # longest first
    checks: frozenset[str] = frozenset()
    # When the answer is one record group chosen at random (weighted, multivalue at the
    # question's own name), that group (engine `Result.group`).
    direct: RecordGroup | None = None
    # For such a group: whether its draw was built, and the draw, every body it can give
    # now with the cumulative weights to draw one by (None: its policy lists no odds).
    drawn: bool = False
    draw: Draw | None = None

    @property
    def size(self) -> int:
        return len(self.variants) + len(self.by_client) if self.dynamic else 1

    def for_client(
        self, family: int, address: int, bits: int, prefix: int
    ) -> tuple[bytes, int] | None:
        """The answer decided earlier for a client in the same network at the same scope."""
        for scope in self.scopes:
            if prefix >= scope:
                found = self.by_client.get((family, address >> (bits - scope), scope))
                if found is not None:
                    return found
        return None


class AnswerCache:
    """Encoded answers by lowercased question, least recently used evicted first."""

    def __init__(self, max_entries: int, now: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.now = now
        self._entries: OrderedDict[bytes, Entry] = OrderedDict()
        self._by_check: dict[str, set[bytes]] = {}
        self._size = 0
        self.others = 0  # what the rest of `Reuse` holds, counted in the same bound

    def __len__(self) -> int:
        return self._size

    def get(self, key: bytes) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= self.now():
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def put_static(
        self, key: bytes, body: bytes, ttl: int, policy: str, checks: Iterable[str]
    ) -> None:
        if not self.max_entries or ttl <= 0:
            return
        self._remove(key)
        entry = Entry(False, self.now() + ttl, policy, body, checks=frozenset(checks))
        self._insert(key, entry)

    def put_variant(
        self,
        key: bytes,
        choices: Choices,
        body: bytes,
        scope: int,
        ttl: int,
        policy: str,
        checks: Iterable[str],
    ) -> None:
        if not self.max_entries or ttl <= 0:
            return
        entry = self._dynamic(key, ttl, policy, checks)
        if choices not in entry.variants:
            entry.variants[choices] = (body, scope)
            self._size += 1
            self.evict()

    def put_client(
        self,
        key: bytes,
        client: tuple[int, int, int, int],
        scope: int,
        body: bytes,
        reply_scope: int,
        ttl: int,
        policy: str,
        checks: Iterable[str],
    ) -> None:
        """Store a deterministic policy answer for every client within `scope` bits."""
        family, address, bits, prefix = client
        if not self.max_entries or ttl <= 0 or prefix < scope:
            return
        entry = self._dynamic(key, ttl, policy, checks)
        slot = (family, address >> (bits - scope), scope)
        if slot not in entry.by_client:
            entry.by_client[slot] = (body, reply_scope)
            if scope not in entry.scopes:
                entry.scopes.append(scope)
                entry.scopes.sort(reverse=True)
            self._size += 1
            self.evict()

    def _dynamic(self, key: bytes, ttl: int, policy: str, checks: Iterable[str]) -> Entry:
        entry = self._entries.get(key)
        if entry is None or not entry.dynamic:
            self._remove(key)
            entry = Entry(True, self.now() + ttl, policy, checks=frozenset(checks))
            self._insert(key, entry)
        else:
            entry.expires = min(entry.expires, self.now() + ttl)
            self._depend(key, entry, checks)
        return entry

    def _depend(self, key: bytes, entry: Entry, checks: Iterable[str]) -> None:
        added = frozenset(checks) - entry.checks
        if added:
            entry.checks = entry.checks | added
            for check in added:
                self._by_check.setdefault(check, set()).add(key)

    def put_draw(self, key: bytes, draw: Draw | None, checks: Iterable[str]) -> None:
        """Keep a dynamic entry's draw (None: its policy lists no odds); it goes when any
        check its odds consulted changes."""
        entry = self._entries.get(key)
        if entry is None or not entry.dynamic:
            return
        entry.drawn, entry.draw = True, draw
        self._depend(key, entry, checks)

    def drop_checks(self, check_ids: Iterable[str]) -> None:
        """A health check changed: nothing that consulted it may be served again."""
        for check in check_ids:
            for key in self._by_check.pop(check, set()):
                self._remove(key)

    def clear(self) -> None:
        self._entries.clear()
        self._by_check.clear()
        self._size = 0

    def _insert(self, key: bytes, entry: Entry) -> None:
        self._entries[key] = entry
        self._size += entry.size
        for check in entry.checks:
            self._by_check.setdefault(check, set()).add(key)
        self.evict()

    def evict(self) -> None:
        """Drop least recently used entries until bodies and `others` fit the bound."""
        while self._size + self.others > self.max_entries and self._entries:
            key = next(iter(self._entries))
            self._remove(key)

    def _remove(self, key: bytes) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._size -= entry.size
        for check in entry.checks:
            keys = self._by_check.get(check)
            if keys is not None:
                keys.discard(key)


# A finished reply the same query bytes get again while the clock is below `until`:
# (tail: the reply after the ID, empty for a draw; until; the metric labels; draw: for a
# random choice, every finished reply it can give, after the ID; then, for the modules
# after the answer, the facts of the query that built it: question, type code, ECS
# scope). One flat exact tuple of bytes, floats, ints and strs, not a class: the memo
# holds up to half of max_entries of them, and the garbage collector stops tracking such
# tuples, where it rescans every instance of a class (or a tuple holding one) at each
# old-generation collection (measured: 7 us more per new query with a dataclass here,
# python -m bench.handler_paths, "new bytes").
Finished = tuple[bytes, float, Labels, Draw | None, bytes, int, int]


@dataclass(slots=True)
class Reusable:
    """Whether the reply being built may answer the same query bytes again, and how."""

    until: float = 0.0  # 0: never; else while the clock is below this
    per_client: bool = False  # the client decided it: key by source unless ECS did
    draw: Draw | None = None  # a random choice: memo every reply it can give

    def set(self, until: float, per_client: bool, draw: Draw | None) -> None:
        self.until, self.per_client, self.draw = until, per_client, draw


class Reuse:
    """Every store of answer reuse, one bound, one invalidation interface."""

    def __init__(self, max_entries: int, now: Callable[[], float] = time.monotonic) -> None:
        self.answers = AnswerCache(max_entries, now)
        self.now = now
        # The key cannot be normalised (a hit is a lookup of the raw bytes), so keys that
        # differ only in what does not change the reply (the EDNS UDP size: 65,536 values)
        # are separate entries; their replies are one object, interned in `_replies`, so
        # the memo holds per entry a key of at most ~300 octets, never a reply's copy.
        self.exact: dict[bool, dict[bytes, Finished]] = {False: {}, True: {}}
        self.by_source: dict[bool, dict[tuple[str, bytes], Finished]] = {False: {}, True: {}}
        self._replies: dict[bytes, bytes] = {}
        self.memo_size = 0  # memo replies held, a draw's each counted
        self._subnets: dict[bytes, ecs.ClientSubnet] = {}
        self._sources: dict[str, IPAddress | None] = {}
        self._bits: dict[ecs.ClientSubnet, ClientBits] = {}
        self.tables_size = 0  # entries of the three tables together
        self.hits = 0
        self.misses = 0

    @property
    def max_entries(self) -> int:
        return self.answers.max_entries

    @max_entries.setter
    def max_entries(self, value: int) -> None:
        self.answers.max_entries = value
        if self.tables_size > value // 4:
            self._forget_tables()
        if self.memo_size > max(1, value // 2) or not value:
            self._forget_replies()
        self._count()

    def __len__(self) -> int:
        """Everything held, against `max_entries`."""
        return len(self.answers) + self.memo_size + self.tables_size

    # --- invalidation ------------------------------------------------------------------

    def zones_swapped(self) -> None:
        """New zone data: every answer held came from the old data. The tables stay: a
        parsed option or address depends on no zone."""
        self.answers.clear()
        self._forget_replies()

    def checks_changed(self, check_ids: Iterable[str]) -> None:
        """Health checks changed state: nothing that consulted them may be served again.
        The memo does not know what its replies consulted, so it goes whole."""
        self.answers.drop_checks(check_ids)
        self._forget_replies()

    def _forget_replies(self) -> None:
        for exact in self.exact.values():
            exact.clear()
        for by_source in self.by_source.values():
            by_source.clear()
        self._replies.clear()
        self.memo_size = 0
        self._count()

    def _forget_tables(self) -> None:
        self._subnets.clear()
        self._sources.clear()
        self._bits.clear()
        self.tables_size = 0

    def _count(self) -> None:
        self.answers.others = self.memo_size + self.tables_size
        self.answers.evict()

    # --- the memo of finished replies ---------------------------------------------------

    def remember(
        self,
        tcp: bool,
        query: bytes,
        source: str | None,
        reply: bytes,
        facts: Facts,
        reusable: Reusable,
        drawn: tuple[bytes, ...] | None,
    ) -> None:
        """Keep `reply` for the query bytes after the ID (and the source, when given); for
        a draw, `drawn` holds every finished reply it can give, in the draw's order."""
        draw = reusable.draw
        size = 1 if drawn is None else len(drawn)
        if not self._memo_room(size):
            self._forget_replies()  # the answer cache still holds it all: refills fast
            if not self._memo_room(size):
                return  # more replies than the memo's share of the bound
        interned = self._replies
        labels = (facts.qtype, rcode_label(reply[3] & 0xF), facts.policy)
        facts.labels = labels  # statistics, next at the after-answer stage, takes these
        memo: Finished
        if drawn is None or draw is None:
            tail = reply[2:]
            memo = (
                interned.setdefault(tail, tail),
                reusable.until,
                labels,
                None,
                facts.question,
                facts.code,
                facts.scope,
            )
        else:
            replies = tuple(interned.setdefault(t[2:], t[2:]) for t in drawn)
            chances = (replies, draw[1], draw[2])
            memo = (b"", reusable.until, labels, chances, facts.question, facts.code, facts.scope)
        if source is not None:
            self.by_source[tcp][(source, query)] = memo
        else:
            self.exact[tcp][query] = memo

    def _memo_room(self, count: int) -> bool:
        """Count `count` more memo replies, unless the memo would pass its half."""
        answers = self.answers
        if self.memo_size + count > max(1, answers.max_entries // 2):
            return False
        self.memo_size += count
        answers.others += count
        answers.evict()
        return True

    # --- the per-query tables -------------------------------------------------------------

    def subnet(self, data: bytes) -> ecs.ClientSubnet:
        """`ecs.parse` of an option's data, remembered: resolvers send the same few."""
        found = self._subnets.get(data)
        if found is None:
            found = ecs.parse(data)  # raises for bad options, which are never remembered
            if self._table_room():
                self._subnets[data] = found
        return found

    def source(self, source: str) -> IPAddress | None:
        """The packet source as an address, parsed once per source (resolvers repeat)."""
        try:
            return self._sources[source]
        except KeyError:
            address = source_address(source)
            if self._table_room():
                self._sources[source] = address
            return address

    def client_bits(self, source: str, subnet: ecs.ClientSubnet | None) -> ClientBits | None:
        """The client's network as `AnswerCache.put_client` keys it; None: no address."""
        if subnet is not None:
            found = self._bits.get(subnet)
            if found is None:
                found = subnet_bits(subnet)
                if self._table_room():
                    self._bits[subnet] = found
            return found
        address = self.source(source)
        return source_bits(address) if address is not None else None

    def _table_room(self) -> bool:
        """Count one more table entry, the tables starting again empty at their quarter."""
        share = self.max_entries // 4
        if not share:
            return False
        if self.tables_size >= share:
            self._forget_tables()
        self.tables_size += 1
        self._count()
        return True
