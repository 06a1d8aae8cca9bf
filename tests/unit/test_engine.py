"""The query engine against a zone set loaded from YAML, without sockets."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from dnslib import QTYPE, RCODE, DNSLabel

from healthcheck.view import AllHealthy, FixedHealth
from policies import Client
from resolver.query.engine import Resolver
from resolver.query.result import QueryContext
from resolver.zones.check import load_zone_set

ZONE = """
zone: example.test
ttl: 60
health_checks:
  web: {type: http, target: 127.0.0.1, port: 18080}
  db: {type: tcp, target: 127.0.0.1, port: 15432}
records:
  www: [{type: A, values: [192.0.2.1], health_check: web}]
  db: [{type: A, values: [192.0.2.2], health_check: db}]
  plain: [{type: A, values: [192.0.2.3]}]
  eth: [{type: A, alias: {target: www, evaluate_target_health: true}}]
  noeth: [{type: A, alias: {target: www, evaluate_target_health: false}}]
  both: [{type: A, alias: {target: eth, evaluate_target_health: true}, health_check: db}]
  unchecked: [{type: A, alias: {target: plain, evaluate_target_health: true}}]
"""


@pytest.fixture
def resolver(tmp_path: Path) -> Resolver:
    (tmp_path / "z.yaml").write_text(ZONE)
    return Resolver(load_zone_set([str(tmp_path)]))


def ctx(health=None) -> QueryContext:
    return QueryContext(Client(None, 0), health or AllHealthy(), random.Random(7))


def record_set(resolver: Resolver, name: str):
    labels = tuple(label.encode() for label in f"{name}.example.test".split("."))
    group = resolver.zone_set.group(labels, int(QTYPE.A))
    assert group is not None
    return group.sets[0]


class TestAliasHealth:
    def test_eth_alias_takes_target_health(self, resolver: Resolver):
        """With evaluate_target_health an alias is unhealthy when its target's check fails."""
        down = ctx(FixedHealth({"web": False}))
        result = resolver.resolve(DNSLabel("x.example.test"), int(QTYPE.A), down)
        assert not resolver.healthy(record_set(resolver, "eth"), down, result)
        assert resolver.healthy(record_set(resolver, "eth"), ctx(), result)

    def test_alias_without_eth_ignores_target_health(self, resolver: Resolver):
        """Without evaluate_target_health the target's failing check does not matter."""
        down = ctx(FixedHealth({"web": False}))
        result = resolver.resolve(DNSLabel("x.example.test"), int(QTYPE.A), down)
        assert resolver.healthy(record_set(resolver, "noeth"), down, result)

    def test_own_check_and_target_both_count(self, resolver: Resolver):
        """An alias with its own check and ETH needs both to pass, through alias chains."""
        s = record_set(resolver, "both")
        result = resolver.resolve(DNSLabel("x.example.test"), int(QTYPE.A), ctx())
        assert resolver.healthy(s, ctx(), result)
        assert not resolver.healthy(s, ctx(FixedHealth({"db": False})), result)
        assert not resolver.healthy(s, ctx(FixedHealth({"web": False})), result)
        assert result.checks == {"db", "web"}

    def test_target_without_check_is_healthy(self, resolver: Resolver):
        """A target record set with no health check counts as healthy."""
        result = resolver.resolve(DNSLabel("x.example.test"), int(QTYPE.A), ctx())
        assert resolver.healthy(record_set(resolver, "unchecked"), ctx(FixedHealth({})), result)


class TestAnswers:
    def test_alias_answers_with_owner_and_target_ttl(self, resolver: Resolver):
        """An alias answer carries the queried owner name and the target's TTL and values."""
        result = resolver.resolve(DNSLabel("Both.example.test"), int(QTYPE.A), ctx())
        assert result.rcode == RCODE.NOERROR
        assert [(str(rr.rname), rr.ttl, str(rr.rdata)) for rr in result.answer] == [
            ("Both.example.test.", 60, "192.0.2.1")
        ]

    def test_simple_answers_even_when_unhealthy(self, resolver: Resolver):
        """Simple routing has nothing else to offer, so it answers with a failing check."""
        result = resolver.resolve(
            DNSLabel("www.example.test"), int(QTYPE.A), ctx(FixedHealth({"web": False}))
        )
        assert [str(rr.rdata) for rr in result.answer] == ["192.0.2.1"]

    def test_outside_zones_is_refused(self, resolver: Resolver):
        """A name in no loaded zone is REFUSED and not authoritative."""
        result = resolver.resolve(DNSLabel("example.org"), int(QTYPE.A), ctx())
        assert result.rcode == RCODE.REFUSED and not result.authoritative
