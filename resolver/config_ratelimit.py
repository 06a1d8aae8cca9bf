"""The config's `rate_limit` section (SPEC 3): read into `RateLimitSettings`."""

from __future__ import annotations

from typing import Any

from policies.base import is_int
from resolver.config_reader import SectionReader
from resolver.query.ratelimit import RateLimitSettings

RATE_LIMIT_KEYS = {
    "responses_per_second",
    "nxdomains_per_second",
    "errors_per_second",
    "window",
    "slip",
    "ipv4_prefix",
    "ipv6_prefix",
    "exempt",
}


class RateLimitSection(SectionReader):
    """Reads `rate_limit`; every bad key is an error at the section's line."""

    def _rate_limit(self, value: Any, line: int, out: dict) -> None:
        if not self._mapping(
            value, line, "rate_limit", RATE_LIMIT_KEYS, "must be {responses_per_second: N, ...}"
        ):
            return
        errors = len(self.errors)
        defaults = RateLimitSettings()
        rps = value.get("responses_per_second", 0)
        if not is_int(rps) or rps < 0:
            self.error(line, "rate_limit.responses_per_second", "must be a non-negative integer")
        for key in ("nxdomains_per_second", "errors_per_second"):
            rate = value.get(key)
            if rate is not None and (not is_int(rate) or rate < 0):
                self.error(line, f"rate_limit.{key}", "must be a non-negative integer or null")
        for key, low, high in (("window", 1, 3600), ("slip", 0, 10)):
            item = value.get(key, getattr(defaults, key))
            if not is_int(item) or not low <= item <= high:
                self.error(line, f"rate_limit.{key}", f"must be an integer {low}..{high}")
        for key, high in (("ipv4_prefix", 32), ("ipv6_prefix", 128)):
            item = value.get(key, getattr(defaults, key))
            if not is_int(item) or not 0 <= item <= high:
                self.error(line, f"rate_limit.{key}", f"must be a prefix length 0..{high}")
        exempt = self._cidr_list(value.get("exempt", []), line, "rate_limit.exempt")
        if len(self.errors) > errors:
            return
        out["rate_limit"] = RateLimitSettings(
            rps,
            value.get("nxdomains_per_second"),
            value.get("errors_per_second"),
            value.get("window", defaults.window),
            value.get("slip", defaults.slip),
            value.get("ipv4_prefix", defaults.ipv4_prefix),
            value.get("ipv6_prefix", defaults.ipv6_prefix),
            exempt,
        )
