"""The read-only health view: what the query path may ask about checks.

The checker (a later issue) publishes a new view on every state change; until then every
check reads as healthy. Offline tools (`explain --health`) use a fixed map.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class HealthView(Protocol):
    def is_healthy(self, check_id: str) -> bool: ...


class AllHealthy:
    """Every check healthy: the state before any probe has run."""

    def is_healthy(self, check_id: str) -> bool:
        return True


class FixedHealth:
    """Health from a map of check id to bool; unknown ids read as healthy."""

    def __init__(self, states: Mapping[str, bool]) -> None:
        self._states = dict(states)

    def is_healthy(self, check_id: str) -> bool:
        return self._states.get(check_id, True)
