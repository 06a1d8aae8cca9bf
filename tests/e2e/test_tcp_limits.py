"""TCP limits against the real server (issue 12 item 2): message deadline, caps, backpressure.

Raw sockets play the hostile clients; dnspython plays the normal client whose answers
must stay fast. Counters are read from /metrics, log lines from the server's own log.
"""

from __future__ import annotations

import re
import selectors
import signal
import socket
import statistics
import threading
import time
import urllib.request
from pathlib import Path

import dns.query

from bench.common import rss_kib
from tests.dnshelp import frame, make_query, wait_until
from tests.e2e.test_tcp import assert_www, closed_by_server, read_reply
from tests.serverproc import ZONES

REFUSED = "policydns_tcp_connections_refused_total"
TIMED_OUT = "policydns_tcp_connections_timed_out_total"


def start(start_server, tmp_path: Path, tcp: str, *args: str):
    """A server with the given `tcp:` settings and the HTTP API (for /metrics)."""
    config = tmp_path / "policydns.yaml"
    config.write_text(f"tcp: {tcp}\n")
    srv = start_server(
        "--config", str(config), "--zones", str(ZONES), "--listen", "127.0.0.1:0",
        "--http", "127.0.0.1:0", *args,
    )  # fmt: skip
    return srv, srv.http_port()


def counter(http_port: int, family: str, reason: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10).read()
    found = re.search(rf'^{family}{{reason="{reason}"}} (\S+)$', text.decode(), re.M)
    return float(found.group(1)) if found else 0.0


def txt_answers(http_port: int) -> float:
    """TXT queries the server has answered (over both transports)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10).read()
    pattern = r'^policydns_queries_total\{.*qtype="TXT".*\} (\S+)$'
    return sum(float(v) for v in re.findall(pattern, text.decode(), re.M))


def connect_from(srv, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket()
    sock.settimeout(5)
    sock.bind((source, 0))
    sock.connect((srv.host, srv.port))
    return sock


def answers(sock: socket.socket, ident: int) -> None:
    """The connection is admitted and served: a query on it gets the www answer."""
    sock.sendall(frame(make_query("www.example.com", ident=ident).to_wire()))
    assert_www(read_reply(sock), ident)


def admitted(srv, source: str = "127.0.0.1") -> bool:
    """Whether a new connection from source is served now (for polling)."""
    try:
        with connect_from(srv, source) as sock:
            answers(sock, 99)
    except (AssertionError, ConnectionError, TimeoutError):
        return False
    return True


def timed_queries(srv, until: float, gap: float = 0.03) -> tuple[list[float], list[float]]:
    """UDP and TCP (fresh connection each) www queries, alternating until `until`: the
    seconds each took, connect included."""
    udp, tcp = [], []
    while time.monotonic() < until:
        for transport, into in ((dns.query.udp, udp), (dns.query.tcp, tcp)):
            query = make_query("www.example.com", ident=len(into) + 1)
            started = time.perf_counter()
            assert_www(transport(query, srv.host, port=srv.port, timeout=2), len(into) + 1)
            into.append(time.perf_counter() - started)
        time.sleep(gap)
    return udp, tcp


def fast(latencies: list[float], bound: float = 0.05) -> bool:
    """The issue's 50 ms, judged so one scheduler hiccup on a busy 2-core machine is not a
    failure but a server that stalls answers is: the median and 9 in 10 under the bound."""
    latencies = sorted(latencies)
    return (
        len(latencies) >= 10
        and statistics.median(latencies) < bound
        and latencies[int(len(latencies) * 0.9) - 1] < bound
    )


class Tricklers:
    """Connections that each send one byte every `every` seconds, never a whole message
    (the prefix promises 64 bytes), from their first moment: one thread opens them
    between trickle passes (opening 500 takes a while) and records when the server
    closes each."""

    def __init__(self, srv, count: int, every: float = 0.3) -> None:
        self.address = (srv.host, srv.port)
        self.count = count
        self.every = every
        self.data = b"\x00\x40" + bytes(64)
        self.opened: dict[socket.socket, float] = {}
        self.closed: dict[socket.socket, float] = {}
        self.ready = threading.Event()  # all opened
        self.error: Exception | None = None  # what stopped the thread, if anything
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self._trickle()
        except Exception as exc:
            self.error = exc

    def _trickle(self) -> None:
        position: dict[socket.socket, int] = {}
        selector = selectors.DefaultSelector()
        next_byte = time.monotonic() + self.every
        while not self.stop.is_set() and len(self.closed) < self.count:
            while len(self.opened) < self.count and time.monotonic() < next_byte:
                sock = socket.create_connection(self.address, timeout=5)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.sendall(self.data[:1])
                sock.setblocking(False)
                self.opened[sock] = time.monotonic()
                position[sock] = 1
                selector.register(sock, selectors.EVENT_READ)
            if len(self.opened) == self.count:
                self.ready.set()
            if time.monotonic() >= next_byte:
                for sock in self.opened:
                    if sock not in self.closed:
                        i = position[sock]
                        try:
                            sock.send(self.data[i : i + 1])
                            position[sock] = i + 1
                        except (BlockingIOError, ConnectionError):
                            pass
                next_byte += self.every
            for key, _ in selector.select(max(0.0, next_byte - time.monotonic())):
                sock = key.fileobj
                try:
                    data = sock.recv(4096)
                except (ConnectionError, BlockingIOError):
                    data = b""
                if not data:
                    self.closed[sock] = time.monotonic()
                    selector.unregister(sock)
        selector.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        for sock in self.opened:
            sock.close()


def test_trickling_connections_are_cut_at_the_message_deadline(start_server, tmp_path):
    """The issue's check: 500 connections trickling a byte every 0.3 s (just inside any
    per-read timeout) are closed by the 2 s message deadline, counted in /metrics, while
    a normal client's UDP and TCP queries are answered in under 50 ms."""
    srv, http = start(
        start_server, tmp_path, "{idle_timeout: 2, max_connections: 600, max_per_client: 600}"
    )
    tricklers = Tricklers(srv, 500)
    try:
        assert tricklers.ready.wait(30), f"could not open 500 connections: {tricklers.error}"
        udp, tcp = timed_queries(srv, until=time.monotonic() + 3.0)
        tricklers.thread.join(6)
        lifetimes = [
            tricklers.closed[sock] - opened
            for sock, opened in tricklers.opened.items()
            if sock in tricklers.closed
        ]
    finally:
        tricklers.close()
    assert tricklers.error is None, tricklers.error
    assert len(lifetimes) == 500, f"only {len(lifetimes)} of 500 trickling connections closed"
    # Closed at the deadline: not before it, and within a second after it.
    assert min(lifetimes) > 1.8, f"closed early: {sorted(lifetimes)[:5]}"
    assert max(lifetimes) < 3.5, f"closed late: {sorted(lifetimes)[-5:]}"
    assert fast(udp), f"UDP ms: {sorted(round(x * 1000, 1) for x in udp)}"
    assert fast(tcp), f"TCP ms: {sorted(round(x * 1000, 1) for x in tcp)}"
    assert counter(http, TIMED_OUT, "message_deadline") == 500


