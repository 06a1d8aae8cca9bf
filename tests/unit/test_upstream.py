"""The upstream exchange against real fake upstreams on loopback: replies taken only when
they match (ID, question, source), the next server on every kind of failure, TCP after
truncation, the deadline, EDNS fallback, random IDs and ports, hostile bytes, no leaks."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import socket
import struct
import time
from collections.abc import Iterator

import pytest
from dnslib import QTYPE, DNSRecord
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from resolver.forward.upstream import Exchange, _Datagrams, _query, exchange, matches
from resolver.serve.listen import ListenAddress
from resolver.wire.reply import question_wire
from tests.upstreamfake import Action, Close, FakeUpstream, Handler, Other, Pause, Raw, reply

QUESTION = question_wire((b"www", b"example"), 1, 1)
GOOD = "www.example. 300 IN A 192.0.2.1"
EVIL = "www.example. 300 IN A 203.0.113.66"


def answers(data: bytes | None) -> list[str]:
    """The A addresses in a reply's answer section."""
    assert data is not None
    return [str(rr.rdata) for rr in DNSRecord.parse(data).rr if rr.rtype == QTYPE.A]


def good(query: bytes, tcp: bool) -> list[Action]:
    return [reply(query, records=[GOOD])]


def silent(query: bytes, tcp: bool) -> list[Action]:
    return []


def rcode(code: int) -> Handler:
    return lambda query, tcp: [reply(query, rcode=code)]


