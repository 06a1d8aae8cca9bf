"""The cache of scrubbed forwarded answers: TTLs counting down, serve-stale (RFC 8767).

Keyed by the lowercase question and the DO bit; least recently used evicted first, but
entries past their stale window go before any live one. Pure: the clock is passed in.
"""

from __future__ import annotations

import heapq
import struct
import time
from collections import OrderedDict
from collections.abc import Callable

from resolver.forward.scrub import Scrubbed
from resolver.forward.settings import STALE_TTL

MAX_BODY = 65535  # one DNS message: what an entry may weigh at most
_TTL = struct.Struct("!I")

# (body, TTL offsets, stored TTLs, stored at, fresh until, kept until)
Entry = tuple[bytes, tuple[int, ...], tuple[int, ...], float, float, float]
Key = tuple[bytes, bool]  # the lowercase wire question, the DO bit


class ForwardCache:
    """Scrubbed answers by question and DO bit, at most max_entries of them."""

    def __init__(self, max_entries: int, now: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        # (kept until, key) for every put: finds dead entries without a scan. An item
        # whose entry was since replaced or evicted is skipped when popped.
        self._deaths: list[tuple[float, Key]] = []
        self._max = max(0, max_entries)
        self._now = now
        # Seconds the body get() last returned stays exactly right: until its TTLs next
        # tick down or it expires. The reply memo may replay it that long.
        self.holds_for = 0.0

    @property
    def max_entries(self) -> int:
        return self._max

    @max_entries.setter
    def max_entries(self, value: int) -> None:
        self._max = max(0, value)
        self._make_room(self._max)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self._deaths.clear()

    def put(self, key: bytes, do: bool, answer: Scrubbed, stale_for: int) -> None:
        """Store answer for lifetime seconds, kept for stale() stale_for seconds more."""
        # Never fresh longer than its shortest TTL, so a served TTL never falls below 1.
        lifetime = min(answer.lifetime, *answer.ttls) if answer.ttls else answer.lifetime
        if lifetime <= 0 or self._max == 0 or len(answer.body) > MAX_BODY:
            return
        slot = (key, do)
        entries = self._entries
        if slot in entries:
            del entries[slot]
        else:
            self._make_room(self._max - 1)
        stored = self._now()
        fresh_until = stored + lifetime
        kept_until = fresh_until + max(0, stale_for)
        entries[slot] = (
            answer.body,
            answer.ttl_offsets,
            answer.ttls,
            stored,
            fresh_until,
            kept_until,
        )
        heapq.heappush(self._deaths, (kept_until, slot))
        if len(self._deaths) > 2 * len(entries) + 64:  # replaced and evicted items pile up
            self._deaths = [(entry[5], k) for k, entry in entries.items()]
            heapq.heapify(self._deaths)

    def get(self, key: bytes, do: bool) -> bytes | None:
        """A fresh answer's body, each TTL less the whole seconds since it was stored."""
        slot = (key, do)
        entry = self._entries.get(slot)
        if entry is None:
            return None
        body, offsets, ttls, stored, fresh_until, kept_until = entry
        now = self._now()
        if now >= fresh_until:
            if now >= kept_until:
                del self._entries[slot]
            return None
        self._entries.move_to_end(slot)
        elapsed = max(0, int(now - stored))
        self.holds_for = min(fresh_until, stored + elapsed + 1) - now
        out = bytearray(body)
        pack = _TTL.pack_into
        for offset, ttl in zip(offsets, ttls, strict=True):
            pack(out, offset, ttl - elapsed)
        return bytes(out)

    def stale(self, key: bytes, do: bool) -> bytes | None:
        """An expired answer still within its stale window, every TTL STALE_TTL."""
        slot = (key, do)
        entry = self._entries.get(slot)
        if entry is None:
            return None
        body, offsets, _, _, fresh_until, kept_until = entry
        now = self._now()
        if now >= kept_until:
            del self._entries[slot]
            return None
        if now < fresh_until:
            return None
        self._entries.move_to_end(slot)
        out = bytearray(body)
        for offset in offsets:
            _TTL.pack_into(out, offset, STALE_TTL)
        return bytes(out)

    def _make_room(self, limit: int) -> None:
        """At most limit entries left: dead ones dropped first, then the least recent."""
        entries = self._entries
        if len(entries) <= limit:
            return
        deaths, now = self._deaths, self._now()
        while deaths and deaths[0][0] <= now and len(entries) > limit:
            _, slot = heapq.heappop(deaths)
            entry = entries.get(slot)
            if entry is not None and entry[5] <= now:
                del entries[slot]
        while len(entries) > max(0, limit):
            entries.popitem(last=False)
        if not entries:
            deaths.clear()
