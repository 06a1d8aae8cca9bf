"""Health-check definitions: the plain data the checker probes by (SPEC 6).

Reading them from a zone file is the zone loader's job (resolver.zones.healthchecks); the
checker knows nothing of the file format.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One health check. Equal specs are the same probe, whatever their ids."""

    type: str
    target: str | None = None
    port: int | None = None
    path: str = "/"
    host: str | None = None
    search: str | None = None
    interval: float = 30.0
    timeout: float = 4.0
    failure_threshold: int = 3
    invert: bool = False
    children: tuple[str, ...] = ()
    healthy_threshold: int = 0
    # Route 53's Disabled: never probed and always healthy, inverted or not.
    disabled: bool = False
