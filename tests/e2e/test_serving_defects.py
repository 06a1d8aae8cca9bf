"""Serving defects of issue 10 against the real server: one busy client must not stall
others (TCP bursts, /metrics scrapes), and --workers IPC and reloads stay consistent."""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
import urllib.request

import dns.message
import dns.query
import pytest

from resolver.metrics import MAX_LABEL_SETS, OVERFLOW_SETS
from tests.serverproc import REPO, wait_for

pytestmark = pytest.mark.timeout(120)

ZONES = REPO / "zones"
HTTP_RE = re.compile(r"http api on 127\.0\.0\.1:(\d+)")


def frame(wire: bytes) -> bytes:
    return struct.pack("!H", len(wire)) + wire


def recv_exactly(sock: socket.socket, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        assert chunk, f"connection closed with {len(data)} of {count} bytes"
        data += chunk
    return bytes(data)


def udp_latency(host: str, port: int, name: str = "www.example.com") -> float:
    """Seconds from sending one UDP query to its answer."""
    query = dns.message.make_query(name, "A")
    started = time.perf_counter()
    reply = dns.query.udp(query, host, port=port, timeout=5)
    elapsed = time.perf_counter() - started
    assert reply.answer, reply
    return elapsed


# -- 9: a TCP burst yields to other clients -------------------------------------------------


def burst(count_bytes: int, first_id: int) -> tuple[bytes, list[int]]:
    """Pipelined queries for distinct missing names (no memo hit): about count_bytes long."""
    frames, ids, size, ident = [], [], 0, first_id
    while size < count_bytes:
        query = dns.message.make_query(f"n{ident}.nope.example.com", "A")
        query.id = ident & 0xFFFF
        wire = frame(query.to_wire())
        if size + len(wire) > count_bytes:
            break
        frames.append(wire)
        ids.append(query.id)
        size += len(wire)
        ident += 1
    return b"".join(frames), ids


def test_tcp_burst_does_not_stall_another_clients_udp(server):
    """A 64 KiB read of pipelined queries is answered in batches: a UDP query sent right
    after the burst is answered in well under the time the whole burst takes, and the
    burst's replies still come back complete and in order."""
    latencies, whole = [], []
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        for round_ in range(5):
            data, ids = burst(65536, round_ * 5000)
            replies: list[int] = []

            def read_all(ids: list[int] = ids, replies: list[int] = replies) -> None:
                for _ in ids:
                    (length,) = struct.unpack("!H", recv_exactly(sock, 2))
                    replies.append(struct.unpack("!H", recv_exactly(sock, length)[:2])[0])

            reader = threading.Thread(target=read_all)
            started = time.perf_counter()
            sock.sendall(data)
            reader.start()
            time.sleep(0.005)  # the burst is in the server's hands
            latencies.append(udp_latency(server.host, server.port))
            reader.join(30)
            whole.append(time.perf_counter() - started)
            assert replies == ids, "pipelined replies lost or out of order"
    assert max(latencies) < 0.1, (latencies, whole)


# -- 10: /metrics stays bounded and does not stall answers -----------------------------------


def http_port(srv) -> int:
    found = wait_for(lambda: HTTP_RE.search(srv.log()), "the `http api on` log line")
    return int(found.group(1))


def scrape(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=15).read().decode()


def pipelined(srv, queries: list[bytes]) -> None:
    """Send every query on one TCP connection and read every reply."""
    with socket.create_connection((srv.host, srv.port), timeout=15) as sock:
        sock.sendall(b"".join(frame(q) for q in queries))
        for _ in queries:
            (length,) = struct.unpack("!H", recv_exactly(sock, 2))
            recv_exactly(sock, length)


def test_metrics_label_space_is_bounded_and_scrapes_do_not_stall_dns(start_server):
    """Queries of 4,000 distinct types: /metrics keeps at most MAX_LABEL_SETS (+ overflow)
    query series, counts every query, and UDP answers stay quick during scrapes."""
    srv = start_server("--zones", str(ZONES), "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0")
    port = http_port(srv)
    queries = []
    for qtype in range(1000, 5000):
        query = dns.message.make_query("www.example.com", qtype)
        query.id = qtype
        queries.append(query.to_wire())
    pipelined(srv, queries)

    latencies: list[float] = []
    texts: list[str] = []
    scraper = threading.Thread(target=lambda: texts.extend(scrape(port) for _ in range(5)))
    scraper.start()
    while scraper.is_alive():
        latencies.append(udp_latency(srv.host, srv.port))
    scraper.join()
    series = re.findall(r"^policydns_queries_total\{.*\} (\S+)$", texts[-1], re.M)
    assert len(series) <= MAX_LABEL_SETS + OVERFLOW_SETS + 1, len(series)
    assert sum(float(v) for v in series) >= len(queries)
    assert max(latencies) < 0.1, max(latencies)
