"""Multivalue answer: up to eight healthy record sets at random, one value each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from random import Random
from typing import Any, ClassVar

from policies.base import BasePolicy, Candidate, Client, LoadContext, Selection, register

MAX_ANSWERS = 8


class MultivaluePolicy(BasePolicy):
    key: ClassVar[str] = "multivalue"
    name: ClassVar[str] = "multivalue"
    single_value: ClassVar[bool] = True
    allows_alias: ClassVar[bool] = False  # Route 53 has no multivalue alias records
    dynamic: ClassVar[bool] = True  # the answer depends on health and chance
    random: ClassVar[bool] = True

    @classmethod
    def parse(cls, value: Any, ctx: LoadContext) -> tuple[Any, list[str]]:
        if value is not True:
            return None, [f"multivalue must be true, not {value!r}"]
        return True, []

    @classmethod
    def select(
        cls,
        candidates: Sequence[Candidate],
        client: Client,
        healthy: Callable[[int], bool],
        rng: Random,
    ) -> Selection:
        everyone = list(range(len(candidates)))
        up = [i for i in everyone if healthy(i)]
        down = tuple(i for i in everyone if i not in up)
        if up:
            return Selection(tuple(rng.sample(up, min(MAX_ANSWERS, len(up)))), dropped=down)
        # None healthy: answer with some anyway rather than nothing (Route 53 does the same).
        chosen = tuple(rng.sample(everyone, min(MAX_ANSWERS, len(everyone))))
        return Selection(chosen, degraded=True, dropped=down, reason="last resort: none healthy")

    @classmethod
    def describe(cls, candidate: Candidate, client: Client) -> str:
        return "one of the multivalue answers"


register(MultivaluePolicy)
