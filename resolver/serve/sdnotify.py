"""systemd integration without libsystemd: sd_notify, the watchdog and socket activation.

The notify protocol is one AF_UNIX datagram of newline-separated KEY=VALUE fields sent to
$NOTIFY_SOCKET; socket activation hands over sockets as fds 3.. with LISTEN_PID and
LISTEN_FDS set. Both are a few lines, so no dependency is needed (see ECOSYSTEM.md §4).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time

log = logging.getLogger("policydns.sdnotify")

LISTEN_FDS_START = 3
_LISTEN_VARS = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


def notify(*fields: str) -> bool:
    """Send fields ("READY=1", "STATUS=...") to systemd; False when not under systemd.

    Never raises: a lost notification must not take the server down with it.
    """
    address = os.environ.get("NOTIFY_SOCKET")
    if not address or not fields:
        return False
    if "RELOADING=1" in fields and not any(f.startswith("MONOTONIC_USEC=") for f in fields):
        # systemd >= 253 matches RELOADING=1 to the reload by this timestamp; older ignore it.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        fields = (*fields, f"MONOTONIC_USEC={usec}")
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto("\n".join(fields).encode(), address)
    except (OSError, ValueError) as exc:
        log.debug("sd_notify to %r failed: %s", address, exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WATCHDOG_USEC), or None when not watched."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2 / 1_000_000 if value > 0 else None


async def watchdog_loop(interval: float) -> None:
    """Ping the watchdog forever; running on the event loop, it proves the loop is alive."""
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)


def listen_fds() -> list[socket.socket]:
    """Sockets passed by systemd socket activation (fds 3..), or [] when none were passed.

    The LISTEN_* variables are removed so that worker processes do not claim them too.
    Raises ValueError if a passed fd is not a socket.
    """
    pid, count = os.environ.get("LISTEN_PID"), os.environ.get("LISTEN_FDS")
    for name in _LISTEN_VARS:
        os.environ.pop(name, None)
    if pid != str(os.getpid()) or not count or not count.isdigit():
        return []
    socks = []
    for fd in range(LISTEN_FDS_START, LISTEN_FDS_START + int(count)):
        try:
            sock = socket.socket(fileno=fd)
        except OSError as exc:
            raise ValueError(f"socket activation: fd {fd} is not a socket ({exc})") from exc
        sock.set_inheritable(False)
        sock.setblocking(False)
        socks.append(sock)
    return socks


def _where(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if sock.family == socket.AF_INET6 else f"{host}:{port}"


def pair_activated(socks: list[socket.socket]) -> list[tuple[socket.socket, socket.socket]]:
    """Group activated sockets into (udp, tcp) pairs by local address.

    Classified by socket type: LISTEN_FDNAMES is unreliable (nested activators overwrite it).
    """
    slots: dict[str, list[socket.socket | None]] = {}
    for sock in socks:
        where = _where(sock) if sock.family in (socket.AF_INET, socket.AF_INET6) else None
        kind = {socket.SOCK_DGRAM: 0, socket.SOCK_STREAM: 1}.get(sock.type)
        if where is None or kind is None:
            raise ValueError(f"socket activation: fd {sock.fileno()} is not a UDP or TCP socket")
        slot = slots.setdefault(where, [None, None])
        if slot[kind] is not None:
            proto = ("UDP", "TCP")[kind]
            raise ValueError(f"socket activation: two {proto} sockets on {where}")
        slot[kind] = sock
    pairs = []
    for where, (udp, tcp) in slots.items():
        if udp is None or tcp is None:
            missing = "ListenDatagram" if udp is None else "ListenStream"
            raise ValueError(f"socket activation: {where} has no matching {missing}= socket")
        pairs.append((udp, tcp))
    return pairs
