"""Every registered policy is one module, one test file and one docs page, named alike;
and every page's example is a real zone that answers what the page says (issue 11 item 4).

A policy's `name` (what explain, the query log and the metrics show) fixes the others:
module and page are the name with `_` for `-`, the class its words capitalised plus
`Policy`, the page's title starts with the name and shows its routing key.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import random
import re
from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest
import yaml
from dnslib import QTYPE, RCODE, DNSLabel

import policies
from healthcheck.view import FixedHealth
from policies import DEFAULT_KEY, REGISTRY, Client, LoadContext, Location, routing_keys
from policies.base import BasePolicy, Policy
from policies.regions import AWS_REGIONS
from resolver.query.engine import QueryContext, Resolver
from resolver.zones.check import load_zone_set
from tests.unit.policies.helpers import NEW_YORK, Cand, client

ROOT = Path(__file__).resolve().parents[3]
TESTS = Path(__file__).resolve().parent
DOCS = ROOT / "docs" / "policies"
# Files beside the policies' own that belong to no single policy.
SHARED_TESTS = {"test_registry.py", "test_base.py"}
SHARED_PAGES = {"README.md"}
# The routing keys of SPEC 4's record-set table ("none = simple"), one per policy of SPEC 5.
SPEC_KEYS = {"weight", "region", "failover", "geolocation", "geoproximity", "multivalue", "cidr"}

POLICIES = sorted(REGISTRY.values(), key=lambda p: p.name)


def stem(policy: type[Policy]) -> str:
    return policy.name.replace("-", "_")


def page(policy: type[Policy]) -> Path:
    return DOCS / f"{stem(policy)}.md"


def by_name(param: type[Policy]) -> str:
    return param.name


class TestRegistry:
    def test_keys_are_the_spec_routing_keys(self):
        """Every routing key SPEC 4 lists selects a policy, and nothing else does."""
        assert set(routing_keys()) == SPEC_KEYS
        assert set(REGISTRY) == SPEC_KEYS | {DEFAULT_KEY}
        assert REGISTRY[DEFAULT_KEY].name == "simple"

    def test_every_policy_class_is_registered(self):
        """A policy class in a module of the package that forgot `register` is caught."""
        for module in pkgutil.iter_modules(policies.__path__):
            loaded = importlib.import_module(f"policies.{module.name}")
            for _, cls in inspect.getmembers(loaded, inspect.isclass):
                if issubclass(cls, BasePolicy) and cls is not BasePolicy:
                    assert REGISTRY.get(cls.key) is cls, f"{cls.__qualname__} is not registered"

    @pytest.mark.parametrize("policy", POLICIES, ids=by_name)
    def test_module_and_class_follow_the_name(self, policy: type[Policy]):
        """policies/<name>.py holds <Name>Policy, named after what the policy reports."""
        assert policy.__module__ == f"policies.{stem(policy)}"
        words = policy.name.split("-")
        assert policy.__name__ == "".join(w.capitalize() for w in words) + "Policy"

    @pytest.mark.parametrize("policy", POLICIES, ids=by_name)
    def test_declares_dynamic_and_random(self, policy: type[Policy]):
        """Whether an answer can change, and whether by chance, is the policy's own word."""
        for flag in ("dynamic", "random"):
            assert isinstance(vars(policy).get(flag), bool), f"{policy.__name__}.{flag}"
        assert policy.dynamic or not policy.random

    @pytest.mark.parametrize("policy", POLICIES, ids=by_name)
    def test_has_its_test_file(self, policy: type[Policy]):
        assert (TESTS / f"test_{stem(policy)}.py").is_file()

    @pytest.mark.parametrize("policy", POLICIES, ids=by_name)
    def test_has_its_docs_page(self, policy: type[Policy]):
        """docs/policies/<name>.md, titled with the name and the routing key."""
        assert page(policy).is_file()
        title = page(policy).read_text().splitlines()[0]
        assert title.startswith("# ")
        assert title[2:].split()[0].lower() == policy.name
        if policy.key == DEFAULT_KEY:
            assert "(no routing key)" in title
        else:
            assert f"(`{policy.key}" in title

    def test_no_test_file_or_page_without_a_policy(self):
        """A test file or page left behind by a renamed or removed policy is caught."""
        stems = {stem(p) for p in POLICIES}
        tests = {p.name for p in TESTS.glob("test_*.py")} - SHARED_TESTS
        assert tests == {f"test_{s}.py" for s in stems}
        pages = {p.name for p in DOCS.glob("*.md")} - SHARED_PAGES
        assert pages == {f"{s}.md" for s in stems}


