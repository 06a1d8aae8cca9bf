"""One exchange with the forwarders (SPEC 8): each asked in order over UDP, retried over
TCP when truncated, until one gives an acceptable reply or the deadline passes.

Every reply is hostile until checked: a datagram counts only when it comes from the
server's address and port and carries our ID and our question; anything else is ignored
and the wait goes on, so a spoofed datagram can neither end a try nor be taken. Each
query has a fresh random ID and goes from a new socket (a fresh random source port),
closed when the try ends, cancellation included.
"""

from __future__ import annotations

import asyncio
import secrets
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from resolver.serve.listen import ListenAddress
from resolver.wire.codes import FORMERR, NOTIMP, OPT, REFUSED, SERVFAIL
from resolver.wire.fastpath import opt_record
from resolver.wire.walk import skip_name, skip_records

RD = 0x0100
TC = 0x0200


@dataclass(slots=True)
class Exchange:
    """What an exchange gave: the reply taken (None when every server failed) and why
    the others were passed over."""

    reply: bytes | None  # the accepted reply, whole wire bytes; None: all failed
    server: ListenAddress | None  # who gave it
    latency: float = 0.0  # seconds of the try that gave it (0.0 when none)
    # (server, reason) in order; reason: timeout, servfail, refused, unreachable, tcp,
    # deadline (the metric label)
    failures: list[tuple[ListenAddress, str]] = field(default_factory=list)
    ignored: int = 0  # datagrams dropped: wrong ID, question or source, malformed


@dataclass(slots=True)
class _Try:
    """One query to one server: what it must match and what it gave."""

    ident: int
    question: bytes
    message: bytes
    reply: bytes | None = None  # the datagram that matched (UDP)
    # seconds from sending to the reply, by time.monotonic: uvloop's loop.time() counts
    # whole milliseconds, too coarse for a loopback or LAN forwarder's latency
    latency: float = 0.0


def _query(question: bytes, opt: bytes | None) -> _Try:
    """A query with a fresh random ID, RD set, our question and the OPT given."""
    ident = secrets.randbits(16)
    header = struct.pack("!6H", ident, RD, 1, 0, 0, 1 if opt is not None else 0)
    return _Try(ident, question, header + question + (opt or b""))


def matches(data: bytes, ident: int, question: bytes) -> bool:
    """Whether data answers the query with this ID and question (lowercase name): QR set,
    opcode QUERY, one question equal to ours, the name's letter case aside."""
    end = 12 + len(question)
    if len(data) < end or data[0] << 8 | data[1] != ident:
        return False
    if not data[2] & 0x80 or data[2] & 0x78 or data[4:6] != b"\x00\x01":
        return False
    # Length octets are at most 63, below "A", so lowercasing changes only letters.
    name_end = end - 4
    return data[12:name_end].lower() == question[:-4] and data[name_end:end] == question[-4:]


def rcode_and_opt(reply: bytes, question: bytes) -> tuple[int, bool]:
    """A matched reply's rcode, extended by its OPT's high bits, and whether it has an
    OPT; a reply whose sections cannot be walked counts as one without OPT."""
    rcode = reply[3] & 0x0F
    try:
        ancount, nscount, arcount = struct.unpack_from("!3H", reply, 6)
        pos = skip_records(reply, 12 + len(question), ancount + nscount)
        for _ in range(arcount):
            pos = skip_name(reply, pos)
            rtype, _cls, ttl, rdlength = struct.unpack_from("!HHIH", reply, pos)
            if rtype == OPT:
                return (ttl >> 24) << 4 | rcode, True
            pos += 10 + rdlength
    except (IndexError, ValueError, struct.error):
        pass
    return rcode, False


class _Datagrams(asyncio.DatagramProtocol):
    """Waits on a connected UDP socket for the one datagram that answers a try."""

    def __init__(self, attempt: _Try, done: asyncio.Future[bool]) -> None:
        self.attempt = attempt
        self.done = done  # True: attempt.reply is set; False: unreachable
        self.peer: tuple[str, int] | None = None
        self.ignored = 0
        self.sent = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self.peer = tuple(peer[:2]) if peer else None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.done.done():
            return
        attempt = self.attempt
        if tuple(addr[:2]) != self.peer or not matches(data, attempt.ident, attempt.question):
            self.ignored += 1
            return
        attempt.reply = data
        attempt.latency = time.monotonic() - self.sent
        self.done.set_result(True)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable (ConnectionRefusedError) or a failed send: no answer
        # will come, so the try fails now rather than at its timeout.
        if not self.done.done():
            self.done.set_result(False)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(False)


