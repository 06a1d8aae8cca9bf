"""What the Route 53 API tests share: a real `policydns serve` with a `route53:` config,
its credentials, boto3 clients and the AWS CLI pointed at it, a health-check backend the
test can fail on command, and Route 53's listing order.

Everything is real: boto3/botocore sign and parse, the AWS CLI (v1, from PyPI) runs as a
subprocess, dig asks the DNS listener. Only loopback is used.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.config
from aiohttp import web

from tests.dnshelp import write_settled
from tests.serverproc import ServerProcess, run_cli

KEY_ID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"

# Client networks with a known location and measured latency, so that geolocation,
# geoproximity, latency and IP-based answers can be predicted for an ECS subnet.
LOCATIONS = {
    "10.1.0.0/16": "{continent: NA, country: US, subdivision: CA, "
    "latitude: 37.4, longitude: -122.1}",
    "10.2.0.0/16": "{continent: EU, country: DE, latitude: 50.1, longitude: 8.7}",
    "10.3.0.0/16": "{continent: NA, country: US, subdivision: NY, "
    "latitude: 40.7, longitude: -74.0}",
    "10.4.0.0/16": "{continent: AS, country: JP, latitude: 35.7, longitude: 139.7}",
}
LATENCY = {
    "10.1.0.0/16": "{us-west-1: 5, us-east-1: 70, eu-central-1: 150}",
    "10.2.0.0/16": "{us-west-1: 150, us-east-1: 90, eu-central-1: 5}",
    "10.3.0.0/16": "{us-west-1: 70, us-east-1: 5, eu-central-1: 90}",
}


def config_text(state_dir: Path, zones_dir: Path, secret_file: Path) -> str:
    """The server's YAML config: the operator's zones, client locations, and `route53:`."""
    lines = [f"zones: [{json.dumps(str(zones_dir))}]", "locations:"]
    lines += [f"  {net}: {loc}" for net, loc in LOCATIONS.items()]
    lines.append("latency:")
    lines += [f"  {net}: {rtt}" for net, rtt in LATENCY.items()]
    lines += [
        "route53:",
        f"  state_dir: {json.dumps(str(state_dir))}",
        "  credentials:",
        f"    {KEY_ID}: {json.dumps(str(secret_file))}",
        "",
    ]
    return "\n".join(lines)


OPERATOR_ZONE = "operator.test"
OPERATOR_ZONE_TEXT = f"""zone: {OPERATOR_ZONE}
ttl: 60
records:
  www: [{{type: A, values: [192.0.2.200]}}]
"""


@dataclass
class Route53Server:
    """A policydns with the Route 53 API on, in `root`; survives kill() + start()."""

    root: Path
    proc: ServerProcess | None = None
    http: int = 0
    starts: int = 0
    extra_args: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state_dir = self.root / "state"
        self.zones_dir = self.root / "zones"
        self.secret_file = self.root / "route53.secret"
        self.config = self.root / "policydns.yaml"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.zones_dir.mkdir(parents=True, exist_ok=True)
        self.secret_file.write_text(SECRET + "\n")
        self.secret_file.chmod(0o600)
        write_settled(self.zones_dir / f"{OPERATOR_ZONE}.yaml", OPERATOR_ZONE_TEXT)
        write_settled(self.config, config_text(self.state_dir, self.zones_dir, self.secret_file))
        # The AWS CLI must read no configuration of the machine it runs on.
        (self.root / "aws-config").write_text("")
        (self.root / "aws-credentials").write_text("")

    # -- the process ------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> Route53Server:
        """Start (or restart) the server on fresh ephemeral ports; wait for both listeners."""
        self.starts += 1
        args = ["--config", str(self.config), "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"]
        self.proc = ServerProcess([*args, *self.extra_args])
        self.proc.start(self.root / f"server-{self.starts}.log", timeout=timeout)
        self.http = self.proc.http_port(timeout=timeout)
        return self

    @property
    def host(self) -> str:
        assert self.proc is not None
        return self.proc.host

    @property
    def port(self) -> int:
        assert self.proc is not None
        return self.proc.port

    def kill(self) -> None:
        """SIGKILL our own child: no chance to flush or clean up."""
        assert self.proc is not None and self.proc.proc is not None
        self.proc.proc.send_signal(signal.SIGKILL)
        self.proc.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def log(self) -> str:
        return self.proc.log() if self.proc else ""

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http}"

    # -- clients ----------------------------------------------------------------------------

    def client(self, secret: str = SECRET, key_id: str = KEY_ID) -> Any:
        """A boto3 Route 53 client signing with key_id/secret; no retries, so a refused
        request fails at once instead of being retried four times."""
        return make_client(self.endpoint, key_id, secret)

    def cli_env(self, secret: str = SECRET) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=KEY_ID,
            AWS_SECRET_ACCESS_KEY=secret,
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE=str(self.root / "aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.root / "aws-credentials"),
            AWS_EC2_METADATA_DISABLED="true",
            AWS_MAX_ATTEMPTS="1",
            AWS_PAGER="",
        )
        return env

    def aws(self, *args: str, check: bool = True, secret: str = SECRET) -> Any:
        """Run `aws route53 ARGS --endpoint-url ...`; its JSON output (None if empty).
        With check=False, the CompletedProcess instead."""
        done = subprocess.run(
            [aws_program(), "route53", *args, "--endpoint-url", self.endpoint, "--output", "json"],
            capture_output=True,
            text=True,
            env=self.cli_env(secret),
            timeout=120,
        )
        if not check:
            return done
        if done.returncode != 0:
            raise AssertionError(
                f"aws route53 {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
            )
        return json.loads(done.stdout) if done.stdout.strip() else None

    def check_zones(self) -> subprocess.CompletedProcess[str]:
        """`policydns check` on the state directory's zone files (and the config)."""
        return run_cli("check", "--config", str(self.config), timeout=300)

    def check_zones_file(self, path: Path) -> subprocess.CompletedProcess[str]:
        """`policydns check --zones PATH`: a stored zone file must stand on its own."""
        return run_cli("check", "--zones", str(path), timeout=300)


