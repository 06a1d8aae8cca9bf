"""Route 53 API cost on a big zone: a 10-change batch on 100,000 record sets (issue 14, 9).

One policydns (pinned to core 1) with `route53:` configured. The zone bench.test is made
of `--sets` record sets (default 100,000): names n0, n1, ...; one name in ten weighted (two
sets, weights 1 and 0), the rest simple A sets with two values. It is created through the
API in batches of 1000 changes (`--seed api`, timed and reported), or written straight into
state_dir/zones/ with the project's zone-file writer before the server starts (`--seed
file`: then the server must adopt a zone file it finds in its state directory).

Then the server is restarted (SIGTERM, start again) and timed from spawn to the first
answer from the zone, and its RSS read from /proc. Then `--batches` (20) batches of 10
UPSERTs with new values are timed each from the request until every one of the 10 names
answers its new value over UDP (dnspython, polled every 2 ms), and until the reply came.

Reported: seeding time, startup seconds, RSS (MiB) after startup and after the batches,
and the confirmed and the served times of a batch: median, p90 and max. Issue 14's bars:
a 10-change batch confirmed and served in under 2 s; RSS under 500 MB.

Run:  python -m bench.route53_bench [--sets 100000] [--batches 20] [--seed api|file] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import dns.message
import dns.query
import dns.rcode

from bench.common import Server, rss_kib, start_server
from resolver.zones.render import render_zone

ZONE = "bench.test"
KEY_ID, SECRET = "AKIDBENCH", "bench-secret-bench-secret-bench-secret"
HTTP = re.compile(r"http api on 127\.0\.0\.1:(\d+)")


def record_sets(count: int) -> list[dict[str, Any]]:
    """`count` record sets in Route 53's shape; every tenth name weighted (two sets)."""
    out: list[dict[str, Any]] = []
    i = 0
    while len(out) < count:
        name = f"n{i}.{ZONE}."
        a, b = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}", f"192.0.2.{i % 250 + 1}"
        if i % 10 == 0 and len(out) + 2 <= count:
            for set_id, weight, value in (("a", 1, a), ("b", 0, b)):
                out.append(
                    {
                        "Name": name,
                        "Type": "A",
                        "SetIdentifier": set_id,
                        "Weight": weight,
                        "TTL": 300,
                        "ResourceRecords": [{"Value": value}],
                    }
                )
        else:
            out.append(
                {
                    "Name": name,
                    "Type": "A",
                    "TTL": 300,
                    "ResourceRecords": [{"Value": a}, {"Value": b}],
                }
            )
        i += 1
    return out


def zone_file(sets: list[dict[str, Any]]) -> str:
    """The same record sets as a SPEC 4 zone file, written by the project's one writer."""
    records: dict[str, list[dict[str, Any]]] = {}
    for s in sets:
        owner = s["Name"][: -len(ZONE) - 2]
        entry: dict[str, Any] = {"type": "A", "values": [r["Value"] for r in s["ResourceRecords"]]}
        if "SetIdentifier" in s:
            entry = {"type": "A", "set_id": s["SetIdentifier"], "weight": s["Weight"], **entry}
        records.setdefault(owner, []).append(entry)
    return render_zone({"zone": ZONE, "ttl": 300, "records": records})


def client(port: int) -> Any:
    return boto3.session.Session().client(
        "route53",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
        config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=600),
    )


def start(work: Path, n: int, timeout: float) -> tuple[Server, int]:
    """policydns serve with the route53 config; the server and its HTTP port."""
    log = work / f"server-{n}.log"
    cmd = [sys.executable, "-m", "resolver", "serve", "--config", str(work / "policydns.yaml")]
    cmd += ["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"]
    server = start_server([], log, cmd=cmd, timeout=timeout)
    deadline = time.monotonic() + 30
    while not (found := HTTP.search(log.read_text(errors="replace"))):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no http api line:\n{log.read_text()[-3000:]}")
        time.sleep(0.02)
    return server, int(found.group(1))


