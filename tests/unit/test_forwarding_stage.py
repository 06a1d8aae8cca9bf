"""The forwarding stage in the real handler and listeners, against a fake upstream on
loopback: what is forwarded, what is refused, what is served from the forward cache,
one upstream query for identical questions in flight, serve-stale, TCP order."""

from __future__ import annotations

import asyncio
import os
import struct
import time
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest
import yaml

from healthcheck.view import AllHealthy
from resolver.forward.cache import ForwardCache
from resolver.forward.settings import ForwardSettings
from resolver.forward.stage import Forwarding
from resolver.metrics import Metrics
from resolver.query.chaos import Chaos
from resolver.query.engine import Resolver
from resolver.query.handler import Handler
from resolver.query.reuse import Reuse
from resolver.serve.listen import ListenAddress, TcpSettings
from resolver.serve.transport import DnsServer
from resolver.zones.check import load_zone_set
from tests.unit.test_forward_cache import Clock
from tests.upstreamfake import FakeUpstream, Other, answering, reply

UPSTREAM_ZONE = """
upstream.test. 3600 IN SOA ns.upstream.test. admin.upstream.test. 1 3600 600 86400 60
www.upstream.test. 300 IN A 192.0.2.80
alias.upstream.test. 300 IN CNAME www.upstream.test.
"""


def own_zone(directory: Path) -> str:
    zone = {
        "zone": "own.test",
        "ttl": 300,
        "ns": ["ns1.own.test."],
        "records": {
            "ns1": [{"type": "A", "values": ["192.0.2.53"]}],
            "www": [{"type": "A", "values": ["192.0.2.1"]}],
        },
    }
    path = directory / "own.test.yaml"
    path.write_text(yaml.safe_dump(zone))
    stamp = time.time() - 60  # the loader waits for files written just now
    os.utime(path, (stamp, stamp))
    return str(directory)


def make(
    tmp_path: Path, servers: list[ListenAddress], clock: Clock | None = None, **settings
) -> tuple[Handler, Metrics]:
    metrics = Metrics()
    forward = ForwardSettings(routes={(): tuple(servers)}, **settings)
    cache = ForwardCache(1000, clock) if clock is not None else ForwardCache(1000)
    forwarding = Forwarding(forward, cache, metrics.count, metrics.time_upstream)
    resolver = Resolver(load_zone_set([own_zone(tmp_path)]))
    reuse = Reuse(100000, clock) if clock is not None else Reuse(100000)  # one clock for both
    handler = Handler(resolver, AllHealthy(), Chaos("t", "t"), metrics=metrics, cache=reuse)
    handler.forwarding = forwarding
    return handler, metrics


async def ask(
    handler: Handler, name: str, rd: bool = True, source: str = "127.0.0.1", **kw
) -> dns.message.Message:
    query = dns.message.make_query(name, "A", **kw)
    if not rd:
        query.flags &= ~dns.flags.RD
    out = handler.handle(query.to_wire(), source, False)
    if out is not None and not isinstance(out, bytes):
        out = await out
    assert out is not None
    reply = dns.message.from_wire(out)
    assert reply.id == query.id
    return reply


def ttl(reply: dns.message.Message) -> int:
    return reply.answer[0].ttl


async def test_outside_name_is_forwarded_with_ra_and_cached(tmp_path: Path):
    with FakeUpstream(answering(UPSTREAM_ZONE)) as up:
        handler, metrics = make(tmp_path, [up.address])
        first = await ask(handler, "www.upstream.test")
        assert first.rcode() == dns.rcode.NOERROR
        assert first.flags & dns.flags.RA and not first.flags & dns.flags.AA
        assert str(first.answer[0][0]) == "192.0.2.80" and ttl(first) == 300
        query = dns.message.make_query("www.upstream.test", "A")
        again = handler.handle(query.to_wire(), "127.0.0.1", False)
        assert isinstance(again, bytes)  # from the forward cache, no await
        assert dns.message.from_wire(again).answer[0][0].address == "192.0.2.80"
        assert up.count() == 1
    assert metrics.events["policydns_forward_cache", "hit"] == 1
    assert metrics.events["policydns_forward_cache", "miss"] == 1
    assert metrics.queries[("A", "NOERROR", "forward")] == 2


