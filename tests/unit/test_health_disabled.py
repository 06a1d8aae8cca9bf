"""Route 53's Disabled flag (zone key `disabled`): never probed, always healthy."""

from __future__ import annotations

import asyncio
import socket

from healthcheck.checker import HealthChecker
from healthcheck.spec import CheckSpec
from resolver.zones.healthchecks import parse_check


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_disabled_checks_stay_healthy_while_a_twin_fails() -> None:
    port = closed_port()
    probe = {"type": "tcp", "target": "127.0.0.1", "port": port, "interval": 0.1}
    specs = {
        "off": CheckSpec(
            "tcp", "127.0.0.1", port, interval=0.1, failure_threshold=1, disabled=True
        ),
        "off-inverted": CheckSpec(
            "tcp", "127.0.0.1", port, interval=0.1, failure_threshold=1, invert=True, disabled=True
        ),
        "on": CheckSpec("tcp", "127.0.0.1", port, interval=0.1, failure_threshold=1),
        "all": CheckSpec("calculated", children=("off", "on"), healthy_threshold=2),
        "all-off": CheckSpec(
            "calculated", children=("off", "on"), healthy_threshold=2, disabled=True
        ),
    }
    checker = HealthChecker(specs)
    await checker.start()
    try:
        for _ in range(50):
            if not checker.view().is_healthy("on"):
                break
            await asyncio.sleep(0.05)
        view = checker.view()
        assert not view.is_healthy("on")
        assert view.is_healthy("off") and view.is_healthy("off-inverted")
        assert not view.is_healthy("all")  # a disabled child counts healthy; "on" does not
        assert view.is_healthy("all-off")
        assert "disabled" in checker.states()["off"].reason
    finally:
        await checker.stop()
    spec, reasons = parse_check({**probe, "disabled": True})
    assert spec is not None and spec.disabled and not reasons


def test_disabled_must_be_a_boolean() -> None:
    spec, reasons = parse_check({"type": "tcp", "target": "127.0.0.1", "port": 1, "disabled": 1})
    assert spec is None and any("disabled must be true or false" in r for r in reasons)
