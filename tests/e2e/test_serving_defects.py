"""Serving defects of issue 10 against the real server: one busy client must not stall
others (TCP bursts, /metrics scrapes), and --workers IPC and reloads stay consistent."""

from __future__ import annotations

import socket
import struct
import threading
import time

import dns.message
import dns.query
import pytest

from tests.serverproc import REPO

pytestmark = pytest.mark.timeout(120)

ZONES = REPO / "zones"


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
