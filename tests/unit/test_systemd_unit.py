"""The shipped systemd units: required settings, and `systemd-analyze verify` when present."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from resolver.config import load_config
from tests.serverproc import REPO

DEPLOY = REPO / "deploy"
SERVICE = DEPLOY / "policydns.service"
SOCKET = DEPLOY / "policydns.socket"
EXEC_START = "/usr/local/bin/policydns serve --config /etc/policydns/policydns.yaml"

Unit = dict[str, dict[str, list[str]]]


def parse_unit(path: Path) -> Unit:
    """Every assignment of every key, in order, per section.

    configparser keeps one value per key, but unit files repeat keys on purpose
    (ListenStream=, SystemCallFilter=), so a few lines of our own parsing are simpler.
    """
    unit: Unit = {}
    section: dict[str, list[str]] | None = None
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        assert section is not None and "=" in line, f"{path.name}:{number}: {raw!r}"
        key, value = (part.strip() for part in line.split("=", 1))
        section.setdefault(key, []).append(value)
    return unit


def one(unit: Unit, section: str, key: str) -> str:
    values = unit[section].get(key, [])
    assert len(values) == 1, f"[{section}] {key}= set {len(values)} times: {values}"
    return values[0]


class TestServiceUnit:
    unit = parse_unit(SERVICE)

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("Type", "notify"),
            ("NotifyAccess", "main"),
            ("ExecStart", EXEC_START),
            ("ExecReload", "/bin/kill -HUP $MAINPID"),
            ("WatchdogSec", "30s"),
            ("Restart", "on-failure"),
            ("DynamicUser", "yes"),
            ("ConfigurationDirectory", "policydns"),
            ("StateDirectory", "policydns"),
            ("RuntimeDirectory", "policydns"),
            ("AmbientCapabilities", "CAP_NET_BIND_SERVICE"),
            ("CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"),
            ("NoNewPrivileges", "yes"),
            ("ProtectSystem", "strict"),
            ("ProtectHome", "yes"),
            ("PrivateTmp", "yes"),
            ("PrivateDevices", "yes"),
            ("PrivateIPC", "yes"),
            ("ProtectKernelTunables", "yes"),
            ("ProtectKernelModules", "yes"),
            ("ProtectKernelLogs", "yes"),
            ("ProtectControlGroups", "yes"),
            ("ProtectClock", "yes"),
            ("ProtectHostname", "yes"),
            ("ProtectProc", "invisible"),
            ("ProcSubset", "pid"),
            ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX AF_NETLINK"),
            ("RestrictNamespaces", "yes"),
            ("RestrictRealtime", "yes"),
            ("RestrictSUIDSGID", "yes"),
            ("LockPersonality", "yes"),
            ("MemoryDenyWriteExecute", "yes"),
            ("SystemCallArchitectures", "native"),
            ("UMask", "0027"),
            ("LimitNOFILE", "65536"),
        ],
    )
    def test_service_setting(self, key: str, value: str):
        """Each required [Service] setting is present exactly once with its value."""
        assert one(self.unit, "Service", key) == value

    def test_syscall_filter_allows_then_denies(self):
        """The allow list and the deny list are separate lines (one line cannot mix them)."""
        filters = self.unit["Service"]["SystemCallFilter"]
        assert filters == ["@system-service", "~@privileged @resources"]

    def test_no_man_page_reference(self):
        """verify runs man for Documentation=man:..., which fails without the page."""
        docs = self.unit["Unit"].get("Documentation", [])
        assert not [d for d in docs if "man:" in d]

    def test_installable(self):
        """`systemctl enable` has a target to hook into."""
        assert one(self.unit, "Install", "WantedBy") == "multi-user.target"


class TestSocketUnit:
    unit = parse_unit(SOCKET)

    def test_udp_and_tcp_on_each_address(self):
        """Every address has a datagram and a stream socket, so the server can pair them."""
        sock = self.unit["Socket"]
        assert sock["ListenDatagram"] == ["0.0.0.0:53", "[::]:53"]
        assert sock["ListenStream"] == ["0.0.0.0:53", "[::]:53"]

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("BindIPv6Only", "ipv6-only"),
            ("FreeBind", "yes"),
            ("ReusePort", "yes"),
            ("Service", "policydns.service"),
        ],
    )
    def test_socket_setting(self, key: str, value: str):
        """Each required [Socket] setting is present exactly once with its value."""
        assert one(self.unit, "Socket", key) == value

    def test_installable(self):
        assert one(self.unit, "Install", "WantedBy") == "sockets.target"


def test_example_config_loads():
    """deploy/policydns.yaml is a valid config with the documented addresses."""
    config = load_config(str(DEPLOY / "policydns.yaml"))
    assert [str(a) for a in config.listen] == ["0.0.0.0:53", "[::]:53"]
    assert str(config.http) == "127.0.0.1:8053"
    assert config.zones == ("/etc/policydns/zones",)


def _runnable_exec_start() -> str:
    """ExecStart with a binary that exists here (verify checks that it is executable)."""
    script = Path(sys.executable).parent / "policydns"
    found = str(script) if script.exists() else shutil.which("policydns")
    command = found or f"{sys.executable} -m resolver"
    return EXEC_START.replace("/usr/local/bin/policydns", command)


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze not installed (Debian package: systemd)",
)
def test_systemd_analyze_verify(tmp_path: Path):
    """systemd-analyze verify accepts both units with no warnings about them."""
    text = SERVICE.read_text().replace(EXEC_START, _runnable_exec_start())
    if not Path("/bin/kill").exists():
        kill = shutil.which("kill")
        if kill is None:
            pytest.skip("no kill binary for ExecReload=")
        text = text.replace("/bin/kill", kill)
    (tmp_path / SERVICE.name).write_text(text)
    shutil.copy(SOCKET, tmp_path / SOCKET.name)
    proc = subprocess.run(
        ["systemd-analyze", "verify", SOCKET.name, SERVICE.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr
    ours = [line for line in (proc.stdout + proc.stderr).splitlines() if "policydns" in line]
    assert ours == [], "\n".join(ours)
