"""The pure health state machine (SPEC 6): thresholds, invert, calculated checks."""

from __future__ import annotations

import pytest

from healthcheck.spec import CheckSpec
from healthcheck.state import CheckState, HealthSnapshot, calculated_health


def feed(
    state: CheckState, results: list[bool], threshold: int, invert: bool = False
) -> list[bool]:
    """Apply results in order; return, per result, whether the state flipped on it."""
    return [
        state.apply(
            ok,
            "ok" if ok else "status 500",
            failure_threshold=threshold,
            invert=invert,
            now=float(i + 1),
        )
        for i, ok in enumerate(results)
    ]


def test_new_check_starts_healthy_and_inverted_unhealthy():
    plain = CheckState.new(now=5.0)
    assert plain.healthy and plain.status == "healthy"
    assert plain.since == 5.0 and plain.last_checked is None and plain.last_result is None
    inverted = CheckState.new(now=5.0, invert=True)
    assert not inverted.healthy and inverted.status == "unhealthy"


@pytest.mark.parametrize("threshold", [1, 2, 3, 10])
def test_flips_after_exactly_threshold_failures_and_back(threshold):
    state = CheckState.new(now=0.0)
    flips = feed(state, [False] * threshold, threshold)
    assert flips == [False] * (threshold - 1) + [True]
    assert not state.healthy and state.since == float(threshold)
    assert state.reason == "status 500" and state.last_result is False

    flips = feed(state, [True] * threshold, threshold)
    assert flips == [False] * (threshold - 1) + [True]
    assert state.healthy and state.reason == "ok" and state.last_result is True


def test_one_agreeing_result_resets_the_count():
    state = CheckState.new(now=0.0)
    assert feed(state, [False, False, True, False, False, True], 3) == [False] * 6
    assert state.healthy and state.streak == 0
    assert feed(state, [False, False, False], 3) == [False, False, True]
    # and in the other direction
    assert feed(state, [True, True, False, True, True], 3) == [False] * 5
    assert not state.healthy
    assert feed(state, [True], 3) == [True]


def test_results_agreeing_with_state_never_flip():
    state = CheckState.new(now=0.0)
    assert feed(state, [True] * 20, 1) == [False] * 20
    assert state.since == 0.0 and state.last_checked == 20.0


def test_invert_reports_the_opposite():
    state = CheckState.new(now=0.0, invert=True)
    # a failing target keeps an inverted check healthy... once it has flipped there
    assert feed(state, [False, False], 2, invert=True) == [False, True]
    assert state.healthy and state.last_result is False
    assert state.reason == "status 500 (inverted)"
    # a succeeding target makes it unhealthy after the threshold
    assert feed(state, [True, True], 2, invert=True) == [False, True]
    assert not state.healthy and state.reason == "ok (inverted)"
    # a succeeding target agrees with the (unhealthy) inverted state: no flip
    assert feed(state, [True] * 5, 2, invert=True) == [False] * 5


def test_set_for_derived_state():
    state = CheckState.new(now=0.0)
    assert not state.set(True, "2 of 2 children healthy (need 1)", 1.0)
    assert state.since == 0.0
    assert state.set(False, "0 of 2 children healthy (need 1)", 2.0)
    assert not state.healthy and state.since == 2.0 and state.last_checked == 2.0


def test_as_dict_is_the_api_shape():
    state = CheckState.new(now=1.0)
    feed(state, [False], 1)
    assert state.as_dict() == {
        "status": "unhealthy",
        "probed": "unhealthy",
        "since": 1.0,
        "last_checked": 1.0,
        "last_result": False,
        "reason": "status 500",
        "override": None,
    }


@pytest.mark.parametrize(
    ("threshold", "children", "healthy"),
    [
        (0, [], True),
        (0, [False, False, False], True),
        (1, [False, False, True], True),
        (2, [False, False, True], False),
        (2, [True, False, True], True),
        (3, [True, True, True], True),
        (3, [True, True, False], False),
    ],
)
def test_calculated_thresholds(threshold, children, healthy):
    result, reason = calculated_health(threshold, children)
    assert result is healthy
    assert reason == f"{sum(children)} of {len(children)} children healthy (need {threshold})"


def test_calculated_reason_and_invert():
    assert calculated_health(2, [True, False, True]) == (
        True,
        "2 of 3 children healthy (need 2)",
    )
    assert calculated_health(2, [True, False, True], invert=True) == (
        False,
        "2 of 3 children healthy (need 2) (inverted)",
    )


def test_nested_calculated():
    """A calculated check over a calculated check sees the inner one's result."""
    leaves = {"a": True, "b": False, "c": False}
    inner, _ = calculated_health(1, [leaves["a"], leaves["b"]])
    outer, reason = calculated_health(2, [inner, leaves["c"]])
    assert inner and not outer and reason == "1 of 2 children healthy (need 2)"
    leaves["c"] = True
    outer, _ = calculated_health(2, [inner, leaves["c"]])
    assert outer
    leaves["a"] = False
    inner, _ = calculated_health(1, [leaves["a"], leaves["b"]])
    outer, _ = calculated_health(2, [inner, leaves["c"]])
    assert not inner and not outer


def test_checker_evaluates_nested_calculated_children_first():
    """Initial state of nested calculated checks, computed without any probe running."""
    from healthcheck.checker import HealthChecker

    specs = {
        "outer": CheckSpec(type="calculated", children=("inner", "c"), healthy_threshold=2),
        "inner": CheckSpec(type="calculated", children=("a", "b"), healthy_threshold=1),
        "a": CheckSpec(type="tcp", target="127.0.0.1", port=1),
        "b": CheckSpec(type="tcp", target="127.0.0.1", port=2, invert=True),
        "c": CheckSpec(type="tcp", target="127.0.0.1", port=3, invert=True),
        "zero": CheckSpec(type="calculated", children=("b", "c"), healthy_threshold=0),
    }
    view = HealthChecker(specs).view()
    assert view.is_healthy("a") and not view.is_healthy("b") and not view.is_healthy("c")
    assert view.is_healthy("inner")  # 1 of 2, need 1
    assert not view.is_healthy("outer")  # inner healthy, c not: 1 of 2, need 2
    assert view.is_healthy("zero")  # threshold 0: always healthy
    assert view.is_healthy("unknown")


def test_snapshot_is_immutable():
    snap = HealthSnapshot({"a": True, "b": False}, version=3)
    assert snap.is_healthy("a") and not snap.is_healthy("b") and snap.is_healthy("zzz")
    with pytest.raises(AttributeError):
        snap.version = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        snap.states["a"] = False  # type: ignore[index]
    assert snap.version == 3 and snap.is_healthy("a")
