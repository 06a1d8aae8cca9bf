"""Memory stays bounded under attack (issue 12 item 4): the real server, 100,000+ queries each.

Three floods of queries the server has never seen: distinct random names (each a new memo
key and a new NXDOMAIN), distinct /24 ECS subnets for a geolocation name (each a new client
identity for the policy, the answer cache and the locator), and distinct spoofed-looking
source addresses in 127/8 (each a new rate-limiter prefix at ipv4_prefix 32, and a new
per-source memo key for a policy that routes on the source).

Each flood is sent in three parts (PARTS): a warm-up that fills every bounded table to its
bound, then two halves. Two assertions per flood:

- budget: RSS after the whole flood is at most BUDGET_MB (40 MiB) above RSS at start. What
  may fill meanwhile, all of fixed size: the locator's /24 cache (65,536 entries, ~23 MiB
  at its steady size, the largest), the memo and answer cache at max_entries (2000 here),
  the rate limiter's table, the metrics' bounded label sets. 100,000 entries of an
  unbounded table would add 10-50 MiB on top.
- the bound is real: the peak RSS during the second half is at most GROWTH_MB (3 MiB) above
  the peak during the first. By then every bounded table is full and reuses what it frees
  (measured: flat, wandering by up to 2 MiB), so a table growing per distinct query breaks
  it: 40,000 more entries (names, sources) of even a dict of ints (~100 bytes each) is
  4 MiB; 10,000 (subnets) memo-like entries (reply and key bytes, a tuple: 300-500
  bytes) 3-5 MiB. With the cache bound lifted (max_entries 10,000,000) the names flood
  grows 53 MiB in its second half and the sources flood 18 MiB.

The cache is made small (max_entries 2000) so that its bound is reached in the warm-up.
"""

from __future__ import annotations

import os
import random
import selectors
import socket
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.edns
import dns.message
import pytest

from bench.common import rss_kib
from tests.dnshelp import write_settled
from tests.serverproc import ZONES, ServerProcess

# (warm-up queries, queries in each half, a multiple of SAMPLES): at least 100,000 distinct
# ones in all. The warm-up fills the cache (max_entries 2000) and every table of fixed
# size. The locator's cache of /24 locations (query/location.py CACHE_SIZE) holds 65,536,
# about 300 bytes each, and its dict resizes once more, to its final 9 MB, after ~87,000
# insertions (evictions leave slots behind): distinct ECS subnets reach its steady size
# only after 90,000.
PARTS = {"names": (20_000, 40_000), "subnets": (90_000, 10_000), "sources": (20_000, 40_000)}
FLOOD = max(warm + 2 * half for warm, half in PARTS.values())
BUDGET_MB = 40.0  # see the module docstring
GROWTH_MB = 3.0
SAMPLES = 5  # RSS readings in each half
LANES = 48  # queries in flight at once: fast, and well inside the socket buffers
LOST_AT_MOST = 0.01  # a reply may be lost under load; a flood that mostly was not served
# would measure nothing

# The rate limit is per /32 and low, so that every spoofed source is an account in its
# table; the names and subnets floods come from 127.0.0.1, exempt, so that they are answered.
CONFIG = """\
cache: {max_entries: 2000}
rate_limit:
  responses_per_second: 5
  ipv4_prefix: 32
  window: 5
  slip: 2
  exempt: [127.0.0.1/32]
"""


def rss_mb(pid: int) -> float:
    """The resident set of the process and its descendants (workers), in MiB."""
    return rss_kib(pid) / 1024


def header_id(wire: bytes, ident: int) -> bytes:
    return struct.pack("!H", ident) + wire[2:]


class Flood:
    """Windowed UDP: LANES sockets, one query in flight on each, the next sent on a reply.

    `sources` (optional) gives the address to bind each query's socket to: a fresh socket
    per query, so each one comes from its own address (any 127.x.y.z is local).
    """

    def __init__(self, server: ServerProcess) -> None:
        self.target = (server.host, server.port)
        self.replies = 0
        self.lost = 0

    def _socket(self, source: str | None) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if source is not None:
            sock.bind((source, 0))
        sock.setblocking(False)
        return sock

    def send(self, queries: Iterator[tuple[bytes, str | None]], count: int) -> None:
        """Send `count` queries from the iterator and wait for their replies."""
        selector = selectors.DefaultSelector()
        pending: dict[socket.socket, float] = {}
        sent = 0

        def launch(sock: socket.socket | None) -> None:
            nonlocal sent
            if sent >= count:
                if sock is not None:
                    selector.unregister(sock)
                    sock.close()
                return
            wire, source = next(queries)
            if sock is None or source is not None:
                if sock is not None:
                    selector.unregister(sock)
                    sock.close()
                sock = self._socket(source)
                selector.register(sock, selectors.EVENT_READ)
            sock.sendto(wire, self.target)
            pending[sock] = time.monotonic()
            sent += 1

        for _ in range(LANES):
            launch(None)
        while pending:
            events = selector.select(timeout=0.2)
            for key, _ in events:
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    sock.recv(65535)
                except BlockingIOError:
                    continue
                self.replies += 1
                del pending[sock]
                launch(sock)
            now = time.monotonic()
            for sock, at in list(pending.items()):
                if now - at > 1.0:  # lost (or dropped): count it and go on
                    self.lost += 1
                    del pending[sock]
                    launch(sock)
        selector.close()


