"""Hypothesis profiles for the property suite.

"ci" (the default) is derandomized, so a run is repeatable, and every test sets a bounded
example count (scaled by PROPERTY_SCALE) so the suite stays well under two minutes on two
cores. HYPOTHESIS_PROFILE=dev draws fresh random examples each run, for hunting.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "print_blob": True,
    "report_multiple_bugs": False,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("ci", derandomize=True, **_COMMON)
settings.register_profile("dev", derandomize=False, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
