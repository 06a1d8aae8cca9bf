"""TCP connection caps and the refusal log (resolver/serve/admission.py), time passed in."""

from __future__ import annotations

from resolver.metrics import EVENT_FAMILIES
from resolver.serve.admission import (
    MAX_CONNECTIONS,
    MAX_PER_CLIENT,
    REFUSED_FAMILY,
    TIMED_OUT_FAMILY,
    Admission,
    RefusalLog,
)


def test_per_client_cap_refuses_only_that_client():
    admission = Admission()
    assert [admission.admit("10.0.0.1", 10, 2) for _ in range(3)] == [None, None, MAX_PER_CLIENT]
    assert admission.admit("10.0.0.2", 10, 2) is None
    assert admission.total == 3


def test_overall_cap_is_checked_first_and_release_frees_a_slot():
    admission = Admission()
    assert admission.admit("a", 2, 5) is None
    assert admission.admit("b", 2, 5) is None
    assert admission.admit("c", 2, 5) == MAX_CONNECTIONS
    assert admission.admit("a", 2, 1) == MAX_CONNECTIONS  # both caps reached: overall
    admission.release("b")
    assert admission.admit("c", 2, 5) is None


def test_addresses_leave_when_their_last_connection_closes():
    """The per-client table never holds more addresses than open connections."""
    admission = Admission()
    for i in range(1000):
        assert admission.admit(f"10.0.{i // 256}.{i % 256}", 2000, 1) is None
        admission.release(f"10.0.{i // 256}.{i % 256}")
    assert admission.per_client == {} and admission.total == 0
    admission.admit("x", 5, 5)
    admission.admit("x", 5, 5)
    admission.release("x")
    assert admission.per_client == {"x": 1}


def test_a_lowered_cap_refuses_new_connections_but_keeps_open_ones():
    admission = Admission()
    for _ in range(4):
        admission.admit("a", 10, 10)
    assert admission.admit("a", 10, 2) == MAX_PER_CLIENT
    assert admission.total == 4  # nothing open is cut
    for _ in range(3):
        admission.release("a")
    assert admission.admit("a", 10, 2) is None


def test_first_refusal_is_logged_then_one_summary_per_interval():
    refusals = RefusalLog(interval=10.0)
    first = refusals.refused(MAX_PER_CLIENT, "192.0.2.1", 32, now=100.0)
    assert first is not None and "192.0.2.1" in first and "max_per_client (32)" in first
    lines = [
        refusals.refused(MAX_PER_CLIENT, "192.0.2.1", 32, now=100.0 + i / 100) for i in range(500)
    ]
    lines += [refusals.refused(MAX_CONNECTIONS, "192.0.2.9", 256, now=105.0)]
    assert lines == [None] * 501
    assert refusals.due(109.9) is None
    summary = refusals.due(110.0)
    assert summary is not None
    assert "501" in summary and "max_per_client 500" in summary and "max_connections 1" in summary
    assert refusals.due(125.0) is None  # nothing left to say


def test_a_refusal_after_the_interval_carries_the_waiting_summary():
    refusals = RefusalLog(interval=10.0)
    refusals.refused(MAX_CONNECTIONS, "a", 5, now=0.0)
    refusals.refused(MAX_CONNECTIONS, "a", 5, now=1.0)
    line = refusals.refused(MAX_CONNECTIONS, "a", 5, now=11.0)  # before the timer's due()
    assert line is not None and "refused 2 more" in line
    assert refusals.due(11.0) is None
    assert refusals.refused(MAX_CONNECTIONS, "a", 5, now=15.0) is None  # quiet again till 21


def test_a_quiet_interval_makes_the_next_refusal_a_first_line_again():
    refusals = RefusalLog(interval=10.0)
    assert refusals.refused(MAX_PER_CLIENT, "a", 3, now=0.0) is not None
    assert refusals.due(50.0) is None
    line = refusals.refused(MAX_PER_CLIENT, "b", 3, now=50.0)
    assert line is not None and "from b refused" in line


def test_lines_per_flood_are_bounded_by_time_not_connections():
    """A minute of 1,000 refusals a second, with the summary polled each second: at most
    one line per interval plus the first."""
    refusals = RefusalLog(interval=10.0)
    lines = 0
    for ms in range(60_000):
        now = ms / 1000
        lines += refusals.refused(MAX_PER_CLIENT, "a", 1, now) is not None
        if ms % 1000 == 0:
            lines += refusals.due(now) is not None
    assert 6 <= lines <= 7


def test_the_families_are_declared_for_metrics():
    assert REFUSED_FAMILY in EVENT_FAMILIES and TIMED_OUT_FAMILY in EVENT_FAMILIES
    assert EVENT_FAMILIES[REFUSED_FAMILY][1] == EVENT_FAMILIES[TIMED_OUT_FAMILY][1] == "reason"
