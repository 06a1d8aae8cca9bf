"""Health-driven answers end to end: the real server probing real backends (SPEC 5, 6, 9).

Every backend runs in the test's own event loop on 127.0.0.1 port 0: aiohttp apps whose
status the test flips, a closed port, and a TCP listener that accepts and never answers.
The server under test is the real `policydns serve` subprocess, its zone written into
tmp_path with checks at interval 0.1 s. Everything here is async so the backends keep
answering while the test queries; waits poll with a deadline and never sleep a fixed time.
"""

from __future__ import annotations

import asyncio
import datetime
import re
import signal
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import pytest
from aiohttp import web

from tests.dnshelp import free_port
from tests.serverproc import ServerProcess

pytestmark = pytest.mark.timeout(60)

ZONE = "health.test"
DEADLINE = 8.0  # seconds allowed for any one transition (checks run every 0.1 s)
# fo.health.test: the primary is watched by check "primary"; the backup has no check.
FAILOVER = """
  fo:
    - {type: A, set_id: main, failover: primary, values: [192.0.2.1], health_check: primary}
    - {type: A, set_id: backup, failover: secondary, values: [192.0.2.2]}
"""


# -- backends ---------------------------------------------------------------------------------


class Backend:
    """An aiohttp app answering every path with `status`, which the test flips."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.hits = 0
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(status=self.status, text=f"status {self.status}\n")

    async def start(self) -> Backend:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class Hanging:
    """Accepts TCP connections and never sends a byte."""

    def __init__(self) -> None:
        self.accepted = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._release = asyncio.Event()

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.append(writer)
        await self._release.wait()

    async def start(self) -> Hanging:
        self._server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        self._release.set()
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()


@pytest.fixture
async def backends() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    made: list[Backend | Hanging] = []

    async def make(status: int | None = 200, hanging: bool = False) -> Any:
        backend = await (Hanging().start() if hanging else Backend(status or 200).start())
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.close()


# -- the server under test --------------------------------------------------------------------


def http_check(port: int, threshold: int = 1, extra: str = "") -> str:
    return (
        f"{{type: http, target: 127.0.0.1, port: {port}, path: /health, interval: 0.1, "
        f"failure_threshold: {threshold}{extra}}}"
    )


def zone_text(checks: dict[str, str], records: str) -> str:
    lines = [f"zone: {ZONE}", "ttl: 5", "health_checks:"]
    lines += [f"  {cid}: {spec}" for cid, spec in checks.items()]
    return "\n".join([*lines, "records:", records.strip("\n"), ""])


@dataclass
class Live:
    """A running server with its HTTP API, and the helpers the tests ask it with."""

    srv: ServerProcess
    api: str
    session: aiohttp.ClientSession
    zone_file: Path
    started_at: float
    latencies: list[float] = field(default_factory=list)

    async def ask(self, name: str, rdtype: str = "A") -> dns.message.Message:
        query = dns.message.make_query(f"{name}.{ZONE}", rdtype)
        start = time.perf_counter()
        reply = await dns.asyncquery.udp(query, self.srv.host, port=self.srv.port, timeout=2)
        self.latencies.append(time.perf_counter() - start)
        return reply

    async def values(self, name: str) -> frozenset[str]:
        reply = await self.ask(name)
        assert reply.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(reply.rcode())
        return frozenset(rd.to_text() for rrset in reply.answer for rd in rrset)

    async def get(self, path: str, **params: str) -> tuple[int, Any]:
        async with self.session.get(self.api + path, params=params) as resp:
            return resp.status, await resp.json()

    async def checks(self) -> dict[str, dict[str, Any]]:
        status, body = await self.get("/api/v1/health-checks")
        assert status == 200
        return body

    async def wait_values(self, name: str, expected: set[str], what: str) -> float:
        """Poll until `name` answers exactly `expected`; returns the seconds it took."""
        start = time.monotonic()
        seen: frozenset[str] = frozenset()
        while time.monotonic() - start < DEADLINE:
            try:
                reply = await self.ask(name)
                seen = frozenset(rd.to_text() for rrset in reply.answer for rd in rrset)
                if reply.rcode() != dns.rcode.NOERROR:
                    seen = frozenset({dns.rcode.to_text(reply.rcode())})
            except dns.exception.Timeout:
                seen = frozenset({"<timeout>"})
            if seen == expected:
                return time.monotonic() - start
            await asyncio.sleep(0.02)
        pytest.fail(f"{what}: {name} still answers {sorted(seen)} after {DEADLINE} s")

    async def wait_status(self, check_id: str, status: str) -> dict[str, Any]:
        start = time.monotonic()
        state: dict[str, Any] = {}
        while time.monotonic() - start < DEADLINE:
            state = (await self.checks()).get(check_id, {})
            if state.get("status") == status:
                return state
            await asyncio.sleep(0.02)
        pytest.fail(f"check {check_id} not {status} after {DEADLINE} s: {state}")

    async def wait_checked(self, check_id: str) -> dict[str, Any]:
        """Poll until the check has a probe result of its own (not just its initial state)."""
        start = time.monotonic()
        state: dict[str, Any] = {}
        while time.monotonic() - start < DEADLINE:
            state = (await self.checks()).get(check_id, {})
            if state.get("last_checked") is not None:
                return state
            await asyncio.sleep(0.02)
        pytest.fail(f"check {check_id} never probed after {DEADLINE} s: {state}")

    async def wait_log(self, pattern: str, what: str) -> re.Match[str]:
        start = time.monotonic()
        while time.monotonic() - start < DEADLINE:
            found = re.search(pattern, self.srv.log(), re.MULTILINE)
            if found:
                return found
            await asyncio.sleep(0.02)
        pytest.fail(f"no log line for {what} ({pattern!r}) after {DEADLINE} s:\n{self.srv.log()}")


@pytest.fixture
async def launch(start_server, tmp_path: Path) -> AsyncIterator[Callable[[str], Awaitable[Live]]]:
    """Write the zone, start the real server with --http on port 0, find the API port."""
    session = aiohttp.ClientSession()

    async def go(text: str) -> Live:
        zones = tmp_path / "zones"
        zones.mkdir(exist_ok=True)
        zone_file = zones / "health.yaml"
        zone_file.write_text(text)
        started_at = time.time()
        # start_server blocks while it waits for the listen line: keep the backends serving.
        srv = await asyncio.to_thread(
            start_server,
            "--zones",
            str(zones),
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
        )
        # Polled in a thread, so that the backends keep serving meanwhile.
        api = f"http://127.0.0.1:{await asyncio.to_thread(srv.http_port, DEADLINE)}"
        return Live(srv, api, session, zone_file, started_at)

    yield go
    await session.close()


def epoch(value: Any) -> float:
    """A timestamp from the API as epoch seconds (a number, or ISO 8601 text)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    assert isinstance(value, str), f"not a timestamp: {value!r}"
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# -- answers follow the checks -----------------------------------------------------------------


