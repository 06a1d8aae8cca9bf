"""Which TCP connections may stay (RFC 7766 section 6.2.2), and how refusals are logged.

Pure bookkeeping with the time passed in, so the decisions are unit-testable; the
listener in transport.py does the I/O. A refusal is something a flood makes happen
thousands of times a second, so it must cost a counter, never a log line each.
"""

from __future__ import annotations

from collections import Counter

# Event counter families (declared in resolver.metrics.EVENT_FAMILIES).
REFUSED_FAMILY = "policydns_tcp_connections_refused"  # label reason: the cap
TIMED_OUT_FAMILY = "policydns_tcp_connections_timed_out"  # label reason: which timeout
# Why a connection was closed at accept: the label values of the refusal counter.
MAX_CONNECTIONS = "max_connections"
MAX_PER_CLIENT = "max_per_client"
# Seconds between refusal log lines: the first refusal is logged, later ones summed up.
LOG_INTERVAL = 10.0


class Admission:
    """Open connections overall and per client address, against the two caps.

    Holds one entry per address with an open connection, so at most max_connections
    entries whatever the clients do; an address leaves when its last connection closes.
    """

    def __init__(self) -> None:
        self.total = 0
        self.per_client: dict[str, int] = {}

    def admit(self, peer: str, max_connections: int, max_per_client: int) -> str | None:
        """Take a slot for peer and return None, or return why not (the caps are passed
        in each time: a reload may change them; open connections are never cut)."""
        if self.total >= max_connections:
            return MAX_CONNECTIONS
        held = self.per_client.get(peer, 0)
        if held >= max_per_client:
            return MAX_PER_CLIENT
        self.per_client[peer] = held + 1
        self.total += 1
        return None

    def release(self, peer: str) -> None:
        """Give back the slot an admitted connection of peer held."""
        held = self.per_client.get(peer, 0)
        if held <= 1:
            self.per_client.pop(peer, None)
        else:
            self.per_client[peer] = held - 1
        self.total = max(0, self.total - 1)


class RefusalLog:
    """At most one log line per LOG_INTERVAL about refused connections.

    The first refusal after a quiet interval is logged as it happens (with the peer and
    the cap); refusals in the following interval are only counted, and `due` turns them
    into one summary line once the interval is over.
    """

    def __init__(self, interval: float = LOG_INTERVAL) -> None:
        self.interval = interval
        self.quiet_until = float("-inf")  # no line before this time
        self.pending: Counter[str] = Counter()  # reason -> refusals not yet logged

    def refused(self, reason: str, peer: str, cap: int, now: float) -> str | None:
        """Note one refusal; the line to log now, if any."""
        if now < self.quiet_until:
            self.pending[reason] += 1
            return None
        if self.pending:  # an interval's worth was waiting for its summary: this joins it
            self.pending[reason] += 1
            return self._summary(now)
        self.quiet_until = now + self.interval
        return (
            f"TCP connection from {peer} refused: {reason} ({cap}) reached; "
            f"further refusals are summarised every {self.interval:g} s"
        )

    def due(self, now: float) -> str | None:
        """The summary of the refusals counted but not logged, once it may be logged."""
        if not self.pending or now < self.quiet_until:
            return None
        return self._summary(now)

    def _summary(self, now: float) -> str:
        counts = ", ".join(f"{reason} {n}" for reason, n in sorted(self.pending.items()))
        total = sum(self.pending.values())
        self.pending.clear()
        self.quiet_until = now + self.interval
        return f"refused {total} more TCP connections at a cap ({counts})"
