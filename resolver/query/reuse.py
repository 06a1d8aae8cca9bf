"""The answer cache (SPEC 8): encoded reply bodies keyed by the lowercased question.

Two kinds of entry. A static entry holds the one body every client gets. A dynamic entry
(the answer came from a routing policy) holds one body per decision: the engine decides
again for every query, with this client, this health and a fresh random draw, and the
decision (the record sets chosen at every level) selects the body. So weighted and
multivalue choices are made per query, never frozen, and a client-dependent answer can
never be served to the wrong client, while the expensive part, encoding, is done once.

Bounded by `max_entries` bodies in all, evicting the least recently used entry: DNS
popularity is heavily skewed, so LRU keeps the names that are asked for. The handler's
memo of finished replies shares that bound: it counts its replies in `memo_size` (at most
half the bound, `memo_room`), and the cache keeps its bodies plus those within
`max_entries`, so the two together never hold more than that many replies. Entries never
outlive the smallest TTL in them; everything is dropped when the zones reload, and entries
that consulted a health check are dropped the moment that check changes state.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Choices = tuple
# Bodies, cumulative weights and their total: body i is drawn with weight i's share.
Draw = tuple[tuple[bytes, ...], tuple[float, ...], float]


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
    # question's own name), that group: re-deciding it alone picks the variant.
    direct: Any = None
    # For such a group whose policy lists its odds: every body it can give now, with the
    # cumulative weights to draw one by (None: not built yet; False: no odds listed).
    draw: Draw | bool | None = None

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
    def __init__(self, max_entries: int, now: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.now = now
        self._entries: OrderedDict[bytes, Entry] = OrderedDict()
        self._by_check: dict[str, set[bytes]] = {}
        self._size = 0
        self.memo_size = 0  # replies the handler's memo holds, counted in the same bound
        self.hits = 0
        self.misses = 0

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
            self._evict()

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
            self._evict()

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

    def put_draw(self, key: bytes, draw: Draw | bool, checks: Iterable[str]) -> None:
        """Keep a dynamic entry's draw; it goes when any check its odds consulted changes."""
        entry = self._entries.get(key)
        if entry is None or not entry.dynamic:
            return
        entry.draw = draw
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
        self._evict()

    def memo_room(self, count: int) -> bool:
        """Count `count` more memo replies against the shared bound, evicting least
        recently used bodies to keep the sum within it; False (nothing counted) when the
        memo would pass its share, half the bound: the memo then starts again empty."""
        if self.memo_size + count > max(1, self.max_entries // 2):
            return False
        self.memo_size += count
        self._evict()
        return True

    def _evict(self) -> None:
        while self._size + self.memo_size > self.max_entries and self._entries:
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
