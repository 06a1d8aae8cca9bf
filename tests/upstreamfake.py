"""A fake upstream DNS server for the forwarding tests: UDP and TCP on one loopback port,
every query answered by a handler the test writes, served from a background thread (so
sync tests driving a server process and asyncio tests can both use it).

    def handler(query: bytes, tcp: bool) -> list[Action]:
        return [reply(query, records=["www.example. 300 IN A 192.0.2.1"])]

    with FakeUpstream(handler) as up:
        up.address        # the ListenAddress to configure as a forwarder
        up.queries        # every query received, in order: Received(data, peer, tcp)

A handler returns the actions to take, in order; [] stays silent. An action is:

- bytes: a message sent from the server's own socket (length-prefixed over TCP);
- Other(bytes): a datagram sent from another socket (a wrong source port);
- Pause(seconds): wait before the next action (each UDP query is served in its own
  thread, so a pause delays only that query);
- Raw(bytes): over TCP, octets written as they are, no length prefix;
- Close(): over TCP, close the connection now (after a Raw prefix: a reply cut short).

`reply` builds a reply to a query with dnslib; `answering(zone_text)` is a ready handler
answering from zone-file records (NXDOMAIN or NODATA with the SOA otherwise).
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from dnslib import EDNS0, QTYPE, RR, DNSRecord

from resolver.serve.listen import ListenAddress


@dataclass(frozen=True)
class Other:
    data: bytes


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Raw:
    data: bytes


@dataclass(frozen=True)
class Close:
    pass


Action = bytes | Other | Pause | Raw | Close
Handler = Callable[[bytes, bool], Iterable[Action]]


@dataclass(frozen=True)
class Received:
    data: bytes
    peer: tuple[str, int]
    tcp: bool


class FakeUpstream:
    """A programmable DNS server on host (127.0.0.1) and port (0: an ephemeral one);
    tcp=False: no TCP listener (a TCP connection to the port is refused)."""

    def __init__(
        self, handler: Handler, host: str = "127.0.0.1", port: int = 0, tcp: bool = True
    ) -> None:
        self.handler = handler
        self.queries: list[Received] = []
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._family = family
        self._udp = socket.socket(family, socket.SOCK_DGRAM)
        self._udp.bind((host, port))
        port = self._udp.getsockname()[1]
        self._tcp: socket.socket | None = None
        if tcp:
            self._tcp = socket.socket(family, socket.SOCK_STREAM)
            self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._tcp.bind((host, port))
            self._tcp.listen(64)
        self.address = ListenAddress(host, port)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.tcp_open = 0  # TCP connections it holds open now
        self._main = threading.Thread(target=self._serve, daemon=True)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeUpstream:
        self._main.start()
        return self

    def stop(self) -> None:
        """Stop serving, join every thread and close every socket it opened."""
        self._stop.set()
        if self._main.is_alive():
            self._main.join(5)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(5)
        self._udp.close()
        if self._tcp is not None:
            self._tcp.close()

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, tcp: bool | None = None) -> int:
        """Queries received (over TCP only, UDP only, or both when tcp is None)."""
        return sum(1 for q in self.queries if tcp is None or q.tcp == tcp)

    # ------------------------------------------------------------------ serving

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            listening = [self._udp] if self._tcp is None else [self._udp, self._tcp]
            ready, _, _ = select.select(listening, [], [], 0.05)
            for sock in ready:
                if sock is self._udp:
                    try:
                        data, peer = self._udp.recvfrom(65535)
                    except OSError:
                        continue
                    self.queries.append(Received(data, peer[:2], False))
                    self._spawn(self._answer_udp, data, peer)
                elif self._tcp is not None:
                    try:
                        conn, peer = self._tcp.accept()
                    except OSError:
                        continue
                    with self._lock:
                        self.tcp_open += 1
                    self._spawn(self._serve_tcp, conn, peer)

    def _actions(self, data: bytes, tcp: bool) -> list[Action]:
        try:
            return list(self.handler(data, tcp))
        except Exception:  # a handler's bug must not kill the server thread
            return []

    def _answer_udp(self, data: bytes, peer: tuple[str, int]) -> None:
        for action in self._actions(data, False):
            if self._stop.is_set():
                return
            if isinstance(action, Pause):
                self._stop.wait(action.seconds)
            elif isinstance(action, Other):
                with socket.socket(self._family, socket.SOCK_DGRAM) as other:
                    other.sendto(action.data, peer)
            elif isinstance(action, bytes | Raw):
                payload = action if isinstance(action, bytes) else action.data
                try:
                    self._udp.sendto(payload, peer)
                except OSError:
                    pass

    def _serve_tcp(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        try:
            self._converse(conn, peer)
        finally:
            conn.close()
            with self._lock:
                self.tcp_open -= 1

    def _converse(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        """Read length-prefixed queries from conn and answer each until EOF or Close."""
        conn.settimeout(0.1)
        buffer = b""
        while not self._stop.is_set():
            try:
                chunk = conn.recv(65537)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while len(buffer) >= 2 and len(buffer) >= 2 + struct.unpack("!H", buffer[:2])[0]:
                size = struct.unpack("!H", buffer[:2])[0]
                data, buffer = buffer[2 : 2 + size], buffer[2 + size :]
                self.queries.append(Received(data, peer[:2], True))
                if not self._answer_tcp(conn, data):
                    return

    def _answer_tcp(self, conn: socket.socket, data: bytes) -> bool:
        """Carry out the handler's actions; False when the connection must close."""
        for action in self._actions(data, True):
            if self._stop.is_set():
                return False
            try:
                if isinstance(action, Pause):
                    self._stop.wait(action.seconds)
                elif isinstance(action, Close):
                    return False
                elif isinstance(action, Raw):
                    conn.sendall(action.data)
                elif isinstance(action, bytes):
                    conn.sendall(struct.pack("!H", len(action)) + action)
            except OSError:
                return False
        return True


