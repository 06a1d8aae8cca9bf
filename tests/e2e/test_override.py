"""Manual overrides end to end (issue 15): the real server, a real backend, dig and the CLI.

The primary of a failover pair is probed against an aiohttp backend that stays healthy, so
only the override can move the answer to the secondary.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from resolver.query.explain import to_text as explain_text
from tests.e2e import test_health_e2e as health_e2e
from tests.e2e.test_health_e2e import FAILOVER, ZONE, Live, http_check, zone_text
from tests.serverproc import REPO

# The health e2e tests' fixtures: a real aiohttp backend, the real server with --http.
backends = health_e2e.backends
launch = health_e2e.launch

pytestmark = pytest.mark.timeout(90)
PRIMARY, SECONDARY = {"192.0.2.1"}, {"192.0.2.2"}
TOKEN = "override-test-token-0123456789"


def dig(live: Live, name: str = "fo") -> set[str]:
    out = subprocess.run(
        [
            "dig",
            "+short",
            "+tries=1",
            "+time=2",
            "-p",
            str(live.srv.port),
            "@127.0.0.1",
            f"{name}.{ZONE}",
            "A",
        ],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    return set(out.split())


async def put(live: Live, check: str, state: object, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{live.api}/api/v1/health-checks/{check}/override"
    async with live.session.put(url, json={"state": state}, headers=headers) as resp:
        return resp.status, await resp.json()


def cli(live: Live, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "resolver", "override", *args, "--http", live.api[len("http://") :]],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
    )


async def test_override_moves_answers_at_once_and_back(backends, launch) -> None:
    backend = await backends(200)
    live = await launch(zone_text({"primary": http_check(backend.port)}, FAILOVER))
    await live.wait_checked("primary")
    assert await asyncio.to_thread(dig, live) == PRIMARY
    status, body = await put(live, "primary", "unhealthy")
    assert status == 200 and body["override"]["state"] == "unhealthy"
    assert body["override"]["who"] == "local" and body["status"] == "unhealthy"
    assert body["probed"] == "healthy"
    assert await asyncio.to_thread(dig, live) == SECONDARY  # at once: no wait
    await live.wait_log(r"health check primary: override unhealthy by local", "override log")
    checks = await live.checks()
    assert checks["primary"]["override"]["state"] == "unhealthy"
    assert checks["primary"]["status"] == "unhealthy"  # what answers follow
    assert checks["primary"]["probed"] == "healthy"  # the probe still says healthy

    async with live.session.get(live.api + "/metrics") as resp:
        text = await resp.text()
    assert 'policydns_health_check_override{check="primary",state="unhealthy"} 1' in text
    if shutil.which("promtool"):  # the oracle for the exposition format
        lint = await asyncio.to_thread(
            subprocess.run,
            ["promtool", "check", "metrics"],
            input=text,
            capture_output=True,
            text=True,
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr
    status, report = await live.get("/api/v1/explain", name=f"fo.{ZONE}", type="A")
    assert status == 200
    cands = [c for step in report["decisions"] for c in step["candidates"]]
    forced = [c for c in cands if c["health_check"] == "primary"]
    assert forced and all(c["override"]["who"] == "local" for c in forced)
    assert not forced[0]["healthy"]
    assert all(c["override"] is None for c in cands if c["health_check"] != "primary")
    assert "UNHEALTHY (override by local)" in explain_text(report)

    # Survives a reload (SIGHUP), even one that changes the check's spec.
    live.zone_file.write_text(zone_text({"primary": http_check(backend.port, 2)}, FAILOVER))
    live.srv.signal(signal.SIGHUP)
    await live.wait_log(r"reloaded ", "reload")
    assert (await live.checks())["primary"]["override"]["state"] == "unhealthy"
    assert await asyncio.to_thread(dig, live) == SECONDARY

    status, body = await put(live, "primary", "none")
    assert status == 200 and body["override"] is None
    assert await asyncio.to_thread(dig, live) == PRIMARY

    # The CLI does the same.
    done = await asyncio.to_thread(cli, live, "primary", "unhealthy")
    assert done.returncode == 0, done.stderr
    assert await asyncio.to_thread(dig, live) == SECONDARY
    done = await asyncio.to_thread(cli, live, "primary", "none")
    assert done.returncode == 0, done.stderr
    assert await asyncio.to_thread(dig, live) == PRIMARY
    done = await asyncio.to_thread(cli, live, "nope", "healthy")
    assert done.returncode == 1 and "no health check 'nope'" in done.stderr
    done = await asyncio.to_thread(cli, live, "primary", "maybe")
    assert done.returncode == 2


async def test_bad_requests(backends, launch) -> None:
    backend = await backends(200)
    live = await launch(zone_text({"primary": http_check(backend.port)}, FAILOVER))
    assert (await put(live, "nope", "healthy"))[0] == 404
    assert (await put(live, "primary", "off"))[0] == 400
    assert (await put(live, "primary", None))[0] == 400
    url = f"{live.api}/api/v1/health-checks/primary/override"
    for body in (b"not json", b'{"state": "healthy", "x": 1}', b"[]", b" " * 2000):
        headers = {"Content-Type": "application/json"}
        async with live.session.put(url, data=body, headers=headers) as resp:
            assert resp.status == 400, body[:20]
    assert (await live.checks())["primary"]["override"] is None


async def test_token_required_when_configured(backends, start_server, tmp_path: Path) -> None:
    backend = await backends(200)
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "health.yaml").write_text(zone_text({"primary": http_check(backend.port)}, FAILOVER))
    config = tmp_path / "config.yaml"
    config.write_text(f"http_token: {TOKEN}\n")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    srv = await asyncio.to_thread(
        start_server,
        "--config",
        str(config),
        "--zones",
        str(zones),
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
    )
    api = f"http://127.0.0.1:{await asyncio.to_thread(srv.http_port)}"
    async with aiohttp.ClientSession() as session:
        live = Live(srv, api, session, zones / "health.yaml", 0.0)
        status, _ = await put(live, "primary", "unhealthy")
        assert status in (401, 403)
        assert await asyncio.to_thread(dig, live) == PRIMARY
        status, body = await put(live, "primary", "unhealthy", TOKEN)
        assert status == 200 and body["override"]["who"] == "token"
        assert await asyncio.to_thread(dig, live) == SECONDARY
        done = await asyncio.to_thread(cli, live, "primary", "none")
        assert done.returncode == 1
        done = await asyncio.to_thread(
            cli, live, "primary", "none", "--token-file", str(token_file)
        )
        assert done.returncode == 0, done.stderr
        assert await asyncio.to_thread(dig, live) == PRIMARY


async def test_override_reaches_workers(backends, start_server, tmp_path: Path) -> None:
    backend = await backends(200)
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "health.yaml").write_text(zone_text({"primary": http_check(backend.port)}, FAILOVER))
    srv = await asyncio.to_thread(
        start_server,
        "--zones",
        str(zones),
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--workers",
        "2",
    )
    api = f"http://127.0.0.1:{await asyncio.to_thread(srv.http_port)}"
    async with aiohttp.ClientSession() as session:
        live = Live(srv, api, session, zones / "health.yaml", 0.0)
        await asyncio.sleep(0.5)
        assert (await put(live, "primary", "unhealthy"))[0] == 200
        # Many queries: each worker answers some (SO_REUSEPORT spreads source ports).
        for _ in range(20):
            assert await asyncio.to_thread(dig, live) == SECONDARY
