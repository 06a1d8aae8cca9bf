"""Weighted routing (SPEC 5): parse, select, odds and scope."""

from __future__ import annotations

from collections import Counter

import pytest

from policies.weighted import WeightedPolicy
from tests.unit.policies.helpers import (
    NEW_YORK,
    client,
    group,
    health,
    only,
    parsed,
    rejected,
    select,
    tally,
)


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
