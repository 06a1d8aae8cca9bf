"""Routing policies in isolation (SPEC 5): parse, check_group, select and describe."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from typing import Any

import pytest

from policies import REGISTRY, Client, Latencies, LoadContext, Location, Selection
from policies.base import choose_one
from policies.failover import FailoverPolicy
from policies.geolocation import GeolocationPolicy
from policies.geoproximity import GeoproximityPolicy
from policies.ipbased import IpBasedPolicy
from policies.latency import LatencyPolicy
from policies.multivalue import MultivaluePolicy
from policies.regions import AWS_REGIONS, great_circle_km
from policies.simple import SimplePolicy
from policies.weighted import WeightedPolicy

REGIONS = {name: (r.latitude, r.longitude) for name, r in AWS_REGIONS.items()}
COLLECTIONS = {
    "offices": {
        "hq": (ip_network("10.1.0.0/16"), ip_network("2001:db8:1::/48")),
        "lab": (ip_network("10.1.2.0/24"),),
        "branch": (ip_network("10.2.0.0/16"),),
    },
    "partners": {"acme": (ip_network("192.0.2.0/24"),)},
}
CTX = LoadContext(regions=REGIONS, cidr_collections=COLLECTIONS)

FRANKFURT = Location("EU", "DE", "HE", 50.11, 8.68, "test", 24)
NEW_YORK = Location("NA", "US", "NY", 40.7, -74.0, "test", 24)


@dataclass(frozen=True)
class Cand:
    set_id: str
    routing: Any


def parsed(policy: Any, value: Any, ctx: LoadContext = CTX) -> Any:
    params, reasons = policy.parse(value, ctx)
    assert reasons == [], reasons
    return params


def rejected(policy: Any, value: Any, ctx: LoadContext = CTX) -> list[str]:
    params, reasons = policy.parse(value, ctx)
    assert params is None
    assert reasons
    return reasons


def group(policy: Any, *pairs: tuple[str, Any]) -> list[Cand]:
    return [Cand(set_id, parsed(policy, value)) for set_id, value in pairs]


def health(*unhealthy: int):
    down = set(unhealthy)
    return lambda i: i not in down


def client(
    where: Location | None = None,
    latencies: Latencies | None = None,
    address: str | None = "192.0.2.1",
    prefix: int | None = None,
) -> Client:
    addr = ip_address(address) if address is not None else None
    if prefix is None:
        prefix = 0 if addr is None else (32 if addr.version == 4 else 128)
    return Client(
        addr,
        prefix,
        locate=lambda _c: where if where is not None else Location(),
        latency=lambda _c: latencies,
    )


def select(policy: Any, cands: list[Cand], who: Client | None = None, down=(), seed=1234):
    return policy.select(cands, who or client(), health(*down), random.Random(seed))


def ids(cands: list[Cand], sel: Selection) -> list[str]:
    return [cands[i].set_id for i in sel.chosen]


def only(cands: list[Cand], sel: Selection) -> str:
    assert len(sel.chosen) == 1, sel
    return cands[sel.chosen[0]].set_id


def tally(policy: Any, cands: list[Cand], n: int, down=(), who: Client | None = None) -> Counter:
    rng = random.Random(1234)
    healthy = health(*down)
    who = who or client()
    counts: Counter = Counter()
    for _ in range(n):
        counts[only(cands, policy.select(cands, who, healthy, rng))] += 1
    return counts


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


class TestWeightedPolicy:
    def test_distribution_follows_weights(self):
        """Over 10,000 seeded picks a 70/30 split lands within three points of the weights."""
        cands = group(WeightedPolicy, ("a", 70), ("b", 30))
        counts = tally(WeightedPolicy, cands, 10_000)
        assert abs(counts["a"] / 10_000 - 0.70) <= 0.03
        assert abs(counts["b"] / 10_000 - 0.30) <= 0.03

    def test_unhealthy_set_leaves_the_denominator(self):
        """With 10/20/20 and the third unhealthy, the first gets about a third of the traffic."""
        cands = group(WeightedPolicy, ("a", 10), ("b", 20), ("c", 20))
        counts = tally(WeightedPolicy, cands, 10_000, down=(2,))
        assert counts["c"] == 0
        assert abs(counts["a"] / 10_000 - 1 / 3) <= 0.03

    def test_unhealthy_never_chosen_while_healthy_positive_exists(self):
        """Unhealthy sets and zero-weight sets lose while a healthy positive-weight set exists."""
        cands = group(WeightedPolicy, ("a", 70), ("b", 30), ("zero", 0))
        counts = tally(WeightedPolicy, cands, 2_000, down=(0,))
        assert counts == Counter({"b": 2_000})

    def test_healthy_zero_weight_sets_take_over_with_equal_chance(self):
        """All positive-weight sets unhealthy: healthy zero-weight sets share traffic equally."""
        cands = group(WeightedPolicy, ("a", 70), ("b", 30), ("z1", 0), ("z2", 0), ("z3", 0))
        counts = tally(WeightedPolicy, cands, 9_000, down=(0, 1, 4))
        assert set(counts) == {"z1", "z2"}
        assert abs(counts["z1"] / 9_000 - 0.5) <= 0.03
        sel = select(WeightedPolicy, cands, down=(0, 1, 4))
        assert not sel.degraded

    def test_all_unhealthy_last_resort_is_still_weighted(self):
        """Everything unhealthy: chosen as if all were healthy, by weight, flagged degraded."""
        cands = group(WeightedPolicy, ("a", 70), ("b", 30), ("zero", 0))
        counts = tally(WeightedPolicy, cands, 10_000, down=(0, 1, 2))
        assert counts["zero"] == 0
        assert abs(counts["a"] / 10_000 - 0.70) <= 0.03
        sel = select(WeightedPolicy, cands, down=(0, 1, 2))
        assert sel.degraded
        assert len(sel.chosen) == 1

    @pytest.mark.parametrize(
        ("weights", "down"),
        [
            ((70, 30), ()),
            ((10, 20, 20), (2,)),
            ((70, 30, 0), (0,)),
            ((70, 30, 0, 0, 0), (0, 1, 4)),
            ((70, 30, 0), (0, 1, 2)),
            ((0, 0, 0, 0), ()),
            ((0, 5), (1,)),
        ],
    )
    def test_odds_match_what_select_draws(self, weights, down):
        """The listed odds are the distribution select() draws from, for every health case:
        same support, and each share within three points over 10,000 draws."""
        cands = group(WeightedPolicy, *((f"s{i}", w) for i, w in enumerate(weights)))
        odds = WeightedPolicy.odds(cands, health(*down))
        total = sum(weight for _, weight in odds)
        expected = {cands[chosen[0]].set_id: weight / total for chosen, weight in odds}
        counts = tally(WeightedPolicy, cands, 10_000, down=down)
        assert set(counts) == set(expected)
        for set_id, share in expected.items():
            assert abs(counts[set_id] / 10_000 - share) <= 0.03, (set_id, counts)

    def test_policies_that_look_at_the_client_list_no_odds(self):
        """Only a choice made by health and chance alone may be drawn from a list."""
        assert GeolocationPolicy.odds([], health()) is None
        assert MultivaluePolicy.odds([], health()) is None
        assert FailoverPolicy.odds([], health()) is None

    def test_all_zero_weights_equal_chance(self):
        """All weights 0: every set is chosen with equal chance."""
        cands = group(WeightedPolicy, ("a", 0), ("b", 0), ("c", 0), ("d", 0))
        counts = tally(WeightedPolicy, cands, 10_000)
        assert set(counts) == {"a", "b", "c", "d"}
        for set_id in "abcd":
            assert abs(counts[set_id] / 10_000 - 0.25) <= 0.03

    def test_same_seed_same_choice(self):
        """The choice depends only on the RNG it is given."""
        cands = group(WeightedPolicy, ("a", 1), ("b", 1), ("c", 1))
        picks = [only(cands, select(WeightedPolicy, cands, seed=s)) for s in range(20)]
        again = [only(cands, select(WeightedPolicy, cands, seed=s)) for s in range(20)]
        assert picks == again
        assert len(set(picks)) > 1

    @pytest.mark.parametrize("bad", [-1, 256, "10", True, 1.5, None])
    def test_parse_rejects_bad_weights(self, bad):
        """Weights must be integers 0..255, not strings, booleans or floats."""
        rejected(WeightedPolicy, bad)

    @pytest.mark.parametrize("good", [0, 1, 255])
    def test_parse_accepts_range_bounds(self, good):
        """0 and 255 are valid weights."""
        assert parsed(WeightedPolicy, good) == good

    def test_scope_is_zero(self):
        """A weighted answer does not depend on the client, so its scope is 0."""
        cands = group(WeightedPolicy, ("a", 70), ("b", 30))
        who = client(NEW_YORK, address="10.1.2.3", prefix=24)
        assert select(WeightedPolicy, cands, who).scope == 0
        assert select(WeightedPolicy, cands, who, down=(0, 1)).scope == 0


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


class TestIpBasedPolicy:
    def cands(self, *locations: str) -> list[Cand]:
        return group(
            IpBasedPolicy,
            *((loc, {"collection": "offices", "location": loc}) for loc in locations),
        )

    def full(self) -> list[Cand]:
        return self.cands("hq", "lab", "branch", "*")

    @pytest.mark.parametrize(
        ("address", "expected"),
        [
            ("10.1.2.5", "lab"),
            ("10.1.9.9", "hq"),
            ("10.2.0.1", "branch"),
            ("2001:db8:1::5", "hq"),
            ("2001:db8:2::5", "*"),
            ("192.0.2.1", "*"),
        ],
    )
    def test_longest_prefix_wins(self, address, expected):
        """The longest block holding the client wins, IPv4 and IPv6; else the '*' location."""
        cands = self.full()
        assert only(cands, select(IpBasedPolicy, cands, client(address=address))) == expected

    def test_client_subnet_shorter_than_block_does_not_match(self):
        """A /8 client subnet does not match the /16 hq block, so '*' answers."""
        cands = self.full()
        sel = select(IpBasedPolicy, cands, client(address="10.1.0.0", prefix=8))
        assert only(cands, sel) == "*"

    def test_client_subnet_inside_block_matches(self):
        """A /24 client subnet inside hq (and outside lab) matches hq."""
        cands = self.full()
        sel = select(IpBasedPolicy, cands, client(address="10.1.9.0", prefix=24))
        assert only(cands, sel) == "hq"

    def test_no_match_and_no_default_is_nodata(self):
        """No block matches and there is no '*' location: empty selection (NODATA)."""
        cands = self.cands("hq", "lab")
        sel = select(IpBasedPolicy, cands, client(address="192.0.2.1"))
        assert sel.chosen == ()
        assert not sel.degraded

    def test_unhealthy_best_falls_to_next_longest_then_default(self):
        """An unhealthy best match gives way to the next longest match, then to '*'."""
        cands = self.full()
        who = client(address="10.1.2.5")
        assert only(cands, select(IpBasedPolicy, cands, who, down=(1,))) == "hq"
        sel = select(IpBasedPolicy, cands, who, down=(0, 1))
        assert only(cands, sel) == "*"
        assert sel.dropped == (1, 0)
        assert not sel.degraded

    def test_all_matching_unhealthy_answers_best_degraded(self):
        """Every candidate for the client unhealthy: the best match answers, degraded."""
        cands = self.full()
        sel = select(IpBasedPolicy, cands, client(address="10.1.2.5"), down=(0, 1, 2, 3))
        assert only(cands, sel) == "lab"
        assert sel.degraded

    def test_scope_is_block_prefix_without_nesting(self):
        """A match on a block with nothing nested inside holds for the whole block."""
        cands = self.full()
        assert select(IpBasedPolicy, cands, client(address="10.2.0.1")).scope == 16
        assert select(IpBasedPolicy, cands, client(address="10.1.2.5")).scope == 24
        assert select(IpBasedPolicy, cands, client(address="2001:db8:1::5")).scope == 48

    def test_scope_is_client_prefix_when_block_has_nested_block(self):
        """hq contains lab, so an hq answer holds only for the client's own prefix."""
        cands = self.full()
        assert select(IpBasedPolicy, cands, client(address="10.1.9.9")).scope == 32
        assert select(IpBasedPolicy, cands, client(address="10.1.9.0", prefix=24)).scope == 24

    def test_scope_nesting_only_counts_group_locations(self):
        """Without lab in the group, hq answers for its whole /16."""
        cands = self.cands("hq", "*")
        assert select(IpBasedPolicy, cands, client(address="10.1.2.5")).scope == 16

    def test_scope_is_client_prefix_for_default(self):
        """The '*' answer holds for the client's prefix."""
        cands = self.full()
        assert select(IpBasedPolicy, cands, client(address="192.0.2.1")).scope == 32
        assert select(IpBasedPolicy, cands, client(address="10.1.0.0", prefix=8)).scope == 8

    def test_scope_zero_without_client_address(self):
        """A client without an address gets '*' with scope 0."""
        cands = self.full()
        sel = select(IpBasedPolicy, cands, client(address=None))
        assert only(cands, sel) == "*"
        assert sel.scope == 0

    @pytest.mark.parametrize(
        "bad",
        [
            {"collection": "nowhere", "location": "hq"},
            {"collection": "offices", "location": "moon"},
            {"collection": "offices"},
            {"collection": "offices", "location": "hq", "extra": 1},
            "offices",
        ],
    )
    def test_parse_rejects_unknown_collection_or_location(self, bad):
        """The collection and location must exist in the LoadContext."""
        rejected(IpBasedPolicy, bad)

    def test_parse_accepts_default_location(self):
        """'*' is a location of every collection, with no blocks."""
        place = parsed(IpBasedPolicy, {"collection": "offices", "location": "*"})
        assert place.blocks == ()

    def test_check_group_rejects_two_collections(self):
        """All sets of a group use one collection."""
        hq = parsed(IpBasedPolicy, {"collection": "offices", "location": "hq"})
        acme = parsed(IpBasedPolicy, {"collection": "partners", "location": "acme"})
        assert IpBasedPolicy.check_group([hq]) == []
        assert IpBasedPolicy.check_group([hq, acme])

    def test_check_group_rejects_duplicate_location(self):
        """A location may answer for only one set of a group."""
        hq = parsed(IpBasedPolicy, {"collection": "offices", "location": "hq"})
        star = parsed(IpBasedPolicy, {"collection": "offices", "location": "*"})
        assert IpBasedPolicy.check_group([hq, star]) == []
        assert IpBasedPolicy.check_group([hq, star, hq])
        assert IpBasedPolicy.check_group([star, star])


SAMPLES = {
    "simple": None,
    "weight": 10,
    "failover": "primary",
    "region": "us-east-1",
    "geolocation": {"country": "US"},
    "geoproximity": {"region": "us-east-1", "bias": 10},
    "multivalue": True,
    "cidr": {"collection": "offices", "location": "hq"},
}


class TestEveryPolicy:
    @pytest.mark.parametrize("key", sorted(REGISTRY))
    @pytest.mark.parametrize(
        "who",
        [client(NEW_YORK, address="10.1.2.3"), client(Location(), address=None)],
        ids=["located", "unlocated"],
    )
    def test_describe_returns_text(self, key, who):
        """Every registered policy explains a sample candidate in a non-empty string."""
        assert key in SAMPLES, f"add a sample value for policy {key!r}"
        policy = REGISTRY[key]
        text = policy.describe(Cand("sample", parsed(policy, SAMPLES[key])), who)
        assert isinstance(text, str)
        assert text.strip()
