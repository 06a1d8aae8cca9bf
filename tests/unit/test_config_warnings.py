"""Config keys that do nothing yet (SPEC 3): accepted, and each one is a warning with its line.

A key of SPEC section 3 whose feature has not landed must not be silently ignored: the
operator who writes `forwarders:` must learn that nothing forwards. The keys are listed
once, in resolver.config.NOT_IMPLEMENTED; these tests follow that list, and check its
entries against the SPEC example and the code's own config reader.
"""

from __future__ import annotations

import re
import signal
import textwrap
from pathlib import Path

import pytest

from resolver.config import NOT_IMPLEMENTED, load_config
from resolver.errors import LoadFailed
from tests.dnshelp import wait_until
from tests.serverproc import run_cli

# One setting per NOT_IMPLEMENTED key, written as SPEC section 3 writes it.
EXAMPLES: dict[str, str] = {}  # every SPEC 3 key has landed (query_log was the last)
WARNING_RE = re.compile(
    r"(?P<file>\S+):(?P<line>\d+): (?P<key>[a-z0-9_.]+) is accepted but not implemented yet; "
    r"it has no effect"
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policydns.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def test_every_listed_key_has_an_example():
    assert set(EXAMPLES) == set(NOT_IMPLEMENTED)


def test_an_unimplemented_key_is_one_warning_at_its_line(tmp_path: Path, monkeypatch):
    """The list is empty in this version; the machinery stays for the next planned key."""
    monkeypatch.setattr("resolver.config.NOT_IMPLEMENTED", ("query_log",))
    path = write(tmp_path, "ecs: true\nquery_log: {format: native}\n")
    config = load_config(str(path))
    assert [(w.file, w.line, w.key) for w in config.warnings] == [(str(path), 2, "query_log")]
    assert str(config.warnings[0]) == (
        f"{path}:2: query_log is accepted but not implemented yet; it has no effect"
    )


def test_nested_keys_warn_at_their_own_lines(tmp_path: Path):
    path = write(
        tmp_path,
        """
        cache:
          max_entries: 10
          min_ttl: 5
          serve_stale: 30
        tcp:
          idle_timeout: 5
          max_per_client: 8
        query_log: {}
        """,
    )
    config = load_config(str(path))
    assert [(w.line, w.key) for w in config.warnings] == []
    assert config.query_log is not None and config.query_log.format == "native"
    assert config.cache_max_entries == 10
    assert config.tcp.idle_timeout == 5


def test_implemented_keys_do_not_warn(tmp_path: Path):
    path = write(
        tmp_path,
        """
        listen: ["127.0.0.1:5353"]
        http: 127.0.0.1:8053
        workers: 1
        ecs: false
        cache: {max_entries: 10, min_ttl: 5, max_ttl: 600, serve_stale: 30}
        forwarders: {".": ["127.0.0.1:5301"], corp.test: ["127.0.0.1:5302"]}
        allow_recursion: [127.0.0.0/8, 10.0.0.0/8]
        tcp: {idle_timeout: 5, max_connections: 64}
        chaos: false
        http_token: 0123456789abcdef
        http_allowed_hosts: [dns.lab.test]
        query_log: {format: route53, file: null}
        """,
    )
    assert load_config(str(path)).warnings == ()


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("cache: {min_ttl: -1}", "cache.min_ttl"),
        ("cache: {min_ttl: 60, max_ttl: 30}", "cache.min_ttl"),
        ("cache: {serve_stale: soon}", "cache.serve_stale"),
        ("tcp: {max_per_client: 0}", "tcp.max_per_client"),
        ("query_log: {format: syslog}", "query_log.format"),
        ("query_log: {colour: red}", "query_log.colour"),
        ("query_log: {file: /nonexistent-dir/q.log}", "query_log.file"),
        ("route53: {state_dir: /x, credentials: [a, b]}", "route53.credentials"),
        ("rate_limit: {slip: -1}", "rate_limit.slip"),
        ("rate_limit: {ipv4_prefix: 33}", "rate_limit.ipv4_prefix"),
        ("rate_limit: {exempt: [10.0.0.1/8]}", "rate_limit.exempt"),
        ('forwarders: {".": ["8.8.8.8:x"]}', "forwarders.."),
    ],
)
def test_unimplemented_keys_are_still_validated(tmp_path: Path, text: str, what: str):
    """Accepting a key is not accepting anything: a bad value is an error with its line."""
    path = write(tmp_path, f"ecs: true\n{text}\n")
    with pytest.raises(LoadFailed) as info:
        load_config(str(path))
    assert [(e.line, e.what) for e in info.value.errors] == [(2, what)], info.value.errors


def test_spec_section_3_example_loads_with_one_warning_per_unimplemented_key(tmp_path: Path):
    """SPEC section 3's example, keys and comments as written there, loads."""
    spec = Path("/work/shared/SPEC.md")
    if not spec.exists():
        pytest.skip("SPEC.md is not in this checkout")
    text = spec.read_text()
    block = text.split("    # policydns.yaml\n", 1)[1].split("\nUnknown keys", 1)[0]
    example = textwrap.dedent(block)
    example = example.replace("/etc/policydns/token", str(tmp_path / "token"))
    (tmp_path / "route53.secret").write_text("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
    example = example.replace("/etc/policydns/route53.secret", str(tmp_path / "route53.secret"))
    example = example.replace("::1/128,", '"::1/128",')
    path = write(tmp_path, example)
    config = load_config(str(path))
    assert sorted(w.key for w in config.warnings) == sorted(NOT_IMPLEMENTED)


def test_check_of_a_landed_key_prints_no_warning(tmp_path: Path):
    zone = tmp_path / "w.yaml"
    zone.write_text("zone: w.test\nrecords:\n  www: [{type: A, values: [192.0.2.1]}]\n")
    path = write(tmp_path, f"zones: [{zone}]\nforwarders: []\nquery_log: {{}}\n")
    done = run_cli("check", "--config", str(path))
    assert done.returncode == 0, done.stderr
    assert not WARNING_RE.search(done.stderr), done.stderr
    assert re.match(r"w\.test: \d+ record sets", done.stdout), done.stdout


def test_serve_with_a_query_log_section_warns_nothing(start_server, tmp_path: Path):
    zone = tmp_path / "w.yaml"
    zone.write_text("zone: w.test\nrecords:\n  www: [{type: A, values: [192.0.2.1]}]\n")
    path = write(tmp_path, f"zones: [{zone}]\nquery_log: {{}}\n")
    srv = start_server("--config", str(path), "--listen", "127.0.0.1:0", "--no-http")
    srv.signal(signal.SIGHUP)
    wait_until(lambda: "reloaded w.test" in srv.log(), "the reload")
    assert "not implemented yet" not in srv.log(), srv.log()
