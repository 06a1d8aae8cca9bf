"""Manual overrides (issue 15): the snapshot and calculated parents follow the override,
the probe's own state stays truthful, reloads keep it while the id exists."""

from __future__ import annotations

import logging

import pytest

from healthcheck.checker import HealthChecker, ProbeKey
from healthcheck.override import parse_state
from healthcheck.spec import CheckSpec

WEB = CheckSpec("tcp", "127.0.0.1", 9, interval=60, failure_threshold=1)
DB = CheckSpec("tcp", "127.0.0.1", 10, interval=60, failure_threshold=1)
BOTH = CheckSpec("calculated", children=("web", "db"), healthy_threshold=2)
TOP = CheckSpec("calculated", children=("both",), healthy_threshold=1)


def checker(**extra: CheckSpec) -> tuple[HealthChecker, list[tuple[str, bool, bool, str]]]:
    seen: list[tuple[str, bool, bool, str]] = []
    specs = {"web": WEB, "db": DB, "both": BOTH, "top": TOP, **extra}
    return HealthChecker(specs, lambda *change: seen.append(change)), seen


async def test_override_drives_snapshot_and_parents_not_the_probe_state() -> None:
    hc, seen = checker()
    version = hc.view().version
    assert hc.set_override("web", False, "local")
    view = hc.view()
    assert view.version > version
    assert not view.is_healthy("web") and not view.is_healthy("both")
    assert not view.is_healthy("top")  # grandparent follows too
    state = hc.states()["web"]
    assert state.healthy and state.status == "healthy"  # truthful underneath
    assert state.as_dict()["override"] == {
        "state": "unhealthy",
        "who": "local",
        "at": state.override.at if state.override else None,
    }
    assert ("web", True, False, "override by local") in seen
    # A probe result underneath updates the state, not, the published (forced) answer.
    hc._record(ProbeKey.of(WEB), True, "ok")
    assert not hc.view().is_healthy("web")
    assert hc.set_override("web", None, "local")
    assert hc.view().is_healthy("web") and hc.view().is_healthy("top")
    assert hc.states()["web"].as_dict()["override"] is None


async def test_forced_healthy_over_a_failing_probe() -> None:
    hc, _ = checker()
    hc._record(ProbeKey.of(DB), False, "connection refused")
    assert not hc.view().is_healthy("db") and not hc.view().is_healthy("both")
    hc.set_override("db", True, "token")
    assert hc.view().is_healthy("db") and hc.view().is_healthy("both")
    state = hc.states()["db"]
    assert state.status == "unhealthy" and state.reason == "connection refused"
    # A calculated check can be overridden itself.
    hc.set_override("both", False, "token")
    assert not hc.view().is_healthy("both") and not hc.view().is_healthy("top")


async def test_unknown_id_is_refused() -> None:
    hc, seen = checker()
    assert not hc.set_override("nope", False, "local")
    assert seen == [] and hc.recent() == []


async def test_override_logged_and_recorded(caplog: pytest.LogCaptureFixture) -> None:
    hc, _ = checker()
    with caplog.at_level(logging.INFO, "policydns.health"):
        hc.set_override("web", True, "local")  # same as calculated: no flip, still logged
        hc._record(ProbeKey.of(DB), False, "refused")
    assert "health check web: override healthy by local" in caplog.text
    kinds = [(c.check, c.old, c.new) for c in hc.recent()]
    assert kinds[0] == ("web", "none", "healthy")
    assert ("db", "healthy", "unhealthy") in kinds and ("both", "healthy", "unhealthy") in kinds


async def test_recent_is_bounded() -> None:
    hc, _ = checker()
    for i in range(500):
        hc.set_override("web", i % 2 == 0, "local")
    assert len(hc.recent()) == 200


async def test_reload_keeps_override_while_id_exists_and_drops_it_after(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hc, _ = checker()
    hc.set_override("web", False, "local")
    await hc.update({"web": WEB, "db": DB, "both": BOTH, "top": TOP})
    assert not hc.view().is_healthy("web") and not hc.view().is_healthy("both")
    changed = CheckSpec("tcp", "127.0.0.1", 9, interval=30, failure_threshold=2)
    await hc.update({"web": changed, "db": DB, "both": BOTH, "top": TOP})
    assert not hc.view().is_healthy("web") and not hc.view().is_healthy("both")
    with caplog.at_level(logging.INFO, "policydns.health"):
        await hc.update({"db": DB, "both": BOTH, "top": TOP})
    assert "health check web: removed, its override dropped" in caplog.text
    assert hc.view().is_healthy("both")  # a missing child counts healthy
    await hc.update({"web": WEB, "db": DB, "both": BOTH, "top": TOP})
    assert hc.view().is_healthy("web") and hc.states()["web"].override is None


def test_parse_state() -> None:
    assert parse_state("healthy") is True
    assert parse_state("unhealthy") is False
    assert parse_state("none") is None
    for bad in ("Healthy", "", None, 1, True, ["healthy"]):
        with pytest.raises(ValueError):
            parse_state(bad)
