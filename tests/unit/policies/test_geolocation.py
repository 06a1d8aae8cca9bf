"""Geolocation routing (SPEC 5): the most specific match for the client."""

from __future__ import annotations

import pytest

from policies import Location
from policies.geolocation import GeolocationPolicy
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


class TestGeolocationPolicy:
    SETS = (
        ("california", {"country": "US", "subdivision": "CA"}),
        ("us", {"country": "US"}),
        ("america", {"continent": "NA"}),
        ("europe", {"continent": "EU"}),
        ("default", {"country": "*"}),
    )

    def cands(self) -> list[Cand]:
        return group(GeolocationPolicy, *self.SETS)

    @pytest.mark.parametrize(
        ("where", "expected"),
        [
            (Location("NA", "US", "CA", scope=24), "california"),
            (Location("NA", "US", "TX", scope=24), "us"),
            (Location("NA", "CA", "QC", scope=24), "america"),
            (Location("EU", "FR", None, scope=24), "europe"),
            (Location("AS", "JP", None, scope=24), "default"),
        ],
    )
    def test_most_specific_match_wins(self, where, expected):
        """Subdivision beats country beats continent beats the default."""
        cands = self.cands()
        sel = select(GeolocationPolicy, cands, client(where))
        assert only(cands, sel) == expected
        assert not sel.degraded

    def test_known_country_unknown_subdivision_matches_country(self):
        """A client whose subdivision is unknown matches its country's set."""
        cands = self.cands()
        sel = select(GeolocationPolicy, cands, client(Location("NA", "US", None, scope=24)))
        assert only(cands, sel) == "us"

    def test_unhealthy_best_falls_back_to_less_specific(self):
        """Each unhealthy match falls back to the next less specific matching set."""
        cands = self.cands()
        who = Location("NA", "US", "CA", scope=24)
        assert only(cands, select(GeolocationPolicy, cands, client(who), down=(0,))) == "us"
        assert only(cands, select(GeolocationPolicy, cands, client(who), down=(0, 1))) == "america"
        sel = select(GeolocationPolicy, cands, client(who), down=(0, 1, 2))
        assert only(cands, sel) == "default"
        assert sel.dropped == (0, 1, 2)
        assert not sel.degraded

    def test_last_resort_is_most_specific_match(self):
        """No matching set healthy: the most specific matching set answers, degraded."""
        cands = self.cands()
        who = Location("NA", "US", "CA", scope=24)
        sel = select(GeolocationPolicy, cands, client(who), down=(0, 1, 2, 3, 4))
        assert only(cands, sel) == "california"
        assert sel.degraded

    def test_no_match_and_no_default_is_nodata(self):
        """Nothing matches and there is no default: empty selection (NODATA)."""
        cands = group(GeolocationPolicy, *self.SETS[:4])
        sel = select(GeolocationPolicy, cands, client(Location("AS", "JP", None, scope=24)))
        assert sel.chosen == ()

    def test_unknown_location_matches_only_default(self):
        """A client whose location is unknown gets the default, and nothing without one."""
        cands = self.cands()
        assert only(cands, select(GeolocationPolicy, cands, client(Location()))) == "default"
        assert only(cands, select(GeolocationPolicy, cands, client(address=None))) == "default"
        no_default = group(GeolocationPolicy, *self.SETS[:4])
        assert select(GeolocationPolicy, no_default, client(Location())).chosen == ()

    def test_scope_is_location_scope(self):
        """The ECS scope is the prefix over which the client's location holds."""
        cands = self.cands()
        where = Location("EU", "FR", None, scope=20)
        assert select(GeolocationPolicy, cands, client(where, prefix=24)).scope == 20

    def test_scope_zero_for_default_only_group(self):
        """A group with only a default does not depend on the client: scope 0."""
        cands = group(GeolocationPolicy, ("default", {"country": "*"}))
        sel = select(GeolocationPolicy, cands, client(Location("EU", "FR", scope=24)))
        assert only(cands, sel) == "default"
        assert sel.scope == 0

    @pytest.mark.parametrize(
        "bad",
        [
            {"continent": "XX"},
            {"country": "ZZ"},
            {"country": "US", "subdivision": "ZZ"},
            {"continent": "EU", "country": "DE"},
            {"subdivision": "CA"},
            {"continent": "*"},
            {"country": "*", "subdivision": "CA"},
            {"city": "Paris"},
            {},
            "US",
        ],
    )
    def test_parse_rejects_bad_locations(self, bad):
        """Unknown codes, mixed continent and country, orphan subdivisions and misplaced '*'."""
        rejected(GeolocationPolicy, bad)

    @pytest.mark.parametrize(
        "good",
        [
            {"country": "*"},
            {"continent": "AN"},
            {"country": "de"},
            {"country": "US", "subdivision": "CA"},
            {"country": "DE", "subdivision": "BY"},
            {"country": "GB", "subdivision": "SCT"},
        ],
    )
    def test_parse_accepts_real_locations(self, good):
        """Real continents, countries, ISO 3166-2 subdivisions and the default parse."""
        parsed(GeolocationPolicy, good)

    def test_non_us_subdivision_matches(self):
        """A German subdivision set matches a client located in that subdivision."""
        cands = group(
            GeolocationPolicy,
            ("bavaria", {"country": "DE", "subdivision": "BY"}),
            ("germany", {"country": "DE"}),
        )
        who = client(Location("EU", "DE", "BY", scope=24))
        assert only(cands, select(GeolocationPolicy, cands, who)) == "bavaria"

    def test_check_group_rejects_same_location_twice(self):
        """Two sets with the same location, however spelled, are an error."""
        us = parsed(GeolocationPolicy, {"country": "US"})
        us_lower = parsed(GeolocationPolicy, {"country": "us"})
        star = parsed(GeolocationPolicy, {"country": "*"})
        assert GeolocationPolicy.check_group([us, star]) == []
        assert GeolocationPolicy.check_group([us, us_lower])
        assert GeolocationPolicy.check_group([star, us, star])

    def test_lists_no_odds(self):
        """Only a choice made by health and chance alone may be drawn from a list."""
        assert GeolocationPolicy.odds([], health()) is None
