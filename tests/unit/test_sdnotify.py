"""sd_notify, watchdog and socket activation against a fake systemd (no PID 1 needed)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from resolver.serve import sdnotify
from tests.serverproc import REPO


def _bound_notify_socket(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + address[1:] if address.startswith("@") else address)
    sock.settimeout(2)
    return sock


@pytest.fixture
def path_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A fake systemd notify socket at a filesystem path, exported as NOTIFY_SOCKET."""
    directory = tmp_path
    if len(str(tmp_path / "notify")) > 100:  # sun_path holds 108 bytes
        directory = Path(tempfile.mkdtemp(prefix="pdns"))
    address = str(directory / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    with _bound_notify_socket(address) as sock:
        yield sock


@pytest.fixture
def abstract_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A fake systemd notify socket in the abstract namespace ("@name")."""
    address = f"@policydns-test-{secrets.token_hex(8)}"
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    with _bound_notify_socket(address) as sock:
        yield sock


class TestNotify:
    def test_path_socket_gets_one_datagram(self, path_socket: socket.socket):
        """All fields arrive in one newline-joined datagram on a path socket."""
        assert sdnotify.notify("READY=1", "STATUS=serving") is True
        assert path_socket.recv(4096) == b"READY=1\nSTATUS=serving"

    def test_abstract_socket(self, abstract_socket: socket.socket):
        """An address starting with @ is in the abstract namespace."""
        assert sdnotify.notify("READY=1", "STATUS=serving") is True
        assert abstract_socket.recv(4096) == b"READY=1\nSTATUS=serving"

    @pytest.mark.parametrize("field", ["WATCHDOG=1", "STOPPING=1", "STATUS=reloaded 3 zones"])
    def test_single_fields(self, path_socket: socket.socket, field: str):
        """Each protocol message is sent as is."""
        assert sdnotify.notify(field)
        assert path_socket.recv(4096) == field.encode()

    def test_reloading_carries_monotonic_timestamp(self, path_socket: socket.socket):
        """RELOADING=1 comes with MONOTONIC_USEC on CLOCK_MONOTONIC, as systemd 253 wants."""
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert sdnotify.notify("RELOADING=1")
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        fields = path_socket.recv(4096).decode().split("\n")
        assert fields[0] == "RELOADING=1"
        assert fields[1].startswith("MONOTONIC_USEC=")
        assert before <= int(fields[1].removeprefix("MONOTONIC_USEC=")) <= after
        assert len(fields) == 2

    def test_no_notify_socket_is_a_noop(
        self, path_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
    ):
        """Without NOTIFY_SOCKET nothing is sent and the answer is False."""
        monkeypatch.delenv("NOTIFY_SOCKET")
        assert sdnotify.notify("READY=1") is False
        path_socket.settimeout(0.05)
        with pytest.raises(TimeoutError):
            path_socket.recv(4096)

    def test_unreachable_socket_never_raises(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
        """A socket that is gone gives False, not an exception."""
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
        assert sdnotify.notify("READY=1") is False
        monkeypatch.setenv("NOTIFY_SOCKET", "@policydns-test-nobody-listens")
        assert sdnotify.notify("READY=1") is False


class TestWatchdog:
    def test_interval_is_half_the_timeout(self, monkeypatch: pytest.MonkeyPatch):
        """WATCHDOG_USEC=2000000 means a ping every second."""
        monkeypatch.setenv("WATCHDOG_USEC", "2000000")
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
        assert sdnotify.watchdog_interval() == 1.0
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
        assert sdnotify.watchdog_interval() == 1.0

    def test_other_process_is_not_watched(self, monkeypatch: pytest.MonkeyPatch):
        """A watchdog meant for another pid (e.g. our parent) is ignored."""
        monkeypatch.setenv("WATCHDOG_USEC", "2000000")
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
        assert sdnotify.watchdog_interval() is None

    @pytest.mark.parametrize("value", [None, "", "0", "soon"])
    def test_no_or_bad_timeout(self, monkeypatch: pytest.MonkeyPatch, value: str | None):
        """No usable WATCHDOG_USEC means no watchdog."""
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
        if value is None:
            monkeypatch.delenv("WATCHDOG_USEC", raising=False)
        else:
            monkeypatch.setenv("WATCHDOG_USEC", value)
        assert sdnotify.watchdog_interval() is None

    async def test_loop_pings_repeatedly(self, path_socket: socket.socket):
        """watchdog_loop sends WATCHDOG=1 every interval until cancelled."""
        path_socket.setblocking(False)
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(sdnotify.watchdog_loop(0.05))
        try:
            async with asyncio.timeout(2):
                pings = [await loop.sock_recv(path_socket, 4096) for _ in range(3)]
        finally:
            task.cancel()
        assert pings == [b"WATCHDOG=1"] * 3
        with pytest.raises(asyncio.CancelledError):
            await task


def _udp_tcp_pair(host: str = "127.0.0.1") -> tuple[socket.socket, socket.socket]:
    """A UDP and a listening TCP socket on the same free port."""
    for _ in range(20):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            udp.bind((host, 0))
            tcp.bind((host, udp.getsockname()[1]))
            tcp.listen()
            return udp, tcp
        except OSError:
            udp.close()
            tcp.close()
    raise OSError("no port free for both UDP and TCP")


# Runs as the activated process: moves the inherited sockets to fds 3 and 4 the way
# systemd passes them, sets LISTEN_PID to its own pid, and reports what it got.
CHILD = r"""
import fcntl, json, os, socket, sys
from resolver.serve import sdnotify

high = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:]]
for target, fd in enumerate(high, start=3):
    os.dup2(fd, target)