def make_client(endpoint: str, key_id: str = KEY_ID, secret: str = SECRET) -> Any:
    """boto3's Route 53 client for endpoint, signing with key_id/secret."""
    return boto3.session.Session().client(
        "route53",
        endpoint_url=endpoint,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        region_name=REGION,
        config=botocore.config.Config(
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        ),
    )


def aws_program() -> str:
    """The AWS CLI v1 from PyPI: on PATH, or beside this Python."""
    found = shutil.which("aws") or shutil.which("aws", path=str(Path(sys.executable).parent))
    assert found, "the AWS CLI (pip install awscli) is not installed"
    return found


def caller_reference() -> str:
    return uuid.uuid4().hex


def zone_id(created: Mapping[str, Any]) -> str:
    """The bare id (`Z123`) of a CreateHostedZone/GetHostedZone reply's zone."""
    return str(created["HostedZone"]["Id"]).rsplit("/", 1)[-1]


# -- change batches and listings -----------------------------------------------------------


def change(action: str, rrset: Mapping[str, Any]) -> dict[str, Any]:
    return {"Action": action, "ResourceRecordSet": dict(rrset)}


def batch(*changes: Mapping[str, Any], comment: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"Changes": [dict(c) for c in changes]}
    if comment:
        out["Comment"] = comment
    return out


def submit(client: Any, zone: str, changes: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """ChangeResourceRecordSets; the ChangeInfo."""
    reply = client.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [dict(c) for c in changes]}
    )
    return dict(reply["ChangeInfo"])