async def test_cached_ttl_counts_down_and_the_memo_never_freezes_it(tmp_path: Path):
    """The reply memo replays a forwarded answer only while its TTLs stay as they are."""
    clock = Clock()
    with FakeUpstream(answering(UPSTREAM_ZONE)) as up:
        handler, metrics = make(tmp_path, [up.address], clock)
        await ask(handler, "www.upstream.test")
        clock.t += 7.9
        query = dns.message.make_query("www.upstream.test", "A")
        assert ttl(await ask(handler, "www.upstream.test")) == 293
        for _ in range(3):  # the same bytes again within the same second: replayed
            clock.t += 0.03
            again = handler.handle(query.to_wire(), "127.0.0.1", False)
            assert isinstance(again, bytes) and dns.message.from_wire(again).answer[0].ttl == 293
        clock.t += 0.1  # 8.09 s: the next whole second, one less
        assert ttl(await ask(handler, "www.upstream.test")) == 292
        clock.t += 100
        assert ttl(await ask(handler, "www.upstream.test")) == 192
        assert up.count() == 1
        other = handler.handle(query.to_wire(), "192.0.2.9", False)  # not allowed: no replay
        assert dns.message.from_wire(other).rcode() == dns.rcode.REFUSED
    assert metrics.events["policydns_forward_cache", "hit"] == 6  # replays included


@pytest.mark.parametrize(
    ("rd", "source", "name"),
    [
        (False, "127.0.0.1", "www.upstream.test"),  # no RD: refused
        (True, "192.0.2.7", "www.upstream.test"),  # outside allow_recursion
        (True, "::ffff:192.0.2.7", "www.upstream.test"),
    ],
)
async def test_not_forwarded_is_refused_and_asks_nobody(tmp_path: Path, rd, source, name):
    with FakeUpstream(answering(UPSTREAM_ZONE)) as up:
        handler, _ = make(tmp_path, [up.address])
        reply = await ask(handler, name, rd=rd, source=source)
        assert reply.rcode() == dns.rcode.REFUSED
        assert not reply.flags & dns.flags.RA
        assert up.count() == 0


async def test_names_in_our_zones_are_never_forwarded(tmp_path: Path):
    with FakeUpstream(answering(UPSTREAM_ZONE)) as up:
        handler, _ = make(tmp_path, [up.address])
        for name in ("www.own.test", "missing.own.test"):
            reply = await ask(handler, name)
            assert reply.flags & dns.flags.AA and not reply.flags & dns.flags.RA
        assert up.count() == 0


async def test_fifty_clients_one_new_name_one_upstream_query(tmp_path: Path):
    with FakeUpstream(answering(UPSTREAM_ZONE, delay=0.2)) as up:
        handler, metrics = make(tmp_path, [up.address])
        names = ["www.upstream.test", "WWW.Upstream.TEST", "wWw.uPsTrEaM.tEsT"]
        replies = await asyncio.gather(*(ask(handler, names[i % 3]) for i in range(50)))
        assert up.count() == 1
        for i, reply in enumerate(replies):
            assert reply.question[0].name.to_text() == names[i % 3] + "."  # the client's case
            assert reply.answer[0][0].address == "192.0.2.80"
        assert metrics.events["policydns_forward_cache", "coalesced"] == 49


async def test_letter_case_and_do_bit_as_for_authoritative_answers(tmp_path: Path):
    with FakeUpstream(answering(UPSTREAM_ZONE)) as up:
        handler, _ = make(tmp_path, [up.address])
        reply = await ask(handler, "WwW.UpStream.Test", use_edns=0, want_dnssec=True)
        assert reply.question[0].name.to_text() == "WwW.UpStream.Test."
        assert reply.edns == 0 and reply.ednsflags & dns.flags.DO
        assert reply.payload == 1232
        sent = dns.message.from_wire(up.queries[0].data)
        assert sent.ednsflags & dns.flags.DO and sent.flags & dns.flags.RD
        await ask(handler, "www.upstream.test", use_edns=0)  # DO clear: its own entry
        assert up.count() == 2


