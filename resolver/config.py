"""The server configuration file (SPEC 3): every key validated, with its line on error.

Keys of SPEC section 3 whose feature has not landed yet (NOT_IMPLEMENTED) are checked for
shape now, so that a config written today keeps loading, and each one present is a warning
(Config.warnings): accepted, but it has no effect.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policies.base import is_int, is_number
from resolver.config_forward import CACHE_TTL_KEYS, ForwardSections, forward_settings
from resolver.config_geo import GeoSections
from resolver.config_querylog import QueryLogSection, QueryLogSettings
from resolver.config_ratelimit import RateLimitSection
from resolver.config_route53 import Route53Section
from resolver.errors import LoadError, LoadFailed
from resolver.forward.settings import ForwardSettings
from resolver.query.ratelimit import RateLimitSettings
from resolver.route53.settings import Route53Settings
from resolver.serve.listen import ListenAddress, TcpSettings, parse_address
from resolver.zones.yamlsource import SourceDict, YamlSourceError, load

DEFAULT_LISTEN = ("0.0.0.0:53", "[::]:53")
DEFAULT_HTTP = "127.0.0.1:8053"
MIN_TOKEN_LENGTH = 16

# Config keys (dotted for nested ones) that SPEC section 3 defines and this version accepts
# but does not act on. The one list: a feature that lands removes its key(s) from here.
NOT_IMPLEMENTED: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    listen: tuple[ListenAddress, ...] = tuple(parse_address(a) for a in DEFAULT_LISTEN)
    http: ListenAddress | None = field(default_factory=lambda: parse_address(DEFAULT_HTTP))
    zones: tuple[str, ...] = ("zones",)
    workers: int = 1
    geoip_database: str | None = None
    locations: dict[str, Any] = field(default_factory=dict)
    latency: dict[str, Any] = field(default_factory=dict)
    regions: dict[str, Any] = field(default_factory=dict)
    ecs: bool = True
    cache_max_entries: int = 100000
    forwarding: ForwardSettings = field(default_factory=ForwardSettings)
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    chaos_version: str | None = None  # None: the default "policydns VERSION"
    chaos_id: str | None = None  # None: the host name
    chaos_enabled: bool = True
    tcp: TcpSettings = field(default_factory=TcpSettings)
    http_token: str | None = None  # bearer token required by state-changing API calls
    # Host header names the HTTP listener accepts besides its own address and loopback
    # (lower case; IPv6 in brackets).
    http_allowed_hosts: tuple[str, ...] = ()
    route53: Route53Settings | None = None  # the Route 53 API; None = off
    query_log: QueryLogSettings | None = None  # None: no `query_log:` section
    source: str | None = None
    # NOT_IMPLEMENTED keys this file sets: logged at startup, printed by `check`.
    warnings: tuple[ConfigWarning, ...] = ()


@dataclass(frozen=True, slots=True)
class ConfigWarning:
    """A config key that is accepted but does nothing yet, at its file and line."""

    file: str
    line: int
    key: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: {self.key} is accepted but not implemented yet; "
            "it has no effect"
        )


TOP_KEYS = {
    "listen",
    "http",
    "zones",
    "workers",
    "geoip",
    "locations",
    "latency",
    "regions",
    "ecs",
    "cache",
    "forwarders",
    "allow_recursion",
    "rate_limit",
    "chaos",
    "tcp",
    "http_token",
    "http_token_file",
    "http_allowed_hosts",
    "query_log",
    "route53",
}
CACHE_KEYS = {"max_entries", *CACHE_TTL_KEYS}
TCP_KEYS = {"idle_timeout", "max_connections", "max_per_client"}
# A Host name: DNS labels (letters, digits, hyphens, underscores), an IPv4 address, or an
# IPv6 address in brackets. No port, no scheme, no wildcard.
_HOST_NAME_RE = re.compile(
    r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*"
)


class _ConfigReader(
    GeoSections, ForwardSections, QueryLogSection, RateLimitSection, Route53Section
):
    """Reads one config file: each top-level key by the method named after it."""

    def __init__(self, path: Path) -> None:
        self.file = str(path)
        self.base = path.parent
        self.errors: list[LoadError] = []
        self.warnings: list[ConfigWarning] = []

    def read(self, doc: SourceDict) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.file}
        for key in doc:
            if key in TOP_KEYS:
                getattr(self, f"_{key}")(doc[key], doc.line_of(key), out)
            else:
                self.error(doc.line_of(key), str(key), f"unknown key {key!r}")
        self._note_unimplemented(doc, "")
        if doc.get("http_token") is not None and doc.get("http_token_file") is not None:
            line = max(doc.line_of("http_token"), doc.line_of("http_token_file"))
            self.error(line, "http_token_file", "give http_token or http_token_file, not both")
        out["warnings"] = tuple(sorted(self.warnings, key=lambda w: w.line))
        return out

    def _note_unimplemented(self, mapping: Any, prefix: str) -> None:
        """One warning per NOT_IMPLEMENTED key present in mapping (keys under prefix)."""
        if not isinstance(mapping, SourceDict):
            return
        for key in mapping:
            if f"{prefix}{key}" in NOT_IMPLEMENTED:
                self.warnings.append(ConfigWarning(self.file, mapping.line_of(key), prefix + key))
            elif prefix == "" and isinstance(mapping[key], SourceDict):
                self._note_unimplemented(mapping[key], f"{key}.")

    def _listen(self, value: Any, line: int, out: dict) -> None:
        out["listen"] = self._addresses(value, line, "listen")
        if value == [] or value is None:
            self.error(line, "listen", "needs at least one address")

    def _http(self, value: Any, line: int, out: dict) -> None:
        if value is None or value is False:
            out["http"] = None
            return
        try:
            out["http"] = parse_address(value)
        except ValueError as exc:
            self.error(line, "http", str(exc))

    def _zones(self, value: Any, line: int, out: dict) -> None:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items) or not items:
            self.error(line, "zones", "must be a list of zone files or directories")
            return
        out["zones"] = tuple(str(self.base / i) for i in items)

    def _workers(self, value: Any, line: int, out: dict) -> None:
        if not is_int(value) or value < 1:
            self.error(line, "workers", f"must be a positive integer, not {value!r}")
        out["workers"] = value

    def _ecs(self, value: Any, line: int, out: dict) -> None:
        if not isinstance(value, bool):
            self.error(line, "ecs", "must be true or false")
        out["ecs"] = bool(value)

    def _cache(self, value: Any, line: int, out: dict) -> None:
        if not self._mapping(value, line, "cache", CACHE_KEYS, "must be {max_entries: N, ...}"):
            return
        self.cache_ttls(value, line, out)
        entries = value.get("max_entries", 100000)
        if not is_int(entries) or entries < 0:
            self.error(line, "cache.max_entries", "must be a non-negative integer")
            return
        out["cache_max_entries"] = entries

    def _chaos(self, value: Any, line: int, out: dict) -> None:
        if value is False:
            out["chaos_enabled"] = False
            return
        if not self._mapping(
            value,
            line,
            "chaos",
            {"version", "id"},
            "must be false or {version: TEXT|false, id: TEXT|false}",
        ):
            return
        for key, target in (("version", "chaos_version"), ("id", "chaos_id")):
            if key not in value:
                continue
            item = value[key]
            if item is False:
                out[target] = ""
            elif isinstance(item, str) and item:
                out[target] = item
            else:
                self.error(line, f"chaos.{key}", "must be a non-empty string or false")

    def _http_token(self, value: Any, line: int, out: dict) -> None:
        if value is None:
            return
        if not isinstance(value, str) or len(value) < MIN_TOKEN_LENGTH:
            self.error(line, "http_token", "must be a string of at least 16 characters")
            return
        out["http_token"] = value

    def _http_token_file(self, value: Any, line: int, out: dict) -> None:
        if value is None:
            return
        token = self._secret_file(value, line, "http_token_file", MIN_TOKEN_LENGTH, "the token")
        if token is not None:
            out["http_token"] = token

    def _http_allowed_hosts(self, value: Any, line: int, out: dict) -> None:
        if value is None:
            return
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            self.error(line, "http_allowed_hosts", "must be a list of host names")
            return
        hosts = []
        for item in items:
            host = normalize_host_name(item) if isinstance(item, str) else None
            if host is None:
                self.error(
                    line,
                    "http_allowed_hosts",
                    f"{item!r} is not a host name or IP address (no port, scheme or wildcard)",
                )
            else:
                hosts.append(host)
        out["http_allowed_hosts"] = tuple(hosts)

    def _tcp(self, value: Any, line: int, out: dict) -> None:
        if not self._mapping(
            value,
            line,
            "tcp",
            TCP_KEYS,
            "must be {idle_timeout: SECONDS, max_connections: N, max_per_client: N}",
        ):
            return
        defaults = TcpSettings()
        idle = value.get("idle_timeout", defaults.idle_timeout)
        cap = value.get("max_connections", defaults.max_connections)
        per_client = value.get("max_per_client", defaults.max_per_client)
        ok = True
        if not is_number(idle) or idle <= 0:
            self.error(line, "tcp.idle_timeout", "must be a positive number of seconds")
            ok = False
        if not is_int(cap) or cap < 1:
            self.error(line, "tcp.max_connections", "must be a positive integer")
            ok = False
        if not is_int(per_client) or per_client < 1:
            self.error(line, "tcp.max_per_client", "must be a positive integer")
            ok = False
        if ok:
            out["tcp"] = TcpSettings(float(idle), cap, per_client)


def normalize_host_name(text: str) -> str | None:
    """A Host header name as compared: lower case, no trailing dot, IPv6 in brackets.

    None when text is not a host name or IP address (a port, a scheme, a wildcard).
    """
    host = text.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return f"[{address}]" if address.version == 6 else str(address)
    if host.endswith("."):
        host = host[:-1]
    if not host or len(host) > 253 or not _HOST_NAME_RE.fullmatch(host):
        return None
    return host


def load_config(path: str | None) -> Config:
    """Read the config file (None: all defaults); raise LoadFailed with every error."""
    if path is None:
        return Config()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadFailed([LoadError(str(file), 0, "config", f"cannot read: {exc}")]) from None
    try:
        doc = load(text)
    except YamlSourceError as exc:
        raise LoadFailed([LoadError(str(file), exc.line, "config", exc.reason)]) from None
    if doc is None:
        doc = SourceDict()
        doc.key_lines = {}
    if not isinstance(doc, SourceDict):
        raise LoadFailed([LoadError(str(file), 1, "config", "the config must be a mapping")])
    reader = _ConfigReader(file)
    values = reader.read(doc)
    if reader.errors:
        raise LoadFailed(reader.errors)
    forwarding = forward_settings(values)
    return Config(**values, forwarding=forwarding)