# ---------------------------------------------------------------------- replies


def reply(
    query: bytes,
    rcode: int = 0,
    records: Sequence[str] = (),
    authority: Sequence[str] = (),
    tc: bool = False,
    edns: bool | None = None,
    ident: int | None = None,
) -> bytes:
    """A reply to query: rcode, answer and authority records in zone-file text, TC, an OPT
    when edns (by default: when the query had one) and the query's ID unless ident."""
    record = DNSRecord.parse(query)
    had_opt = any(rr.rtype == QTYPE.OPT for rr in record.ar)
    out = record.reply()
    out.header.rcode = rcode
    out.header.aa = 0
    out.header.ra = 1
    out.header.tc = int(tc)
    for text in records:
        out.add_answer(*RR.fromZone(text))
    for text in authority:
        out.add_auth(*RR.fromZone(text))
    if edns if edns is not None else had_opt:
        out.add_ar(EDNS0(udp_len=1232))
    if ident is not None:
        out.header.id = ident
    return bytes(out.pack())


def answering(zone_text: str, delay: float = 0.0) -> Handler:
    """A handler answering from the zone-file records in zone_text (absolute names, one
    record a line): the records of the name and type asked; NODATA or NXDOMAIN with the
    zone's SOA (the first SOA in the text) in the authority section otherwise."""
    rrs = [rr for line in zone_text.splitlines() if line.strip() for rr in RR.fromZone(line)]
    soa = [rr for rr in rrs if rr.rtype == QTYPE.SOA][:1]

    def handler(query: bytes, tcp: bool) -> list[Action]:
        record = DNSRecord.parse(query)
        question = record.q
        name = str(question.qname).lower()
        same_name = [rr for rr in rrs if str(rr.rname).lower() == name]
        found = [rr for rr in same_name if rr.rtype in (question.qtype, QTYPE.CNAME)]
        out = record.reply()
        out.header.aa = 0
        out.header.ra = 1
        if found:
            for rr in found:
                out.add_answer(rr)
        else:
            out.header.rcode = 0 if same_name else 3
            for rr in soa:
                out.add_auth(rr)
        if any(rr.rtype == QTYPE.OPT for rr in record.ar):
            out.add_ar(EDNS0(udp_len=1232))
        actions: list[Action] = [Pause(delay)] if delay else []
        actions.append(bytes(out.pack()))
        return actions

    return handler


def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll predicate until true or timeout; its last value."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True
