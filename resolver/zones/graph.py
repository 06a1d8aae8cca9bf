"""Cycle finding, the one way: alias and CNAME chains and calculated health checks both
refuse to load when they return to where they started."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def find_cycles(starts: Iterable[K], edges: Callable[[K], Iterable[K]]) -> list[list[K]]:
    """Every cycle a depth-first walk from `starts` meets, each as the path that closes on
    itself (`[a, b, a]`); one per edge that closes a cycle, in the order the walk meets
    them. Iterative, so a long chain cannot exhaust the interpreter's stack."""
    cycles: list[list[K]] = []
    state: dict[K, int] = {}  # 1 = on the path, 2 = done
    for start in starts:
        if start in state:
            continue
        state[start] = 1
        path = [start]
        pending: list[Iterator[K]] = [iter(edges(start))]
        while pending:
            for nxt in pending[-1]:
                if state.get(nxt) == 1:
                    cycles.append([*path[path.index(nxt) :], nxt])
                elif nxt not in state:
                    state[nxt] = 1
                    path.append(nxt)
                    pending.append(iter(edges(nxt)))
                    break
            else:
                state[path.pop()] = 2
                pending.pop()
    return cycles