def test_per_client_cap(start_server, tmp_path):
    """The (max_per_client+1)th connection from one address is closed at once, another
    address still connects, and a burst of refusals is one log line, counted each."""
    srv, http = start(start_server, tmp_path, "{idle_timeout: 10, max_per_client: 3}")
    held = [connect_from(srv) for _ in range(3)]
    try:
        for i, sock in enumerate(held):
            answers(sock, 10 + i)
        started = time.monotonic()
        with connect_from(srv) as extra:
            assert closed_by_server(extra, timeout=2), "the 4th connection was not closed"
        assert time.monotonic() - started < 1.0
        with connect_from(srv, "127.0.0.2") as other:
            answers(other, 20)
        for _ in range(20):
            with connect_from(srv) as extra:
                assert closed_by_server(extra, timeout=2)
        answers(held[0], 21)  # the admitted ones are untouched
        assert counter(http, REFUSED, "max_per_client") == 21
        lines = [line for line in srv.log().splitlines() if "refused" in line]
        assert len(lines) == 1, lines
        assert "from 127.0.0.1 refused: max_per_client (3) reached" in lines[0]
        held.pop().close()  # a slot frees once the server sees the close
        wait_until(lambda: admitted(srv), "a freed per-client slot", timeout=5)
        # The burst's other 20 refusals come as one summary line once the 10 s are over.
        summary = wait_until(
            lambda: re.findall(r"refused \d+ more TCP connections.*", srv.log()),
            "the refusal summary line",
            timeout=15,
            interval=0.2,
        )
        assert summary == ["refused 20 more TCP connections at a cap (max_per_client 20)"]
    finally:
        for sock in held:
            sock.close()


