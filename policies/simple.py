"""Simple routing: the one record set of a name and type, whatever its health."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from policies.base import Candidate, Client, Selection, register


class SimplePolicy:
    name: ClassVar[str] = "simple"

    @classmethod
    def parse(cls, value: Any) -> tuple[Any, list[str]]:
        return None, []

    @classmethod
    def check_group(cls, routings: Sequence[Any]) -> list[str]:
        if len(routings) > 1:
            return [
                f"simple routing allows one record set per name and type, found {len(routings)}"
            ]
        return []

    @classmethod
    def select(
        cls,
        candidates: Sequence[Candidate],
        client: Client,
        healthy: Callable[[int], bool],
        rng: random.Random,
    ) -> Selection:
        # Route 53 answers a simple record even when its health check fails: there is
        # nothing else to answer with.
        return Selection(chosen=tuple(range(len(candidates))), reason="simple")


register(SimplePolicy)
