"""Geoproximity routing (SPEC 5): the smallest biased distance."""

from __future__ import annotations

import pytest

from policies import LoadContext, Location
from policies.geoproximity import GeoproximityPolicy
from policies.regions import great_circle_km
from tests.unit.policies.helpers import (
    NEW_YORK,
    REGIONS,
    client,
    group,
    only,
    parsed,
    rejected,
    select,
)


class TestGeoproximityPolicy:
    ORIGIN = Location(latitude=0.0, longitude=0.0, source="test", scope=24)

    def at(self, lon: float, bias: int = 0) -> dict:
        return {"coordinates": {"latitude": 0.0, "longitude": lon}, "bias": bias}

    def test_nearest_wins(self):
        """Without bias the nearest set answers."""
        cands = group(GeoproximityPolicy, ("far", self.at(15)), ("near", self.at(10)))
        sel = select(GeoproximityPolicy, cands, client(self.ORIGIN))
        assert only(cands, sel) == "near"
        assert sel.scope == 24

    def test_nearest_region_wins(self):
        """A client in New York is nearest to us-east-1 among built-in regions."""
        cands = group(
            GeoproximityPolicy,
            ("frankfurt", {"region": "eu-central-1"}),
            ("virginia", {"region": "us-east-1"}),
            ("oregon", {"region": "us-west-2"}),
        )
        assert only(cands, select(GeoproximityPolicy, cands, client(NEW_YORK))) == "virginia"

    def test_positive_bias_pulls_traffic(self):
        """A farther set with bias 50 wins when half its distance is below the nearer one's."""
        cands = group(GeoproximityPolicy, ("near", self.at(10)), ("far", self.at(15, 50)))
        d_near = great_circle_km(0, 0, 0, 10)
        d_far = great_circle_km(0, 0, 0, 15)
        assert d_far > d_near > d_far * (1 - 0.5)
        assert only(cands, select(GeoproximityPolicy, cands, client(self.ORIGIN))) == "far"

    def test_negative_bias_pushes_traffic(self):
        """A nearer set with bias -50 loses when its doubled distance exceeds the farther one's."""
        cands = group(GeoproximityPolicy, ("near", self.at(10, -50)), ("far", self.at(15)))
        d_near = great_circle_km(0, 0, 0, 10)
        d_far = great_circle_km(0, 0, 0, 15)
        assert d_near / (1 - 0.5) > d_far > d_near
        assert only(cands, select(GeoproximityPolicy, cands, client(self.ORIGIN))) == "far"

    @pytest.mark.parametrize("bias", [0, 25, 99, -25, -99])
    def test_biased_distance_formula(self, bias):
        """Biased distance is d*(1-b/100) for b >= 0 and d/(1+b/100) for b < 0."""
        point = parsed(
            GeoproximityPolicy,
            {"coordinates": {"latitude": 50.11, "longitude": 8.68}, "bias": bias},
        )
        d = great_circle_km(40.7, -74.0, 50.11, 8.68)
        expected = d * (1 - bias / 100) if bias >= 0 else d / (1 + bias / 100)
        assert point.biased_km((40.7, -74.0)) == pytest.approx(expected)

    def test_biased_distance_decides_between_regions(self):
        """The set with the smallest biased distance wins, using region coordinates."""
        virginia, frankfurt = REGIONS["us-east-1"], REGIONS["eu-central-1"]
        where = Location(latitude=48.9, longitude=-30.0, scope=24)  # mid-Atlantic
        d_va = great_circle_km(48.9, -30.0, *virginia)
        d_fra = great_circle_km(48.9, -30.0, *frankfurt)
        for bias in (-40, 0, 40):
            cands = group(
                GeoproximityPolicy,
                ("virginia", {"region": "us-east-1", "bias": bias}),
                ("frankfurt", {"region": "eu-central-1"}),
            )
            biased_va = d_va * (1 - bias / 100) if bias >= 0 else d_va / (1 + bias / 100)
            expected = "virginia" if biased_va < d_fra else "frankfurt"
            assert only(cands, select(GeoproximityPolicy, cands, client(where))) == expected

    def test_unhealthy_nearest_falls_to_next_nearest(self):
        """An unhealthy nearest set gives way to the next nearest."""
        cands = group(
            GeoproximityPolicy, ("a", self.at(10)), ("b", self.at(20)), ("c", self.at(30))
        )
        sel = select(GeoproximityPolicy, cands, client(self.ORIGIN), down=(0,))
        assert only(cands, sel) == "b"
        assert not sel.degraded

    def test_all_unhealthy_answers_nearest_degraded(self):
        """Every set unhealthy: the smallest biased distance answers, degraded."""
        cands = group(GeoproximityPolicy, ("b", self.at(20)), ("a", self.at(10, 10)))
        sel = select(GeoproximityPolicy, cands, client(self.ORIGIN), down=(0, 1))
        assert only(cands, sel) == "a"
        assert sel.degraded

    @pytest.mark.parametrize(
        "bad",
        [
            {"region": "us-east-1", "bias": 100},
            {"region": "us-east-1", "bias": -100},
            {"region": "us-east-1", "bias": 1.5},
            {"region": "us-east-1", "bias": True},
            {"region": "mars-north-1"},
            {"region": "us-east-1", "coordinates": {"latitude": 1.0, "longitude": 2.0}},
            {"coordinates": {"latitude": 91, "longitude": 0}},
            {"coordinates": {"latitude": 0, "longitude": 181}},
            {"coordinates": {"latitude": 0}},
            {"bias": 10},
            {"region": "us-east-1", "radius": 5},
        ],
    )
    def test_parse_rejects_bad_values(self, bad):
        """Bias outside -99..99 or fractional, unknown regions, both or neither location."""
        rejected(GeoproximityPolicy, bad)

    def test_custom_region_from_context(self):
        """A region declared in the config (the LoadContext) parses; unknown elsewhere."""
        lab = {"region": "lab", "bias": 10}
        rejected(GeoproximityPolicy, lab)
        point = parsed(GeoproximityPolicy, lab, LoadContext(regions={"lab": (40.7, -74.0)}))
        assert (point.latitude, point.longitude) == (40.7, -74.0)
        assert point.bias == 10