def dead_address() -> ListenAddress:
    """A loopback UDP port nobody listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return ListenAddress("127.0.0.1", port)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def settled_fds(*fakes: FakeUpstream) -> int:
    """Open descriptors once the fakes hold no TCP connection and closes have run."""
    for _ in range(200):
        if not any(fake.tcp_open for fake in fakes):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.02)  # transports close their sockets on a later loop iteration
    return open_fds()


@pytest.fixture
def fakes() -> Iterator[list[FakeUpstream]]:
    """Start fakes with start(handler); all stopped after the test."""
    started: list[FakeUpstream] = []
    yield started
    for fake in started:
        fake.stop()


def start(fakes: list[FakeUpstream], handler: Handler) -> FakeUpstream:
    fake = FakeUpstream(handler).start()
    fakes.append(fake)
    return fake


async def ask(*servers: ListenAddress, try_timeout: float = 1.0, deadline: float = 3.0,
              do: bool = False, options: bytes = b"") -> Exchange:  # fmt: skip
    return await exchange(QUESTION, do, servers, try_timeout, deadline, options)


# ---------------------------------------------------------------------- the happy path


async def test_a_right_reply_is_taken_and_the_query_is_what_spec_8_says(fakes) -> None:
    up = start(fakes, good)
    option = struct.pack("!HH", 8, 4) + bytes((0, 1, 0, 0))  # an ECS-shaped option
    result = await ask(up.address, do=True, options=option)
    assert answers(result.reply) == ["192.0.2.1"]
    assert result.server == up.address
    assert 0.0 < result.latency < 1.0
    assert result.failures == [] and result.ignored == 0
    (received,) = up.queries
    query = received.data
    ident, flags, qd, an, ns, ar = struct.unpack_from("!6H", query)
    assert flags == 0x0100 and (qd, an, ns, ar) == (1, 0, 0, 1)  # RD only, one OPT
    assert query[12 : 12 + len(QUESTION)] == QUESTION
    opt = query[12 + len(QUESTION) :]
    assert opt[0] == 0 and struct.unpack_from("!HHIH", opt, 1) == (41, 1232, 0x8000, 8)
    assert opt[11:] == option
    assert ident == struct.unpack_from("!H", result.reply)[0]  # type: ignore[arg-type]


async def test_the_do_bit_is_clear_when_not_asked(fakes) -> None:
    up = start(fakes, good)
    await ask(up.address, do=False)
    opt = up.queries[0].data[12 + len(QUESTION) :]
    assert struct.unpack_from("!HHIH", opt, 1) == (41, 1232, 0, 0)


async def test_the_name_letter_case_of_the_reply_does_not_matter(fakes) -> None:
    def upper(query: bytes, tcp: bool) -> list[Action]:
        data = reply(query, records=[GOOD])
        end = 12 + len(QUESTION) - 4
        return [data[:12] + data[12:end].upper() + data[end:]]

    up = start(fakes, upper)
    result = await ask(up.address)
    assert result.reply is not None and b"WWW" in result.reply and result.ignored == 0


# ---------------------------------------------------------------------- spoofing


async def test_spoofed_datagrams_are_ignored_and_the_right_one_is_still_taken(fakes) -> None:
    def spoofer(query: bytes, tcp: bool) -> list[Action]:
        ident = struct.unpack_from("!H", query)[0]
        other_question = DNSRecord.parse(query)
        other_question.q.qname = "wwx.example."
        return [
            reply(query, records=[EVIL], ident=ident ^ 0x0101),  # wrong ID
            Other(reply(query, records=[EVIL])),  # right ID, wrong source port
            reply(bytes(other_question.pack()), records=[EVIL]),  # wrong question
            query,  # our own query echoed: QR clear
            bytes((*query[:2], 0xA9, 0x80)) + query[4:],  # opcode NOTIFY, QR set
            b"\x00",  # a runt
            Pause(0.05),
            reply(query, records=[GOOD]),
        ]

    up = start(fakes, spoofer)
    result = await ask(up.address)
    assert answers(result.reply) == ["192.0.2.1"]
    assert result.failures == []
    # wrong ID, wrong question, QR clear, NOTIFY and the runt at least; the wrong-source
    # one too unless the connected socket had the kernel drop it first.
    assert result.ignored >= 5


async def test_a_spoofed_datagram_alone_never_ends_the_wait(fakes) -> None:
    wrong_id = start(fakes, lambda q, tcp: [reply(q, ident=struct.unpack_from("!H", q)[0] ^ 1)])
    other = start(fakes, lambda q, tcp: [Other(reply(q, records=[EVIL]))])
    began = time.monotonic()
    result = await ask(wrong_id.address, other.address, try_timeout=0.3)
    assert time.monotonic() - began >= 0.55
    assert result.reply is None
    assert result.failures == [(wrong_id.address, "timeout"), (other.address, "timeout")]
    assert result.ignored >= 1


async def test_a_reply_to_another_question_is_ignored(fakes) -> None:
    def other_type(query: bytes, tcp: bool) -> list[Action]:
        data = bytearray(reply(query, records=[GOOD]))
        data[12 + len(QUESTION) - 3] = 28  # AAAA instead of A
        return [bytes(data)]

    def two_questions(query: bytes, tcp: bool) -> list[Action]:
        data = bytearray(reply(query, records=[GOOD]))
        data[5] = 2
        return [bytes(data)]

    for handler in (other_type, two_questions):
        up = start(fakes, handler)
        result = await ask(up.address, try_timeout=0.2)
        assert result.reply is None and result.failures == [(up.address, "timeout")]
        assert result.ignored == 1


def test_the_protocol_checks_the_source_address_itself() -> None:
    """The connected socket filters sources in the kernel; the check must not rely on it."""

    async def run() -> None:
        attempt = _query(QUESTION, None)
        data = struct.pack("!6H", attempt.ident, 0x8180, 1, 0, 0, 0) + QUESTION
        protocol = _Datagrams(attempt, asyncio.get_running_loop().create_future())
        protocol.peer = ("127.0.0.1", 5300)
        protocol.datagram_received(data, ("127.0.0.1", 5301))
        protocol.datagram_received(data, ("127.0.0.2", 5300))
        assert protocol.ignored == 2 and not protocol.done.done()
        protocol.datagram_received(data, ("127.0.0.1", 5300))
        assert protocol.done.result() is True and attempt.reply == data

    asyncio.run(run())


# ---------------------------------------------------------------------- TCP


async def test_a_truncated_reply_is_retried_over_tcp_with_a_new_query(fakes) -> None:
    def truncating(query: bytes, tcp: bool) -> list[Action]:
        if not tcp:
            return [reply(query, tc=True)]
        return [reply(query, records=[GOOD])]

    up = start(fakes, truncating)
    for _ in range(5):
        result = await ask(up.address)
        assert answers(result.reply) == ["192.0.2.1"] and result.failures == []
    assert [q.tcp for q in up.queries] == [False, True] * 5
    pairs = list(zip(up.queries[::2], up.queries[1::2], strict=True))
    assert all(tcp.data[12:] == udp.data[12:] for udp, tcp in pairs)  # question and OPT
    assert any(tcp.data[:2] != udp.data[:2] for udp, tcp in pairs)  # a new ID each time


async def test_a_reply_of_nearly_64k_comes_over_tcp(fakes) -> None:
    big = [f'www.example. 300 IN TXT "{"x" * 250}"'] * 240

    def truncating(query: bytes, tcp: bool) -> list[Action]:
        return [reply(query, records=big if tcp else (), tc=not tcp)]

    up = start(fakes, truncating)
    result = await ask(up.address)
    assert result.reply is not None and len(result.reply) > 60000
    assert len(DNSRecord.parse(result.reply).rr) == 240


@pytest.mark.parametrize(
    "tcp_actions",
    [
        pytest.param(lambda q: [Close()], id="closed"),
        pytest.param(lambda q: [Raw(b"\x00\x40" + reply(q)[:20]), Close()], id="cut-short"),
        pytest.param(lambda q: [Raw(b"\x00")], id="half-a-prefix"),
        pytest.param(lambda q: [reply(q, ident=struct.unpack_from("!H", q)[0] ^ 1)], id="wrong-id"),
        pytest.param(lambda q: [b""], id="empty"),
        pytest.param(lambda q: [], id="silent"),
    ],
)
async def test_a_failed_tcp_retry_is_a_tcp_failure_then_the_next_server(fakes, tcp_actions) -> None:
    def truncating(query: bytes, tcp: bool) -> list[Action]:
        return tcp_actions(query) if tcp else [reply(query, tc=True)]

    bad = start(fakes, truncating)
    second = start(fakes, good)
    result = await ask(bad.address, second.address, try_timeout=0.3)
    assert result.failures == [(bad.address, "tcp")]
    assert answers(result.reply) == ["192.0.2.1"] and result.server == second.address


async def test_a_tcp_retry_to_a_closed_port_is_a_tcp_failure(fakes) -> None:
    # The UDP reply comes from a fake whose TCP listener is gone.
    up = FakeUpstream(lambda q, tcp: [reply(q, tc=True)], tcp=False).start()
    fakes.append(up)
    began = time.monotonic()
    result = await ask(up.address, try_timeout=1.0)
    assert result.failures == [(up.address, "tcp")] and result.reply is None
    assert time.monotonic() - began < 0.5


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback (::1) to bind")
async def test_an_ipv6_forwarder_over_udp_and_tcp(fakes) -> None:
    def handler(query: bytes, tcp: bool) -> list[Action]:
        if tcp:
            return [reply(query, records=[GOOD])]
        return [Other(reply(query, records=[EVIL])), reply(query, tc=True)]

    up = FakeUpstream(handler, host="::1").start()
    fakes.append(up)
    result = await ask(up.address)
    assert result.server == ListenAddress("::1", up.address.port)
    assert answers(result.reply) == ["192.0.2.1"] and result.failures == []
    assert [q.tcp for q in up.queries] == [False, True]


# ---------------------------------------------------------------------- failing over


@pytest.mark.parametrize(("code", "reason"), [(2, "servfail"), (5, "refused")])
async def test_servfail_and_refused_move_on_to_the_next_server(fakes, code, reason) -> None:
    first = start(fakes, rcode(code))
    second = start(fakes, good)
    result = await ask(first.address, second.address)
    assert result.failures == [(first.address, reason)]
    assert result.server == second.address and answers(result.reply) == ["192.0.2.1"]
    assert first.count() == 1


@pytest.mark.parametrize("code", [0, 3, 1, 4])
async def test_other_rcodes_are_the_answer(fakes, code) -> None:
    first = start(fakes, rcode(code))  # with an OPT: FORMERR and NOTIMP are answers too
    second = start(fakes, good)
    result = await ask(first.address, second.address)
    assert result.server == first.address and result.failures == []
    assert result.reply is not None and result.reply[3] & 0x0F == code
    assert second.count() == 0 and first.count() == 1


async def test_a_dead_server_fails_at_once_as_unreachable(fakes) -> None:
    dead = dead_address()
    second = start(fakes, good)
    began = time.monotonic()
    result = await ask(dead, second.address, try_timeout=2.0)
    assert time.monotonic() - began < 0.5  # ICMP port unreachable, not the 2 s timeout
    assert result.failures == [(dead, "unreachable")]
    assert answers(result.reply) == ["192.0.2.1"]


async def test_a_silent_server_times_out_then_the_next_answers(fakes) -> None:
    quiet = start(fakes, silent)
    second = start(fakes, good)
    began = time.monotonic()
    result = await ask(quiet.address, second.address, try_timeout=0.3)
    elapsed = time.monotonic() - began
    assert 0.3 <= elapsed < 0.8
    assert result.failures == [(quiet.address, "timeout")]
    assert result.server == second.address


async def test_the_deadline_bounds_the_whole_exchange(fakes) -> None:
    quiet = [start(fakes, silent) for _ in range(4)]
    began = time.monotonic()
    result = await ask(*(f.address for f in quiet), try_timeout=0.4, deadline=0.5)
    elapsed = time.monotonic() - began
    assert 0.5 <= elapsed < 0.7  # not 0.8: the second try is cut to what is left
    assert result.reply is None and result.server is None and result.latency == 0.0
    assert result.failures == [
        (quiet[0].address, "timeout"),
        (quiet[1].address, "timeout"),  # cut short by the deadline
        (quiet[2].address, "deadline"),
        (quiet[3].address, "deadline"),
    ]
    assert quiet[2].count() == 0 and quiet[3].count() == 0


async def test_the_deadline_bounds_the_tcp_retry_too(fakes) -> None:
    stuck = start(fakes, lambda q, tcp: [] if tcp else [reply(q, tc=True)])
    after = start(fakes, good)
    began = time.monotonic()
    result = await ask(stuck.address, after.address, try_timeout=1.0, deadline=0.3)
    assert time.monotonic() - began < 0.5
    assert result.failures == [(stuck.address, "tcp"), (after.address, "deadline")]
    assert after.count() == 0


async def test_all_failing_gives_no_reply_and_every_reason(fakes) -> None:
    servers = [start(fakes, rcode(2)).address, dead_address(), start(fakes, rcode(5)).address]
    result = await ask(*servers, try_timeout=0.3)
    assert result.reply is None and result.server is None
    assert [reason for _, reason in result.failures] == ["servfail", "unreachable", "refused"]
    assert [server for server, _ in result.failures] == servers


# ---------------------------------------------------------------------- EDNS fallback


@pytest.mark.parametrize("code", [1, 4])
async def test_formerr_or_notimp_without_opt_is_retried_without_opt(fakes, code) -> None:
    def old_server(query: bytes, tcp: bool) -> list[Action]:
        if struct.unpack_from("!H", query, 10)[0]:
            return [reply(query, rcode=code, edns=False)]
        return [reply(query, records=[GOOD])]

    up = start(fakes, old_server)
    result = await ask(up.address, do=True)
    assert answers(result.reply) == ["192.0.2.1"] and result.failures == []
    first, second = (q.data for q in up.queries)
    assert first[10:12] == b"\x00\x01" and second[10:12] == b"\x00\x00"
    assert second[12:] == QUESTION  # no OPT at all


async def test_the_retry_without_opt_is_taken_whatever_it_says(fakes) -> None:
    up = start(fakes, lambda q, tcp: [reply(q, rcode=1, edns=False)])
    result = await ask(up.address)
    assert result.server == up.address and result.reply is not None
    assert result.reply[3] & 0x0F == 1 and up.count() == 2  # retried once, not forever


# ---------------------------------------------------------------------- randomness


async def test_ids_and_source_ports_are_random_per_query(fakes) -> None:
    up = start(fakes, good)
    for _ in range(20):
        result = await ask(up.address)
        assert result.reply is not None
    ids = [struct.unpack_from("!H", q.data)[0] for q in up.queries]
    ports = [q.peer[1] for q in up.queries]
    assert len(ids) == 20
    assert len(set(ids)) >= 18  # 20 random 16-bit IDs collide with p < 0.3 %
    assert len(set(ports)) >= 18  # a new socket a query: the kernel's random ports
    steps = {(b - a) % 65536 for a, b in itertools.pairwise(ids)}
    assert len(steps) > 5  # not a counter
    assert len(set(ports)) > 1 and max(ports) - min(ports) > 20  # not sequential


# ---------------------------------------------------------------------- hostile upstreams

garbage = st.binary(min_size=0, max_size=600)
reply_flags = st.integers(0, 0xFFFF).map(lambda f: f & 0x87FF | 0x8000)  # QR, opcode QUERY


class Hostile:
    """A handler sending this example's bytes, raw and grafted onto our ID and question,
    then the right reply (so an exchange ends at once unless the garbage was taken)."""

    def __init__(self) -> None:
        self.raw = b""
        self.tail = b""
        self.flags = 0x8000
        self.right = b""  # the right reply last sent

    def __call__(self, query: bytes, tcp: bool) -> list[Action]:
        head = (
            query[:2] + struct.pack("!H", self.flags) + b"\x00\x01" + self.tail[:6].ljust(6, b"\0")
        )
        grafted = head + query[12 : 12 + len(QUESTION)] + self.tail[6:]
        if tcp:
            return [Raw(self.raw[:2]), Raw(self.raw[2:]), Close()]
        self.right = reply(query, records=[GOOD])
        return [self.raw, grafted, self.right]


@pytest.fixture(scope="module")
def hostile() -> Iterator[tuple[Hostile, FakeUpstream]]:
    handler = Hostile()
    with FakeUpstream(handler) as fake:
        yield handler, fake


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=garbage, tail=garbage, flags=st.one_of(reply_flags, st.integers(0, 0xFFFF)))
def test_hostile_bytes_never_make_exchange_raise(hostile, raw, tail, flags) -> None:
    handler, fake = hostile
    handler.raw, handler.tail, handler.flags = raw, tail, flags
    asked = len(fake.queries)
    result = asyncio.run(exchange(QUESTION, True, [fake.address], 1.0, 2.0))
    assert isinstance(result, Exchange)
    taken = (
        "none" if result.reply is None else "right" if result.reply == handler.right else "grafted"
    )
    event(f"reply taken: {taken}")
    if result.reply is not None:  # then it answers one of this example's queries
        idents = [struct.unpack_from("!H", q.data)[0] for q in fake.queries[asked:]]
        assert any(matches(result.reply, ident, QUESTION) for ident in idents)
    else:  # the grafted reply was taken: truncated (then bad TCP), SERVFAIL or REFUSED
        assert [reason for _, reason in result.failures] in (["tcp"], ["servfail"], ["refused"])


async def test_random_datagrams_of_every_size_never_break_an_exchange(fakes) -> None:
    rng = random.Random(13)
    sizes = [*range(0, 40), 100, 512, 1232, 4096, 65507]

    def noisy(query: bytes, tcp: bool) -> list[Action]:
        noise: list[Action] = [rng.randbytes(size) for size in sizes]
        prefix = query[:2] + b"\x81\x80\x00\x01"
        noise += [prefix + rng.randbytes(size) for size in sizes[:40]]
        return [*noise, reply(query, records=[GOOD])]

    up = start(fakes, noisy)
    result = await ask(up.address, try_timeout=2.0)
    assert answers(result.reply) == ["192.0.2.1"]
    assert result.ignored >= len(sizes)  # the loopback drops nothing this small


# ---------------------------------------------------------------------- no leaks


async def test_no_socket_is_left_open_whatever_happens() -> None:
    before = open_fds()
    truncating = FakeUpstream(lambda q, tcp: [reply(q, records=[GOOD], tc=not tcp)]).start()
    quiet = FakeUpstream(silent).start()
    answering = FakeUpstream(good).start()
    try:
        with_fakes = open_fds()
        for _ in range(5):
            await ask(answering.address)
            await ask(truncating.address)
            await ask(dead_address(), quiet.address, try_timeout=0.05)
            await ask(quiet.address, deadline=0.05)
        task = asyncio.ensure_future(ask(quiet.address, try_timeout=5.0))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        task = asyncio.ensure_future(ask(truncating.address, try_timeout=5.0))
        await asyncio.sleep(0)  # cancelled while the endpoint is being made
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await settled_fds(truncating) == with_fakes
    finally:
        for fake in (truncating, quiet, answering):
            fake.stop()
    assert open_fds() == before


# ---------------------------------------------------------------------- uvloop


def test_the_same_on_uvloop_which_the_server_runs_on(fakes) -> None:
    """ICMP errors, the peer check, TCP, timeouts and cleanup on cancellation go through
    the loop's own transports: the server's loop must behave as the tests' loop does."""
    uvloop = pytest.importorskip("uvloop")

    def tricky(query: bytes, tcp: bool) -> list[Action]:
        if tcp:
            return [reply(query, records=[GOOD])]
        wrong_id = reply(query, ident=struct.unpack_from("!H", query)[0] ^ 1)
        return [wrong_id, Other(reply(query, records=[EVIL])), reply(query, tc=True)]

    up = start(fakes, tricky)
    quiet = start(fakes, silent)

    async def scenario() -> None:
        before = 0
        for run in range(3):
            dead = dead_address()
            began = time.monotonic()
            result = await ask(dead, quiet.address, up.address, try_timeout=0.3)
            assert 0.3 <= time.monotonic() - began < 0.8
            assert result.failures == [(dead, "unreachable"), (quiet.address, "timeout")]
            assert answers(result.reply) == ["192.0.2.1"] and result.ignored >= 1
            assert [q.tcp for q in up.queries] == [False, True] * (run + 1)
            # libuv keeps one /dev/null descriptor from its first TCP connection on.
            before = before or await settled_fds(up)
        task = asyncio.ensure_future(ask(quiet.address, try_timeout=5.0))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await settled_fds(up) == before

    uvloop.run(scenario())
