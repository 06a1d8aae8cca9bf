"""The config's forwarding keys (SPEC 3): `forwarders`, `allow_recursion`, and the
cache's TTL clamp and serve-stale window, read into one `ForwardSettings`."""

from __future__ import annotations

from typing import Any

from policies.base import is_int
from resolver.config_reader import SectionReader
from resolver.forward.settings import ForwardSettings
from resolver.serve.listen import ListenAddress
from resolver.wire import names
from resolver.zones.yamlsource import SourceDict

CACHE_TTL_KEYS = ("min_ttl", "max_ttl", "serve_stale")
DNS_PORT = 53  # a forwarder written without a port, as BIND and unbound take them


class ForwardSections(SectionReader):
    """Readers of `forwarders` and `allow_recursion`; `forward_settings` joins them with
    the cache keys `cache_ttls` read."""

    def _forwarders(self, value: Any, line: int, out: dict) -> None:
        routes: dict[names.Name, tuple[ListenAddress, ...]] = {}
        if not isinstance(value, dict):  # a list: every name outside the zones
            routes[()] = self._addresses(value or [], line, "forwarders", DNS_PORT)
        else:  # per domain: {".": [...], "corp.test": [...]}; the longest suffix wins
            for domain, addresses in value.items():
                where = value.line_of(domain) if isinstance(value, SourceDict) else line
                what = f"forwarders.{domain}"
                try:
                    if not isinstance(domain, str) or not domain.strip():
                        raise names.NameError_("must be a domain name")
                    name = names.from_text(domain if domain.endswith(".") else domain + ".")
                except (names.NameError_, UnicodeError) as exc:
                    self.error(where, what, f"bad domain {domain!r}: {exc}")
                    continue
                if name in routes:
                    self.error(where, what, f"domain {domain!r} is given twice")
                routes[name] = self._addresses(addresses or [], where, what, DNS_PORT)
        out["forward_routes"] = routes

    def _allow_recursion(self, value: Any, line: int, out: dict) -> None:
        out["allow_recursion"] = self._cidr_list(value, line, "allow_recursion")

    def cache_ttls(self, value: dict, line: int, out: dict) -> None:
        """The cache section's forwarding keys: seconds, min_ttl not above max_ttl."""
        for key in CACHE_TTL_KEYS:
            if key not in value:
                continue
            seconds = value[key]
            if not is_int(seconds) or seconds < 0:
                self.error(line, f"cache.{key}", "must be a non-negative number of seconds")
            else:
                out[f"cache_{key}"] = int(seconds)
        low, high = value.get("min_ttl", 0), value.get("max_ttl", 86400)
        if is_int(low) and is_int(high) and low > high:
            self.error(line, "cache.min_ttl", "must not be above cache.max_ttl")


def forward_settings(values: dict[str, Any]) -> ForwardSettings:
    """The ForwardSettings of what the readers put in values (their keys removed)."""
    defaults = ForwardSettings()
    return ForwardSettings(
        routes=values.pop("forward_routes", {}),
        allow_recursion=values.pop("allow_recursion", defaults.allow_recursion),
        min_ttl=values.pop("cache_min_ttl", defaults.min_ttl),
        max_ttl=values.pop("cache_max_ttl", defaults.max_ttl),
        serve_stale=values.pop("cache_serve_stale", defaults.serve_stale),
    )
