"""--workers 2: two processes share the ports; health, reloads and metrics reach both."""

from __future__ import annotations

import re
import signal
import socket
import statistics
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dns.message
import pytest

from tests.dnshelp import ask, wait_until

ZONE = """
zone: workers.test
ttl: 5
health_checks:
  main: {{type: http, target: 127.0.0.1, port: {port}, interval: 0.1, failure_threshold: 1}}
records:
  www: [{{type: A, values: [192.0.2.1]}}]
  api:
    - {{type: A, set_id: p, failover: primary, values: [192.0.2.10], health_check: main}}
    - {{type: A, set_id: s, failover: secondary, values: [192.0.2.20]}}
"""


def ask_many(server, name: str, count: int) -> list[str]:
    """One query from each of `count` fresh sockets: different source ports, so the
    kernel's SO_REUSEPORT hash spreads them over the workers."""
    answers = []
    for _ in range(count):
        reply = ask(server, name, timeout=2)
        answers.append(reply.answer[0][0].address if reply.answer else "")
    return answers


def worker_pids(server) -> list[int]:
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text()
    return [int(pid) for pid in children.split()]


class _Backend(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def backend():
    """A health endpoint in its own thread, so blocking test code cannot stall it."""
    handler = type("Backend", (_Backend,), {"status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, server.server_address[1]
    server.shutdown()
    server.server_close()


def metric_total(port: int) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    pattern = r'^policydns_queries_total\{.*qtype="A".*\} (\S+)'
    return sum(float(v) for v in re.findall(pattern, text, re.M))


PRIMARY, SECONDARY = "192.0.2.10", "192.0.2.20"


def flip_lag(server, old: str, new: str) -> float:
    """Seconds from the first answer of `new` to the last answer of `old` after it (0 if
    none): how long the processes disagree after a health flip."""
    first_new = last_old = None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for answer in ask_many(server, "api.workers.test", 10):
            now = time.monotonic()
            if answer == new and first_new is None:
                first_new = now
            elif answer == old and first_new is not None:
                last_old = now
        if first_new is not None and time.monotonic() - first_new > 0.3:
            break
    assert first_new is not None, f"the flip from {old} to {new} never happened"
    return 0.0 if last_old is None else last_old - first_new


def test_two_workers_share_the_work(backend, start_server, tmp_path: Path):
    """Health flips and reloads reach both processes; /metrics counts both; SIGTERM stops both."""
    handler, port = backend
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "w.yaml").write_text(ZONE.format(port=port))
    server = start_server(
        "--zones",
        str(zones),
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--workers",
        "2",
    )
    pids = worker_pids(server)
    assert len(pids) == 1  # the main process answers too
    assert set(ask_many(server, "www.workers.test", 40)) == {"192.0.2.1"}
    assert set(ask_many(server, "api.workers.test", 40)) == {"192.0.2.10"}

    # Once one process answers the new way, every other does within 100 ms: measured over
    # three flips (down, up, down) and judged by the median, so one slow moment on a busy
    # machine does not fail it while a process that lags every time still does.
    lags = []
    down, up = (500, PRIMARY, SECONDARY), (200, SECONDARY, PRIMARY)
    for status, old, new in [down, up, down]:
        handler.status = status
        lags.append(flip_lag(server, old, new))
    assert statistics.median(lags) < 0.1, lags

    (zones / "w.yaml").write_text(ZONE.format(port=port).replace("192.0.2.1]", "192.0.2.2]"))
    server.signal(signal.SIGHUP)
    wait_until(
        lambda: set(ask_many(server, "www.workers.test", 20)),
        "the reload to reach every worker",
        holds=lambda seen: seen == {"192.0.2.2"},
    )
    assert set(ask_many(server, "www.workers.test", 40)) == {"192.0.2.2"}

    sent = 40 + 40 + 20 * 2 + 40  # a lower bound on what both processes answered
    wait_until(
        lambda: metric_total(server.http_port()),
        "the worker counters to reach /metrics",
        timeout=5,
        holds=lambda total: total >= sent,
        interval=0.1,
    )

    assert server.stop() == 0
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists()


def test_both_processes_answer(start_server, tmp_path: Path):
    """With SO_REUSEPORT the kernel hands queries to both processes (both spend CPU on them)."""
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "w.yaml").write_text(
        "zone: workers.test\nrecords:\n  www: [{type: A, values: [192.0.2.1]}]\n"
    )
    server = start_server(
        "--zones", str(zones), "--listen", "127.0.0.1:0", "--no-http", "--workers", "2"
    )
    (child,) = worker_pids(server)

    def cpu(pid: int) -> int:
        """Nanoseconds on the CPU so far (schedstat is exact, unlike CPU ticks)."""
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])

    before = cpu(server.proc.pid), cpu(child)
    socks = []
    for _ in range(64):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(2)
        socks.append(sock)
    query = dns.message.make_query("www.workers.test", "A").to_wire()
    for _ in range(100):
        for sock in socks:
            sock.sendto(query, (server.host, server.port))
        for sock in socks:
            sock.recv(512)
    after = cpu(server.proc.pid), cpu(child)
    for sock in socks:
        sock.close()
    # 64 source ports hash to both processes: each does a fair part of the work. An idle
    # worker (its twice-a-second report aside) would spend next to nothing.
    spent = [a - b for a, b in zip(after, before, strict=True)]
    assert sum(spent) > 10_000_000, spent
    assert min(spent) > 0.15 * sum(spent), spent
