"""The status page at `/` in a real headless Chromium against the real server (issue 15).

The server probes an aiohttp backend this test runs; the test kills the backend and
watches the page flip the check to unhealthy without a reload, runs an explain from the
form, sets an override from the page and asks dig for the answer, and saves screenshots
at desktop and phone widths (to $POLICYDNS_ARTIFACTS or tests/artifacts/).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.test_health_e2e import FAILOVER, ZONE, Backend, http_check, zone_text
from tests.serverproc import REPO, ServerProcess

pytestmark = pytest.mark.timeout(120)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DEADLINE = 10.0
ARTIFACTS = Path(os.environ.get("POLICYDNS_ARTIFACTS") or REPO / "tests" / "artifacts")
STATIC = REPO / "resolver" / "status"


async def start(
    start_server: Callable[..., ServerProcess], zones: Path
) -> tuple[ServerProcess, str]:
    srv = await asyncio.to_thread(
        start_server, "--zones", str(zones), "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"
    )
    return srv, f"http://127.0.0.1:{await asyncio.to_thread(srv.http_port, DEADLINE)}"


def dig(srv: ServerProcess, name: str) -> list[str]:
    out = subprocess.run(
        ["dig", f"@{srv.host}", "-p", str(srv.port), name, "A", "+short", "+time=2", "+tries=1"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return sorted(out.stdout.split())


async def until(probe: Callable[[], Any], what: str, wait: float = DEADLINE) -> Any:
    """Poll probe (run in a thread: selenium blocks) until it returns something truthy."""
    deadline = time.monotonic() + wait
    last: Any = None
    while time.monotonic() < deadline:
        last = await asyncio.to_thread(probe)
        if last:
            return last
        await asyncio.sleep(0.1)
    pytest.fail(f"{what}: not seen after {wait} s (last {last!r})")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian chromium, chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="policydns-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
    ):
        options.add_argument(arg)
    driver = await asyncio.to_thread(
        webdriver.Chrome, service=Service(executable_path=CHROMEDRIVER), options=options
    )
    try:
        yield driver
    finally:
        await asyncio.to_thread(driver.quit)
        shutil.rmtree(profile, ignore_errors=True)


def row_status(driver: Any, check: str) -> str | None:
    """The state the page shows for a check, read in one script (rows are replaced live)."""
    return driver.execute_script(
        "for (const tr of document.querySelectorAll('#checks tbody tr'))"
        "  if (tr.dataset.check === arguments[0]) return tr.dataset.status;"
        "return null;",
        check,
    )


def text_of(driver: Any, selector: str) -> str:
    return driver.execute_script(
        "const n = document.querySelector(arguments[0]); return n ? n.textContent : '';", selector
    )


def shoot(driver: Any, width: int, height: int) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(width, height)
    path = ARTIFACTS / f"status-page-{width}x{height}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


async def test_page_follows_health_live_explains_and_overrides(start_server, tmp_path, browser):
    from selenium.webdriver.common.by import By

    backend = await Backend(200).start()
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "health.yaml").write_text(zone_text({"primary": http_check(backend.port)}, FAILOVER))
    srv, api = await start(start_server, zones)
    driver = browser
    try:
        await asyncio.to_thread(driver.get, api + "/")
        await until(
            lambda: row_status(driver, "primary") == "healthy", "primary healthy on the page"
        )
        await until(lambda: backend.hits > 0, "the backend probed")
        zone_row = await until(lambda: text_of(driver, "#zones tbody tr"), "the zone listed")
        assert zone_row.startswith(ZONE), zone_row
        assert await asyncio.to_thread(dig, srv, f"fo.{ZONE}") == ["192.0.2.1"]
        await asyncio.to_thread(driver.execute_script, "window.__not_reloaded = 42;")

        await backend.close()  # the target dies
        await until(
            lambda: row_status(driver, "primary") == "unhealthy", "primary unhealthy on the page"
        )
        marker = await asyncio.to_thread(driver.execute_script, "return window.__not_reloaded;")
        assert marker == 42, "the page reloaded instead of updating live"
        recent = await asyncio.to_thread(text_of, driver, "#recent")
        assert "primary" in recent and "unhealthy" in recent, recent
        assert await asyncio.to_thread(dig, srv, f"fo.{ZONE}") == ["192.0.2.2"]

        def explain() -> None:
            form = driver.find_element(By.ID, "explain")
            form.find_element(By.NAME, "name").send_keys(f"fo.{ZONE}")
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        await asyncio.to_thread(explain)
        summary = await until(
            lambda: (
                "192.0.2.2" in driver.find_element(By.ID, "explain-out").text
                and driver.find_element(By.ID, "explain-out").text
            ),
            "the explain decision on the page",
        )
        assert "NOERROR" in summary and "decisions" in summary, summary

        # A hostile name comes back in the decision text, shown as text, never run.
        hostile = '<img src=x onerror="window.__xss=1">.health.test'

        def explain_hostile() -> None:
            field = driver.find_element(By.CSS_SELECTOR, "#explain input[name=name]")
            field.clear()
            field.send_keys(hostile)
            driver.find_element(By.CSS_SELECTOR, "#explain button[type=submit]").click()

        await asyncio.to_thread(explain_hostile)
        await until(lambda: "<img" in text_of(driver, "#explain-out"), "the hostile name as text")
        injected = await asyncio.to_thread(
            driver.execute_script,
            "return [window.__xss, document.querySelectorAll('#explain-out img').length];",
        )
        assert injected == [None, 0], injected
        stats = await until(lambda: text_of(driver, "#stats tbody"), "queries by policy")
        assert re.search(r"\d", stats), stats

        await asyncio.to_thread(shoot, driver, 1280, 900)
        await asyncio.to_thread(shoot, driver, 360, 800)
        width = await asyncio.to_thread(
            driver.execute_script, "return document.documentElement.scrollWidth;"
        )
        assert width <= 360 + 1, f"the page is {width} px wide at a 360 px window"
        await asyncio.to_thread(driver.set_window_size, 1280, 900)

        def click_override() -> None:
            driver.find_element(
                By.CSS_SELECTOR, 'button[data-check="primary"][data-state="healthy"]'
            ).click()

        await asyncio.to_thread(click_override)
        msg = await until(
            lambda: driver.find_element(By.ID, "override-msg").text, "the override's outcome"
        )
        assert msg == "override primary = healthy", msg
        deadline = time.monotonic() + DEADLINE
        while await asyncio.to_thread(dig, srv, f"fo.{ZONE}") != ["192.0.2.1"]:
            assert time.monotonic() < deadline, "the override did not change the answer"
            await asyncio.sleep(0.1)
        await until(lambda: "override" in text_of(driver, "#checks"), "override shown")
    finally:
        await backend.close()


async def test_foreign_host_refused_and_nothing_external(start_server, tmp_path):
    (tmp_path / "zones").mkdir()
    (tmp_path / "zones" / "health.yaml").write_text(zone_text({"primary": http_check(1)}, FAILOVER))
    _srv, api = await start(start_server, tmp_path / "zones")
    async with aiohttp.ClientSession() as session:
        for path in ("/", "/status/page.js", "/api/v1/events", "/api/v1/stats"):
            async with session.get(api + path, headers={"Host": "attacker.example"}) as resp:
                assert resp.status in (421, 403), (path, resp.status)
        async with session.get(api + "/") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Security-Policy"].startswith("default-src 'self'")
            html = await resp.text()
        bodies = [html]
        for path in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert path.startswith("/") and not path.startswith("//"), path
            async with session.get(api + path) as resp:
                assert resp.status == 200, path
                bodies.append(await resp.text())
        for body in bodies:
            assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]", body.replace("\\u", "")), (
                "the page refers to another site"
            )
            assert "innerHTML" not in body and "outerHTML" not in body


async def test_event_streams_are_bounded(start_server, tmp_path):
    (tmp_path / "zones").mkdir()
    (tmp_path / "zones" / "health.yaml").write_text(zone_text({"primary": http_check(1)}, FAILOVER))
    _srv, api = await start(start_server, tmp_path / "zones")
    from resolver.status import MAX_STREAMS

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        opened = []
        try:
            for _ in range(MAX_STREAMS):
                resp = await session.get(api + "/api/v1/events")
                assert resp.status == 200
                first = await resp.content.readuntil(b"\n\n")
                assert first.startswith(b"event: health\n")
                opened.append(resp)
            async with session.get(api + "/api/v1/events") as extra:
                assert extra.status == 503
            opened.pop().close()
            # A closed stream frees its place (the server notices within a second).
            deadline = time.monotonic() + 3
            while True:
                async with session.get(api + "/api/v1/events") as again:
                    if again.status == 200:
                        break
                    assert time.monotonic() < deadline, "a closed stream kept its place"
                await asyncio.sleep(0.1)
        finally:
            for resp in opened:
                resp.close()
