"""The server configuration file (SPEC 3): every key validated, with its line on error.

Keys of SPEC section 3 whose feature has not landed yet (NOT_IMPLEMENTED) are checked for
shape now, so that a config written today keeps loading, and each one present is a warning
(Config.warnings): accepted, but it has no effect.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from resolver.errors import LoadError, LoadFailed
from resolver.serve.listen import ListenAddress, TcpSettings, parse_address
from resolver.zones.yamlsource import SourceDict, YamlSourceError, is_int, load

DEFAULT_LISTEN = ("0.0.0.0:53", "[::]:53")
DEFAULT_HTTP = "127.0.0.1:8053"
MIN_TOKEN_LENGTH = 16

# Config keys (dotted for nested ones) that SPEC section 3 defines and this version accepts
# but does not act on. The one list: a feature that lands removes its key(s) from here.
NOT_IMPLEMENTED: tuple[str, ...] = (
    "forwarders",
    "allow_recursion",
    "rate_limit",
    "query_log",
    "route53",
    "cache.min_ttl",
    "cache.max_ttl",
    "cache.serve_stale",
    "tcp.max_per_client",
)


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
    forwarders: tuple[ListenAddress, ...] = ()
    allow_recursion: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    responses_per_second: int = 0
    chaos_version: str | None = None  # None: the default "policydns VERSION"
    chaos_id: str | None = None  # None: the host name
    chaos_enabled: bool = True
    tcp: TcpSettings = field(default_factory=TcpSettings)
    http_token: str | None = None  # bearer token required by state-changing API calls
    # Host header names the HTTP listener accepts besides its own address and loopback
    # (lower case; IPv6 in brackets).
    http_allowed_hosts: tuple[str, ...] = ()
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


LOCATION_KEYS = {"continent", "country", "subdivision", "latitude", "longitude"}
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
CACHE_KEYS = {"max_entries"} | {k[6:] for k in NOT_IMPLEMENTED if k.startswith("cache.")}
TCP_KEYS = {"idle_timeout", "max_connections"} | {
    k[4:] for k in NOT_IMPLEMENTED if k.startswith("tcp.")
}
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
# A Host name: DNS labels (letters, digits, hyphens, underscores), an IPv4 address, or an
# IPv6 address in brackets. No port, no scheme, no wildcard.
_HOST_NAME_RE = re.compile(
    r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*"
)


class _ConfigReader:
    def __init__(self, path: Path) -> None:
        self.file = str(path)
        self.base = path.parent
        self.errors: list[LoadError] = []
        self.warnings: list[ConfigWarning] = []

    def error(self, line: int, what: str, reason: str) -> None:
        self.errors.append(LoadError(self.file, line, what, reason))

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

    def _addresses(self, value: Any, line: int, what: str) -> tuple[ListenAddress, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            self.error(line, what, "must be a list of ADDR:PORT")
            return ()
        result = []
        for item in items:
            try:
                result.append(parse_address(item))
            except ValueError as exc:
                self.error(line, what, str(exc))
        return tuple(result)

    def _mapping(self, value: Any, line: int, what: str, allowed: set[str], shape: str) -> bool:
        """Is value a mapping of allowed keys? Each unknown key is an error at its own line."""
        if not isinstance(value, dict):
            self.error(line, what, shape)
            return False
        unknown = [key for key in value if key not in allowed]
        for key in unknown:
            where = value.line_of(key) if isinstance(value, SourceDict) else line
            self.error(where, f"{what}.{key}", f"unknown key {key!r}")
        return not unknown

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

    def _geoip(self, value: Any, line: int, out: dict) -> None:
        if value is None:
            return
        if not self._mapping(
            value, line, "geoip", {"database"}, "must be {database: FILE or null}"
        ):
            return
        database = value.get("database")
        if database is not None:
            if not isinstance(database, str):
                self.error(line, "geoip.database", "must be a file name or null")
            else:
                out["geoip_database"] = str(self.base / database)

    def _networks(
        self, value: Any, line: int, what: str, check: Callable[[Any], str | None]
    ) -> dict:
        if value is None:
            return {}
        if not isinstance(value, SourceDict):
            self.error(line, what, "must map CIDR blocks to settings")
            return {}
        result = {}
        for cidr, settings in value.items():
            key_line = value.line_of(cidr)
            try:
                network = ipaddress.ip_network(str(cidr), strict=True)
            except ValueError as exc:
                self.error(key_line, what, f"bad CIDR {cidr!r}: {exc}")
                continue
            if what == "locations" and not self._mapping(
                settings, key_line, f"locations {cidr}", LOCATION_KEYS, "must be a mapping"
            ):
                continue
            problem = check(settings)
            if problem:
                self.error(key_line, f"{what} {cidr}", problem)
                continue
            result[str(network)] = settings
        return result

    def _locations(self, value: Any, line: int, out: dict) -> None:
        out["locations"] = self._networks(value, line, "locations", _check_location)

    def _latency(self, value: Any, line: int, out: dict) -> None:
        def check(settings: Any) -> str | None:
            if not isinstance(settings, dict) or not settings:
                return "must map region names to round-trip times in ms"
            bad = [k for k, v in settings.items() if not _is_number(v) or v < 0]
            return f"round-trip times must be non-negative numbers: {bad}" if bad else None

        out["latency"] = self._networks(value, line, "latency", check)

    def _regions(self, value: Any, line: int, out: dict) -> None:
        if value is None:
            return
        if not isinstance(value, SourceDict):
            self.error(line, "regions", "must map region names to {latitude, longitude}")
            return
        regions = {}
        for name, coords in value.items():
            problem = _check_coordinates(coords, required=True)
            if problem:
                self.error(value.line_of(name), f"regions {name}", problem)
            else:
                regions[str(name)] = coords
        out["regions"] = regions

    def _ecs(self, value: Any, line: int, out: dict) -> None:
        if not isinstance(value, bool):
            self.error(line, "ecs", "must be true or false")
        out["ecs"] = bool(value)

    def _cache(self, value: Any, line: int, out: dict) -> None:
        if not self._mapping(value, line, "cache", CACHE_KEYS, "must be {max_entries: N, ...}"):
            return
        for key in ("min_ttl", "max_ttl", "serve_stale"):
            seconds = value.get(key, 0)
            if not is_int(seconds) or seconds < 0:
                self.error(line, f"cache.{key}", "must be a non-negative number of seconds")
        low, high = value.get("min_ttl"), value.get("max_ttl")
        if is_int(low) and is_int(high) and low > high:
            self.error(line, "cache.min_ttl", "must not be above cache.max_ttl")
        entries = value.get("max_entries", 100000)
        if not is_int(entries) or entries < 0:
            self.error(line, "cache.max_entries", "must be a non-negative integer")
            return
        out["cache_max_entries"] = entries

    def _forwarders(self, value: Any, line: int, out: dict) -> None:
        if isinstance(value, dict):  # per domain: {".": [...], "corp.test": [...]}
            for domain, addresses in value.items():
                where = value.line_of(domain) if isinstance(value, SourceDict) else line
                if not isinstance(domain, str) or not domain:
                    self.error(where, "forwarders", f"bad domain {domain!r}")
                self._addresses(addresses or [], where, f"forwarders {domain}")
            return
        out["forwarders"] = self._addresses(value or [], line, "forwarders")

    def _allow_recursion(self, value: Any, line: int, out: dict) -> None:
        if not isinstance(value, list):
            self.error(line, "allow_recursion", "must be a list of CIDR blocks")
            return
        for item in value:
            try:
                ipaddress.ip_network(str(item), strict=True)
            except ValueError as exc:
                self.error(line, "allow_recursion", f"bad CIDR {item!r}: {exc}")
        out["allow_recursion"] = tuple(str(i) for i in value)

    def _rate_limit(self, value: Any, line: int, out: dict) -> None:
        if not self._mapping(
            value, line, "rate_limit", RATE_LIMIT_KEYS, "must be {responses_per_second: N, ...}"
        ):
            return
        for key in ("nxdomains_per_second", "errors_per_second"):
            rate = value.get(key)
            if rate is not None and (not is_int(rate) or rate < 0):
                self.error(line, f"rate_limit.{key}", "must be a non-negative integer or null")
        for key, low, high in (("window", 1, 3600), ("slip", 0, 10)):
            item = value.get(key, low)
            if not is_int(item) or not low <= item <= high:
                self.error(line, f"rate_limit.{key}", f"must be an integer {low}..{high}")
        for key, high in (("ipv4_prefix", 32), ("ipv6_prefix", 128)):
            item = value.get(key, 0)
            if not is_int(item) or not 0 <= item <= high:
                self.error(line, f"rate_limit.{key}", f"must be a prefix length 0..{high}")
        exempt = value.get("exempt", [])
        if not isinstance(exempt, list):
            self.error(line, "rate_limit.exempt", "must be a list of CIDR blocks")
        else:
            for item in exempt:
                try:
                    ipaddress.ip_network(str(item), strict=True)
                except ValueError as exc:
                    self.error(line, "rate_limit.exempt", f"bad CIDR {item!r}: {exc}")
        rps = value.get("responses_per_second", 0)
        if not is_int(rps) or rps < 0:
            self.error(line, "rate_limit.responses_per_second", "must be a non-negative integer")
            return
        out["responses_per_second"] = rps

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
        """The token read from a file (whitespace-stripped), so the config can stay public.

        A relative name is resolved against $CREDENTIALS_DIRECTORY when that is set (systemd
        LoadCredential=), else against the config file's directory.
        """
        if value is None:
            return
        if not isinstance(value, str) or not value.strip():
            self.error(line, "http_token_file", "must be a file name")
            return
        path = Path(value)
        if not path.is_absolute():
            credentials = os.environ.get("CREDENTIALS_DIRECTORY")
            path = (Path(credentials) if credentials else self.base) / path
        try:
            with open(path, "rb") as handle:
                raw = handle.read(4097)
            text = raw.decode("utf-8")
        except OSError as exc:
            self.error(line, "http_token_file", f"cannot read {path}: {exc.strerror or exc}")
            return
        except UnicodeDecodeError:
            self.error(line, "http_token_file", f"{path}: the token must be UTF-8 text")
            return
        token = text.strip()
        if len(raw) > 4096:
            self.error(line, "http_token_file", f"{path}: too long for a token")
        elif len(token) < MIN_TOKEN_LENGTH:
            self.error(
                line,
                "http_token_file",
                f"{path}: the token must be at least {MIN_TOKEN_LENGTH} characters, "
                f"found {len(token)}",
            )
        elif any(c.isspace() or not c.isprintable() for c in token):
            self.error(line, "http_token_file", f"{path}: one token, without spaces inside")
        else:
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

    def _query_log(self, value: Any, line: int, out: dict) -> None:
        if not self._mapping(
            value, line, "query_log", {"format", "file"}, "must be {format: ..., file: ...}"
        ):
            return
        if value.get("format", "native") not in ("native", "route53"):
            self.error(line, "query_log.format", "must be native or route53")
        if not isinstance(value.get("file"), str | None):
            self.error(line, "query_log.file", "must be a file name or null")

    def _route53(self, value: Any, line: int, out: dict) -> None:
        if value is None:
            return
        if not self._mapping(
            value,
            line,
            "route53",
            {"state_dir", "credentials"},
            "must be {state_dir: DIR, credentials: {KEY_ID: FILE}}",
        ):
            return
        if not isinstance(value.get("state_dir", ""), str):
            self.error(line, "route53.state_dir", "must be a directory name")
        credentials = value.get("credentials", {})
        if not isinstance(credentials, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in credentials.items()
        ):
            self.error(line, "route53.credentials", "must map access key ids to files")

    def _tcp(self, value: Any, line: int, out: dict) -> None:
        if not self._mapping(
            value,
            line,
            "tcp",
            TCP_KEYS,
            "must be {idle_timeout: SECONDS, max_connections: N}",
        ):
            return
        per_client = value.get("max_per_client", 1)
        if not is_int(per_client) or per_client < 1:
            self.error(line, "tcp.max_per_client", "must be a positive integer")
        defaults = TcpSettings()
        idle = value.get("idle_timeout", defaults.idle_timeout)
        cap = value.get("max_connections", defaults.max_connections)
        if not _is_number(idle) or idle <= 0:
            self.error(line, "tcp.idle_timeout", "must be a positive number of seconds")
        elif not is_int(cap) or cap < 1:
            self.error(line, "tcp.max_connections", "must be a positive integer")
        else:
            out["tcp"] = TcpSettings(float(idle), cap)


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


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_coordinates(value: Any, required: bool) -> str | None:
    if not isinstance(value, dict):
        return "must be a mapping"
    lat, lon = value.get("latitude"), value.get("longitude")
    if lat is None and lon is None and not required:
        return None
    if not _is_number(lat) or not -90 <= lat <= 90:
        return f"latitude must be -90..90, not {lat!r}"
    if not _is_number(lon) or not -180 <= lon <= 180:
        return f"longitude must be -180..180, not {lon!r}"
    return None


def _check_location(value: Any) -> str | None:
    if not isinstance(value, dict) or not value:
        return "must be {continent, country, subdivision, latitude, longitude}"
    for key in ("continent", "country", "subdivision"):
        if key in value and not isinstance(value[key], str):
            return f"{key} must be a code string"
    return _check_coordinates(value, required=False)


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
    return Config(**values)
