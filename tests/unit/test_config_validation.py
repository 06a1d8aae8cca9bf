"""Server configuration validation (SPEC 3): every bad key fails with its file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from resolver.config import Config, load_config
from resolver.errors import LoadError, LoadFailed
from resolver.query.ratelimit import RateLimitSettings
from resolver.serve.listen import ListenAddress, TcpSettings, parse_address


def config_text(text: str) -> str:
    """Dedent a config text so that its first line is line 1."""
    return textwrap.dedent(text).lstrip("\n")


def load_errors(path: Path) -> list[LoadError]:
    """Load the config at path and return the errors it must fail with."""
    with pytest.raises(LoadFailed) as info:
        load_config(str(path))
    assert info.value.errors, "LoadFailed without errors"
    return info.value.errors


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def assert_reported(errors: list[LoadError], file: Path, line, reason: str) -> None:
    """One of errors is at file and one of the lines, and mentions reason."""
    for error in errors:
        text = f"{error.what}: {error.reason}".lower()
        if error.file == str(file) and error.line in _as_tuple(line) and reason.lower() in text:
            return
    pytest.fail(
        f"no error at {file.name}:{line} containing {reason!r}; got:\n"
        + "\n".join(str(e) for e in errors)
    )


# (config text, expected line(s), substring of "what: reason")
CASES = [
    pytest.param(
        """
        listen: ["127.0.0.1:53"]
        colour: blue
        """,
        2,
        "colour",
        id="unknown-top-level-key",
    ),
    pytest.param(
        """
        ecs: true
        cache:
          max_entries: 10
          colour: red
        """,
        4,
        "colour",
        id="unknown-key-in-cache",
    ),
    pytest.param(
        """
        tcp:
          idle_timeout: 5
          colour: red
        """,
        3,
        "colour",
        id="unknown-key-in-tcp",
    ),
    pytest.param(
        """
        geoip:
          database: null
          colour: red
        """,
        3,
        "colour",
        id="unknown-key-in-geoip",
    ),
    pytest.param(
        """
        locations:
          10.1.0.0/16:
            country: US
            colour: red
        """,
        4,
        "colour",
        id="unknown-key-in-location",
    ),
    pytest.param(
        """
        chaos:
          version: "x"
          colour: red
        """,
        3,
        "colour",
        id="unknown-key-in-chaos",
    ),
    pytest.param(
        """
        workers: 1
        workers: 2
        """,
        2,
        "duplicate",
        id="duplicate-key",
    ),
    pytest.param(
        """
        workers: 1
        listen: [127.0.0.1:53
        """,
        (2, 3),
        "yaml",
        id="yaml-syntax-error",
    ),
    pytest.param(
        """
        - listen
        """,
        1,
        "mapping",
        id="not-a-mapping",
    ),
    pytest.param(
        """
        listen: ["nonsense"]
        """,
        1,
        "nonsense",
        id="listen-not-an-address",
    ),
    pytest.param(
        """
        listen:
          - 127.0.0.1:53
          - "::1:53"
        """,
        (1, 3),
        "::1:53",
        id="listen-ipv6-without-brackets",
    ),
    pytest.param(
        """
        listen: ["127.0.0.1:65536"]
        """,
        1,
        "port",
        id="listen-port-above-65535",
    ),
    pytest.param(
        """
        listen: ["localhost:53"]
        """,
        1,
        "localhost",
        id="listen-host-name",
    ),
    pytest.param(
        """
        listen: []
        """,
        1,
        "listen",
        id="listen-empty",
    ),
    pytest.param(
        """
        http: "127.0.0.1"
        """,
        1,
        "http",
        id="http-without-port",
    ),
    pytest.param(
        """
        forwarders: ["8.8.8.8:http"]
        """,
        1,
        "forwarders",
        id="forwarder-with-a-bad-port",
    ),
    pytest.param(
        """
        forwarders: ["dns.example.net"]
        """,
        1,
        "forwarders",
        id="forwarder-not-an-address",
    ),
    pytest.param(
        """
        workers: 0
        """,
        1,
        "workers",
        id="workers-zero",
    ),
    pytest.param(
        """
        workers: two
        """,
        1,
        "workers",
        id="workers-not-a-number",
    ),
    pytest.param(
        """
        zones: 5
        """,
        1,
        "zones",
        id="zones-not-a-list",
    ),
    pytest.param(
        """
        locations:
          10.1.0.0/16: {continent: NA, country: US}
          10.2.0.1/16: {continent: EU, country: DE}
        """,
        3,
        "10.2.0.1/16",
        id="locations-cidr-host-bits",
    ),
    pytest.param(
        """
        locations:
          somewhere: {country: US}
        """,
        2,
        "somewhere",
        id="locations-not-a-cidr",
    ),
    pytest.param(
        """
        locations:
          10.1.0.0/16: {country: US, latitude: 91, longitude: 0}
        """,
        2,
        "latitude",
        id="locations-latitude-out-of-range",
    ),
    pytest.param(
        """
        locations:
          10.1.0.0/16: {country: US, latitude: 10, longitude: 181}
        """,
        2,
        "longitude",
        id="locations-longitude-out-of-range",
    ),
    pytest.param(
        """
        latency:
          10.1.0.0/33: {us-east-1: 5}
        """,
        2,
        "10.1.0.0/33",
        id="latency-bad-cidr",
    ),
    pytest.param(
        """
        latency:
          10.1.0.0/16: {us-east-1: -5}
        """,
        2,
        "us-east-1",
        id="latency-negative-rtt",
    ),
    pytest.param(
        """
        regions:
          lab-east: {latitude: -91, longitude: 0}
        """,
        2,
        "latitude",
        id="regions-latitude-out-of-range",
    ),
    pytest.param(
        """
        allow_recursion: [127.0.0.0/8, 10.0.0.0/33]
        """,
        1,
        "10.0.0.0/33",
        id="allow-recursion-bad-cidr",
    ),
    pytest.param(
        """
        allow_recursion:
          - 127.0.0.0/8
          - 10.0.0.1/8
        """,
        (1, 3),
        "10.0.0.1/8",
        id="allow-recursion-host-bits",
    ),
    pytest.param(
        """
        ecs: "true"
        """,
        1,
        "ecs",
        id="ecs-not-bool",
    ),
    pytest.param(
        """
        ecs: 1
        """,
        1,
        "ecs",
        id="ecs-integer",
    ),
    pytest.param(
        """
        cache: {max_entries: -1}
        """,
        1,
        "max_entries",
        id="cache-max-entries-negative",
    ),
    pytest.param(
        """
        rate_limit: {responses_per_second: -1}
        """,
        1,
        "responses_per_second",
        id="rate-limit-negative",
    ),
    pytest.param(
        """
        rate_limit: {responses_per_second: 1.5}
        """,
        1,
        "responses_per_second",
        id="rate-limit-not-integer",
    ),
    pytest.param(
        """
        chaos: {version: 5}
        """,
        1,
        "chaos",
        id="chaos-version-not-text",
    ),
    pytest.param(
        """
        chaos: "off"
        """,
        1,
        "chaos",
        id="chaos-not-false-or-mapping",
    ),
    pytest.param(
        """
        tcp: {idle_timeout: 0}
        """,
        1,
        "idle_timeout",
        id="tcp-idle-timeout-zero",
    ),
    pytest.param(
        """
        tcp: {max_connections: 0}
        """,
        1,
        "max_connections",
        id="tcp-max-connections-zero",
    ),
    pytest.param(
        """
        tcp: 10
        """,
        1,
        "tcp",
        id="tcp-not-a-mapping",
    ),
    pytest.param(
        """
        geoip: {database: 5}
        """,
        1,
        "database",
        id="geoip-database-not-a-file-name",
    ),
]


@pytest.mark.parametrize(("text", "line", "reason"), CASES)
def test_bad_config_reports_file_and_line(tmp_path: Path, text, line, reason):
    """A config breaking one rule fails with its file, line and reason."""
    path = tmp_path / "policydns.yaml"
    path.write_text(config_text(text))
    errors = load_errors(path)
    assert_reported(errors, path, line, reason)
    for error in errors:
        assert str(error) == f"{error.file}:{error.line}: {error.what}: {error.reason}"


def test_every_config_error_is_reported(tmp_path: Path):
    """Several mistakes in one config are all reported by one load."""
    path = tmp_path / "policydns.yaml"
    path.write_text(
        config_text("""
        listen: ["nonsense"]
        workers: 0
        colour: blue
        ecs: maybe
        """)
    )
    errors = load_errors(path)
    assert {e.line for e in errors} == {1, 2, 3, 4}, "\n".join(map(str, errors))


SPEC_EXAMPLE = """
# policydns.yaml
listen: ["0.0.0.0:53", "[::]:53"]
http: 127.0.0.1:8053
zones: [zones/]
workers: 1                  # processes sharing the ports with SO_REUSEPORT
geoip:
  database: null            # a MaxMind-format .mmdb (GeoLite2-City/Country, DB-IP);
                            # null = the embedded default
locations:                  # client networks -> location; checked before the database
  10.1.0.0/16: {continent: NA, country: US, subdivision: CA, latitude: 37.4, longitude: -122.1}
  10.2.0.0/16: {continent: EU, country: DE, latitude: 50.1, longitude: 8.7}
latency:                    # optional measured round-trip times, ms
  10.1.0.0/16: {us-west-1: 5, us-east-1: 70, eu-central-1: 150}
regions:                    # added to the built-in table of cloud regions
  lab-east: {latitude: 40.7, longitude: -74.0}
ecs: true                   # use EDNS Client Subnet when present
cache:
  max_entries: 100000
forwarders: []              # e.g. ["127.0.0.1:5301"]; empty = authoritative only
allow_recursion: [127.0.0.0/8, ::1/128, 10.0.0.0/8]
rate_limit: {responses_per_second: 0}   # 0 = off
chaos: {version: "dns server", id: false}
tcp: {idle_timeout: 5, max_connections: 64}
"""


def test_spec_example_config_loads(tmp_path: Path):
    """The example of SPEC section 3, with README's chaos and tcp keys, loads as written."""
    path = tmp_path / "policydns.yaml"
    path.write_text(SPEC_EXAMPLE)
    load_config(str(path))


def test_spec_example_config_values(tmp_path: Path):
    """Every key of the SPEC example (IPv6 CIDR quoted) loads to the value written."""
    path = tmp_path / "policydns.yaml"
    path.write_text(SPEC_EXAMPLE.replace(" ::1/128,", ' "::1/128",'))
    config = load_config(str(path))
    assert config.listen == (ListenAddress("0.0.0.0", 53), ListenAddress("::", 53))
    assert config.http == ListenAddress("127.0.0.1", 8053)
    assert [Path(z).resolve() for z in config.zones] == [(tmp_path / "zones").resolve()]
    assert config.workers == 1
    assert config.geoip_database is None
    assert set(config.locations) == {"10.1.0.0/16", "10.2.0.0/16"}
    assert config.latency["10.1.0.0/16"]["us-east-1"] == 70
    assert "lab-east" in config.regions
    assert config.ecs is True
    assert config.cache_max_entries == 100000
    assert not config.forwarding.enabled
    assert set(config.forwarding.allow_recursion) == {"127.0.0.0/8", "::1/128", "10.0.0.0/8"}
    assert config.rate_limit == RateLimitSettings()
    assert config.chaos_version == "dns server"
    assert config.chaos_id == ""
    assert config.tcp == TcpSettings(5.0, 64)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tcp: {max_connections: 64}", TcpSettings(10.0, 64)),
        ("tcp: {idle_timeout: 2.5}", TcpSettings(2.5, 256)),
        ("tcp: {}", TcpSettings(10.0, 256)),
    ],
)
def test_tcp_settings_default_what_is_left_out(tmp_path: Path, text, expected):
    """A tcp mapping that sets only one key keeps the default of the other."""
    path = tmp_path / "policydns.yaml"
    path.write_text(text + "\n")
    assert load_config(str(path)).tcp == expected


