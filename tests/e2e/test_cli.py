"""The real `policydns` command line (SPEC 2 and 10): exit codes, output, signals."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest
import yaml

from tests.dnshelp import Address, ask, wait_until
from tests.serverproc import LISTEN_RE, REPO, ZONES, run_cli

FIXTURES = str(ZONES.relative_to(REPO))  # relative, as an operator types it in the repo
SUMMARY_RE = re.compile(r"^([a-z0-9.-]+): \d+ record sets, \d+ health checks, serial (\d+)$")
ERROR_RE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<what>[^:]+): (?P<reason>.+)$")
CHECK_COMMAND = (sys.executable, "-m", "resolver", "check", "--zones", FIXTURES)
BAD_ZONE = """\
zone: bad.test
records:
  a: [{type: A, values: ["1.2.3"]}]
  b: [{type: MX, values: ["x mail"]}]
  c: [{type: A, values: [192.0.2.1], health_check: nope}]
"""
BAD_ZONE_ERRORS = {(3, "a.bad.test. A"), (4, "b.bad.test. MX"), (5, "c.bad.test. A")}


def zone_names(directory: Path) -> set[str]:
    """The zone names declared by the zone files in directory."""
    found = set()
    for path in directory.iterdir():
        if path.suffix in (".yaml", ".yml"):
            found.add(str(yaml.safe_load(path.read_text())["zone"]).rstrip(".").lower())
    return found


def summaries(stdout: str) -> dict[str, int]:
    """Zone name to serial, from `check` output; every line must be a summary."""
    result = {}
    for line in stdout.splitlines():
        match = SUMMARY_RE.match(line)
        assert match, f"not a summary line: {line!r}"
        result[match.group(1)] = int(match.group(2))
    return result


def error_lines(stderr: str) -> set[tuple[str, int, str]]:
    """(file, line, what) of every `FILE:LINE: NAME TYPE: reason` line."""
    found = set()
    for line in stderr.splitlines():
        match = ERROR_RE.match(line)
        if match:
            found.add((match["file"], int(match["line"]), match["what"]))
    return found


def write_bad_zone(directory: Path) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / "bad.yaml"
    path.write_text(BAD_ZONE)
    return path


def addresses_of(reply) -> set[str]:
    return {rd.to_text() for rrset in reply.answer for rd in rrset}


def ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


# --- check -----------------------------------------------------------------------------------


def test_check_prints_one_summary_per_zone():
    """`check --zones DIR` exits 0 with one summary line per zone file."""
    result = run_cli("check", "--zones", FIXTURES)
    assert result.returncode == 0, result.stderr
    assert set(summaries(result.stdout)) == zone_names(ZONES)
    assert re.search(
        r"^example\.com: \d+ record sets, \d+ health checks, serial \d+$",
        result.stdout,
        re.MULTILINE,
    )


def test_check_defaults_to_zones_directory(tmp_path: Path):
    """Without --zones, `check` reads ./zones (here a copy of the fixture zones)."""
    shutil.copytree(ZONES, tmp_path / "zones")
    explicit = run_cli("check", "--zones", "zones", cwd=tmp_path)
    default = run_cli("check", cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert default.stdout == explicit.stdout


def test_check_serial_is_stable():
    """Two `check` runs over unchanged zones report the same serials."""
    first = run_cli("check", "--zones", FIXTURES)
    second = run_cli("check", "--zones", FIXTURES)
    assert first.returncode == second.returncode == 0
    assert summaries(first.stdout) == summaries(second.stdout)


def test_check_with_installed_console_script():
    """The installed `policydns` script behaves like `python -m resolver`."""
    script = shutil.which("policydns")
    if script is None:
        pytest.skip("the policydns console script is not on PATH")
    result = subprocess.run(
        [script, "check", "--zones", FIXTURES],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert set(summaries(result.stdout)) == zone_names(ZONES)


def test_check_accepts_repeated_zone_files(tmp_path: Path):
    """--zones is repeatable and takes single files."""
    one = tmp_path / "one.yaml"
    two = tmp_path / "two.yml"
    one.write_text("zone: one.test\nrecords:\n  www: [{type: A, values: [192.0.2.1]}]\n")
    two.write_text("zone: two.test\nrecords:\n  www: [{type: A, values: [192.0.2.2]}]\n")
    result = run_cli("check", "--zones", str(one), "--zones", str(two))
    assert result.returncode == 0, result.stderr
    assert set(summaries(result.stdout)) == {"one.test", "two.test"}


def test_check_reports_every_error(tmp_path: Path):
    """A bad zone exits 1 and prints `FILE:LINE: NAME TYPE: reason` for each error."""
    path = write_bad_zone(tmp_path / "zones")
    result = run_cli("check", "--zones", str(tmp_path / "zones"))
    assert result.returncode == 1
    assert result.stdout == ""
    expected = {(str(path), line, what) for line, what in BAD_ZONE_ERRORS}
    assert error_lines(result.stderr) == expected, result.stderr


def test_check_reports_errors_of_every_file(tmp_path: Path):
    """Errors in two zone files are all printed, each with its own file."""
    zones = tmp_path / "zones"
    bad = write_bad_zone(zones)
    other = zones / "other.yaml"
    other.write_text('zone: other.test\nrecords:\n  x: [{type: AAAA, values: ["zz::1"]}]\n')
    result = run_cli("check", "--zones", str(zones))
    assert result.returncode == 1
    expected = {(str(bad), line, what) for line, what in BAD_ZONE_ERRORS}
    expected.add((str(other), 3, "x.other.test. AAAA"))
    assert error_lines(result.stderr) == expected, result.stderr


def test_check_reports_bad_config(tmp_path: Path):
    """A bad config file exits 1 with its file and line."""
    config = tmp_path / "policydns.yaml"
    config.write_text("workers: 1\ncolour: blue\n")
    result = run_cli("check", "--config", str(config), "--zones", FIXTURES)
    assert result.returncode == 1
    assert any(f == str(config) and line == 2 for f, line, _ in error_lines(result.stderr)), (
        result.stderr
    )


def test_check_missing_zone_path(tmp_path: Path):
    """A --zones path that does not exist exits 1 and names the path."""
    missing = tmp_path / "nowhere"
    result = run_cli("check", "--zones", str(missing))
    assert result.returncode == 1
    assert str(missing) in result.stderr


def test_check_uses_config_zones_relative_to_config(tmp_path: Path):
    """The config's `zones` are read relative to the config file, from any directory."""
    zones = tmp_path / "myzones"
    zones.mkdir()
    (zones / "z.yaml").write_text("zone: conf.test\n")
    config = tmp_path / "policydns.yaml"
    config.write_text("zones: [myzones/]\n")
    result = run_cli("check", "--config", str(config), cwd=tmp_path.parent)
    assert result.returncode == 0, result.stderr
    assert set(summaries(result.stdout)) == {"conf.test"}