def values(port: int, name: str) -> set[str]:
    reply = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=1)
    if reply.rcode() != dns.rcode.NOERROR:
        return set()
    return {rd.to_text() for rrset in reply.answer for rd in rrset}


def wait_served(port: int, expected: dict[str, set[str]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for name, wanted in expected.items():
        while values(port, name) != wanted:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} never answered {wanted}")
            time.sleep(0.002)


def percentile(data: list[float], q: float) -> float:
    ordered = sorted(data)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--seed", choices=["api", "file"], default="api")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {"record_sets": args.sets, "seed": args.seed}

    with tempfile.TemporaryDirectory(prefix="route53-bench-") as tmp:
        work = Path(tmp)
        state = work / "state"
        (state / "zones").mkdir(parents=True)
        (work / "zones").mkdir()
        (work / "secret").write_text(SECRET + "\n")
        (work / "policydns.yaml").write_text(
            f"zones: [{json.dumps(str(work / 'zones'))}]\n"
            f"route53:\n  state_dir: {json.dumps(str(state))}\n"
            f"  credentials:\n    {KEY_ID}: {json.dumps(str(work / 'secret'))}\n"
        )
        sets = record_sets(args.sets)
        if args.seed == "file":
            (state / "zones" / f"{ZONE}.yaml").write_text(zone_file(sets))
        server, http = start(work, 1, timeout=600)
        try:
            api = client(http)
            if args.seed == "api":
                began = time.perf_counter()
                zid = api.create_hosted_zone(Name=ZONE, CallerReference=uuid.uuid4().hex)
                zone = zid["HostedZone"]["Id"].rsplit("/", 1)[-1]
                for at in range(0, len(sets), 1000):
                    changes = [
                        {"Action": "CREATE", "ResourceRecordSet": s} for s in sets[at : at + 1000]
                    ]
                    api.change_resource_record_sets(
                        HostedZoneId=zone, ChangeBatch={"Changes": changes}
                    )
                result["seed_seconds"] = round(time.perf_counter() - began, 2)
        finally:
            server.stop()

        # the restart, with the big zone in the state directory
        began = time.perf_counter()
        server, http = start(work, 2, timeout=600)
        last = sets[-1]["Name"]
        wait_served(server.port, {last: {r["Value"] for r in sets[-1]["ResourceRecords"]}}, 600)
        result["startup_seconds"] = round(time.perf_counter() - began, 2)
        result["rss_mib_after_start"] = round(rss_kib(server.proc.pid) / 1024, 1)
        try:
            api = client(http)
            zones = api.list_hosted_zones_by_name(DNSName=ZONE)["HostedZones"]
            zone = zones[0]["Id"].rsplit("/", 1)[-1]
            confirmed, served = [], []
            simple = [s for s in sets if "SetIdentifier" not in s]
            for b in range(args.batches):
                chosen = simple[b * 997 % len(simple) :][:10]
                changes, expected = [], {}
                for s in chosen:
                    new = {**s, "ResourceRecords": [{"Value": f"203.0.113.{b + 1}"}]}
                    changes.append({"Action": "UPSERT", "ResourceRecordSet": new})
                    expected[s["Name"]] = {f"203.0.113.{b + 1}"}
                began = time.perf_counter()
                api.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
                confirmed.append(time.perf_counter() - began)
                wait_served(server.port, expected)
                served.append(time.perf_counter() - began)
            result["rss_mib_after_batches"] = round(rss_kib(server.proc.pid) / 1024, 1)
        finally:
            server.stop()
    for label, data in (("confirmed", confirmed), ("served", served)):
        result[f"batch_{label}_s"] = {
            "median": round(statistics.median(data), 3),
            "p90": round(percentile(data, 0.9), 3),
            "max": round(max(data), 3),
        }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:24} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
