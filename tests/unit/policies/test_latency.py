"""Latency routing (SPEC 5, routing key region): the lowest round-trip time."""

from __future__ import annotations

import pytest

from policies import Latencies, LoadContext, Location
from policies.latency import LatencyPolicy
from tests.unit.policies.helpers import (
    FRANKFURT,
    NEW_YORK,
    Cand,
    client,
    group,
    only,
    parsed,
    rejected,
    select,
)


class TestLatencyPolicy:
    def cands(self) -> list[Cand]:
        return group(
            LatencyPolicy,
            ("use1", "us-east-1"),
            ("euc1", "eu-central-1"),
            ("apse1", "ap-southeast-1"),
        )

    def test_nearest_region_has_lowest_estimated_rtt(self):
        """Without measurements the RTT is estimated from distance: Frankfurt gets eu-central-1."""
        cands = self.cands()
        assert only(cands, select(LatencyPolicy, cands, client(FRANKFURT))) == "euc1"
        assert only(cands, select(LatencyPolicy, cands, client(NEW_YORK))) == "use1"

    def test_measured_latencies_override_estimate(self):
        """A measured table wins over the distance estimate."""
        cands = self.cands()
        table = Latencies({"us-east-1": 5, "eu-central-1": 40}, "10.0.0.0/8", 8)
        sel = select(LatencyPolicy, cands, client(FRANKFURT, table))
        assert only(cands, sel) == "use1"

    def test_unhealthy_best_falls_to_next_best(self):
        """An unhealthy best region gives way to the next best."""
        cands = self.cands()
        sel = select(LatencyPolicy, cands, client(FRANKFURT), down=(1,))
        assert only(cands, sel) == "use1"
        assert sel.dropped == (1,)
        assert not sel.degraded

    def test_all_unhealthy_answers_best_degraded(self):
        """Every region unhealthy: the best one answers, degraded."""
        cands = self.cands()
        sel = select(LatencyPolicy, cands, client(FRANKFURT), down=(0, 1, 2))
        assert only(cands, sel) == "euc1"
        assert sel.degraded

    def test_unknown_location_answers_first_listed(self):
        """An unlocated client without measurements gets the first listed set."""
        cands = list(reversed(self.cands()))
        assert only(cands, select(LatencyPolicy, cands, client(Location()))) == "apse1"
        assert only(cands, select(LatencyPolicy, cands, client(address=None))) == "apse1"

    def test_check_group_rejects_duplicate_region(self):
        """Two sets of a group may not name the same region."""
        use1, euc1 = parsed(LatencyPolicy, "us-east-1"), parsed(LatencyPolicy, "eu-central-1")
        assert LatencyPolicy.check_group([use1, euc1]) == []
        assert LatencyPolicy.check_group([use1, euc1, use1])

    @pytest.mark.parametrize("bad", ["mars-north-1", "", 5, None])
    def test_parse_rejects_unknown_region(self, bad):
        """Only built-in or configured regions are accepted."""
        rejected(LatencyPolicy, bad)

    def test_parse_accepts_configured_region(self):
        """A region declared in the LoadContext parses."""
        point = parsed(LatencyPolicy, "lab", LoadContext(regions={"lab": (40.7, -74.0)}))
        assert point.region == "lab"

    def test_scope_from_measured_table(self):
        """With a measured table the scope is the table entry's scope."""
        cands = self.cands()
        table = Latencies({"us-east-1": 5, "eu-central-1": 40, "ap-southeast-1": 200}, "n", 16)
        assert select(LatencyPolicy, cands, client(FRANKFURT, table)).scope == 16

    def test_scope_from_location_without_table(self):
        """Without a measured table the scope is the location's scope."""
        cands = self.cands()
        assert select(LatencyPolicy, cands, client(FRANKFURT)).scope == 24

    def test_scope_from_location_when_table_lacks_group_regions(self):
        """A table that measures none of the group's regions leaves the location's scope."""
        cands = self.cands()
        table = Latencies({"sa-east-1": 120}, "10.0.0.0/8", 8)
        sel = select(LatencyPolicy, cands, client(FRANKFURT, table))
        assert only(cands, sel) == "euc1"  # decided by the location (estimated distance)
        assert sel.scope == FRANKFURT.scope
