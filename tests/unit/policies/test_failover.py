"""Failover routing (SPEC 5): primary, secondary, last resort."""

from __future__ import annotations

import random

import pytest

from policies.failover import FailoverPolicy
from tests.unit.policies.helpers import (
    Cand,
    client,
    group,
    health,
    only,
    parsed,
    rejected,
    select,
)


class TestFailoverPolicy:
    def pair(self) -> list[Cand]:
        return group(FailoverPolicy, ("backup", "secondary"), ("main", "primary"))

    def test_primary_when_healthy(self):
        """A healthy primary answers, wherever it is listed."""
        cands = self.pair()
        sel = select(FailoverPolicy, cands)
        assert only(cands, sel) == "main"
        assert not sel.degraded
        assert sel.scope == 0

    def test_secondary_when_primary_unhealthy(self):
        """An unhealthy primary fails over to the secondary."""
        cands = self.pair()
        sel = select(FailoverPolicy, cands, down=(1,))
        assert only(cands, sel) == "backup"
        assert not sel.degraded
        assert sel.dropped == (1,)

    def test_primary_when_both_unhealthy(self):
        """Both unhealthy: the primary answers, flagged degraded."""
        cands = self.pair()
        sel = select(FailoverPolicy, cands, down=(0, 1))
        assert only(cands, sel) == "main"
        assert sel.degraded

    def test_primary_only_group(self):
        """A group with only a primary answers with it, healthy or not."""
        cands = group(FailoverPolicy, ("main", "primary"))
        assert only(cands, select(FailoverPolicy, cands)) == "main"
        sel = select(FailoverPolicy, cands, down=(0,))
        assert only(cands, sel) == "main"
        assert sel.degraded

    def test_set_without_health_check_counts_healthy(self):
        """A secondary without a health check (never unhealthy) takes over from a failed primary."""
        cands = self.pair()

        def unchecked_secondary(i: int) -> bool:
            return cands[i].set_id != "main"  # the primary's check fails; the secondary has none

        sel = FailoverPolicy.select(cands, client(), unchecked_secondary, random.Random(1234))
        assert only(cands, sel) == "backup"
        assert not sel.degraded

    def test_check_group_rejects_two_primaries(self):
        """At most one primary and one secondary."""
        assert FailoverPolicy.check_group(["primary", "secondary"]) == []
        assert FailoverPolicy.check_group(["primary", "primary"])
        assert FailoverPolicy.check_group(["secondary", "secondary", "primary"])

    @pytest.mark.parametrize(
        ("value", "role"), [("PRIMARY", "primary"), ("secondary", "secondary")]
    )
    def test_parse_accepts_roles_in_any_case(self, value, role):
        """Roles are case-insensitive."""
        assert parsed(FailoverPolicy, value) == role

    @pytest.mark.parametrize("bad", ["tertiary", "", True, 1, None])
    def test_parse_rejects_other_roles(self, bad):
        """Only primary and secondary are roles."""
        rejected(FailoverPolicy, bad)

    def test_lists_no_odds(self):
        """Only a choice made by health and chance alone may be drawn from a list."""
        assert FailoverPolicy.odds([], health()) is None