def test_check_zones_flag_overrides_config(tmp_path: Path):
    """--zones on the command line replaces the config's zones."""
    zones = tmp_path / "myzones"
    zones.mkdir()
    (zones / "z.yaml").write_text("zone: conf.test\n")
    config = tmp_path / "policydns.yaml"
    config.write_text("zones: [myzones/]\n")
    result = run_cli("check", "--config", str(config), "--zones", str(ZONES))
    assert result.returncode == 0, result.stderr
    assert set(summaries(result.stdout)) == zone_names(ZONES)


def test_check_opens_no_socket_and_is_quick():
    """`check` succeeds without --listen, quickly, and creates no socket (audit hook)."""
    code = (
        "import sys, runpy\n"
        "seen = []\n"
        "def hook(event, args):\n"
        "    if event.startswith('socket.'):\n"
        "        seen.append(event)\n"
        "sys.addaudithook(hook)\n"
        f"sys.argv = ['policydns', 'check', '--zones', '{FIXTURES}']\n"
        "try:\n"
        "    runpy.run_module('resolver', run_name='__main__')\n"
        "finally:\n"
        "    print('socket events:', sorted(set(seen)), file=sys.stderr)\n"
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=30
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "socket events: []" in result.stderr
    assert elapsed < 10


def test_check_makes_no_socket_system_call():
    """Under strace, `check` makes no socket() system call at all."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    result = subprocess.run(
        [strace, "-f", "-qq", "-e", "trace=socket,bind,connect", *CHECK_COMMAND],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "PTRACE" in result.stderr or "Operation not permitted" in result.stderr:
        pytest.skip(f"strace cannot trace here: {result.stderr.strip()[:200]}")
    assert result.returncode == 0, result.stderr
    calls = [line for line in result.stderr.splitlines() if re.search(r"\b(socket|bind)\(", line)]
    assert calls == []


# --- usage errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("check", "--bogus"), id="unknown-flag"),
        pytest.param((), id="missing-subcommand"),
        pytest.param(("frobnicate",), id="unknown-subcommand"),
        pytest.param(("check", "--zones"), id="flag-without-value"),
        pytest.param(("serve", "--listen", "nonsense"), id="listen-nonsense"),
        pytest.param(("serve", "--listen", "::1:53"), id="listen-ipv6-without-brackets"),
        pytest.param(("serve", "--listen", "127.0.0.1:70000"), id="listen-port-too-large"),
        pytest.param(("serve", "--http", "nonsense"), id="http-nonsense"),
    ],
)
def test_bad_usage_exits_2(args):
    """Bad command-line use exits 2 with a message and serves nothing."""
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip()
    assert "listening on" not in result.stderr


# --- serve -----------------------------------------------------------------------------------


def test_serve_bad_zone_exits_1_with_errors(tmp_path: Path):
    """`serve` on a bad zone prints every error and exits 1 without listening."""
    path = write_bad_zone(tmp_path / "zones")
    result = run_cli(
        "serve", "--zones", str(tmp_path / "zones"), "--listen", "127.0.0.1:0", "--no-http"
    )
    assert result.returncode == 1
    expected = {(str(path), line, what) for line, what in BAD_ZONE_ERRORS}
    assert expected <= error_lines(result.stderr), result.stderr
    assert "listening on" not in result.stderr + result.stdout


def test_serve_prints_ipv4_listen_address_and_answers(start_server):
    """`--listen 127.0.0.1:0` logs the bound port, which answers over UDP and TCP."""
    server = start_server("--zones", str(ZONES), "--listen", "127.0.0.1:0", "--no-http")
    found = LISTEN_RE.findall(server.log())
    assert len(found) == 1
    host, port = found[0]
    assert host == "127.0.0.1" and 0 < int(port) < 65536
    for transport in ("udp", "tcp"):
        reply = ask(server, "www.example.com", transport=transport)
        assert reply.rcode() == dns.rcode.NOERROR
        assert addresses_of(reply)


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")
def test_serve_prints_bracketed_ipv6_listen_address(start_server):
    """`--listen [::1]:0` logs `[::1]:PORT`, which answers."""
    server = start_server("--zones", str(ZONES), "--listen", "[::1]:0", "--no-http")
    match = re.search(r"listening on udp\+tcp \[::1\]:(\d+)\b", server.log())
    assert match, server.log()
    port = int(match.group(1))
    assert port > 0
    reply = ask(Address("::1", port), "www.example.com")
    assert reply.rcode() == dns.rcode.NOERROR


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")
def test_serve_listens_on_every_address(start_server):
    """Repeated --listen binds each address and logs one line for each."""
    server = start_server(
        "--zones", str(ZONES), "--listen", "127.0.0.1:0", "--listen", "[::1]:0", "--no-http"
    )
    hosts = sorted(h for h, _ in LISTEN_RE.findall(server.log()))
    assert hosts == ["127.0.0.1", "[::1]"]


def test_sigterm_exits_0(start_server):
    """SIGTERM stops the server gracefully with exit code 0."""
    server = start_server("--zones", str(ZONES), "--listen", "127.0.0.1:0", "--no-http")
    assert ask(server, "www.example.com").rcode() == dns.rcode.NOERROR
    assert server.stop() == 0


def test_sigint_exits_0(start_server):
    """SIGINT stops the server gracefully with exit code 0."""
    server = start_server("--zones", str(ZONES), "--listen", "127.0.0.1:0", "--no-http")
    server.signal(signal.SIGINT)
    assert server.proc.wait(timeout=10) == 0


def test_sighup_reloads_and_keeps_old_data_on_error(start_server, tmp_path: Path):
    """SIGHUP serves new data; a broken reload keeps the old data and logs FILE:LINE."""
    zones = tmp_path / "zones"
    zones.mkdir()
    path = zones / "reload.yaml"
    path.write_text("zone: reload.test\nrecords:\n  www: [{type: A, values: [192.0.2.1]}]\n")
    server = start_server("--zones", str(zones), "--listen", "127.0.0.1:0", "--no-http")

    def ask_new():
        return ask(server, "new.reload.test", timeout=2)

    assert ask_new().rcode() == dns.rcode.NXDOMAIN

    path.write_text(
        "zone: reload.test\nrecords:\n"
        "  www: [{type: A, values: [192.0.2.1]}]\n"
        "  new: [{type: A, values: [192.0.2.2]}]\n"
    )
    server.signal(signal.SIGHUP)
    wait_until(lambda: addresses_of(ask_new()) == {"192.0.2.2"}, "the reloaded name to answer")

    path.write_text(
        "zone: reload.test\nrecords:\n"
        "  www: [{type: A, values: [192.0.2.1]}]\n"
        '  new: [{type: A, values: ["1.2.3"]}]\n'
    )
    server.signal(signal.SIGHUP)
    wait_until(lambda: f"{path}:4:" in server.log(), "the reload error in the log")
    assert server.proc.poll() is None, "a failed reload must not stop the server"
    reply = ask_new()
    assert reply.rcode() == dns.rcode.NOERROR
    assert addresses_of(reply) == {"192.0.2.2"}
    assert addresses_of(ask(server, "www.reload.test")) == {"192.0.2.1"}
    error_line = next(line for line in server.log().splitlines() if f"{path}:4:" in line)
    assert "new.reload.test. A" in error_line

    path.write_text(
        "zone: reload.test\nrecords:\n"
        "  www: [{type: A, values: [192.0.2.1]}]\n"
        "  new: [{type: A, values: [192.0.2.3]}]\n"
    )
    server.signal(signal.SIGHUP)
    wait_until(lambda: addresses_of(ask_new()) == {"192.0.2.3"}, "the fixed zone to answer")
    assert server.stop() == 0
