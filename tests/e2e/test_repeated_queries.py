"""Identical query bytes asked again and again, over real sockets (issue 5's memo).

The server keeps finished replies by the query bytes after the ID. These tests send the
very same bytes from several loopback sources and check that each source still gets the
answer its own network decides, that weighted answers keep being drawn by weight, and that
multivalue answers keep varying.
"""

from __future__ import annotations

import socket
import struct
from collections import Counter
from collections.abc import Iterator

import dns.message
import pytest

from tests.dnshelp import addresses, query_wire, udp_raw
from tests.serverproc import ZONES, ServerProcess

pytestmark = pytest.mark.timeout(60)

CONFIG = """\
locations:
  127.0.0.2/32: {continent: EU, country: DE, latitude: 50.1, longitude: 8.7}
  127.0.0.3/32: {continent: NA, country: US, subdivision: CA, latitude: 37.4, longitude: -122.1}
"""
CALIFORNIA, EUROPE, GEO_DEFAULT = "192.0.2.41", "198.51.100.43", "203.0.113.44"
WWW_US, WWW_EU = "192.0.2.10", "198.51.100.10"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("repeat")
    (base / "cfg.yaml").write_text(CONFIG)
    args = ["--config", str(base / "cfg.yaml"), "--zones", str(ZONES)]
    proc = ServerProcess([*args, "--listen", "127.0.0.1:0", "--no-http"]).start(base / "server.log")
    yield proc
    proc.stop()


def wire(name: str) -> bytes:
    return query_wire(name, "A", ident=777, use_edns=0)


def ask_from(server: ServerProcess, source: str, data: bytes) -> list[str]:
    """The same bytes from another loopback source address; the answer's addresses."""
    raw = udp_raw(server, data, source=source)
    assert raw is not None, f"no reply to {source}"
    reply = dns.message.from_wire(raw)
    assert reply.id == struct.unpack_from("!H", data)[0]
    return sorted(addresses(reply))


def test_same_bytes_from_different_sources_get_their_own_answers(server: ServerProcess):
    data = wire("geo.steer.example")
    for _ in range(4):
        assert ask_from(server, "127.0.0.2", data) == [EUROPE]
        assert ask_from(server, "127.0.0.3", data) == [CALIFORNIA]
        assert ask_from(server, "127.0.0.1", data) == [GEO_DEFAULT]


def test_same_bytes_keep_drawing_weighted_answers(server: ServerProcess):
    data = wire("www.steer.example")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        counts: Counter[str] = Counter()
        for _ in range(1500):
            sock.sendto(data, (server.host, server.port))
            reply = dns.message.from_wire(sock.recv(4096))
            (address,) = [rr.address for rrset in reply.answer for rr in rrset]
            counts[address] += 1
    assert set(counts) == {WWW_US, WWW_EU}
    assert 0.65 < counts[WWW_US] / 1500 < 0.75  # weights 70/30


def test_same_bytes_keep_varying_multivalue_answers(server: ServerProcess):
    data = wire("pool.steer.example")
    answers = {tuple(ask_from(server, "127.0.0.1", data)) for _ in range(60)}
    orders = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        for _ in range(60):
            sock.sendto(data, (server.host, server.port))
            orders.add(sock.recv(4096)[2:])
    assert answers == {("192.0.2.71", "192.0.2.72", "192.0.2.73")}
    assert len(orders) > 1  # the order of the three values is drawn per query
