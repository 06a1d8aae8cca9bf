"""Response rate limiting's decisions (SPEC 3 `rate_limit`), pure: the clock is passed in.

In the manner of BIND's and Knot's RRL: replies are accounted per client prefix (/24 for
IPv4, /56 for IPv6 by default) and answer class, each account a token bucket:

- positive answers and NODATA: one account per (qname, qtype), at responses_per_second;
- referrals: one per delegation point (the NS owner in the authority section), at
  responses_per_second, as BIND does: random names below a cut share one account;
- NXDOMAIN: one per zone (the SOA owner in the authority section), at
  nxdomains_per_second: random names in one zone share one account;
- errors (REFUSED, FORMERR, SERVFAIL, NOTIMP, ...): one per prefix, at errors_per_second.

A bucket holds at most `rate` credits (one second of burst) and refills at `rate` per
second; a full reply costs one credit, a reply without credit is suppressed (dropped, or
every `slip`-th sent truncated). Suppressed replies cost nothing, so a flooding client
still gets `rate` full replies a second: over any T seconds at most rate * T + rate. An
account that suppressed a reply is "limited" until `window` seconds pass without one; that
is what the start and stop log lines report. The table holds at most MAX_ACCOUNTS
accounts, the oldest evicted first (limited ones last), idle ones dropped by `sweep`.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass
from itertools import islice

from resolver.wire import walk

# BIND's default max-table-size: a few MB of accounts at most, whatever the sources.
MAX_ACCOUNTS = 20000
# The answer classes, indexes into Table.rates.
POSITIVE, REFERRAL, NXDOMAIN, ERROR = 0, 1, 2, 3
# What Table.decide returns: PASS (0), or DROP or SLIP, with STARTED added when the
# account has just begun to be limited.
PASS, DROP, SLIP, STARTED = 0, 1, 2, 4
# Slack in the full-reply test: float sums of 1/rate steps must not suppress a
# client that keeps exactly to the rate.
EPSILON = 1e-9
# A full table pushes out this share of its accounts at once (1/16): amortized O(1).
EVICT_SHARE = 16
# Account keys of IPv6 prefixes carry this bit, so they never equal an IPv4 prefix's.
V6_TAG = 1 << 129
_SOA, _NS = 6, 2
MEMO_SIZE = 4096  # addresses whose prefix key is remembered
_UNKNOWN = -2  # not in the memo (no key is -2)


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    """The `rate_limit` section as read; responses_per_second 0 is off. A class rate of 0
    leaves that class unlimited; None takes responses_per_second."""

    responses_per_second: int = 0
    nxdomains_per_second: int | None = None
    errors_per_second: int | None = None
    window: int = 15
    slip: int = 2
    ipv4_prefix: int = 24
    ipv6_prefix: int = 56
    exempt: tuple[str, ...] = ()  # CIDR blocks, as written (strict: no host bits)

    @property
    def on(self) -> bool:
        return self.responses_per_second > 0

    def rates(self) -> tuple[int, int, int, int]:
        """The rate of each answer class, indexed by POSITIVE, REFERRAL, NXDOMAIN, ERROR."""
        rps = self.responses_per_second
        nx = rps if self.nxdomains_per_second is None else self.nxdomains_per_second
        errors = rps if self.errors_per_second is None else self.errors_per_second
        return (rps, rps, nx, errors)


class Prefixes:
    """Client address text -> its prefix's account key (an int), or None when exempt.

    inet_pton and a shift, memoized by address text: no `ipaddress` object per query.
    """

    def __init__(self, settings: RateLimitSettings) -> None:
        self.shift4 = 32 - settings.ipv4_prefix
        self.shift6 = 128 - settings.ipv6_prefix
        # Exempt blocks as {(shift, address >> shift)} per family: a few set lookups.
        self.exempt4: set[tuple[int, int]] = set()
        self.exempt6: set[tuple[int, int]] = set()
        for text in settings.exempt:
            net = ipaddress.ip_network(text, strict=True)
            shift = net.max_prefixlen - net.prefixlen
            into = self.exempt4 if net.version == 4 else self.exempt6
            into.add((shift, int(net.network_address) >> shift))
        self.shifts4 = sorted({s for s, _ in self.exempt4})
        self.shifts6 = sorted({s for s, _ in self.exempt6})
        self.memo: dict[str, int | None] = {}

    def key(self, source: str) -> int | None:
        """The account key of source's prefix; None when exempt. Memoized: a dict hit
        (0.1 us) instead of parsing (about 1.5 us), the memo emptied when it fills."""
        key = self.memo.get(source, _UNKNOWN)
        if key is _UNKNOWN:
            if len(self.memo) >= MEMO_SIZE:
                self.memo.clear()
            key = self.memo[source] = self._parse(source)
        return key

    def _parse(self, source: str) -> int | None:
        try:
            if ":" in source:
                if source.startswith("::ffff:") and "." in source:
                    return self._v4(source[7:])  # IPv4 on a dual-stack socket
                address = int.from_bytes(socket.inet_pton(socket.AF_INET6, source.split("%")[0]))
                for shift in self.shifts6:
                    if (shift, address >> shift) in self.exempt6:
                        return None
                return (address >> self.shift6) | V6_TAG
            return self._v4(source)
        except OSError:
            return -1  # not an address (the kernel always gives one): one shared account

    def _v4(self, source: str) -> int | None:
        address = int.from_bytes(socket.inet_pton(socket.AF_INET, source))
        for shift in self.shifts4:
            if (shift, address >> shift) in self.exempt4:
                return None
        return address >> self.shift4

    def text(self, key: int) -> str:
        """The prefix in CIDR notation, for a log line."""
        if key < 0:
            return "(unparsable source)"
        if key & V6_TAG:
            v6 = ipaddress.IPv6Address((key & ~V6_TAG) << self.shift6)
            return f"{v6}/{128 - self.shift6}"
        return f"{ipaddress.IPv4Address(key << self.shift4)}/{32 - self.shift4}"


def _authority_owner(reply: bytes, question: bytes) -> tuple[int, bytes]:
    """The type (SOA or NS) and lowercase owner of the first record of the authority
    section when it is an SOA or NS, else (0, b"")."""
    pos = walk.skip_records(reply, walk.question_end(reply, question), reply[6] << 8 | reply[7])
    if not (reply[8] or reply[9]):
        return 0, b""
    first = reply[pos]
    end = pos + 2 if first >= 0xC0 else walk.skip_name(reply, pos)
    rtype = reply[end] << 8 | reply[end + 1]
    if rtype != _SOA and rtype != _NS:
        return 0, b""
    if first >= 0xC0 and question:
        # Nearly always: a pointer into the question's name, already lowercase there.
        offset = (first & 0x3F) << 8 | reply[pos + 1]
        if 12 <= offset < 12 + len(question) - 4:
            return rtype, question[offset - 12 : -4]
    return rtype, walk.read_name(reply, pos)


def answer_class(reply: bytes, question: bytes) -> tuple[int, bytes]:
    """The answer class of a reply and its account name within the prefix.

    `question` is the lowercase wire question (name, type, class) the reply echoes: the
    account of a positive answer or NODATA. Names of other classes start with a letter,
    never a label length (at most 63), so the classes cannot collide.
    """
    rcode = reply[3] & 0x0F
    try:
        if rcode == 0:
            if reply[6] or reply[7] or not (reply[8] or reply[9]):
                return POSITIVE, question
            rtype, owner = _authority_owner(reply, question)
            if rtype == _NS:
                return REFERRAL, b"R" + owner
            return POSITIVE, question
        if rcode == 3:
            return NXDOMAIN, b"N" + _authority_owner(reply, question)[1]
    except (IndexError, ValueError):  # not our reply's shape: count it with the errors
        pass
    return ERROR, b"E"


def truncated(reply: bytes, question: bytes) -> bytes:
    """The slipped form of a reply: same ID, flags and question, TC set, no records but
    the OPT (so the client retries over TCP with EDNS as before)."""
    ident, flags, qdcount, ancount, nscount, arcount = struct.unpack_from("!6H", reply)
    opt = b""
    try:
        qend = walk.question_end(reply, question)
        if arcount:  # our OPT is the last record
            start = walk.skip_records(reply, qend, ancount + nscount + arcount - 1)
            if reply[start] == 0 and reply[start + 1 : start + 3] == b"\x00\x29":
                opt = reply[start:]
    except IndexError:
        qdcount, qend = 0, 12
    head = struct.pack("!6H", ident, flags | 0x0200, qdcount, 0, 0, 1 if opt else 0)
    return head + reply[12:qend] + opt


class Held:
    """What a limited account held back, kept only while it is limited."""

    __slots__ = ("held", "last_held", "since", "slipped")

    def __init__(self, now: float) -> None:
        self.since = now  # when it started being limited
        self.last_held = now  # when it last held a reply back
        self.held = 0  # replies held back since it started being limited
        self.slipped = 0  # of those, sent truncated


Key = tuple[int, bytes]  # (prefix key, class name)


@dataclass(slots=True)
class Ended:
    """An account that stopped being limited (or was evicted while limited)."""

    key: Key
    held: int
    slipped: int
    seconds: float


class Table:
    """Every account, bounded: decide() per UDP reply, sweep() about once a second.

    An account is one float, its theoretical arrival time (GCRA, the token bucket's
    equivalent that needs no credit arithmetic): a reply at `now` is full when the account's
    time is at most `now` + 1 - 1/rate, and moves it 1/rate on. That is the bucket of the
    module docstring (capacity rate, refill rate a second) in a dict lookup, a comparison
    and a store per reply.
    """

    def __init__(self, settings: RateLimitSettings, max_accounts: int = MAX_ACCOUNTS) -> None:
        self.rates = rates = settings.rates()
        self.steps = tuple(1.0 / rate if rate else 0.0 for rate in rates)
        self.allowances = tuple(1.0 - step + EPSILON for step in self.steps)
        self.window = float(settings.window)
        self.slip = settings.slip
        self.max_accounts = max_accounts
        self.accounts: dict[Key, float] = {}  # oldest first (insertion order)
        self.limited: dict[Key, Held] = {}
        self.evicted: list[Ended] = []  # limited accounts pushed out; cleared by sweep
        self.evicted_count = 0  # how many since the last sweep (the list keeps a few)

    def decide(self, prefix: int, name: bytes, kind: int, now: float) -> int:
        """PASS, DROP or SLIP for one reply of this account at time now (seconds)."""
        step = self.steps[kind]
        if not step:
            return PASS
        key = (prefix, name)
        accounts = self.accounts
        due = accounts.get(key)
        if due is None:
            if len(accounts) >= self.max_accounts:
                self._evict()
            accounts[key] = now + step
            return PASS
        if due < now:
            due = now
        if due - now <= self.allowances[kind]:
            accounts[key] = due + step
            return PASS
        return self._hold(key, now)

    def _hold(self, key: Key, now: float) -> int:
        """A reply held back: dropped, or slipped every `slip`-th time."""
        held = self.limited.get(key)
        action = DROP
        if held is None:
            held = self.limited[key] = Held(now)
            action |= STARTED
        held.held += 1
        held.last_held = now
        slip = self.slip
        if slip and (held.held - 1) % slip == 0:
            held.slipped += 1
            action = (action & STARTED) | SLIP
        return action

    def _evict(self) -> None:
        """Push out the oldest 1/EVICT_SHARE of the table, limited accounts last: a
        spoofed flood should not free the accounts that hold a flood back. In batches,
        so the scan over the dict's front (its holes until the next resize) is paid
        once per batch, not per new account."""
        accounts, limited = self.accounts, self.limited
        batch = max(1, self.max_accounts // EVICT_SHARE)
        victims = list(islice((key for key in accounts if key not in limited), batch))
        if not victims:  # every account is limited: the oldest go anyway
            victims = list(islice(accounts, batch))
        for key in victims:
            del accounts[key]
            held = limited.pop(key, None)
            if held is not None:
                self.evicted_count += 1
                if len(self.evicted) < 100:
                    self.evicted.append(_ended(key, held))

    def sweep(self, now: float) -> list[Ended]:
        """Accounts that stopped being limited (no reply held back for `window` seconds,
        or evicted), and drop idle ones: an account whose time has come has a full
        bucket, the same as none."""
        ended, self.evicted = self.evicted, []
        for key, held in list(self.limited.items()):
            if now - held.last_held >= self.window:
                del self.limited[key]
                ended.append(_ended(key, held))
        limited = self.limited
        accounts = self.accounts
        for key in [k for k, due in accounts.items() if due <= now and k not in limited]:
            del accounts[key]
        return ended


def _ended(key: Key, held: Held) -> Ended:
    return Ended(key, held.held, held.slipped, held.last_held - held.since)


class LineBudget:
    """At most `per_second` log lines of a kind a second; the rest only counted, for one
    summary line."""

    def __init__(self, per_second: int = 5) -> None:
        self.per_second = per_second
        self.second = -1
        self.used = 0
        self.skipped = 0

    def allow(self, now: float) -> bool:
        second = int(now)
        if second != self.second:
            self.second, self.used = second, 0
        if self.used < self.per_second:
            self.used += 1
            return True
        self.skipped += 1
        return False

    def take_skipped(self) -> int:
        skipped, self.skipped = self.skipped, 0
        return skipped