def list_all(client: Any, zone: str, max_items: int | None = None) -> list[dict[str, Any]]:
    """Every record set of the zone, page by page as Route 53's pagination says: each page
    at most max_items long, the next starting at NextRecordName/Type/Identifier."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"HostedZoneId": zone}
    if max_items is not None:
        params["MaxItems"] = str(max_items)
    for _ in range(100_000):
        page = client.list_resource_record_sets(**params)
        sets = page["ResourceRecordSets"]
        if max_items is not None:
            assert len(sets) <= max_items, f"{len(sets)} record sets on a page of {max_items}"
        found.extend(sets)
        if not page["IsTruncated"]:
            return found
        assert sets, "an empty page that says it is truncated"
        params["StartRecordName"] = page["NextRecordName"]
        params["StartRecordType"] = page["NextRecordType"]
        if "NextRecordIdentifier" in page:
            params["StartRecordIdentifier"] = page["NextRecordIdentifier"]
        else:
            params.pop("StartRecordIdentifier", None)
    raise AssertionError("pagination never ended")


def order_key(rrset: Mapping[str, Any]) -> tuple[str, str]:
    """Route 53's listing order: the name with its labels reversed, trailing dot included
    (`com.example.www.`), compared as text; then the type."""
    name = str(rrset["Name"]).lower().rstrip(".")
    return ".".join(reversed(name.split("."))) + ".", str(rrset["Type"])


def identity(rrset: Mapping[str, Any]) -> tuple[str, str, str]:
    """What names one record set in a zone: name, type, set identifier."""
    return (str(rrset["Name"]).lower(), str(rrset["Type"]), str(rrset.get("SetIdentifier", "")))


def without_apex_defaults(sets: Iterable[Mapping[str, Any]], zone: str) -> list[dict[str, Any]]:
    """The record sets other than the apex SOA and NS that every zone starts with."""
    apex = zone.lower().rstrip(".") + "."
    return [
        dict(s) for s in sets if not (str(s["Name"]).lower() == apex and s["Type"] in ("SOA", "NS"))
    ]


def by_identity(sets: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for s in sets:
        key = identity(s)
        assert key not in out, f"record set {key} listed twice"
        out[key] = dict(s)
    return out


# -- DNS through dig -----------------------------------------------------------------------


def dig(
    server: Route53Server, name: str, rdtype: str = "A", subnet: str | None = None
) -> tuple[str, list[str]]:
    """Ask with Debian's dig (+subnet for ECS); (rcode, sorted answer values of rdtype)."""
    program = shutil.which("dig")
    assert program, "dig (Debian dnsutils) is not installed"
    args = [program, f"@{server.host}", "-p", str(server.port), name, rdtype, "+tries=1"]
    args += ["+time=2", "+norecurse", "+nocookie"]
    if subnet:
        args.append(f"+subnet={subnet}")
    out = subprocess.run(args, capture_output=True, text=True, timeout=20).stdout
    rcode = "NO REPLY"
    values: list[str] = []
    section = ""
    for line in out.splitlines():
        if "status:" in line:
            rcode = line.split("status:")[1].split(",")[0].strip()
        if line.startswith(";; ANSWER SECTION"):
            section = "answer"
            continue
        if line.startswith(";;"):
            section = "" if line.strip() != ";;" else section
            continue
        if section == "answer" and line.strip() and not line.startswith(";"):
            parts = line.split(None, 4)
            if len(parts) == 5 and parts[3] == rdtype:
                values.append(parts[4].strip())
        elif not line.strip():
            section = ""
    return rcode, sorted(values)