async def test_failover_follows_primary_health(backends, launch):
    primary = await backends(200)
    live = await launch(
        zone_text(
            {"primary": http_check(primary.port)},
            FAILOVER,
        )
    )
    await live.wait_values("fo", {"192.0.2.1"}, "healthy primary")
    state = await live.wait_checked("primary")
    assert state["status"] == "healthy"
    assert state["last_result"] is True
    assert primary.hits > 0, "the server never probed the primary"

    primary.status = 500
    took_down = await live.wait_values("fo", {"192.0.2.2"}, "primary down")
    primary.status = 200
    took_up = await live.wait_values("fo", {"192.0.2.1"}, "primary back")
    print(f"failover: down after {took_down:.3f} s, back after {took_up:.3f} s")
    for _ in range(20):  # and it stays there
        assert await live.values("fo") == {"192.0.2.1"}


async def test_weighted_drops_unhealthy_set_and_falls_back_to_all(backends, launch):
    a, b = await backends(200), await backends(200)
    live = await launch(
        zone_text(
            {"ca": http_check(a.port), "cb": http_check(b.port)},
            """
  w:
    - {type: A, set_id: a, weight: 50, values: [192.0.2.11], health_check: ca}
    - {type: A, set_id: b, weight: 50, values: [192.0.2.12], health_check: cb}
""",
        )
    )
    seen = {v for _ in range(60) for v in await live.values("w")}
    assert seen == {"192.0.2.11", "192.0.2.12"}

    a.status = 500
    await live.wait_status("ca", "unhealthy")
    answers = [await live.values("w") for _ in range(50)]
    assert all(ans == {"192.0.2.12"} for ans in answers), answers

    b.status = 503
    await live.wait_status("cb", "unhealthy")
    answers = [await live.values("w") for _ in range(100)]
    assert all(len(ans) == 1 for ans in answers), "weighted answers one set"
    # Last resort: choose as if all were healthy (p of missing one in 100 = 2**-99).
    assert set().union(*answers) == {"192.0.2.11", "192.0.2.12"}


