"""IP-based routing (SPEC 5, routing key cidr): the longest prefix match."""

from __future__ import annotations

import pytest

from policies.ip_based import IpBasedPolicy
from tests.unit.policies.helpers import (
    Cand,
    client,
    group,
    only,
    parsed,
    rejected,
    select,
)


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