def names(rng: random.Random) -> Iterator[tuple[bytes, str | None]]:
    """Distinct random names in a zone: each a new NXDOMAIN, a new memo key."""
    head = dns.message.make_query("example.com", "A").to_wire()[:12]
    tail = b"\x07example\x03com\x00\x00\x01\x00\x01"
    i = 0
    while True:
        label = f"{i:x}-{rng.getrandbits(40):010x}".encode()
        yield header_id(head, i & 0xFFFF) + bytes([len(label)]) + label + tail, None
        i += 1


def subnets(rng: random.Random) -> Iterator[tuple[bytes, str | None]]:
    """Distinct /24 ECS subnets asking a geolocation name: each a new client identity."""
    base = dns.message.make_query(
        "geo.steer.example", "A", use_edns=0, options=[dns.edns.ECSOption("1.0.0.0", 24)]
    ).to_wire()
    at = base.rindex(bytes([1, 0, 0]))  # the address bytes of the ECS option (3 for a /24)
    order = list(range(FLOOD + 1000))
    rng.shuffle(order)
    for i, n in enumerate(order):
        # 1.0.0.0 upwards through public space, skipping nothing: 16M /24s to choose from
        address = (1 << 16) + n * 97
        wire = base[:at] + address.to_bytes(3, "big") + base[at + 3 :]
        yield header_id(wire, i & 0xFFFF), None


def sources(rng: random.Random) -> Iterator[tuple[bytes, str | None]]:
    """Distinct source addresses in 127/8 asking a name the source routes: each a new
    rate-limiter prefix (/32) and a new per-source memo key."""
    order = list(range(1, FLOOD + 1000))
    rng.shuffle(order)
    wire = dns.message.make_query("geo.steer.example", "A").to_wire()
    for i, n in enumerate(order):
        address = f"127.{(n >> 16) & 0xFF}.{(n >> 8) & 0xFF}.{n & 0xFF or 1}"
        if address == "127.0.0.1":
            address = "127.255.255.254"
        yield header_id(wire, i & 0xFFFF), address


def peak_rss(
    flood: Flood, queries: Iterator[tuple[bytes, str | None]], count: int, pid: int
) -> float:
    """Send `count` queries; the highest RSS seen at SAMPLES points along the way. Peaks,
    not end points: RSS wanders by up to ~2 MiB (allocator arenas) even when flat, while
    a leak lifts every later sample."""
    peak = 0.0
    for _ in range(SAMPLES):
        flood.send(queries, count // SAMPLES)
        peak = max(peak, rss_mb(pid))
    return peak


@pytest.fixture
def server(start_server, tmp_path: Path) -> ServerProcess:
    config = write_settled(tmp_path / "policydns.yaml", CONFIG)
    return start_server(
        "--config", str(config), "--zones", str(ZONES), "--listen", "127.0.0.1:0", "--no-http"
    )


@pytest.mark.parametrize("kind", ["names", "subnets", "sources"])
def test_memory_bounded_under_flood(server: ServerProcess, kind: str) -> None:
    make: Callable[[random.Random], Iterator[tuple[bytes, str | None]]] = {
        "names": names,
        "subnets": subnets,
        "sources": sources,
    }[kind]
    assert server.proc is not None
    pid = server.proc.pid
    queries = make(random.Random(f"memory-{kind}"))
    warm_count, half = PARTS[kind]
    flood = Flood(server)
    started = time.monotonic()
    flood.send(queries, 100)
    idle = rss_mb(pid)
    flood.send(queries, warm_count - 100)
    warm = rss_mb(pid)
    first = peak_rss(flood, queries, half, pid)
    second = peak_rss(flood, queries, half, pid)
    took = time.monotonic() - started
    report = (
        f"{kind}: RSS {idle:.1f} MiB at start, {warm:.1f} after {warm_count} warm-up "
        f"queries, peak {first:.1f} in the next {half}, peak {second:.1f} in the {half} after "
        f"({took:.1f} s, {flood.replies} replies, {flood.lost} lost)"
    )
    print(report)
    assert server.proc.poll() is None, "the server died"
    assert flood.lost <= LOST_AT_MOST * (warm_count + 2 * half), report
    assert max(first, second) - idle <= BUDGET_MB, f"over the {BUDGET_MB} MiB budget: {report}"
    assert second - first <= GROWTH_MB, f"still growing in the second half: {report}"
    if os.environ.get("MEMORY_BOUNDS_VERBOSE"):
        print(server.log()[-2000:])