async def _udp(server: ListenAddress, attempt: _Try, result: Exchange) -> bytes | str:
    """One try over UDP, bounded by the caller's timeout: the reply, or "unreachable"."""
    loop = asyncio.get_running_loop()
    protocol = _Datagrams(attempt, loop.create_future())
    transport: asyncio.DatagramTransport | None = None
    try:
        transport, _ = await loop.create_datagram_endpoint(
            lambda: protocol, remote_addr=(server.host, server.port), family=server.family
        )
        protocol.sent = time.monotonic()
        transport.sendto(attempt.message)
        answered = await protocol.done
    except OSError:
        return "unreachable"
    finally:
        result.ignored += protocol.ignored
        if transport is not None:
            transport.close()
    return attempt.reply if answered and attempt.reply is not None else "unreachable"


async def _tcp(server: ListenAddress, attempt: _Try) -> bytes | str:
    """One try over TCP (RFC 7766), bounded by the caller's timeout: the reply, or "tcp"."""
    writer: asyncio.StreamWriter | None = None
    try:
        started = time.monotonic()
        reader, writer = await asyncio.open_connection(
            server.host, server.port, family=server.family
        )
        writer.write(struct.pack("!H", len(attempt.message)) + attempt.message)
        size = struct.unpack("!H", await reader.readexactly(2))[0]
        data = await reader.readexactly(size)
    except (OSError, asyncio.IncompleteReadError):
        return "tcp"
    finally:
        if writer is not None:
            writer.transport.abort()  # one reply a connection; never wait on a stuck peer
    if not matches(data, attempt.ident, attempt.question):
        return "tcp"
    attempt.latency = time.monotonic() - started
    return data


async def _ask(
    server: ListenAddress,
    question: bytes,
    opt: bytes,
    try_timeout: float,
    end: float,
    result: Exchange,
) -> str | None:
    """Ask one server: None when result holds its reply, else the failure's reason."""
    loop = asyncio.get_running_loop()
    edns = True
    attempt: _Try | None = None  # the query last sent: its latency is the answer's

    async def one_try(tcp: bool) -> bytes | str:
        """One query over UDP or TCP, with a new ID, within this try and the deadline."""
        nonlocal attempt
        remaining = end - loop.time()
        if remaining <= 0:
            return "deadline"
        attempt = sent = _query(question, opt if edns else None)
        try:
            async with asyncio.timeout(min(try_timeout, remaining)):
                if tcp:
                    return await _tcp(server, sent)
                return await _udp(server, sent, result)
        except TimeoutError:
            return "tcp" if tcp else "timeout"

    while True:
        reply = await one_try(tcp=False)
        if isinstance(reply, str):
            return reply
        if reply[2] << 8 & TC:  # truncated: the same server over TCP, a new ID
            reply = await one_try(tcp=True)
            if isinstance(reply, str):
                return reply
        rcode, has_opt = rcode_and_opt(reply, question)
        if rcode == SERVFAIL:
            return "servfail"
        if rcode == REFUSED:
            return "refused"
        if edns and rcode in (FORMERR, NOTIMP) and not has_opt:
            edns = False  # an old server (RFC 6891 section 7): once more without OPT
            continue
        latency = attempt.latency if attempt is not None else 0.0
        result.reply, result.server, result.latency = reply, server, latency
        return None


async def exchange(
    question: bytes,
    do: bool,
    servers: Sequence[ListenAddress],
    try_timeout: float,
    deadline: float,
    options: bytes = b"",
) -> Exchange:
    """Ask servers in order for question (wire name in lowercase, uncompressed; type;
    class) with an OPT carrying do and options; the first acceptable reply.

    A server is passed over on a timeout, SERVFAIL, REFUSED, an unreachable port or a
    failed TCP retry; once the deadline (seconds from now) passes, the servers left are
    "deadline" failures. Raises nothing but CancelledError.
    """
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    opt = opt_record(do, 0, options)
    result = Exchange(None, None)
    for server in servers:  # once the deadline passes, each one left fails at once
        failure = await _ask(server, question, opt, try_timeout, end, result)
        if failure is None:
            break
        result.failures.append((server, failure))
    return result
