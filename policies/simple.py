"""Simple routing: the one record set of a name and type, whatever its health."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from random import Random
from typing import Any, ClassVar

from policies.base import (
    DEFAULT_KEY,
    BasePolicy,
    Candidate,
    Client,
    LoadContext,
    Selection,
    register,
)


class SimplePolicy(BasePolicy):
    key: ClassVar[str] = DEFAULT_KEY  # a record set with no routing key
    name: ClassVar[str] = "simple"
    dynamic: ClassVar[bool] = False  # every set, every time: the answer is fixed
    random: ClassVar[bool] = False

    @classmethod
    def parse(cls, value: Any, ctx: LoadContext) -> tuple[Any, list[str]]:
        return None, []

    @classmethod
    def check_group(cls, routings: Sequence[Any]) -> list[str]:
        if len(routings) > 1:
            return [f"simple routing allows one record set per name and type, not {len(routings)}"]
        return []

    @classmethod
    def select(
        cls,
        candidates: Sequence[Candidate],
        client: Client,
        healthy: Callable[[int], bool],
        rng: Random,
    ) -> Selection:
        # Route 53 answers a simple record even when its health check fails: there is
        # nothing else to answer with. Degraded tells an evaluating alias it is down.
        everyone = tuple(range(len(candidates)))
        down = not any(healthy(i) for i in everyone)
        return Selection(
            everyone, degraded=down, reason="unhealthy, answered anyway" if down else ""
        )

    @classmethod
    def describe(cls, candidate: Candidate, client: Client) -> str:
        return "the only record set"


register(SimplePolicy)