def test_chaos_false_turns_chaos_off(tmp_path: Path):
    """`chaos: false` disables the CHAOS answers."""
    path = tmp_path / "policydns.yaml"
    path.write_text("chaos: false\n")
    assert load_config(str(path)).chaos_enabled is False


def test_forwarders_and_http_off(tmp_path: Path):
    """Forwarders parse as addresses and `http: null` turns the API off."""
    path = tmp_path / "policydns.yaml"
    path.write_text('forwarders: ["127.0.0.1:5301", "[::1]:5302"]\nhttp: null\n')
    config = load_config(str(path))
    servers = (ListenAddress("127.0.0.1", 5301), ListenAddress("::1", 5302))
    assert config.forwarding.routes == {(): servers}
    assert config.forwarding.route((b"www", b"example", b"org")) == ((), servers)
    assert config.http is None


def test_empty_config_is_all_defaults(tmp_path: Path):
    """An empty config file, like no config file, gives the defaults."""
    path = tmp_path / "policydns.yaml"
    path.write_text("# nothing set\n")
    assert load_config(str(path)) == Config(source=str(path))
    assert load_config(None) == Config()


def test_missing_config_file_is_an_error(tmp_path: Path):
    """A config file that does not exist is a load error naming the file."""
    path = tmp_path / "missing.yaml"
    errors = load_errors(path)
    assert errors[0].file == str(path)


