"""Failover routing: the primary while healthy, else the secondary; both down, the primary."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from random import Random
from typing import Any, ClassVar

from policies.base import (
    BasePolicy,
    Candidate,
    Client,
    LoadContext,
    Selection,
    choose_by_rule,
    register,
)

ROLES = ("primary", "secondary")


class FailoverPolicy(BasePolicy):
    key: ClassVar[str] = "failover"
    name: ClassVar[str] = "failover"
    dynamic: ClassVar[bool] = True  # the answer depends on health
    random: ClassVar[bool] = False

    @classmethod
    def parse(cls, value: Any, ctx: LoadContext) -> tuple[Any, list[str]]:
        role = str(value).lower() if isinstance(value, str) else None
        if role not in ROLES:
            return None, [f"failover must be primary or secondary, not {value!r}"]
        return role, []

    @classmethod
    def check_group(cls, routings: Sequence[Any]) -> list[str]:
        return [
            f"more than one failover {role} ({routings.count(role)})"
            for role in ROLES
            if routings.count(role) > 1
        ]

    @classmethod
    def select(
        cls,
        candidates: Sequence[Candidate],
        client: Client,
        healthy: Callable[[int], bool],
        rng: Random,
    ) -> Selection:
        order = sorted(range(len(candidates)), key=lambda i: ROLES.index(candidates[i].routing))

        def pick(remaining: list[int]) -> int | None:
            return next((i for i in order if i in remaining), None)

        return choose_by_rule(len(candidates), pick, healthy)

    @classmethod
    def describe(cls, candidate: Candidate, client: Client) -> str:
        return str(candidate.routing)


register(FailoverPolicy)