async def test_multivalue_hides_unhealthy_value_until_all_are_down(backends, launch):
    servers = [await backends(200) for _ in range(3)]
    values = ["192.0.2.21", "192.0.2.22", "192.0.2.23"]
    records = "  mv:\n" + "".join(
        f"    - {{type: A, set_id: s{i}, multivalue: true, values: [{v}], health_check: m{i}}}\n"
        for i, v in enumerate(values)
    )
    live = await launch(
        zone_text({f"m{i}": http_check(s.port) for i, s in enumerate(servers)}, records)
    )
    assert await live.values("mv") == set(values)

    servers[0].status = 500
    await live.wait_status("m0", "unhealthy")
    answers = [await live.values("mv") for _ in range(50)]
    assert all(ans == {"192.0.2.22", "192.0.2.23"} for ans in answers), answers

    for s in servers:
        s.status = 500
    for i in range(3):
        await live.wait_status(f"m{i}", "unhealthy")
    # None healthy: up to 8 of the unhealthy ones, i.e. all three here.
    answers = [await live.values("mv") for _ in range(20)]
    assert all(ans == set(values) for ans in answers), answers


async def test_alias_evaluating_target_health_fails_over(backends, launch):
    g1, g2 = await backends(200), await backends(200)
    live = await launch(
        zone_text(
            {"g1": http_check(g1.port), "g2": http_check(g2.port)},
            """
  svc:
    - type: A
      set_id: main
      failover: primary
      alias: {target: pool, evaluate_target_health: true}
    - {type: A, set_id: backup, failover: secondary, values: [192.0.2.99]}
  pool:
    - {type: A, set_id: x, weight: 1, values: [192.0.2.31], health_check: g1}
    - {type: A, set_id: y, weight: 1, values: [192.0.2.32], health_check: g2}
""",
        )
    )
    assert await live.values("svc") <= {"192.0.2.31", "192.0.2.32"}

    g1.status = 500  # one of the group still healthy: the alias stays healthy
    await live.wait_status("g1", "unhealthy")
    for _ in range(20):
        assert await live.values("svc") == {"192.0.2.32"}

    g2.status = 500  # the whole weighted group down: the alias is unhealthy
    await live.wait_values("svc", {"192.0.2.99"}, "alias target all unhealthy")
    for _ in range(20):
        assert await live.values("svc") == {"192.0.2.99"}
    # The group itself still answers by its last resort.
    assert len(await live.values("pool")) == 1

    g2.status = 200
    await live.wait_values("svc", {"192.0.2.32"}, "alias target healthy again")


async def test_hanging_target_does_not_delay_answers(backends, launch):
    hang = await backends(hanging=True)
    checks = {"hang": http_check(hang.port)}
    for i in range(4):  # the same target under other paths: more probes hanging at once
        checks[f"hang{i}"] = http_check(hang.port).replace("/health", f"/p{i}")
    live = await launch(
        zone_text(
            checks,
            """
  slow:
    - {type: A, set_id: main, failover: primary, values: [192.0.2.41], health_check: hang}
    - {type: A, set_id: backup, failover: secondary, values: [192.0.2.42]}
""",
        )
    )
    start = time.monotonic()
    while hang.accepted < 5:  # every probe is now stuck waiting for a status line
        assert time.monotonic() - start < DEADLINE, f"only {hang.accepted} probes connected"
        await asyncio.sleep(0.01)

    # Three rounds of 40 queries; the limits hold for the median round, so one stall of the
    # machine (not of the server) in one round does not fail the test.
    answers, medians, worsts = [], [], []
    for _ in range(3):
        live.latencies.clear()
        answers += [await live.values("slow") for _ in range(40)]
        medians.append(statistics.median(live.latencies))
        worsts.append(max(live.latencies))
    median, worst = statistics.median(medians), statistics.median(worsts)
    print(
        f"hanging target: 3 x 40 queries, median {median * 1e3:.2f} ms, "
        f"slowest per round {[round(w * 1e3, 2) for w in worsts]} ms"
    )
    # The probes were still hanging throughout: the check never left its initial state.
    assert (await live.checks())["hang"]["last_checked"] is None
    assert all(ans == {"192.0.2.41"} for ans in answers), "a probe in flight changes nothing"
    assert worst < 0.1, f"slowest answer of the median round {worst * 1e3:.1f} ms"
    assert median < 0.02, f"median {median * 1e3:.1f} ms"

    # The status line never comes: after 2 s the probe gives up with a timeout.
    state = await live.wait_status("hang", "unhealthy")
    assert "timeout" in state["reason"], state
    await live.wait_values("slow", {"192.0.2.42"}, "the hanging primary timed out")


# -- what the API and the log show ------------------------------------------------------------