def test_defaults_listen_on_both_families():
    """Without a config, the server listens on 0.0.0.0:53 and [::]:53."""
    assert [str(a) for a in Config().listen] == ["0.0.0.0:53", "[::]:53"]


@pytest.mark.parametrize(
    ("text", "host", "port", "shown"),
    [
        ("127.0.0.1:53", "127.0.0.1", 53, "127.0.0.1:53"),
        ("0.0.0.0:0", "0.0.0.0", 0, "0.0.0.0:0"),
        ("[::1]:5353", "::1", 5353, "[::1]:5353"),
        ("[::]:53", "::", 53, "[::]:53"),
        ("[2001:DB8::1]:65535", "2001:db8::1", 65535, "[2001:db8::1]:65535"),
    ],
)
def test_parse_address_accepts(text, host, port, shown):
    """ADDR:PORT and [IPv6]:PORT parse to host and port and print back."""
    address = parse_address(text)
    assert (address.host, address.port) == (host, port)
    assert str(address) == shown


@pytest.mark.parametrize(
    "text",
    [
        "::1:53",
        "localhost:53",
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:65536",
        "127.0.0.1:-1",
        "127.0.0.1:http",
        "[::1]",
        "[::1]5353",
        "::1",
        "256.0.0.1:53",
        "",
    ],
)
def test_parse_address_rejects(text):
    """Anything but ADDR:PORT with an IP address and port 0..65535 is a ValueError."""
    with pytest.raises(ValueError):
        parse_address(text)


