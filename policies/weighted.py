"""Weighted routing: one record set at random, in proportion to its weight (0-255)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from random import Random
from typing import Any, ClassVar

from policies.base import (
    BasePolicy,
    Candidate,
    Client,
    LoadContext,
    Odds,
    Selection,
    choose_by_rule,
    is_int,
    register,
)


class WeightedPolicy(BasePolicy):
    key: ClassVar[str] = "weight"
    name: ClassVar[str] = "weighted"
    dynamic: ClassVar[bool] = True  # the answer depends on health and chance
    random: ClassVar[bool] = True

    @classmethod
    def parse(cls, value: Any, ctx: LoadContext) -> tuple[Any, list[str]]:
        if not is_int(value) or not 0 <= value <= 255:
            return None, [f"weight must be an integer 0..255, not {value!r}"]
        return value, []

    @classmethod
    def select(
        cls,
        candidates: Sequence[Candidate],
        client: Client,
        healthy: Callable[[int], bool],
        rng: Random,
    ) -> Selection:
        weights = [c.routing for c in candidates]

        def pick(remaining: list[int]) -> int | None:
            positive = [i for i in remaining if weights[i] > 0]
            if positive:
                return rng.choices(positive, [weights[i] for i in positive])[0]
            # No positive weight left healthy (or all weights are 0): equal chance.
            return rng.choice(remaining)

        return choose_by_rule(len(candidates), pick, healthy)

    @classmethod
    def odds(cls, candidates: Sequence[Candidate], healthy: Callable[[int], bool]) -> Odds:
        """What `select` amounts to: drawing again after an unhealthy pick is drawing
        among the healthy sets by weight; with no positive weight healthy, equal chances
        among the healthy; with none healthy, the same rule over all sets."""
        everyone = range(len(candidates))
        pool = [i for i in everyone if healthy(i)] or list(everyone)
        positive = [i for i in pool if candidates[i].routing > 0]
        if positive:
            return tuple(((i,), float(candidates[i].routing)) for i in positive)
        return tuple(((i,), 1.0) for i in pool)

    @classmethod
    def describe(cls, candidate: Candidate, client: Client) -> str:
        return f"weight {candidate.routing}"


register(WeightedPolicy)
