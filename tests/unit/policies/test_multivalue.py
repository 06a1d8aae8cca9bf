"""Multivalue answer routing (SPEC 5): up to eight healthy sets."""

from __future__ import annotations

import pytest

from policies.multivalue import MultivaluePolicy
from tests.unit.policies.helpers import (
    Cand,
    health,
    parsed,
    rejected,
    select,
)


class TestMultivaluePolicy:
    def cands(self, n: int) -> list[Cand]:
        return [Cand(f"s{i}", parsed(MultivaluePolicy, True)) for i in range(n)]

    def test_all_healthy_when_few(self):
        """Fewer than eight healthy sets: all of them, each once."""
        cands = self.cands(5)
        sel = select(MultivaluePolicy, cands)
        assert sorted(sel.chosen) == [0, 1, 2, 3, 4]
        assert not sel.degraded
        assert sel.scope == 0

    def test_twelve_healthy_gives_exactly_eight_distinct(self):
        """Twelve healthy sets answer with exactly eight distinct ones."""
        cands = self.cands(12)
        for seed in range(20):
            sel = select(MultivaluePolicy, cands, seed=seed)
            assert len(sel.chosen) == 8
            assert len(set(sel.chosen)) == 8

    def test_which_eight_varies(self):
        """Across seeds, every one of twelve sets gets its turn."""
        cands = self.cands(12)
        seen = set()
        for seed in range(50):
            seen.update(select(MultivaluePolicy, cands, seed=seed).chosen)
        assert seen == set(range(12))

    def test_order_is_shuffled(self):
        """The order of the answer varies across seeds."""
        cands = self.cands(4)
        orders = {select(MultivaluePolicy, cands, seed=seed).chosen for seed in range(30)}
        assert len(orders) > 1
        assert all(sorted(o) == [0, 1, 2, 3] for o in orders)

    def test_unhealthy_never_included_while_any_healthy(self):
        """Only healthy sets answer while at least one is healthy, even fewer than eight."""
        cands = self.cands(10)
        for seed in range(20):
            sel = select(MultivaluePolicy, cands, down=(0, 1, 2, 3, 4, 5, 6), seed=seed)
            assert sorted(sel.chosen) == [7, 8, 9]
            assert not sel.degraded
        sel = select(MultivaluePolicy, cands, down=tuple(range(9)))
        assert sel.chosen == (9,)

    def test_none_healthy_answers_up_to_eight_unhealthy(self):
        """No healthy set: up to eight of the unhealthy ones, degraded."""
        cands = self.cands(10)
        sel = select(MultivaluePolicy, cands, down=tuple(range(10)))
        assert len(sel.chosen) == 8
        assert len(set(sel.chosen)) == 8
        assert sel.degraded
        few = self.cands(3)
        sel = select(MultivaluePolicy, few, down=(0, 1, 2))
        assert sorted(sel.chosen) == [0, 1, 2]
        assert sel.degraded

    @pytest.mark.parametrize("bad", [False, "yes", "true", 1, None])
    def test_parse_rejects_anything_but_true(self, bad):
        """multivalue takes only the boolean true."""
        rejected(MultivaluePolicy, bad)

    def test_lists_no_odds(self):
        """Only a choice made by health and chance alone may be drawn from a list."""
        assert MultivaluePolicy.odds([], health()) is None
