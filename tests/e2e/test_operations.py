"""Operating the real server: reloads, the HTTP API, metrics, signals, query logs (SPEC 9, 10).

Every test starts `policydns serve` on 127.0.0.1 port 0 with `--http 127.0.0.1:0` and finds
both ports in its log. Zones are copies of tests/fixtures/zones (or small ones) in tmp_path so
tests can edit them. Waits poll with a deadline; nothing sleeps a fixed time to "let
things settle".
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.dnshelp import ask, recv_exactly, wait_until
from tests.serverproc import ZONES, ServerProcess, run_cli

pytestmark = pytest.mark.timeout(60)

TOKEN = "s3cret-token-0123456789"


# -- helpers ----------------------------------------------------------------------------------


def http(
    method: str, url: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request; returns status, headers and body whatever the status."""
    # No body: urllib labels any body x-www-form-urlencoded, a form the API refuses (CSRF).
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@dataclass
class Running:
    """The server under test and its HTTP API."""

    srv: ServerProcess
    api: str

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        return http("GET", self.api + path)

    def get_json(self, path: str) -> Any:
        status, headers, body = self.get(path)
        assert status == 200, (path, status, body)
        assert headers["Content-Type"].startswith("application/json")
        return json.loads(body)

    def reload(self, token: str | None = None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        status, _, body = http("POST", self.api + "/api/v1/reload", headers)
        return status, json.loads(body)

    def ask(self, name: str, rdtype: str = "A", tcp: bool = False) -> dns.message.Message:
        return ask(self.srv, name, rdtype, "tcp" if tcp else "udp")

    def values(self, name: str, rdtype: str = "A") -> set[str]:
        return {rd.to_text() for rrset in self.ask(name, rdtype).answer for rd in rrset}

    def metrics(self) -> str:
        status, headers, body = self.get("/metrics")
        assert status == 200
        assert headers["Content-Type"].startswith("text/plain"), headers["Content-Type"]
        return body.decode()

    def count_log(self, pattern: str) -> int:
        return len(re.findall(pattern, self.srv.log(), re.MULTILINE))


@pytest.fixture
def serve(start_server) -> Callable[..., Running]:
    """Start the server with the given args plus loopback DNS and HTTP on port 0."""

    def go(*args: str, listen: bool = True) -> Running:
        extra = ["--listen", "127.0.0.1:0"] if listen else []
        srv = start_server(*args, *extra, "--http", "127.0.0.1:0")
        return Running(srv, f"http://127.0.0.1:{srv.http_port()}")

    return go


@pytest.fixture
def zones_copy(tmp_path: Path) -> Path:
    target = tmp_path / "zones"
    shutil.copytree(ZONES, target)
    return target


def zone_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml"))


def all_questions(directory: Path) -> list[tuple[str, str]]:
    """Every (owner name, type) the zone files define."""
    out = []
    for path in zone_files(directory):
        doc = yaml.safe_load(path.read_text())
        origin = doc["zone"].rstrip(".")
        for owner, sets in doc["records"].items():
            name = origin if owner == "@" else f"{owner}.{origin}"
            for rtype in dict.fromkeys(s["type"] for s in sets):
                out.append((name, rtype))
    return out


def check_ids(directory: Path) -> set[str]:
    ids: set[str] = set()
    for path in zone_files(directory):
        ids |= set(yaml.safe_load(path.read_text()).get("health_checks") or {})
    return ids


def shape(reply: dns.message.Message) -> tuple:
    """What must not change across a failed reload (values may: weighted is random)."""
    aa = bool(reply.flags & dns.flags.AA)
    return reply.rcode(), aa, sorted((r.name.to_text(), r.rdtype) for r in reply.answer)


def small_zone(path: Path, extra: str = "") -> None:
    path.write_text(
        "zone: ops.test\nttl: 60\nrecords:\n"
        "  www: [{type: A, values: [192.0.2.1]}]\n"
        "  mail: [{type: A, values: [192.0.2.2]}]\n" + extra
    )


# -- reload -------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["sighup", "api"])
def test_reload_picks_up_added_record(serve, tmp_path: Path, how: str):
    zone = tmp_path / "ops.yaml"
    small_zone(zone)
    run = serve("--zones", str(zone))
    assert run.ask("new.ops.test").rcode() == dns.rcode.NXDOMAIN

    small_zone(zone, "  new: [{type: A, values: [192.0.2.3]}]\n")
    if how == "sighup":
        run.srv.signal(signal.SIGHUP)
    else:
        status, body = run.reload()
        assert status == 200, body
        assert body["status"] == "ok"
        assert any(line.startswith("ops.test: ") for line in body["zones"]), body
    wait_until(lambda: run.values("new.ops.test") == {"192.0.2.3"}, "the added record")
    assert run.values("www.ops.test") == {"192.0.2.1"}


def test_serial_increases_with_content_even_within_one_second(serve, tmp_path: Path):
    zone = tmp_path / "ops.yaml"
    stamp = time.time() - 100  # every version gets the same mtime: the same second

    def write(extra: str) -> None:
        small_zone(zone, extra)
        os.utime(zone, (stamp, stamp))

    def serial() -> int:
        zones = run.get_json("/api/v1/zones")
        (entry,) = [z for z in zones if z["name"].rstrip(".") == "ops.test"]
        soa = run.ask("ops.test", "SOA").answer[0][0]
        assert soa.serial == entry["serial"], "API and SOA disagree"
        return entry["serial"]

    write("")
    run = serve("--zones", str(zone))
    first = serial()
    assert run.reload()[0] == 200
    assert serial() == first, "an unchanged zone keeps its serial"

    started = time.monotonic()
    write("  a: [{type: A, values: [192.0.2.10]}]\n")
    assert run.reload()[0] == 200
    second = serial()
    write("  a: [{type: A, values: [192.0.2.11]}]\n")
    assert run.reload()[0] == 200
    third = serial()
    assert time.monotonic() - started < 1.0, "two changes were meant to be within a second"
    assert 0 < (second - first) % 2**32 < 2**31, (first, second)  # RFC 1982 greater
    assert 0 < (third - second) % 2**32 < 2**31, (second, third)
    assert run.values("a.ops.test") == {"192.0.2.11"}


def test_broken_reload_keeps_every_old_name(serve, zones_copy: Path):
    run = serve("--zones", str(zones_copy))
    questions = all_questions(zones_copy)
    before = {q: shape(run.ask(*q)) for q in questions}
    assert sum(1 for s in before.values() if s[0] == dns.rcode.NOERROR) >= 40

    broken = zones_copy / "steer.example.yaml"
    text = broken.read_text()
    assert text.endswith("\n")
    bad_line = text.count("\n") + 1
    broken.write_text(text + '  broken: [{type: A, values: ["1.2.3"]}]\n')

    status, body = run.reload()
    assert status == 422, body
    assert body["errors"], body
    assert any(f"{broken}:{bad_line}:" in error for error in body["errors"]), body["errors"]
    assert any("broken.steer.example" in error for error in body["errors"]), body["errors"]
    after = {q: shape(run.ask(*q)) for q in questions}
    assert after == before
    assert run.ask("broken.steer.example").rcode() == dns.rcode.NXDOMAIN

    run.srv.signal(signal.SIGHUP)
    wait_until(
        lambda: run.count_log(rf"ERROR .*{re.escape(f'{broken}:{bad_line}:')}") >= 2,
        "the SIGHUP reload's errors in the log",
    )
    assert run.srv.proc.poll() is None
    assert {q: shape(run.ask(*q)) for q in questions} == before
    assert run.ask("www.example.com", tcp=True).rcode() == dns.rcode.NOERROR
    assert re.search(r'policydns_reloads_total\{outcome="error"\} 2\.0', run.metrics())


def test_reload_token(serve, tmp_path: Path):
    zone = tmp_path / "ops.yaml"
    small_zone(zone)
    config = tmp_path / "policydns.yaml"
    config.write_text(f"zones: [{zone}]\nhttp_token: {TOKEN}\n")
    run = serve("--config", str(config))

    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        status, got, body = http("POST", run.api + "/api/v1/reload", headers)
        assert status == 401, (headers, status, body)
        assert got["Content-Type"].startswith("application/json")
        assert "error" in json.loads(body)
    assert run.count_log(r"reloaded ops\.test") == 0, "a refused call must not reload"

    status, body = run.reload(TOKEN)
    assert status == 200, body
    assert body["status"] == "ok"
    assert run.count_log(r"reloaded ops\.test") == 1
    # Read-only endpoints need no token.
    assert run.get("/healthz")[0] == 200
    assert run.get("/api/v1/zones")[0] == 200


def token_server(serve, tmp_path: Path) -> Running:
    zone = tmp_path / "ops.yaml"
    small_zone(zone)
    config = tmp_path / "policydns.yaml"
    config.write_text(f"zones: [{zone}]\nhttp_token: {TOKEN}\n")
    return serve("--config", str(config))


def test_reload_401_carries_www_authenticate(serve, tmp_path: Path):
    """RFC 9110 11.6.1 (was RFC 7235 3.1): a 401 MUST carry a WWW-Authenticate challenge."""
    run = token_server(serve, tmp_path)
    status, headers, _ = http("POST", run.api + "/api/v1/reload")
    assert status == 401
    assert headers.get("WWW-Authenticate", "").lower().startswith("bearer"), headers


def test_reload_bearer_scheme_is_case_insensitive(serve, tmp_path: Path):
    """RFC 9110 11.1 (was RFC 7235 2.1): the auth scheme is a case-insensitive token."""
    run = token_server(serve, tmp_path)
    for scheme in ("bearer", "BEARER"):
        headers = {"Authorization": f"{scheme} {TOKEN}"}
        status, _, body = http("POST", run.api + "/api/v1/reload", headers)
        assert status == 200, (scheme, status, body)


# -- HTTP API -----------------------------------------------------------------------------------


def series(text: str, name: str) -> dict[tuple, float]:
    """Samples of one metric family member as {sorted labels: value}."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def total(text: str, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for k, v in series(text, name).items() if want <= set(k))


def test_healthz_and_metrics(serve):
    run = serve("--zones", str(ZONES))
    status, headers, body = run.get("/healthz")
    assert (status, body.strip()) == (200, b"ok")
    assert headers["Content-Type"].startswith("text/plain")

    before = run.metrics()
    names = ["www.steer.example", "api.steer.example", "pool.steer.example", "mail.example.com"]
    for name in names:
        assert run.ask(name).rcode() == dns.rcode.NOERROR
    assert run.ask("www.example.com", tcp=True).rcode() == dns.rcode.NOERROR
    after = run.metrics()

    line = re.compile(
        r'^policydns_queries_total\{[^}]*qtype="A",rcode="NOERROR"[^}]*\} (\S+)$', re.M
    )
    assert line.search(after), after
    a_ok = {"qtype": "A", "rcode": "NOERROR"}
    assert total(after, "policydns_queries_total", **a_ok) == (
        total(before, "policydns_queries_total", **a_ok) + 5
    )
    assert total(after, "policydns_queries_total", policy="weighted") >= 1
    assert total(after, "policydns_queries_total", policy="failover") >= 1

    count = "policydns_answer_seconds_count"
    assert total(after, count) == total(before, count) + 5
    buckets = series(after, "policydns_answer_seconds_bucket")
    assert len(buckets) >= 5
    assert buckets[(("le", "+Inf"),)] == total(after, count)
    assert "policydns_answer_seconds_sum" in after

    ids = check_ids(ZONES)
    up = series(after, "policydns_health_check_up")
    assert sorted(dict(k)["check"] for k in up) == sorted(ids), "one series per check"
    assert set(up.values()) <= {0.0, 1.0}

    reloads = 'policydns_reloads_total{outcome="ok"}'
    ok_before = total(after, "policydns_reloads_total", outcome="ok")
    assert run.reload()[0] == 200
    assert total(run.metrics(), "policydns_reloads_total", outcome="ok") == ok_before + 1, reloads


def test_zones_and_health_checks_endpoints(serve):
    run = serve("--zones", str(ZONES))
    zones = run.get_json("/api/v1/zones")
    check = run_cli("check", "--zones", str(ZONES), timeout=30)
    assert check.returncode == 0, check.stderr
    summary = {}
    for text in check.stdout.splitlines():
        found = re.match(r"(\S+): (\d+) record sets, \d+ health checks, serial (\d+)$", text)
        assert found, text
        summary[found.group(1)] = (int(found.group(2)), int(found.group(3)))
    expected = {yaml.safe_load(p.read_text())["zone"].rstrip(".") for p in zone_files(ZONES)}
    assert {z["name"].rstrip(".") for z in zones} == expected
    for zone in zones:
        assert {"name", "serial", "record_sets"} <= set(zone)
        assert (zone["record_sets"], zone["serial"]) == summary[zone["name"].rstrip(".")]

    checks = run.get_json("/api/v1/health-checks")
    assert set(checks) == check_ids(ZONES)
    for state in checks.values():
        assert state["status"] in ("healthy", "unhealthy")
        assert {"since", "last_checked", "last_result", "reason"} <= set(state)


@pytest.mark.parametrize(
    "query",
    [
        "?name=www.example.com&type=BOGUS",
        "?type=A",
        "?name=",
        "?name=www.example.com&colour=blue",
        "?name=www.example.com&client=not-an-ip",
        "?name=www.example.com&subnet=10.0.0.0/99",
    ],
)
def test_explain_rejects_bad_parameters(serve, query: str):
    run = serve("--zones", str(ZONES))
    status, headers, body = run.get("/api/v1/explain" + query)
    assert status == 400, (query, status, body)
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["error"]
    good = run.get_json("/api/v1/explain?name=www.steer.example&type=A&client=10.1.2.3")
    assert good["decisions"][0]["policy"] == "weighted"
    assert good["answer"]


# -- stopping -----------------------------------------------------------------------------------


def rx_queue(local_port: int, remote_port: int) -> int | None:
    """Bytes the server side of a loopback TCP connection has not read yet (/proc/net/tcp)."""
    local, remote = f"0100007F:{local_port:04X}", f"0100007F:{remote_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            return int(fields[4].split(":")[1], 16)
    return None


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs /proc/net/tcp")
def test_sigterm_answers_tcp_query_in_flight_then_exits_0(serve):
    run = serve("--zones", str(ZONES))
    host, port = run.srv.host, run.srv.port
    wire = dns.message.make_query("www.example.com", "A").to_wire()
    message = struct.pack("!H", len(wire)) + wire
    half = len(message) // 2
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(message[:half])
        client_port = sock.getsockname()[1]
        # The server has read the first half off the socket: the query is in flight.
        wait_until(lambda: rx_queue(port, client_port) == 0, "the server to read the first half")
        run.srv.signal(signal.SIGTERM)

        def refused() -> bool:  # stop accepting...
            try:
                socket.create_connection((host, port), timeout=1).close()
            except ConnectionRefusedError:
                return True
            return False

        wait_until(refused, "the listener to close", timeout=5)
        assert run.srv.proc.poll() is None, "exited with a query in flight"
        sock.sendall(message[half:])  # ...but finish what is in flight
        (length,) = struct.unpack("!H", recv_exactly(sock, 2))
        reply = dns.message.from_wire(recv_exactly(sock, length))
    assert reply.rcode() == dns.rcode.NOERROR
    assert {rd.to_text() for rrset in reply.answer for rd in rrset} == {
        "192.0.2.10",
        "192.0.2.11",
    }
    assert run.srv.proc.wait(timeout=10) == 0


def test_sigint_exits_0_with_idle_connection_open(serve):
    run = serve("--zones", str(ZONES))
    with socket.create_connection((run.srv.host, run.srv.port), timeout=5):
        assert run.ask("www.example.com").rcode() == dns.rcode.NOERROR
        started = time.monotonic()
        run.srv.signal(signal.SIGINT)
        assert run.srv.proc.wait(timeout=10) == 0
    assert time.monotonic() - started < 4, "an idle connection must not hold the stop"
    assert "Traceback" not in run.srv.log()


# -- query log ----------------------------------------------------------------------------------

QUERY_LINE = re.compile(r"^.*policydns\.query.*$", re.M)


def test_log_queries_one_line_per_query(serve):
    run = serve("--zones", str(ZONES), "--log-queries")
    questions = [
        ("www.steer.example", "A", False, "NOERROR"),
        ("api.steer.example", "A", True, "NOERROR"),
        ("nope.example.com", "A", False, "NXDOMAIN"),
        ("www.example.com", "AAAA", False, "NOERROR"),
        ("outside.invalid", "A", False, "REFUSED"),
    ]
    for name, rdtype, tcp, rcode in questions:
        assert dns.rcode.to_text(run.ask(name, rdtype, tcp).rcode()) == rcode
    lines = wait_until(
        lambda: (found := QUERY_LINE.findall(run.srv.log())) and len(found) >= 5 and found,
        "five query lines",
    )
    assert len(lines) == len(questions), lines
    for line, (name, rdtype, _, rcode) in zip(lines, questions, strict=True):
        assert "client=127.0.0.1" in line, line
        assert re.search(rf"\bname={re.escape(name)}\.? ", line), line
        assert re.search(rf"\btype={rdtype}\b", line), line
        assert re.search(rf"\brcode={rcode}\b", line), line
        assert re.search(r"\bus=\d+\b", line), line
        assert re.search(r"\bpolicy=\S+", line), line
    assert "policy=weighted" in lines[0]
    assert "policy=failover" in lines[1]


def test_no_query_lines_without_flag(serve):
    run = serve("--zones", str(ZONES))
    for name in ("www.steer.example", "nope.example.com", "www.example.com"):
        run.ask(name)
    run.srv.signal(signal.SIGHUP)  # a log line that comes after the queries' would-be lines
    wait_until(lambda: run.count_log(r"reloaded example\.com"), "the reload line")
    assert not QUERY_LINE.findall(run.srv.log())


# -- reloads under load -------------------------------------------------------------------------

LOAD_NAMES = [
    ("www.steer.example", "A"),  # weighted
    ("api.steer.example", "A"),  # failover
    ("pool.steer.example", "A"),  # multivalue
    ("app.steer.example", "A"),  # latency -> weighted
    ("geo.steer.example", "A"),
    ("www.example.com", "A"),
    ("www.example.com", "AAAA"),
    ("example.com", "MX"),
    ("app2.example.org", "A"),
    ("mx2.example.net", "AAAA"),
]


DNSPERF = ["-Q", "2000", "-l", "12", "-c", "1", "-q", "100", "-t", "2"]


def reload_twenty(run: Running, zones: Path, busy: Callable[[], bool]) -> None:
    """20 reloads ~0.2 s apart, alternating SIGHUP and the API, each with a content change."""
    zone = zones / "example.org.yaml"
    original = zone.read_text()
    for i in range(20):
        started = time.monotonic()
        assert busy(), f"the query stream ended before reload {i}"
        zone.write_text(original + f"  reload-{i}: [{{type: A, values: [192.0.2.{i + 1}]}}]\n")
        if i % 2:
            status, body = run.reload()
            assert status == 200, body
        else:
            run.srv.signal(signal.SIGHUP)
            wait_until(
                lambda n=i: run.count_log(r"reloaded example\.org") > n, f"SIGHUP reload {i}"
            )
        while time.monotonic() - started < 0.2:  # pacing the reloads, not waiting on them
            time.sleep(0.01)
    assert run.values("reload-19.example.org") == {"192.0.2.20"}


def test_twenty_reloads_under_dnsperf_lose_no_query(serve, zones_copy: Path, tmp_path: Path):
    dnsperf = shutil.which("dnsperf")
    if dnsperf is None:
        pytest.skip("dnsperf is not installed (apt-get install dnsperf)")
    run = serve("--zones", str(zones_copy))
    queries = tmp_path / "queries.txt"
    queries.write_text("".join(f"{name} {rdtype}\n" for name, rdtype in LOAD_NAMES))
    out = tmp_path / "dnsperf.out"
    with open(out, "wb") as sink:
        perf = subprocess.Popen(
            [dnsperf, "-s", run.srv.host, "-p", str(run.srv.port), "-d", str(queries), *DNSPERF],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        # dnsperf's own output is block-buffered: see its queries arrive in the metrics.
        wait_until(
            lambda: total(run.metrics(), "policydns_queries_total") > 100, "dnsperf's queries"
        )
        reload_twenty(run, zones_copy, lambda: perf.poll() is None)
        assert perf.wait(timeout=20) == 0, out.read_text()
    finally:
        if perf.poll() is None:
            perf.kill()
            perf.wait()
    report = out.read_text()
    sent = int(re.search(r"Queries sent:\s+(\d+)", report).group(1))
    completed = int(re.search(r"Queries completed:\s+(\d+)", report).group(1))
    lost = int(re.search(r"Queries lost:\s+(\d+)", report).group(1))
    print(f"dnsperf under 20 reloads: sent {sent}, completed {completed}, lost {lost}")
    assert lost == 0, report
    assert completed == sent, report
    assert sent >= 5000, report
    assert re.search(r"Response codes:\s+NOERROR \d+ \(100\.00%\)", report), report
    assert total(run.metrics(), "policydns_reloads_total", outcome="ok") == 20


class Counter(asyncio.DatagramProtocol):
    """Sends queries with distinct ids and counts the matching replies."""

    def __init__(self) -> None:
        self.pending: set[int] = set()
        self.replies = 0
        self.bad = 0
        self.drained = asyncio.Event()  # set whenever no query is waiting for its reply

    def datagram_received(self, data: bytes, addr: Any) -> None:
        reply = dns.message.from_wire(data)
        if reply.id in self.pending and reply.rcode() == dns.rcode.NOERROR and reply.answer:
            self.pending.discard(reply.id)
            self.replies += 1
            if not self.pending:
                self.drained.set()
        else:
            self.bad += 1


async def test_twenty_reloads_under_udp_stream_lose_no_query(serve, zones_copy: Path):
    run = await asyncio.to_thread(serve, "--zones", str(zones_copy))
    loop = asyncio.get_running_loop()
    transport, counter = await loop.create_datagram_endpoint(
        Counter, remote_addr=(run.srv.host, run.srv.port)
    )
    wires = [dns.message.make_query(n, t) for n, t in LOAD_NAMES]
    sent = 0
    stop = asyncio.Event()

    async def stream() -> None:  # ~1,000 queries a second, in bursts of 10 every 10 ms
        nonlocal sent
        while not stop.is_set():
            for _ in range(10):
                query = wires[sent % len(wires)]
                query.id = sent % 65536
                counter.pending.add(query.id)
                transport.sendto(query.to_wire())
                sent += 1
            await asyncio.sleep(0.01)

    sender = asyncio.create_task(stream())
    try:
        async with aiohttp.ClientSession() as session:
            for i in range(20):
                started = time.monotonic()
                if i % 2:
                    async with session.post(run.api + "/api/v1/reload") as resp:
                        assert resp.status == 200, await resp.text()
                else:
                    seen = run.count_log(r"reloaded example\.com")
                    run.srv.signal(signal.SIGHUP)
                    while run.count_log(r"reloaded example\.com") <= seen:
                        assert time.monotonic() - started < 10, f"SIGHUP reload {i}"
                        await asyncio.sleep(0.01)
                await asyncio.sleep(max(0.0, 0.15 - (time.monotonic() - started)))  # pacing
    finally:
        stop.set()
        await sender
    counter.drained.clear()
    if counter.pending:
        try:
            await asyncio.wait_for(counter.drained.wait(), timeout=5)
        except TimeoutError:
            pass  # reported below as lost queries
    transport.close()
    print(f"UDP stream under 20 reloads: sent {sent}, answered {counter.replies}")
    assert sent > 2000
    assert counter.bad == 0
    assert counter.replies == sent, f"{sent - counter.replies} of {sent} queries lost"
    assert run.count_log(r"reloaded example\.com") == 20


# -- config changes that need a restart ---------------------------------------------------------


def test_reload_changing_listen_warns_restart_needed(serve, tmp_path: Path):
    zone = tmp_path / "ops.yaml"
    small_zone(zone)
    config = tmp_path / "policydns.yaml"
    config.write_text(f'zones: [{zone}]\nlisten: ["127.0.0.1:0"]\n')
    run = serve("--config", str(config), listen=False)
    warning = r"WARNING .*listen.*restart"

    assert run.reload()[0] == 200  # unchanged listen: no warning
    assert run.count_log(warning) == 0

    config.write_text(f'zones: [{zone}]\nlisten: ["127.0.0.1:0", "127.0.0.1:5399"]\n')
    run.srv.signal(signal.SIGHUP)
    wait_until(lambda: run.count_log(warning), "the restart warning")
    assert run.count_log(r"listening on udp\+tcp") == 1, "a reload must not bind new sockets"
    assert run.values("www.ops.test") == {"192.0.2.1"}