async def test_health_checks_endpoint_shows_state_and_reason(backends, launch):
    good, bad = await backends(200), await backends(500)
    refused = free_port()  # nobody listens there: connections are refused
    live = await launch(
        zone_text(
            {
                "good": http_check(good.port),
                "bad": http_check(bad.port),
                "refused-http": http_check(refused),
                "refused-tcp": (
                    f"{{type: tcp, target: 127.0.0.1, port: {refused}, interval: 0.1, "
                    "failure_threshold: 1}"
                ),
            },
            "  www: [{type: A, values: [192.0.2.50], health_check: good}]",
        )
    )
    for cid in ("bad", "refused-http", "refused-tcp"):
        await live.wait_status(cid, "unhealthy")
    await live.wait_checked("good")
    checks = await live.checks()
    assert set(checks) == {"good", "bad", "refused-http", "refused-tcp"}
    for cid, state in checks.items():
        assert {"status", "since", "last_checked", "last_result", "reason"} <= set(state), cid
        assert state["last_checked"] is not None, cid
        since, checked = epoch(state["since"]), epoch(state["last_checked"])
        assert live.started_at - 1 <= since <= checked <= time.time() + 1, (cid, state)
    assert checks["good"]["status"] == "healthy"
    assert checks["good"]["last_result"] is True
    assert checks["bad"]["last_result"] is False
    assert "status 500" in checks["bad"]["reason"]
    assert "connection refused" in checks["refused-http"]["reason"]
    assert "connection refused" in checks["refused-tcp"]["reason"]


async def test_explain_endpoint_uses_live_health(backends, launch):
    primary = await backends(200)
    live = await launch(
        zone_text(
            {"primary": http_check(primary.port)},
            FAILOVER,
        )
    )

    async def candidates() -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        status, report = await live.get("/api/v1/explain", name=f"fo.{ZONE}", type="A")
        assert status == 200, report
        step = report["decisions"][0]
        assert step["policy"] == "failover"
        return {c["set_id"]: c for c in step["candidates"]}, report

    cands, report = await candidates()
    assert cands["main"]["healthy"] is True
    assert cands["main"]["verdict"].startswith("chosen")
    assert any("192.0.2.1" in rr for rr in report["answer"])

    primary.status = 500
    await live.wait_status("primary", "unhealthy")
    cands, report = await candidates()
    assert cands["main"]["healthy"] is False
    assert cands["main"]["health_check"] == "primary"
    assert "dropped" in cands["main"]["verdict"]
    assert cands["backup"]["verdict"].startswith("chosen")
    assert [rr.split()[-1] for rr in report["answer"]] == ["192.0.2.2"]


async def test_reload_keeps_state_of_unchanged_check(backends, launch):
    primary, added = await backends(500), await backends(503)
    checks = {"primary": http_check(primary.port, threshold=2)}
    live = await launch(zone_text(checks, FAILOVER))
    before = await live.wait_status("primary", "unhealthy")
    await live.wait_values("fo", {"192.0.2.2"}, "primary down")
    # An unrelated record, and a new check (which starts healthy and then probes).
    live.zone_file.write_text(
        zone_text(
            {**checks, "added": http_check(added.port)},
            FAILOVER + "  extra: [{type: A, values: [192.0.2.77]}]\n",
        )
    )
    live.srv.signal(signal.SIGHUP)
    await live.wait_values("extra", {"192.0.2.77"}, "the reloaded record")
    # Straight after the swap: still unhealthy, same `since`, no transition logged.
    assert await live.values("fo") == {"192.0.2.2"}
    after = (await live.checks())["primary"]
    assert after["status"] == "unhealthy"
    assert epoch(after["since"]) == epoch(before["since"]), "reload reset the check"
    for _ in range(20):
        assert await live.values("fo") == {"192.0.2.2"}
    await live.wait_status("added", "unhealthy")  # the new check runs
    log = live.srv.log()
    assert not re.search(r"primary\b.*unhealthy -> healthy", log), log
    assert len(re.findall(r"primary\b.*healthy -> unhealthy", log)) == 1, log


async def test_state_change_is_logged_with_id_states_and_reason(backends, launch):
    web1 = await backends(200)
    live = await launch(
        zone_text(
            {"web-one": http_check(web1.port)},
            "  www: [{type: A, values: [192.0.2.60], health_check: web-one}]",
        )
    )
    await live.wait_status("web-one", "healthy")
    web1.status = 503
    down = await live.wait_log(
        r"^.*\bweb-one\b.*\bhealthy\b.*\bunhealthy\b.*status 503.*$", "the down transition"
    )
    web1.status = 200
    up = await live.wait_log(
        r"^.*\bweb-one\b.*\bunhealthy\b.*\bhealthy\b.*status 200.*$", "the up transition"
    )
    assert "WARNING" in down.group(0) or "INFO" in down.group(0)
    print(f"logged: {down.group(0)!r} / {up.group(0)!r}")
