"""The `route53:` config section as the server uses it: where the state lives, and the
access keys that may sign requests."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Route53Settings:
    state_dir: str
    # access key id -> secret access key, each secret read from its file at config load
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
