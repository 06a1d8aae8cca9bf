"""The loop every single-answer policy shares (policies/base.py, SPEC 5)."""

from __future__ import annotations

from policies import Selection
from policies.base import choose_one
from tests.unit.policies.helpers import (
    health,
)


class TestChooseOne:
    def test_first_healthy_pick_wins(self):
        """The first pick that is healthy is chosen, with nothing dropped and no degradation."""
        sel = choose_one(3, lambda rem: rem[0], lambda: 0, health())
        assert sel == Selection((0,), 0, False, ())

    def test_unhealthy_picks_are_dropped_in_order(self):
        """Unhealthy picks are dropped in the order they were made and the next healthy wins."""
        order = [2, 0, 1]
        sel = choose_one(
            3, lambda rem: next(i for i in order if i in rem), lambda: 2, health(2, 0), scope=24
        )
        assert sel.chosen == (1,)
        assert sel.dropped == (2, 0)
        assert not sel.degraded
        assert sel.scope == 24

    def test_falls_back_to_last_resort_when_nothing_healthy(self):
        """With every pick unhealthy the last resort answers, flagged degraded."""
        sel = choose_one(3, lambda rem: rem[-1], lambda: 1, health(0, 1, 2))
        assert sel.chosen == (1,)
        assert sel.degraded
        assert sel.dropped == (2, 1, 0)

    def test_no_pick_and_no_last_resort_is_empty(self):
        """When the rule picks nothing and there is no last resort the selection is empty."""
        sel = choose_one(2, lambda rem: None, lambda: None, health())
        assert sel.chosen == ()
        assert not sel.degraded
        assert sel.dropped == ()

    def test_pick_is_only_offered_remaining_candidates(self):
        """Each repeated pick sees the candidates left after the dropped ones."""
        seen: list[list[int]] = []

        def pick(rem: list[int]) -> int:
            seen.append(list(rem))
            return rem[0]

        choose_one(3, pick, lambda: None, health(0, 1))
        assert seen == [[0, 1, 2], [1, 2], [2]]