for fd in high + [int(fd) for fd in sys.argv[1:]]:
    if fd not in (3, 4):
        os.close(fd)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="2", LISTEN_FDNAMES="dns-tcp:dns-tcp")
socks = sdnotify.listen_fds()
pairs = sdnotify.pair_activated(socks)
print(json.dumps({
    "socks": [[s.fileno(), s.type.name, s.getsockname()[1], s.getblocking(),
               s.get_inheritable()] for s in socks],
    "pairs": [[u.type.name, t.type.name, u.getsockname()[1], t.getsockname()[1]]
              for u, t in pairs],
    "env": [k for k in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES") if k in os.environ],
}))
"""


class TestListenFds:
    def test_activated_process_gets_paired_sockets(self):
        """fds 3 and 4 come back as a non-blocking, close-on-exec UDP+TCP pair."""
        udp, tcp = _udp_tcp_pair()
        port = udp.getsockname()[1]
        with udp, tcp:
            fds = (udp.fileno(), tcp.fileno())
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, *map(str, fds)],
                pass_fds=fds,
                capture_output=True,
                text=True,
                cwd=REPO,
                timeout=30,
            )
        assert proc.returncode == 0, proc.stderr
        got = json.loads(proc.stdout)
        assert got["socks"] == [
            [3, "SOCK_DGRAM", port, False, False],
            [4, "SOCK_STREAM", port, False, False],
        ]
        assert got["pairs"] == [["SOCK_DGRAM", "SOCK_STREAM", port, port]]
        assert got["env"] == []

    def test_sockets_for_another_process_are_ignored(self, monkeypatch: pytest.MonkeyPatch):
        """LISTEN_PID of another process: nothing is claimed, and the variables are dropped."""
        monkeypatch.setenv("LISTEN_PID", str(os.getpid() + 1))
        monkeypatch.setenv("LISTEN_FDS", "2")
        monkeypatch.setenv("LISTEN_FDNAMES", "a:b")
        assert sdnotify.listen_fds() == []
        assert not {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} & set(os.environ)

    def test_not_activated(self, monkeypatch: pytest.MonkeyPatch):
        """Without LISTEN_PID/LISTEN_FDS there are no sockets."""
        monkeypatch.delenv("LISTEN_PID", raising=False)
        monkeypatch.delenv("LISTEN_FDS", raising=False)
        assert sdnotify.listen_fds() == []


class TestPairActivated:
    def test_pairs_by_address_whatever_the_order(self):
        """Sockets are paired by local address and classified by type, in any fd order."""
        a_udp, a_tcp = _udp_tcp_pair()
        b_udp, b_tcp = _udp_tcp_pair()
        with a_udp, a_tcp, b_udp, b_tcp:
            pairs = sdnotify.pair_activated([a_tcp, b_udp, a_udp, b_tcp])
            assert pairs == [(a_udp, a_tcp), (b_udp, b_tcp)]

    def test_unpaired_socket_is_an_error(self):
        """A UDP socket without its TCP twin names the address and the missing line."""
        udp, tcp = _udp_tcp_pair()
        with udp, tcp:
            port = udp.getsockname()[1]
            with pytest.raises(ValueError, match=rf"127\.0\.0\.1:{port} .*ListenStream="):
                sdnotify.pair_activated([udp])
            with pytest.raises(ValueError, match=rf"127\.0\.0\.1:{port} .*ListenDatagram="):
                sdnotify.pair_activated([tcp])

    def test_duplicate_and_foreign_sockets_are_errors(self):
        """Two UDP sockets on one address, or a UNIX socket, cannot be served."""
        udp, tcp = _udp_tcp_pair()
        with udp, tcp, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as unix:
            with pytest.raises(ValueError, match="two UDP sockets"):
                sdnotify.pair_activated([udp, tcp, udp])
            with pytest.raises(ValueError, match="not a UDP or TCP socket"):
                sdnotify.pair_activated([unix])

    def test_ipv6_address_is_bracketed(self):
        """IPv6 addresses in errors are written [::1]:port."""
        if not socket.has_ipv6:
            pytest.skip("no IPv6")
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind(("::1", 0))
            except OSError:
                pytest.skip("no IPv6 loopback")
            with pytest.raises(ValueError, match=r"\[::1\]:\d+ "):
                sdnotify.pair_activated([udp])