def wait_for(
    probe: Callable[[], Any], holds: Callable[[Any], bool], what: str, timeout: float = 10.0
) -> Any:
    """Poll probe() until holds(value); AssertionError with the last value after timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = probe()
        if holds(last):
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last!r}")
        time.sleep(0.05)


# -- a health-check target the test fails on command -----------------------------------------


class Backend:
    """An aiohttp endpoint on 127.0.0.1 in a thread of its own, so synchronous boto3 tests
    can flip it: every path answers `status` (200 healthy, 500 failing)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.hits = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(status=self.status, text=f"status {self.status}\n")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]

    def start(self) -> Backend:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def fail(self) -> None:
        self.status = 500

    def recover(self) -> None:
        self.status = 200

    def close(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


# -- the routing scenario both the boto3 and the CLI tests submit --------------------------

# ECS subnets the config locates (LOCATIONS above), and one it does not.
CA, DE, NY, JP, NOWHERE = "10.1.2.0/24", "10.2.3.0/24", "10.3.4.0/24", "10.4.5.0/24", "10.9.0.0/24"
SUBNETS = [CA, DE, NY, JP, NOWHERE, None]


def fqdn(label: str, zone: str) -> str:
    return f"{zone}." if label == "@" else f"{label}.{zone}."


def addrs(*last: int) -> list[dict[str, str]]:
    return [{"Value": f"192.0.2.{n}"} for n in last]


def routing_sets(zone: str, hc: str, cidr: str, zid: str) -> list[dict[str, Any]]:
    """One batch with every routing policy, in Route 53's own shape (as boto3 sends it)."""

    def a(label: str, *last: int, **extra: Any) -> dict[str, Any]:
        return {
            "Name": fqdn(label, zone),
            "Type": "A",
            "TTL": 30,
            "ResourceRecords": addrs(*last),
        } | extra

    return [
        a("www", 100, 101),
        {
            "Name": fqdn("www", zone),
            "Type": "TXT",
            "TTL": 60,
            "ResourceRecords": [{"Value": '"hi there"'}],
        },
        a("w", 1, SetIdentifier="a", Weight=1, HealthCheckId=hc),
        a("w", 2, SetIdentifier="b", Weight=0),
        a("fo", 11, SetIdentifier="primary", Failover="PRIMARY", HealthCheckId=hc),
        a("fo", 12, SetIdentifier="secondary", Failover="SECONDARY"),
        a(
            "geo",
            21,
            SetIdentifier="ca",
            GeoLocation={"CountryCode": "US", "SubdivisionCode": "CA"},
        ),
        a("geo", 22, SetIdentifier="us", GeoLocation={"CountryCode": "US"}),
        a("geo", 23, SetIdentifier="eu", GeoLocation={"ContinentCode": "EU"}),
        a("geo", 24, SetIdentifier="default", GeoLocation={"CountryCode": "*"}),
        a(
            "near",
            31,
            SetIdentifier="virginia",
            GeoProximityLocation={"AWSRegion": "us-east-1", "Bias": 0},
        ),
        a(
            "near",
            32,
            SetIdentifier="frankfurt",
            GeoProximityLocation={
                "Coordinates": {"Latitude": "50.11", "Longitude": "8.68"},
                "Bias": 0,
            },
        ),
        a("fast", 41, SetIdentifier="usw1", Region="us-west-1"),
        a("fast", 42, SetIdentifier="euc1", Region="eu-central-1"),
        a("fast", 43, SetIdentifier="use1", Region="us-east-1"),
        a("mv", 51, SetIdentifier="a", MultiValueAnswer=True, HealthCheckId=hc),
        a("mv", 52, SetIdentifier="b", MultiValueAnswer=True),
        a("mv", 53, SetIdentifier="c", MultiValueAnswer=True),
        a(
            "office",
            61,
            SetIdentifier="hq",
            CidrRoutingConfig={"CollectionId": cidr, "LocationName": "hq"},
        ),
        a(
            "office",
            62,
            SetIdentifier="branch",
            CidrRoutingConfig={"CollectionId": cidr, "LocationName": "branch"},
        ),
        a(
            "office",
            63,
            SetIdentifier="rest",
            CidrRoutingConfig={"CollectionId": cidr, "LocationName": "*"},
        ),
        {
            "Name": fqdn("al", zone),
            "Type": "A",
            "AliasTarget": {
                "HostedZoneId": zid,
                "DNSName": fqdn("fo", zone),
                "EvaluateTargetHealth": True,
            },
        },
        {
            "Name": fqdn("@", zone),
            "Type": "A",
            "AliasTarget": {
                "HostedZoneId": zid,
                "DNSName": fqdn("w", zone),
                "EvaluateTargetHealth": False,
            },
        },
    ]


def ips(*last: int) -> list[str]:
    return sorted(f"192.0.2.{n}" for n in last)


# What Route 53's rules answer (ROUTE53.md), per name and ECS subnet (None: no ECS, the
# client 127.0.0.1 has no known location), while the health check is healthy.
EXPECTED: dict[str, dict[str | None, list[str]]] = {
    "www": dict.fromkeys(SUBNETS, ips(100, 101)),
    "w": dict.fromkeys(SUBNETS, ips(1)),
    "fo": dict.fromkeys(SUBNETS, ips(11)),
    "al": dict.fromkeys(SUBNETS, ips(11)),
    "@": dict.fromkeys(SUBNETS, ips(1)),
    "mv": dict.fromkeys(SUBNETS, ips(51, 52, 53)),
    # subdivision, then country, then continent, then the default; unknown: the default
    "geo": {CA: ips(21), NY: ips(22), DE: ips(23), JP: ips(24), NOWHERE: ips(24), None: ips(24)},
    # great-circle distance: California and New York nearer Virginia; Germany and Japan
    # nearer Frankfurt (Tokyo-Frankfurt 9,350 km, Tokyo-Virginia 10,900 km)
    "near": {CA: ips(31), NY: ips(31), DE: ips(32), JP: ips(32)},
    # the config's latency table; Japan by distance (San Francisco is nearest)
    "fast": {CA: ips(41), DE: ips(42), NY: ips(43), JP: ips(41)},
    # longest prefix among the collection's blocks, else "*"
    "office": {CA: ips(61), DE: ips(62), NY: ips(63), NOWHERE: ips(63), None: ips(63)},
}
# While the health check fails: the same, but for the names its records steer.
FAILING = {"w": ips(2), "fo": ips(12), "al": ips(12), "@": ips(2), "mv": ips(52, 53)}