def test_overall_cap(start_server, tmp_path):
    """Past max_connections a connection from a new address is closed at once too."""
    srv, http = start(
        start_server, tmp_path, "{idle_timeout: 10, max_connections: 4, max_per_client: 2}"
    )
    held = [connect_from(srv, source) for source in ("127.0.0.1", "127.0.0.2") for _ in range(2)]
    try:
        for i, sock in enumerate(held):
            answers(sock, 30 + i)
        with connect_from(srv, "127.0.0.3") as extra:
            assert closed_by_server(extra, timeout=2), "the 5th connection was not closed"
        assert counter(http, REFUSED, "max_connections") == 1
        assert counter(http, REFUSED, "max_per_client") == 0
        assert "refused: max_connections (4) reached" in srv.log()
        answers(held[3], 34)
    finally:
        for sock in held:
            sock.close()


def test_caps_hold_per_worker_and_workers_refusals_reach_metrics(start_server, tmp_path):
    """With --workers 2 each process keeps its own caps (the kernel spreads connections
    over them), and the refusals a worker counts show in the main process's /metrics."""
    srv, http = start(
        start_server, tmp_path, "{idle_timeout: 10, max_per_client: 1}", "--workers", "2"
    )
    socks = [connect_from(srv) for _ in range(12)]
    try:
        refused = sum(closed_by_server(sock, 1.0) for sock in socks)
        assert 10 <= refused <= 11, f"{12 - refused} of 12 admitted with max_per_client 1"
        wait_until(
            lambda: counter(http, REFUSED, "max_per_client"),
            f"{refused} refusals in /metrics",
            holds=lambda total: total == refused,
            interval=0.2,
        )
    finally:
        for sock in socks:
            sock.close()


def test_reload_raises_the_cap_and_keeps_open_connections(start_server, tmp_path):
    srv, _ = start(start_server, tmp_path, "{idle_timeout: 30, max_per_client: 2}")
    held = [connect_from(srv) for _ in range(2)]
    try:
        for i, sock in enumerate(held):
            answers(sock, 40 + i)
        with connect_from(srv) as extra:
            assert closed_by_server(extra, timeout=2)
        (tmp_path / "policydns.yaml").write_text("tcp: {idle_timeout: 30, max_per_client: 3}\n")
        srv.signal(signal.SIGHUP)
        wait_until(lambda: "reload" in srv.log().lower(), "the reload log line")
        wait_until(lambda: admitted(srv), "a third connection admitted after the reload")
        for i, sock in enumerate(held):
            answers(sock, 50 + i)  # the connections from before the reload still work
    finally:
        for sock in held:
            sock.close()


def test_client_that_pipelines_and_never_reads(start_server, tmp_path):
    """100,000 pipelined queries never read: the server stops reading (its memory stays
    bounded), answers others promptly, and cuts the client off at the write deadline."""
    srv, http = start(start_server, tmp_path, "{idle_timeout: 2, max_connections: 16}")
    query = make_query("long.example.net", "TXT", ident=81).to_wire()
    data = frame(query) * 100_000
    before = rss_kib(srv.proc.pid)
    hog = socket.socket()
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.connect((srv.host, srv.port))
    hog.setblocking(False)
    sent, blocked_since = 0, None
    try:
        deadline = time.monotonic() + 10
        while sent < len(data) and time.monotonic() < deadline:
            try:
                sent += hog.send(data[sent : sent + 65536])
                blocked_since = None
            except BlockingIOError:
                blocked_since = blocked_since or time.monotonic()
                if time.monotonic() - blocked_since > 0.5:
                    break  # the server stopped reading
                time.sleep(0.01)
            except ConnectionError:
                break
        peak = rss_kib(srv.proc.pid)
        udp, tcp = timed_queries(srv, until=time.monotonic() + 1.0)
        assert fast(udp), f"UDP ms: {sorted(round(x * 1000, 1) for x in udp)}"
        assert fast(tcp), f"TCP ms: {sorted(round(x * 1000, 1) for x in tcp)}"
        wait_until(
            lambda: counter(http, TIMED_OUT, "write"),
            "the write deadline closing the client that never reads",
            timeout=2 + 3,
            interval=0.2,
        )
        peak = max(peak, rss_kib(srv.proc.pid))
        # Kernel buffers took some queries; the server answered only what the client's
        # window and the transport's high-water mark let it write, then stopped reading.
        answered = txt_answers(http)
    finally:
        hog.close()
    assert answered < 50_000, f"{answered:.0f} of {sent // len(frame(query))} queries answered"
    assert peak - before < 20_000, f"RSS grew {peak - before} KiB (sent {sent} bytes)"