@dataclass(frozen=True)
class Example:
    zone: str
    answers: list[str]

    @property
    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load(self.zone)
        return loaded


def example(policy: type[Policy]) -> Example:
    text = page(policy).read_text()
    blocks = re.findall(r"^```(\w+)\n(.*?)^```$", text, re.S | re.M)
    zones = [body for kind, body in blocks if kind == "yaml"]
    answers = [body for kind, body in blocks if kind == "answers"]
    assert len(zones) == 1 and len(answers) == 1, "one yaml and one answers block per page"
    return Example(zones[0], [line for line in answers[0].splitlines() if line.strip()])


ANSWER = re.compile(
    r"(?P<name>\S+) (?P<type>\S+) from (?P<client>\S+)"
    r"(?: at (?P<where>.+?))?(?: with (?P<down>\S+) down)?"
    r" -> (?P<answer>.+?)(?: \(scope /(?P<scope>\d+)\))?$"
)


def where_from(text: str | None, prefix: int) -> Location:
    """`NA/US/CA`, `LAT,LON` or both: where the page says the client is."""
    if text is None:
        return Location()
    codes: list[str | None] = [None, None, None]
    lat = lon = None
    for part in text.split():
        if "," in part:
            lat, lon = (float(x) for x in part.split(","))
        else:
            found = part.split("/")
            codes[: len(found)] = found
    return Location(codes[0], codes[1], codes[2], lat, lon, "docs", prefix)


def asking(line: str) -> tuple[Any, Client, FixedHealth]:
    match = ANSWER.fullmatch(line)
    assert match, f"not an answers line: {line!r}"
    net = ip_network(match["client"], strict=False)
    from_ecs = "/" in match["client"]
    address = ip_address(match["client"].split("/")[0])
    where = where_from(match["where"], net.prefixlen)
    who = Client(address, net.prefixlen, from_ecs, locate=lambda _c: where)
    down = FixedHealth({check: False for check in (match["down"] or "").split(",") if check})
    return match, who, down


@pytest.mark.parametrize("policy", POLICIES, ids=by_name)
def test_docs_example_answers_as_the_page_says(policy: type[Policy], tmp_path: Path):
    """The page's zone loads as a real zone, and each query gets the answer the page shows."""
    found = example(policy)
    (tmp_path / "example.yaml").write_text(found.zone)
    resolver = Resolver(load_zone_set([str(tmp_path)]))
    assert found.answers, "the page shows no answers"
    for line in found.answers:
        match, who, health = asking(line)
        ctx = QueryContext(who, health, random.Random(7))
        result = resolver.resolve(DNSLabel(match["name"]), int(getattr(QTYPE, match["type"])), ctx)
        assert result.rcode == RCODE.NOERROR, line
        got = sorted(str(rr.rdata) for rr in result.answer)
        expected = [] if match["answer"] == "NODATA" else sorted(match["answer"].split())
        assert got == expected, line
        if match["scope"] is not None:
            assert result.scope == int(match["scope"]), line


def samples(policy: type[Policy]) -> list[Cand]:
    """The page example's record sets of this policy, parsed as the zone loader would."""
    data = example(policy).data
    collections = {
        name: {loc: tuple(ip_network(b) for b in blocks) for loc, blocks in locations.items()}
        for name, locations in data.get("cidr_collections", {}).items()
    }
    regions = {name: (r.latitude, r.longitude) for name, r in AWS_REGIONS.items()}
    ctx = LoadContext(regions=regions, cidr_collections=collections)
    out = []
    for items in data["records"].values():
        for item in items:
            keys = [k for k in routing_keys() if k in item]
            if keys == ([] if policy.key == DEFAULT_KEY else [policy.key]):
                params, reasons = policy.parse(item.get(policy.key), ctx)
                assert reasons == [], reasons
                out.append(Cand(str(item.get("set_id", "sample")), params))
    return out


@pytest.mark.parametrize("policy", POLICIES, ids=by_name)
@pytest.mark.parametrize(
    "who",
    [client(NEW_YORK, address="10.1.2.3"), client(Location(), address=None)],
    ids=["located", "unlocated"],
)
def test_describe_returns_text(policy: type[Policy], who: Client):
    """Every registered policy explains each candidate of its page's example in words."""
    cands = samples(policy)
    assert cands, "the page's example has no record set of this policy"
    for cand in cands:
        text = policy.describe(cand, who)
        assert isinstance(text, str)
        assert text.strip()
