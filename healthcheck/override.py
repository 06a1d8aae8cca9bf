"""Manual health overrides as pure data (issue 15): an operator forces a check's answer.

The probe still runs underneath, so `status` and `reason` stay what the target did; only
the published health (what answers and calculated parents see) follows the override.
"""

from __future__ import annotations

from healthcheck.state import HEALTHY, UNHEALTHY, Override, status_name

__all__ = ["Override", "describe", "parse_state"]

NONE = "none"
STATES = {HEALTHY: True, UNHEALTHY: False, NONE: None}


def parse_state(text: object) -> bool | None:
    """ "healthy" -> True, "unhealthy" -> False, "none" -> None; ValueError on anything else."""
    if not isinstance(text, str) or text not in STATES:
        raise ValueError('state must be "healthy", "unhealthy" or "none"')
    return STATES[text]


def describe(state: bool | None) -> str:
    return NONE if state is None else status_name(state)
