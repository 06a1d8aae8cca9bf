"""Simple routing (SPEC 5): the one record set, whatever its health."""

from __future__ import annotations

from policies.simple import SimplePolicy
from tests.unit.policies.helpers import (
    Cand,
    parsed,
    select,
)


class TestSimplePolicy:
    def test_returns_the_one_set(self):
        """The one record set is chosen, scope 0, not degraded."""
        cands = [Cand("only", parsed(SimplePolicy, None))]
        sel = select(SimplePolicy, cands)
        assert sel.chosen == (0,)
        assert sel.scope == 0
        assert not sel.degraded

    def test_unhealthy_only_set_is_still_chosen_degraded(self):
        """An unhealthy only set is still answered, flagged degraded."""
        cands = [Cand("only", parsed(SimplePolicy, None))]
        sel = select(SimplePolicy, cands, down=(0,))
        assert sel.chosen == (0,)
        assert sel.degraded

    def test_check_group_rejects_two_sets(self):
        """Simple routing allows exactly one record set per name and type."""
        assert SimplePolicy.check_group([None]) == []
        assert SimplePolicy.check_group([None, None])