async def test_stale_answer_when_every_forwarder_fails_else_servfail(tmp_path: Path):
    clock = Clock()
    up = FakeUpstream(answering(UPSTREAM_ZONE)).start()
    handler, metrics = make(tmp_path, [up.address], clock, serve_stale=3600, try_timeout=0.2)
    await ask(handler, "www.upstream.test")
    up.stop()  # every forwarder dead from now on
    clock.t += 301  # expired, within the stale window
    stale = await ask(handler, "www.upstream.test")
    assert stale.rcode() == dns.rcode.NOERROR and ttl(stale) == 30
    assert metrics.events["policydns_forward_cache", "stale"] == 1
    clock.t += 3600  # past the window
    failed = await ask(handler, "www.upstream.test")
    assert failed.rcode() == dns.rcode.SERVFAIL and failed.flags & dns.flags.RA
    failures = {label for (family, label) in metrics.events if family.endswith("failures")}
    assert (str(up.address), "unreachable") in failures


async def test_tcp_round_keeps_the_order_of_its_queries(tmp_path: Path):
    """Pipelined queries, forwarded and our own mixed: replies come in query order."""
    with FakeUpstream(answering(UPSTREAM_ZONE, delay=0.1)) as up:
        handler, _ = make(tmp_path, [up.address])
        server = DnsServer(handler.handle, TcpSettings(), announce=False)
        bound = (await server.start((ListenAddress("127.0.0.1", 0),)))[0]
        try:
            names = ["www.upstream.test", "www.own.test", "alias.upstream.test", "x.own.test"]
            queries = [dns.message.make_query(name, "A") for name in names]
            reader, writer = await asyncio.open_connection(bound.host, bound.port)
            for query in queries:
                wire = query.to_wire()
                writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
            got = []
            for _ in queries:
                size = struct.unpack("!H", await reader.readexactly(2))[0]
                got.append(dns.message.from_wire(await reader.readexactly(size)))
            writer.close()
            assert [r.id for r in got] == [q.id for q in queries]
            assert got[2].answer[0].rdtype == dns.rdatatype.CNAME
        finally:
            await server.stop(grace=0.1)


async def test_spoofed_replies_are_ignored_counted_and_the_right_one_served(tmp_path: Path):
    def spoofing(query: bytes, tcp: bool) -> list:
        ident = struct.unpack("!H", query[:2])[0]
        poison = ["www.upstream.test. 86400 IN A 203.0.113.66"]
        return [
            reply(query, records=poison, ident=ident ^ 0x5A5A),  # wrong ID
            Other(reply(query, records=poison)),  # wrong source port
            reply(query, records=["www.upstream.test. 300 IN A 192.0.2.80"]),
        ]

    with FakeUpstream(spoofing) as up:
        handler, metrics = make(tmp_path, [up.address])
        answer = await ask(handler, "www.upstream.test")
        assert [rr.address for rr in answer.answer[0]] == ["192.0.2.80"]
        assert ttl(answer) == 300
        again = await ask(handler, "www.upstream.test")  # the cache holds no poison either
        assert [rr.address for rr in again.answer[0]] == ["192.0.2.80"]
    assert metrics.events["policydns_forward_replies_ignored", "."] >= 1


async def test_a_reload_keeps_the_cache_unless_forwarders_or_ttl_bounds_change(tmp_path: Path):
    with FakeUpstream(answering(UPSTREAM_ZONE)) as up:
        handler, _ = make(tmp_path, [up.address])
        forwarding = handler.forwarding
        assert isinstance(forwarding, Forwarding)
        await ask(handler, "www.upstream.test")
        same = forwarding.settings
        forwarding.reconfigure(ForwardSettings(same.routes, ("127.0.0.1/32",)))  # recursion
        assert len(forwarding.cache) == 1
        reply = await ask(handler, "www.upstream.test", source="127.0.0.2")
        assert reply.rcode() == dns.rcode.REFUSED  # the new allow_recursion holds at once
        forwarding.reconfigure(ForwardSettings(same.routes, same.allow_recursion, max_ttl=60))
        assert len(forwarding.cache) == 0  # answers clamped by the old bounds go
        assert ttl(await ask(handler, "www.upstream.test")) == 60
        forwarding.reconfigure(ForwardSettings())  # forwarders removed: refused again
        assert (await ask(handler, "www.upstream.test")).rcode() == dns.rcode.REFUSED
        assert up.count() == 2
