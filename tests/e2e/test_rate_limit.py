"""Response rate limiting end to end: the real server, real UDP and TCP clients on loopback
sources in different /24s (127.0.0.1, 127.0.1.1, ...)."""

from __future__ import annotations

import random
import re
import signal
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import pytest

from tests.dnshelp import query_wire, tcp_raw, wait_until
from tests.serverproc import ZONES, ServerProcess

RATE, NX_RATE, WINDOW = 20, 5, 2
CONFIG = f"""
zones: [{ZONES}]
rate_limit:
  responses_per_second: {RATE}
  nxdomains_per_second: {NX_RATE}
  window: {WINDOW}
  slip: 2
  exempt: [127.0.9.0/24]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    work = tmp_path_factory.mktemp("rrl")
    (work / "policydns.yaml").write_text(CONFIG)
    config = str(work / "policydns.yaml")
    proc = ServerProcess(["--config", config, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"])
    proc.start(work / "server.log")
    yield proc
    proc.stop()


@dataclass
class Tally:
    """What one UDP client sent and got back, reply by reply."""

    sent: int = 0
    full: int = 0
    truncated: int = 0
    rcodes: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def replies(self) -> int:
        return self.full + self.truncated


def blast(
    server: ServerProcess, source: str, names: list[str], per_second: float, seconds: float
) -> Tally:
    """Send names (cycled) from source at per_second for seconds; count full and truncated
    replies (a truncated one has TC and no answer or authority)."""
    tally = Tally()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.settimeout(0.0)
        start = time.monotonic()

        def drain() -> None:
            while True:
                try:
                    data = sock.recv(65535)
                except BlockingIOError:
                    return
                reply = dns.message.from_wire(data)
                tally.rcodes.append(reply.rcode())
                if reply.flags & dns.flags.TC:
                    assert not reply.answer and not reply.authority
                    tally.truncated += 1
                else:
                    tally.full += 1

        while (now := time.monotonic() - start) < seconds:
            due = int(now * per_second) + 1
            while tally.sent < due:
                name = names[tally.sent % len(names)]
                sock.sendto(query_wire(name, ident=tally.sent & 0xFFFF), (server.host, server.port))
                tally.sent += 1
            drain()
            time.sleep(0.002)
        tally.seconds = time.monotonic() - start
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            drain()
            time.sleep(0.01)
    return tally


def in_thread(fn, *args) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn(*args)), daemon=True)
    thread.start()
    return thread, out


def rate_limited_metrics(server: ServerProcess) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{server.http_port()}/metrics").read()
    found = re.findall(
        r'^policydns_rate_limited_total\{action="(\w+)"\} (\S+)', text.decode(), re.M
    )
    return {action: float(value) for action, value in found}


def test_a_flood_gets_the_rate_and_the_slips_while_others_are_answered(server: ServerProcess):
    """1,000 queries a second for one name from 127.0.0.1 for 3 s: about RATE * T (+ one
    second of burst) full answers and half the rest as truncated replies; at the same
    time a client in another /24 and the flooding client over TCP get every answer."""
    before = rate_limited_metrics(server)
    flood, flood_out = in_thread(blast, server, "127.0.0.1", ["www.example.com"], 1000, 3.0)
    other, other_out = in_thread(blast, server, "127.0.1.1", ["www.example.com"], 10, 3.0)
    time.sleep(1.0)  # the flood is on: its account is limited
    over_tcp = tcp_raw(server, [query_wire("www.example.com", ident=i) for i in range(30)])
    flood.join()
    other.join()
    tally, calm = flood_out[0], other_out[0]

    assert tally.sent >= 1500, f"the flooding client sent only {tally.sent} in 3 s"
    # Full answers: at most RATE a second plus one second of burst (0.5 s of slack for
    # the server's clock against ours), and not far below RATE * T.
    assert 0.6 * RATE * tally.seconds <= tally.full <= RATE * (tally.seconds + 1.5), tally
    suppressed = tally.sent - tally.full
    assert 0.4 * suppressed <= tally.truncated <= 0.6 * suppressed + 1, tally
    assert set(tally.rcodes) == {dns.rcode.NOERROR}

    assert calm.full == calm.sent and calm.truncated == 0, calm  # another /24: untouched
    for data in over_tcp:  # the same client over TCP: never limited
        reply = dns.message.from_wire(data)
        assert reply.answer and not reply.flags & dns.flags.TC

    after = wait_until(
        lambda: rate_limited_metrics(server),
        "the rate-limit counters in /metrics",
        holds=lambda m: m.get("slipped", 0) - before.get("slipped", 0) >= tally.truncated,
    )
    dropped = after["dropped"] - before.get("dropped", 0)
    assert dropped >= suppressed - tally.truncated - 5  # a reply lost on loopback: margin

    # The log: one line when it started, one when it stopped (WINDOW s after the last
    # suppressed reply, swept within a second), never one per packet.
    stop = wait_until(
        lambda: re.search(
            r"rate limit: 127\.0\.0\.0/24 no longer limited for www\.example\.com\. A: "
            r"held back (\d+) replies \((\d+) slipped\)",
            server.log(),
        ),
        "the stop line",
        timeout=WINDOW + 5,
    )
    assert int(stop.group(1)) >= suppressed - 5 and int(stop.group(2)) >= tally.truncated
    log = server.log()
    assert log.count("rate limit: 127.0.0.0/24 limited for www.example.com. A") == 1
    assert log.count("rate limit:") < 10, log


def test_nxdomain_for_random_names_in_one_zone_is_one_account(server: ServerProcess):
    names = [f"r{random.getrandbits(40):x}.example.com" for _ in range(1000)]
    tally = blast(server, "127.0.2.1", names, 500, 2.0)
    assert tally.full <= NX_RATE * (tally.seconds + 1.5), tally
    assert tally.full >= NX_RATE, tally
    assert tally.truncated >= 0.4 * (tally.sent - tally.full), tally
    assert set(tally.rcodes) == {dns.rcode.NXDOMAIN}


def test_exempt_prefix_is_never_limited(server: ServerProcess):
    tally = blast(server, "127.0.9.1", ["www.example.com"], 500, 1.0)
    assert tally.full == tally.sent and tally.truncated == 0, tally


def test_log_lines_stay_bounded_under_a_flood_from_many_prefixes(server: ServerProcess):
    """200 sources in 200 /24s each go over the rate: at most a few start lines a second,
    the rest summed in "and N more" lines that account for every one of them."""
    prefixes = [f"127.{100 + i // 100}.{i % 100}" for i in range(200)]
    wire = query_wire("mail.example.com")
    started = time.monotonic()
    for prefix in prefixes:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((f"{prefix}.1", 0))
            for _ in range(RATE + 10):
                sock.sendto(wire, (server.host, server.port))
        time.sleep(0.01)  # 3,000 queries a second: none lost in the server's socket buffer
    seconds = time.monotonic() - started

    def starts() -> tuple[int, int]:
        log = server.log()
        lines = sum(log.count(f"rate limit: {p}.0/24 limited for mail") for p in prefixes)
        more = sum(int(n) for n in re.findall(r"and (\d+) more prefixes and classes", log))
        return lines, more

    lines, more = wait_until(starts, "every start accounted for", holds=lambda c: sum(c) >= 200)
    assert lines <= 5 * (seconds + 2), (lines, seconds)
    assert lines + more == 200


def test_reload_with_the_limit_off_stops_limiting(server: ServerProcess, tmp_path: Path):
    """Last in this module: it turns the limit off for the module's server."""
    config = Path(server.args[1])
    config.write_text(CONFIG.replace(f"responses_per_second: {RATE}", "responses_per_second: 0"))
    server.signal(signal.SIGHUP)
    wait_until(lambda: "reloaded example.com" in server.log(), "the reload")
    tally = blast(server, "127.0.3.1", ["www.example.com"], 500, 1.0)
    assert tally.full == tally.sent and tally.truncated == 0, tally


def test_with_workers_each_process_limits(start_server, tmp_path: Path):
    """--workers 2: whichever process the kernel hands a client's socket to limits it
    (six clients on six sockets: both processes get some, but for a 1 in 32 chance)."""
    config = tmp_path / "policydns.yaml"
    config.write_text(CONFIG)
    server = start_server("--config", str(config), "--listen", "127.0.0.1:0", "--workers", "2")
    for i in range(6):
        tally = blast(server, f"127.0.{20 + i}.1", ["www.example.com"], 1000, 0.5)
        assert tally.sent >= 250, tally
        assert tally.full <= RATE * (tally.seconds + 1.5), tally
        assert tally.truncated >= 0.4 * (tally.sent - tally.full), tally
