"""Issue 14: `import route53` of a realistic export passes `check`, serves what Route 53's
rules (ROUTE53.md) give for a set of client subnets, and `export route53` imports back to
the same zone; botocore's own validator accepts what export writes."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import pytest
import yaml
from botocore.validate import ParamValidator

from tests.dnshelp import addresses, ask
from tests.serverproc import REPO, ServerProcess, run_cli

pytestmark = pytest.mark.timeout(90)

FIXTURES = REPO / "tests" / "fixtures" / "route53"
COLLECTION = "4f9d7c1e-1111-4222-8333-944455556666"
CONFIG = """\
locations:
  10.1.0.0/16: {continent: NA, country: US, subdivision: CA, latitude: 37.4, longitude: -122.1}
  10.2.0.0/16: {continent: EU, country: DE, latitude: 50.1, longitude: 8.7}
  10.5.0.0/16: {continent: AS, country: JP, latitude: 35.7, longitude: 139.7}
"""
CLIENTS = {"CA": ("10.1.2.0", 24), "DE": ("10.2.3.0", 24), "JP": ("10.5.6.0", 24)}
UNLOCATED = ("10.9.9.0", 24)


def policydns(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, timeout=300)


def import_args(rrsets: Path, health: Path) -> list[str]:
    blocks = f"{COLLECTION}={FIXTURES / 'cidr-blocks.json'}"
    return ["import", "route53", str(rrsets), "--zone", "r53.example",
            "--health-checks", str(health), "--cidr-blocks", blocks]  # fmt: skip


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    base = tmp_path_factory.mktemp("r53import")
    done = policydns(
        *import_args(
            FIXTURES / "r53.example.rrsets.json", FIXTURES / "r53.example.health-checks.json"
        )
    )
    assert done.returncode == 0, done.stderr
    zone = base / "r53.example.yaml"
    zone.write_text(done.stdout)
    return zone, done.stderr


@pytest.fixture(scope="module")
def server(imported: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    base = tmp_path_factory.mktemp("r53serve")
    (base / "cfg.yaml").write_text(CONFIG)
    proc = ServerProcess(
        [
            "--config",
            str(base / "cfg.yaml"),
            "--zones",
            str(imported[0]),
            "--listen",
            "127.0.0.1:0",
            "--no-http",
        ]
    ).start(base / "server.log")
    yield proc
    proc.stop()


def test_everything_not_served_is_listed_with_its_record(imported: tuple[Path, str]) -> None:
    """The ELB alias, the Local Zone group, the collection without blocks and the
    CloudWatch check are named on stderr with their records; nothing vanishes."""
    stderr = imported[1]
    for what in (
        "elb.r53.example. A",
        "prox.r53.example. A [bue]",
        "ipb-lost.r53.example. A [rest]",
        "health check 0a1b2c3d-0000-4000-8000-000000000004",
    ):
        assert f"not imported: {what}" in stderr, stderr
    assert "4 not imported" in stderr
    assert "cw.r53.example. A: health check" in stderr  # kept, without its check
    assert '"v=spf1 include:_spf.example.net" " -all"' in stderr  # boundaries moved: noted


def test_imported_zone_passes_check(imported: tuple[Path, str]) -> None:
    done = policydns("check", "--zones", str(imported[0]))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("r53.example: ")


def distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km (SPEC 5: Route 53 does not say which metric)."""
    (la1, lo1), (la2, lo2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def biased(d: float, bias: int) -> float:
    """ROUTE53.md section 6: d*(1-b/100) for b > 0, d/(1+b/100) for b < 0."""
    return d * (1 - bias / 100) if bias >= 0 else d / (1 + bias / 100)


WHERE = {"CA": (37.4, -122.1), "DE": (50.1, 8.7), "JP": (35.7, 139.7)}
PROX = {"198.51.100.10": ((50.11, 8.68), -50), "198.51.100.11": ((40.71, -74.01), 0)}


def expected(name: str, client: str) -> set[str]:
    """The answer ROUTE53.md's rules give; inverted checks start unhealthy (SPEC 6)."""
    if name == "geo":  # smallest region wins; unlocated and unmatched get the default
        return {{"CA": "192.0.2.20", "DE": "192.0.2.10"}.get(client, "192.0.2.30")}
    if name == "lat":  # the nearest region's record (distance stands in for AWS latency)
        return {{"CA": "198.51.100.1", "DE": "198.51.100.2", "JP": "198.51.100.3"}[client]}
    if name == "prox":
        return {min(PROX, key=lambda v: biased(distance(WHERE[client], PROX[v][0]), PROX[v][1]))}
    if name in ("w", "r53.example", "fo"):  # weight 0 never answers while weight 1 is up;
        return {"203.0.113.1"}  # fo: the primary's check is down -> the secondary alias to w
    if name == "fo2":
        return {"203.0.113.20"}
    if name == "mv":  # every healthy record: mv-1's check is down, the calculated one up
        return {"203.0.113.32", "203.0.113.33"}
    if name == "ipb":  # the office block holds CA's subnet; the rest gets "*"
        return {"192.0.2.100" if client == "CA" else "192.0.2.101"}
    raise AssertionError(name)


@pytest.mark.parametrize(
    "name", ["geo", "lat", "prox", "w", "r53.example", "fo", "fo2", "mv", "ipb"]
)
@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_answers_follow_route53_rules(server: ServerProcess, name: str, client: str) -> None:
    qname = name if name.endswith("example") else f"{name}.r53.example"
    reply = ask(server, qname, ecs=CLIENTS[client])
    assert set(addresses(reply)) == expected(name, client), reply


def test_unlocated_client_gets_the_geolocation_default(server: ServerProcess) -> None:
    reply = ask(server, "geo.r53.example", ecs=UNLOCATED)
    assert addresses(reply) == ["192.0.2.30"]


def test_subnet_shorter_than_the_block_gets_the_default(server: ServerProcess) -> None:
    """ROUTE53.md section 8: a query prefix shorter than the block does not match it."""
    reply = ask(server, "ipb.r53.example", ecs=("10.0.0.0", 8))
    assert addresses(reply) == ["192.0.2.101"]


def test_wildcard_and_txt(server: ServerProcess) -> None:
    reply = ask(server, "x.wild.r53.example", "TXT")
    assert [b"".join(rd.strings) for rs in reply.answer for rd in rs] == [b"hello world"]


def test_export_validates_and_imports_back_to_the_same_zone(
    imported: tuple[Path, str], tmp_path: Path
) -> None:
    zone = imported[0]
    health = tmp_path / "hc.json"
    done = policydns("export", "route53", "r53.example", "--zones", str(zone),
                     "--health-checks-out", str(health))  # fmt: skip
    assert done.returncode == 0, done.stderr
    model = botocore.session.get_session().get_service_model("route53")
    for op, doc in (("ListResourceRecordSets", json.loads(done.stdout)),
                    ("ListHealthChecks", json.loads(health.read_text()))):  # fmt: skip
        report = ParamValidator().validate(doc, model.operation_model(op).output_shape)
        assert not report.has_errors(), report.generate_report()
    rrsets = tmp_path / "rrsets.json"
    rrsets.write_text(done.stdout)
    again = policydns(*import_args(rrsets, health))
    assert again.returncode == 0, again.stderr
    assert "not imported" not in again.stderr, again.stderr
    assert yaml.safe_load(again.stdout) == yaml.safe_load(zone.read_text())