def test_per_domain_forwarders_take_the_longest_suffix(tmp_path: Path):
    """`forwarders` per domain: the longest suffix on label boundaries wins, "." is the rest."""
    path = tmp_path / "policydns.yaml"
    path.write_text(
        "forwarders:\n"
        '  ".": ["127.0.0.1:5301"]\n'
        '  corp.test: ["127.0.0.1:5302"]\n'
        '  Lab.Corp.Test.: ["127.0.0.1:5303", "127.0.0.1:5304"]\n'
        "cache: {min_ttl: 5, max_ttl: 600, serve_stale: 3600}\n"
    )
    forwarding = load_config(str(path)).forwarding
    assert forwarding.enabled

    def ports(name: str) -> tuple[str, list[int]]:
        route = forwarding.route(tuple(label.encode() for label in name.split(".") if label))
        assert route is not None
        return ".".join(label.decode() for label in route[0]) or ".", [a.port for a in route[1]]

    assert ports("www.example.org") == (".", [5301])
    assert ports("corp.test") == ("corp.test", [5302])
    assert ports("a.b.corp.test") == ("corp.test", [5302])
    assert ports("xcorp.test") == (".", [5301])  # a label boundary, not a string suffix
    assert ports("x.lab.corp.test") == ("lab.corp.test", [5303, 5304])
    assert (forwarding.min_ttl, forwarding.max_ttl, forwarding.serve_stale) == (5, 600, 3600)


def test_a_domain_with_no_forwarders_is_not_forwarded(tmp_path: Path):
    """An empty list for a domain keeps its names from the wider domain's forwarders."""
    path = tmp_path / "policydns.yaml"
    path.write_text('forwarders: {".": ["127.0.0.1:5301"], internal.test: []}\n')
    forwarding = load_config(str(path)).forwarding
    assert forwarding.route((b"db", b"internal", b"test")) is None
    assert forwarding.route((b"db", b"other", b"test")) is not None


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ('forwarders: {"bad..name": ["127.0.0.1:53"]}', "forwarders.bad..name"),
        ('forwarders: {corp.test: ["127.0.0.1:99999"]}', "forwarders.corp.test"),
        ('forwarders: {corp.test: ["127.0.0.1:53"], "CORP.test.": []}', "given twice"),
        ("cache: {min_ttl: 700, max_ttl: 600}", "cache.min_ttl"),
        ("cache: {serve_stale: -1}", "cache.serve_stale"),
    ],
)
def test_bad_forwarding_keys_are_errors(tmp_path: Path, text: str, what: str):
    path = tmp_path / "policydns.yaml"
    path.write_text(text + "\n")
    with pytest.raises(LoadFailed) as failed:
        load_config(str(path))
    assert what in str(failed.value)


def test_forwarders_without_a_port_use_53(tmp_path: Path):
    path = tmp_path / "policydns.yaml"
    path.write_text('forwarders: {".": ["192.0.2.53", "2001:db8::53", "[2001:db8::54]"]}\n')
    servers = load_config(str(path)).forwarding.routes[()]
    assert [str(server) for server in servers] == [
        "192.0.2.53:53",
        "[2001:db8::53]:53",
        "[2001:db8::54]:53",
    ]
