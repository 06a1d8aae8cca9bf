"""The status page's stats: per-policy totals from Metrics, rates over a bounded window."""

from __future__ import annotations

from collections import deque

from hypothesis import given
from hypothesis import strategies as st

from resolver.metrics import Metrics
from resolver.status import MAX_SAMPLES, WINDOW, policy_totals, rates


def test_totals_sum_policies_across_types_rcodes_and_workers() -> None:
    m = Metrics()
    m.observe(("A", "NOERROR", "failover"), 0.0)
    m.observe(("AAAA", "NOERROR", "failover"), 0.0)
    m.observe(("A", "NXDOMAIN", "simple"), 0.0)
    m.cache_stats = lambda: (3, 1)
    m.remote[1] = {"queries": {("A", "NOERROR", "simple"): 5}, "hits": 2, "misses": 4}
    assert policy_totals(m) == ({"failover": 2, "simple": 6}, 5, 5)


def test_rate_is_the_growth_over_the_window() -> None:
    samples: deque[tuple[float, dict[str, int]]] = deque(maxlen=MAX_SAMPLES)
    assert rates(samples, 100.0, {"simple": 10}) == ({"simple": 0.0}, 0.0)
    per, span = rates(samples, 110.0, {"simple": 60, "failover": 5})
    assert span == 10.0 and per == {"failover": 0.5, "simple": 5.0}
    per, span = rates(samples, 130.0, {"simple": 90, "failover": 5})
    assert span == 30.0 and per == {"failover": 5 / 30, "simple": 80 / 30}
    # Samples older than WINDOW are dropped: the rate is over the recent past only.
    per, span = rates(samples, 100.0 + WINDOW + 5, {"simple": 150, "failover": 5})
    assert span == WINDOW - 5 and per == {"failover": 0.0, "simple": 90 / (WINDOW - 5)}


@given(st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=500))
def test_samples_stay_bounded_and_recent(steps: list[float]) -> None:
    samples: deque[tuple[float, dict[str, int]]] = deque(maxlen=MAX_SAMPLES)
    now = 0.0
    for total, step in enumerate(steps, 1):
        now += step
        per, span = rates(samples, now, {"p": total})
        assert len(samples) <= MAX_SAMPLES
        assert 0 <= span <= WINDOW
        assert per["p"] >= 0
