"""DNS over TCP (RFC 7766) against the real server: framing, pipelining, timeouts, the cap."""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import yaml

from tests.dnshelp import frame, make_query, send, wait_until
from tests.serverproc import ZONES

WWW = {"192.0.2.10", "192.0.2.11"}


def recv_exactly(sock: socket.socket, count: int, deadline: float) -> bytes | None:
    """Exactly count bytes, or None at EOF; fails the test at the deadline."""
    data = b""
    while len(data) < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out with {len(data)} of {count} bytes"
        sock.settimeout(remaining)
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_reply(sock: socket.socket, timeout: float = 5.0) -> dns.message.Message | None:
    """The next length-prefixed reply on sock, or None at EOF."""
    deadline = time.monotonic() + timeout
    prefix = recv_exactly(sock, 2, deadline)
    if prefix is None:
        return None
    (length,) = struct.unpack("!H", prefix)
    wire = recv_exactly(sock, length, deadline)
    assert wire is not None, "connection closed inside a reply"
    return dns.message.from_wire(wire)


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """True once the server closes sock (EOF or reset) within timeout; False otherwise."""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(min(remaining, 0.2))
        try:
            if not sock.recv(4096):
                return True
        except TimeoutError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def connect(server, port: int | None = None) -> socket.socket:
    sock = socket.create_connection((server.host, port or server.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def assert_www(reply: dns.message.Message | None, ident: int | None = None) -> None:
    """reply is the authoritative www.example.com A answer (and has the given ID)."""
    assert reply is not None, "no reply"
    if ident is not None:
        assert reply.id == ident
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.QR
    assert reply.flags & dns.flags.AA
    addresses = {rdata.address for rrset in reply.answer for rdata in rrset}
    assert addresses == WWW


def assert_udp_answers(server, count: int = 1) -> None:
    for i in range(count):
        query = make_query("www.example.com", ident=4000 + i)
        assert_www(send(server, query, timeout=2), 4000 + i)


def assert_tcp_answers(server) -> None:
    with connect(server) as sock:
        sock.sendall(frame(make_query("www.example.com", ident=777).to_wire()))
        assert_www(read_reply(sock), 777)


def tcp_answers(server) -> bool:
    """Whether a fresh TCP connection gets the www answer now (for polling)."""
    try:
        assert_tcp_answers(server)
    except (AssertionError, ConnectionError, TimeoutError):
        return False
    return True


def start_with_tcp(start_server, tmp_path: Path, settings: str):
    config = tmp_path / "policydns.yaml"
    config.write_text(f"tcp: {settings}\n")
    return start_server(
        "--config", str(config), "--zones", str(ZONES), "--listen", "127.0.0.1:0", "--no-http"
    )


QUESTIONS = [
    ("www.example.com", "A", dns.rcode.NOERROR),
    ("www.example.com", "AAAA", dns.rcode.NOERROR),
    ("example.com", "MX", dns.rcode.NOERROR),
    ("nope.example.com", "A", dns.rcode.NXDOMAIN),
    ("blog.example.com", "A", dns.rcode.NOERROR),
    ("x.apps.example.com", "TXT", dns.rcode.NOERROR),
    ("long.example.net", "TXT", dns.rcode.NOERROR),
    ("_sip._udp.example.net", "SRV", dns.rcode.NOERROR),
    ("app2.example.org", "A", dns.rcode.NOERROR),
    ("www.example.invalid", "A", dns.rcode.REFUSED),
]


def test_pipelined_queries_in_one_write_are_all_answered(server):
    """Twenty queries written in a single send each get their own reply, matched by ID."""
    queries = {}
    for i in range(20):
        name, rdtype, rcode = QUESTIONS[i % len(QUESTIONS)]
        queries[1000 + i] = (make_query(name, rdtype, ident=1000 + i), rcode)
    with connect(server) as sock:
        sock.sendall(b"".join(frame(q.to_wire()) for q, _ in queries.values()))
        replies = [read_reply(sock) for _ in queries]
    assert all(reply is not None for reply in replies)
    assert sorted(reply.id for reply in replies) == sorted(queries)
    for reply in replies:
        query, rcode = queries[reply.id]
        assert reply.question == query.question
        assert reply.rcode() == rcode
        assert reply.flags & dns.flags.QR


def test_queries_written_one_byte_at_a_time_are_answered(server):
    """Two queries sent one byte per write (splitting prefixes and messages) are both answered."""
    first = make_query("www.example.com", ident=21)
    second = make_query("example.com", "MX", ident=22)
    data = frame(first.to_wire()) + frame(second.to_wire())
    with connect(server) as sock:
        for i in range(len(data)):
            sock.send(data[i : i + 1])
            time.sleep(0.001)  # pacing, so the server sees separate segments
        assert_www(read_reply(sock), 21)
        reply = read_reply(sock)
    assert reply is not None and reply.id == 22
    assert reply.rcode() == dns.rcode.NOERROR
    assert {str(rdata.exchange) for rrset in reply.answer for rdata in rrset} == {
        "mail.example.com.",
        "mail2.example.com.",
    }


def test_zero_length_message_gets_no_reply(server):
    """A 0-length frame gets no reply; the connection then still works or is closed cleanly."""
    with connect(server) as sock:
        sock.sendall(b"\x00\x00" + frame(make_query("www.example.com", ident=31).to_wire()))
        try:
            reply = read_reply(sock)
        except ConnectionResetError:
            reply = None
        if reply is not None:  # the connection survived: the first reply is the query's
            assert_www(reply, 31)
    assert_tcp_answers(server)
    assert_udp_answers(server)


def test_many_zero_length_frames_then_a_query(server):
    """A run of 0-length frames before a query does not desynchronise the framing."""
    with connect(server) as sock:
        sock.sendall(b"\x00\x00" * 200 + frame(make_query("www.example.com", ident=32).to_wire()))
        try:
            reply = read_reply(sock)
        except ConnectionResetError:
            reply = None
        if reply is not None:
            assert_www(reply, 32)
    assert_tcp_answers(server)


def test_idle_timeout_closes_idle_connection(start_server, tmp_path):
    """With tcp.idle_timeout 1 an idle connection is closed after about a second, not before."""
    srv = start_with_tcp(start_server, tmp_path, "{idle_timeout: 1, max_connections: 256}")
    with connect(srv) as used, connect(srv) as silent:
        used.sendall(frame(make_query("www.example.com", ident=41).to_wire()))
        assert_www(read_reply(used), 41)
        started = time.monotonic()
        assert closed_by_server(used, timeout=5), "idle connection was not closed"
        elapsed = time.monotonic() - started
        assert closed_by_server(silent, timeout=5), "never-used connection was not closed"
    assert elapsed > 0.5, f"closed after {elapsed:.2f}s, before the idle timeout"
    assert_tcp_answers(srv)


def test_tcp_settings_may_be_given_one_at_a_time(start_server, tmp_path):
    """`tcp: {idle_timeout: 1}` alone is a valid config: max_connections keeps its default."""
    srv = start_with_tcp(start_server, tmp_path, "{idle_timeout: 1}")
    with connect(srv) as sock:
        assert closed_by_server(sock, timeout=5)


def test_half_message_is_bounded_by_idle_timeout(start_server, tmp_path):
    """A connection that stops in the middle of a message is closed by the idle timeout."""
    srv = start_with_tcp(start_server, tmp_path, "{idle_timeout: 1, max_connections: 256}")
    wire = frame(make_query("www.example.com", ident=42).to_wire())
    with connect(srv) as sock:
        sock.sendall(wire[:10])
        assert closed_by_server(sock, timeout=5), "a stalled half message kept the connection"
    assert_tcp_answers(srv)


def test_connection_cap(start_server, tmp_path):
    """Over tcp.max_connections the next connection is closed at once; UDP and later TCP work."""
    srv = start_with_tcp(start_server, tmp_path, "{idle_timeout: 3, max_connections: 5}")
    held = [connect(srv) for _ in range(5)]
    try:
        for i, sock in enumerate(held):  # each is accepted and counted, then left idle
            sock.sendall(frame(make_query("www.example.com", ident=50 + i).to_wire()))
            assert_www(read_reply(sock), 50 + i)
        with connect(srv) as extra:
            started = time.monotonic()
            assert closed_by_server(extra, timeout=1.5), "the 6th connection was not closed"
            assert time.monotonic() - started < 1.5
        assert_udp_answers(srv, 10)
        assert "refused: max_connections (5) reached" in srv.log()
        for sock in held:
            assert closed_by_server(sock, timeout=8), "an idle connection outlived its timeout"
    finally:
        for sock in held:
            sock.close()
    # The server notices the closes asynchronously.
    wait_until(lambda: tcp_answers(srv), "TCP service after the cap", timeout=5, interval=0.1)


def test_large_txt_reply_comes_complete(server):
    """The long TXT at long.example.net (over 255 bytes) arrives whole over TCP."""
    zone = yaml.safe_load((ZONES / "records.example.net.yaml").read_text())
    expected = zone["records"]["long"][0]["value"]
    assert len(expected) > 255
    with connect(server) as sock:
        sock.sendall(frame(make_query("long.example.net", "TXT", ident=61).to_wire()))
        reply = read_reply(sock)
    assert reply is not None and reply.id == 61
    assert reply.rcode() == dns.rcode.NOERROR
    assert not reply.flags & dns.flags.TC
    (rrset,) = reply.answer
    (rdata,) = list(rrset)
    assert b"".join(rdata.strings).decode() == expected


def test_stalled_half_message_does_not_delay_udp(server):
    """While one client stalls halfway through a TCP message, 50 UDP queries are answered."""
    wire = frame(make_query("www.example.com", ident=71).to_wire())
    with connect(server) as stalled:
        stalled.sendall(wire[:9])
        started = time.monotonic()
        assert_udp_answers(server, 50)
        elapsed = time.monotonic() - started
        stalled.sendall(wire[9:])  # the server kept the half message: finishing it is answered
        assert_www(read_reply(stalled), 71)
    assert elapsed < 5, f"50 UDP answers took {elapsed:.2f}s"


def test_non_reading_client_does_not_hold_a_slot(start_server, tmp_path):
    """A client that pipelines queries but never reads replies does not keep others out forever."""
    srv = start_with_tcp(start_server, tmp_path, "{idle_timeout: 1, max_connections: 1}")
    burst = frame(make_query("long.example.net", "TXT", ident=81).to_wire()) * 200
    hog = socket.socket()
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.connect((srv.host, srv.port))
    hog.setblocking(False)
    try:
        # Write until the server stops reading (its replies fill our buffers), for at most 5 s.
        deadline = time.monotonic() + 5
        blocked_since = None
        while time.monotonic() < deadline:
            try:
                hog.send(burst)
                blocked_since = None
            except BlockingIOError:
                blocked_since = blocked_since or time.monotonic()
                if time.monotonic() - blocked_since > 0.5:
                    break
                time.sleep(0.01)
            except (ConnectionResetError, BrokenPipeError):
                break
        # Others must get TCP service again within a few idle timeouts.
        wait_until(
            lambda: tcp_answers(srv),
            "TCP service while a client that never reads holds the only slot",
            timeout=6,
            interval=0.2,
        )
    finally:
        hog.close()
