"""The health checker against real endpoints on loopback (SPEC 6).

Every endpoint runs in the test's own loop on 127.0.0.1 port 0: an aiohttp app whose
status and body the test flips, a TCP listener it opens and closes, an HTTPS app with a
trustme certificate, and a listener that accepts and never answers. The test counts probe
hits on the server side; waits poll with a deadline and never sleep a fixed time.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web

from healthcheck.checker import HealthChecker, ProbeKey
from healthcheck.spec import CheckSpec

INTERVAL = 0.1
pytestmark = pytest.mark.timeout(30)


async def wait_for(predicate: Callable[[], bool], within: float, what: str) -> float:
    """Poll until predicate() holds; fail after `within` seconds. Returns the seconds it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > within:
            pytest.fail(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.005)
    return time.monotonic() - start


# -- endpoints -------------------------------------------------------------------------------


@dataclass
class Route:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    endless: bool = False  # stream the body forever


class WebTarget:
    """An aiohttp app serving per-path routes the test edits, logging every hit."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.served: dict[str, list[tuple[float, int]]] = {}
        self.hosts: list[str | None] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def hits(self, path: str) -> int:
        return len(self.served.get(path, []))

    def trailing(self, path: str) -> int:
        """How many of the latest responses on path had the same status as the last one."""
        statuses = [status for _, status in self.served.get(path, [])]
        run = 0
        for status in reversed(statuses):
            if status != statuses[-1]:
                break
            run += 1
        return run

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        route = self.routes.get(request.path, Route(404, b"no route"))
        self.served.setdefault(request.path, []).append((time.monotonic(), route.status))
        self.hosts.append(request.headers.get("Host"))
        if not route.endless:
            return web.Response(status=route.status, body=route.body, headers=route.headers)
        resp = web.StreamResponse(status=route.status)
        await resp.prepare(request)
        await resp.write(route.body)
        while True:  # until the client hangs up
            await resp.write(b"x" * 4096)
            await asyncio.sleep(0.001)


class TcpTarget:
    """A TCP listener the test opens and closes on a fixed port, counting connections."""

    def __init__(self) -> None:
        self.port = 0
        self.accepted = 0
        self._server: asyncio.Server | None = None

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        writer.close()


class SilentTarget:
    """Accepts TCP connections and never says a word."""

    def __init__(self) -> None:
        self.port = 0
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.append(writer)
        await reader.read()  # hold the connection until the client gives up


@pytest.fixture
async def web_target() -> AsyncIterator[WebTarget]:
    target = WebTarget()
    await target.start()
    yield target
    await target.close()


# -- the checker under test ------------------------------------------------------------------


@dataclass
class Change:
    check_id: str
    old: bool
    new: bool
    reason: str
    context: object = None


class Recorder:
    """The on_change callback: records every change, with `context(id)` taken at that moment."""

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.context: Callable[[str], object] = lambda _id: None

    def __call__(self, check_id: str, old: bool, new: bool, reason: str) -> None:
        self.changes.append(Change(check_id, old, new, reason, self.context(check_id)))

    def of(self, check_id: str) -> list[Change]:
        return [c for c in self.changes if c.check_id == check_id]


Start = Callable[[dict[str, CheckSpec]], Awaitable[tuple[HealthChecker, Recorder]]]


@pytest.fixture
async def start_checker() -> AsyncIterator[Start]:
    checkers: list[HealthChecker] = []

    async def start(specs: dict[str, CheckSpec]) -> tuple[HealthChecker, Recorder]:
        recorder = Recorder()
        checker = HealthChecker(specs, on_change=recorder)
        await checker.start()
        checkers.append(checker)
        return checker, recorder

    yield start
    for checker in checkers:
        await checker.stop()


def http(port: int, path: str, **kw: Any) -> CheckSpec:
    """An http check on loopback probing every INTERVAL."""
    return CheckSpec(type="http", target="127.0.0.1", port=port, path=path, interval=INTERVAL, **kw)


# -- tests -----------------------------------------------------------------------------------


async def test_http_flips_after_exactly_threshold_results_both_ways(
    web_target: WebTarget, start_checker: Start, caplog: pytest.LogCaptureFixture
):
    """200 -> 500 -> 200; three ids share one probe, each with its own threshold/invert."""
    caplog.set_level(logging.INFO, logger="policydns.health")
    web_target.routes["/status"] = Route(200)
    specs = {
        "web": http(web_target.port, "/status", failure_threshold=3),
        "web-twin": http(web_target.port, "/status", failure_threshold=2),
        "web-inverted": http(web_target.port, "/status", failure_threshold=3, invert=True),
    }
    checker, changes = await start_checker(specs)
    changes.context = lambda _id: web_target.trailing("/status")
    assert checker.view().is_healthy("web") and not checker.view().is_healthy("web-inverted")

    await wait_for(lambda: web_target.hits("/status") >= 3, 2, "first probes")
    held = checker.view()
    version = checker.version
    assert checker.states()["web"].reason == "status 200"
    assert checker.states()["web"].last_result is True

    waiter = asyncio.create_task(checker.wait_changed(version))
    web_target.routes["/status"] = Route(500, b"broken")
    await wait_for(lambda: len(changes.changes) == 3, 3, "three flips")
    assert await asyncio.wait_for(waiter, 1) > version
    assert [(c.check_id, c.old, c.new, c.reason, c.context) for c in changes.changes] == [
        ("web-twin", True, False, "status 500", 2),
        ("web", True, False, "status 500", 3),
        ("web-inverted", False, True, "status 500 (inverted)", 3),
    ]
    view = checker.view()
    assert not view.is_healthy("web") and not view.is_healthy("web-twin")
    assert view.is_healthy("web-inverted")
    # the snapshot taken before the flip is untouched
    assert held.is_healthy("web") and held.is_healthy("web-twin")
    assert not held.is_healthy("web-inverted")
    assert checker.version > version and held.version == version

    states = checker.states()
    assert states["web"].status == "unhealthy" and states["web"].last_result is False
    assert states["web"].since >= states["web-twin"].since
    assert "health check web: healthy -> unhealthy (status 500)" in caplog.text

    changes.changes.clear()
    web_target.routes["/status"] = Route(200)
    await wait_for(lambda: len(changes.changes) == 3, 3, "three flips back")
    assert [(c.check_id, c.old, c.new, c.reason, c.context) for c in changes.changes] == [
        ("web-twin", False, True, "status 200", 2),
        ("web", False, True, "status 200", 3),
        ("web-inverted", True, False, "status 200 (inverted)", 3),
    ]
    assert "health check web: unhealthy -> healthy (status 200)" in caplog.text

    # one probe feeds all three ids: same last_checked, and one hit per interval
    states = checker.states()
    assert len({states[i].last_checked for i in specs}) == 1
    times = [t for t, _ in web_target.served["/status"]]
    assert times[-1] - times[0] >= (len(times) - 1) * INTERVAL * 0.8


async def test_identical_checks_probe_once_per_interval(
    web_target: WebTarget, start_checker: Start
):
    web_target.routes["/twice"] = Route(200)
    spec = http(web_target.port, "/twice")
    checker, _ = await start_checker({"a": spec, "b": spec, "c": spec})
    await wait_for(lambda: web_target.hits("/twice") >= 1, 2, "the first probe")
    first = time.monotonic()
    await wait_for(lambda: web_target.hits("/twice") >= 9, 3, "nine probes")
    # three separate tasks would reach nine hits in about a third of the time
    assert time.monotonic() - first >= 8 * INTERVAL * 0.8
    assert len({s.last_checked for s in checker.states().values()}) == 1


async def test_redirect_is_healthy_and_not_followed(web_target: WebTarget, start_checker: Start):
    web_target.routes["/moved"] = Route(302, b"", {"Location": "/broken"})
    web_target.routes["/broken"] = Route(500)
    checker, changes = await start_checker(
        {"moved": http(web_target.port, "/moved", failure_threshold=1)}
    )
    await wait_for(lambda: web_target.hits("/moved") >= 3, 2, "three probes")
    await wait_for(lambda: checker.states()["moved"].last_checked is not None, 1, "a result")
    state = checker.states()["moved"]
    assert state.healthy and state.reason == "status 302" and state.last_result is True
    assert web_target.hits("/broken") == 0 and changes.changes == []
    # the redirect target really would have been unhealthy
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{web_target.port}/moved") as resp,
    ):
        assert resp.status == 500


async def test_search_in_first_5120_bytes(web_target: WebTarget, start_checker: Start):
    web_target.routes["/page"] = Route(200, b"<html>ALIVE</html>")
    web_target.routes["/endless"] = Route(200, b"ALIVE", endless=True)
    checker, changes = await start_checker(
        {
            "page": http(web_target.port, "/page", search="ALIVE", failure_threshold=1),
            "endless": http(web_target.port, "/endless", search="ALIVE", failure_threshold=1),
        }
    )
    await wait_for(lambda: web_target.hits("/page") >= 2, 2, "probes")
    await wait_for(lambda: web_target.hits("/endless") >= 3, 2, "probes of an endless body")
    assert checker.states()["page"].reason == "status 200, search string found"
    assert checker.states()["endless"].healthy  # read 5,120 bytes, not the whole stream

    web_target.routes["/page"] = Route(200, b"<html>alive</html>")  # case-sensitive
    await wait_for(lambda: len(changes.of("page")) == 1, 2, "search miss")
    assert changes.of("page")[0].reason == "search string missing"
    assert not changes.of("page")[0].new

    # ending exactly at byte 5,120 counts
    web_target.routes["/page"] = Route(200, b"x" * (5120 - 5) + b"ALIVE" + b"y" * 1000)
    await wait_for(lambda: len(changes.of("page")) == 2, 2, "search found again")
    assert changes.of("page")[1].new and changes.of("page")[1].reason.endswith("found")

    # one byte later does not
    web_target.routes["/page"] = Route(200, b"x" * (5120 - 4) + b"ALIVE" + b"y" * 1000)
    await wait_for(lambda: len(changes.of("page")) == 3, 2, "search beyond 5120 bytes")
    assert changes.of("page")[2].reason == "search string missing"
    assert changes.of("endless") == []


async def test_tcp_listener_open_closed_open(start_checker: Start):
    listener = TcpTarget()
    await listener.open()
    spec = CheckSpec(
        type="tcp", target="127.0.0.1", port=listener.port, interval=INTERVAL, failure_threshold=2
    )
    by_name = CheckSpec(
        type="tcp", target="localhost", port=listener.port, interval=INTERVAL, failure_threshold=2
    )
    checker, changes = await start_checker({"tcp": spec, "tcp-by-name": by_name})
    await wait_for(lambda: listener.accepted >= 4, 2, "connections")
    assert checker.states()["tcp"].reason == "connected"
    assert checker.states()["tcp-by-name"].reason == "connected"

    await listener.close()
    await wait_for(lambda: len(changes.changes) == 2, 3, "both tcp checks down")
    assert {(c.check_id, c.old, c.new, c.reason) for c in changes.changes} == {
        ("tcp", True, False, "connection refused"),
        ("tcp-by-name", True, False, "connection refused"),
    }
    assert not checker.view().is_healthy("tcp")

    changes.changes.clear()
    listener.accepted = 0
    changes.context = lambda _id: listener.accepted
    await listener.open()  # same port again
    try:
        await wait_for(lambda: len(changes.changes) == 2, 3, "both tcp checks up")
        tcp_up = changes.of("tcp")[0]
        assert (tcp_up.old, tcp_up.new, tcp_up.reason) == (False, True, "connected")
        assert changes.of("tcp-by-name")[0].new
        # the flip came on the second connection of that check (both checks connect here)
        assert 2 <= tcp_up.context <= 4
    finally:
        await listener.close()


async def test_https_without_verification_sends_host_as_sni(start_checker: Start):
    ca = trustme.CA()
    cert = ca.issue_cert("health.test")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    sni: list[str | None] = []
    server_ctx.sni_callback = lambda _sock, name, _ctx: sni.append(name)  # type: ignore[assignment]
    target = WebTarget()
    await target.start(server_ctx)
    target.routes["/"] = Route(200, b"secure ALIVE")
    try:
        checker, changes = await start_checker(
            {
                "tls": CheckSpec(
                    type="https",
                    target="127.0.0.1",
                    port=target.port,
                    host="health.test",
                    search="ALIVE",
                    interval=INTERVAL,
                    failure_threshold=1,
                ),
            }
        )
        await wait_for(lambda: target.hits("/") >= 2, 3, "https probes")
        await wait_for(lambda: checker.states()["tls"].last_checked is not None, 1, "a result")
        state = checker.states()["tls"]
        assert state.healthy and state.last_result is True, state.reason
        assert state.reason == "status 200, search string found"
        assert "health.test" in sni
        assert set(target.hosts) == {"health.test"}
        assert changes.changes == []
    finally:
        await target.close()


async def test_hanging_target_times_out_and_costs_only_its_task(
    web_target: WebTarget, start_checker: Start
):
    silent = SilentTarget()
    await silent.open()
    web_target.routes["/steady"] = Route(200)
    try:
        start = time.monotonic()
        checker, changes = await start_checker(
            {
                "hang": http(silent.port, "/", timeout=0.5, failure_threshold=1),
                "steady": http(web_target.port, "/steady", failure_threshold=1),
            }
        )
        await wait_for(lambda: bool(changes.of("hang")), 0.5 + 2 + 1.5, "the timeout")
        elapsed = time.monotonic() - start
        hang = changes.of("hang")[0]
        assert (hang.old, hang.new, hang.reason) == (True, False, "timeout")
        assert 2.0 <= elapsed <= INTERVAL + 0.5 + 2 + 1.0
        # one probe at a time: the first waited for its status, the next may just have begun
        assert silent.accepted in (1, 2)
        # meanwhile the other check kept its schedule
        times = [t for t, _ in web_target.served["/steady"]]
        assert len(times) >= 15
        assert max(b - a for a, b in itertools.pairwise(times)) < 0.5
        assert checker.states()["steady"].healthy and changes.of("steady") == []
    finally:
        await silent.close()


async def test_probe_errors_are_unhealthy_results_and_the_task_survives(start_checker: Start):
    """A target no URL can hold raises inside the probe: the class name is the reason."""
    bad = CheckSpec(type="http", target="[", port=80, interval=INTERVAL, failure_threshold=2)
    checker, changes = await start_checker({"bad": bad})
    await wait_for(lambda: bool(changes.of("bad")), 2, "the flip")
    assert changes.of("bad")[0].reason == "ValueError"
    seen = checker.states()["bad"].last_checked
    await wait_for(lambda: checker.states()["bad"].last_checked != seen, 2, "more probes")


async def test_calculated_follow_children_nested(web_target: WebTarget, start_checker: Start):
    for path in ("/a", "/b", "/c"):
        web_target.routes[path] = Route(200)
    specs = {
        "a": http(web_target.port, "/a", failure_threshold=1),
        "b": http(web_target.port, "/b", failure_threshold=1),
        "c": http(web_target.port, "/c", failure_threshold=1),
        "both": CheckSpec(type="calculated", children=("a", "b"), healthy_threshold=2),
        "top": CheckSpec(type="calculated", children=("both", "c"), healthy_threshold=1),
        "none-needed": CheckSpec(type="calculated", children=("a", "b"), healthy_threshold=0),
    }
    checker, changes = await start_checker(specs)
    assert all(checker.view().is_healthy(i) for i in specs)

    web_target.routes["/a"] = Route(503)
    await wait_for(lambda: bool(changes.of("both")), 2, "the calculated flip")
    assert [(c.check_id, c.new, c.reason) for c in changes.changes] == [
        ("a", False, "status 503"),
        ("both", False, "1 of 2 children healthy (need 2)"),
    ]
    assert checker.view().is_healthy("top") and checker.view().is_healthy("none-needed")

    web_target.routes["/c"] = Route(500)
    await wait_for(lambda: bool(changes.of("top")), 2, "the nested flip")
    assert changes.of("top")[0].reason == "0 of 2 children healthy (need 1)"
    assert not checker.view().is_healthy("top")

    web_target.routes["/b"] = Route(500)
    await wait_for(lambda: bool(changes.of("b")), 2, "b down")
    assert checker.view().is_healthy("none-needed") and changes.of("none-needed") == []
    assert checker.states()["none-needed"].reason == "0 of 2 children healthy (need 0)"

    web_target.routes["/a"] = Route(200)
    web_target.routes["/b"] = Route(200)
    await wait_for(lambda: len(changes.of("both")) == 2, 2, "both back")
    assert changes.of("both")[1].reason == "2 of 2 children healthy (need 2)"
    await wait_for(lambda: len(changes.of("top")) == 2, 2, "top back")
    assert changes.of("top")[1].new


async def test_update_keeps_unchanged_stops_removed_starts_new(
    web_target: WebTarget, start_checker: Start
):
    for path in ("/keep", "/gone", "/new", "/changed"):
        web_target.routes[path] = Route(200)
    web_target.routes["/keep"] = Route(500)
    keep = http(web_target.port, "/keep", failure_threshold=1)
    changed = http(web_target.port, "/changed", failure_threshold=1, invert=True)
    checker, changes = await start_checker(
        {"keep": keep, "gone": http(web_target.port, "/gone"), "changed": changed}
    )
    await wait_for(lambda: not checker.view().is_healthy("keep"), 2, "keep down")
    await wait_for(lambda: web_target.hits("/gone") >= 2, 2, "gone probed")
    before = checker.states()["keep"]
    task = checker._probes[ProbeKey.of(keep)].task  # the schedule is the task
    changes.changes.clear()

    await checker.update(
        {
            "keep": keep,
            "changed": http(web_target.port, "/changed", failure_threshold=2),
            "new": http(web_target.port, "/new"),
        }
    )
    after = checker.states()
    assert set(after) == {"keep", "changed", "new"}
    assert not after["keep"].healthy and after["keep"].since == before.since
    assert not checker.view().is_healthy("keep")
    assert checker._probes[ProbeKey.of(keep)].task is task
    assert after["changed"].healthy and after["changed"].last_checked is None  # started over
    assert after["new"].healthy and checker.view().is_healthy("new")
    assert not checker.view().states.get("gone", False)

    gone = web_target.hits("/gone")
    keep_hits = web_target.hits("/keep")
    await wait_for(lambda: web_target.hits("/keep") >= keep_hits + 5, 2, "keep probed on")
    gone_settled = web_target.hits("/gone")
    assert gone_settled <= gone + 1  # at most the request already in flight
    await wait_for(lambda: web_target.hits("/keep") >= keep_hits + 10, 2, "keep probed more")
    assert web_target.hits("/gone") == gone_settled
    assert web_target.hits("/new") >= 1
    assert changes.changes == []  # nothing flipped: kept state is not re-announced

    await checker.stop()
    stopped = web_target.hits("/keep")
    web_target.routes["/clock"] = Route(200)
    await start_checker({"clock": http(web_target.port, "/clock")})
    await wait_for(lambda: web_target.hits("/clock") >= 5, 2, "a clock check")
    assert web_target.hits("/keep") <= stopped + 1
