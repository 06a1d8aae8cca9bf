"""Health state as pure data and pure transitions (SPEC 6), kept free of I/O so it is testable.

The checker feeds probe results in here and publishes the outcome; nothing in this module
knows about sockets, clocks or DNS. Times are passed in as wall-clock floats.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"


def status_name(healthy: bool) -> str:
    return HEALTHY if healthy else UNHEALTHY


@dataclass(frozen=True, slots=True)
class Override:
    """A manual override (healthcheck.override): the forced state, who set it (a token's
    name or "local") and when (wall clock)."""

    state: bool
    who: str
    at: float

    def as_dict(self) -> dict[str, Any]:
        return {"state": status_name(self.state), "who": self.who, "at": self.at}


@dataclass(slots=True)
class CheckState:
    """What one check currently says, and the evidence collected towards changing it.

    `last_result` is the raw probe outcome (before `invert`) so an operator can see what
    the target actually did; `streak` counts consecutive results that disagree with
    `healthy` and resets on any agreeing result.
    """

    healthy: bool
    since: float
    last_checked: float | None = None
    last_result: bool | None = None
    reason: str = "not checked yet"
    streak: int = 0
    # The latest probe that failed (before invert), and when: Route 53's
    # GetHealthCheckLastFailureReason.
    last_failure: str | None = None
    last_failure_at: float | None = None
    # A manual override: what is published while it is set.
    override: Override | None = None

    @classmethod
    def new(cls, now: float, invert: bool = False) -> CheckState:
        """A new check starts healthy; an inverted one starts unhealthy (SPEC 6)."""
        return cls(healthy=not invert, since=now)

    @property
    def status(self) -> str:
        return status_name(self.healthy)

    @property
    def effective(self) -> bool:
        """What answers and calculated parents see: the override where set, else `healthy`."""
        return self.healthy if self.override is None else self.override.state

    def apply(
        self, ok: bool, reason: str, *, failure_threshold: int, invert: bool, now: float
    ) -> bool:
        """Record one probe result; flip after `failure_threshold` opposite results in a row.

        The threshold applies in both directions so a flapping target does not flap the
        answers. Returns True when the state changed.
        """
        self.last_checked = now
        self.last_result = ok
        self.reason = f"{reason} (inverted)" if invert else reason
        if not ok:
            self.last_failure, self.last_failure_at = reason, now
        if (ok != invert) == self.healthy:
            self.streak = 0
            return False
        self.streak += 1
        if self.streak < failure_threshold:
            return False
        self.healthy = not self.healthy
        self.since = now
        self.streak = 0
        return True

    def set(self, healthy: bool, reason: str, now: float) -> bool:
        """Set a derived (calculated) state directly; returns True when it changed."""
        self.last_checked = now
        self.last_result = healthy
        self.reason = reason
        if healthy == self.healthy:
            return False
        self.healthy = healthy
        self.since = now
        return True

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape the HTTP API serves (SPEC 9).

        `status` is what answers follow (the override while one is set); `probed` is what
        the probes say, so an operator draining a backend still sees whether it is up.
        """
        return {
            "status": status_name(self.effective),
            "probed": self.status,
            "since": self.since,
            "last_checked": self.last_checked,
            "last_result": self.last_result,
            "reason": self.reason,
            "override": None if self.override is None else self.override.as_dict(),
        }


def calculated_health(
    healthy_threshold: int, children: Iterable[bool], invert: bool = False
) -> tuple[bool, str]:
    """Healthy iff at least `healthy_threshold` children are healthy (0: always, before invert).

    Calculated checks take no failure_threshold: their children already applied theirs.
    """
    states = list(children)
    up = sum(states)
    healthy = up >= healthy_threshold
    reason = f"{up} of {len(states)} children healthy (need {healthy_threshold})"
    if invert:
        return not healthy, f"{reason} (inverted)"
    return healthy, reason


class HealthSnapshot:
    """An immutable health view: check id -> healthy, frozen at one instant.

    A new snapshot replaces the old one on every change, so a query that holds one sees a
    consistent picture however many checks flip meanwhile. Unknown ids read as healthy,
    like `FixedHealth`.
    """

    __slots__ = ("_states", "version")

    _states: Mapping[str, bool]
    version: int

    def __init__(self, states: Mapping[str, bool], version: int = 0) -> None:
        object.__setattr__(self, "_states", MappingProxyType(dict(states)))
        object.__setattr__(self, "version", version)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("HealthSnapshot is immutable")

    def is_healthy(self, check_id: str) -> bool:
        return self._states.get(check_id, True)

    @property
    def states(self) -> Mapping[str, bool]:
        return self._states

    def __repr__(self) -> str:
        return f"HealthSnapshot(version={self.version}, {dict(self._states)!r})"
