"""Forwarding end to end (SPEC 8): the real server forwarding to real upstreams on loopback.

The upstreams are second policydns processes serving tests/fixtures/forward/upstream/ and
corp/ (each with --log-queries, so every question that reaches one is a line in its log),
and Knot for one test; the forwarding server serves tests/fixtures/forward/local/ itself.
Clients are dnspython and dig, from 127.0.0.1 (allowed to recurse) or 127.0.0.2 (not).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from dnslib import DNSLabel, DNSRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from tests.dnshelp import addresses, ask, free_port, make_query, send, wait_until
from tests.serverproc import REPO, ServerProcess
from tests.upstreamfake import Action, Close, FakeUpstream, Other, Pause, answering, reply

pytestmark = pytest.mark.timeout(90)

FIXTURES = REPO / "tests" / "fixtures" / "forward"
SLOW = 6.0  # seconds a client waits for a forwarded answer: above the 3 s deadline
DIG = shutil.which("dig")


# --------------------------------------------------------------------------- the parts


class Upstream:
    """A policydns serving upstream zones, counting the questions it was asked."""

    def __init__(self, proc: ServerProcess) -> None:
        self.proc = proc
        self.address = f"{proc.host}:{proc.port}"

    def asked(self, name: str, rdtype: str = "A", transport: str = "") -> int:
        """How many times NAME RDTYPE reached this upstream (over `transport` if given)."""
        line = re.compile(
            rf" name={re.escape(name.rstrip('.'))}\. type={rdtype} .* {transport}",
            re.IGNORECASE,
        )
        return sum(1 for each in self.proc.log().splitlines() if line.search(each))


def start_upstream(start: Callable[..., ServerProcess], zones: str) -> Upstream:
    return Upstream(
        start(
            "--zones",
            str(FIXTURES / zones),
            "--listen",
            "127.0.0.1:0",
            "--no-http",
            "--log-queries",
        )
    )


def write_config(directory: Path, forwarders: Any, **extra: Any) -> Path:
    """A config serving local/ and forwarding to `forwarders` (a list or a per-domain map);
    JSON is YAML, so the values are written as JSON."""
    settings = {
        "zones": [str(FIXTURES / "local")],
        "forwarders": forwarders,
        "allow_recursion": ["127.0.0.1/32", "::1/128"],
        **extra,
    }
    path = directory / f"forward-{uuid.uuid4().hex[:8]}.yaml"
    path.write_text("".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items()))
    return path


def start_forwarder(
    start: Callable[..., ServerProcess], directory: Path, forwarders: Any, **extra: Any
) -> ServerProcess:
    config = write_config(directory, forwarders, **extra)
    return start(
        "--config", str(config), "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-queries"
    )


def fresh(label: str = "") -> str:
    """A name no test asked before: under the upstream's *.fresh wildcard (203.0.113.20)."""
    return f"{label}{uuid.uuid4().hex[:10]}.fresh.upstream.test"


def metric(server: ServerProcess, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels` (0 if none)."""
    url = f"http://127.0.0.1:{server.http_port()}/metrics"
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def assert_forwarded(reply: dns.message.Message, rcode: int = dns.rcode.NOERROR) -> None:
    """A forwarded reply: this rcode, RA set, AA clear (SPEC 8)."""
    assert dns.rcode.to_text(reply.rcode()) == dns.rcode.to_text(rcode), reply
    assert reply.flags & dns.flags.QR
    assert reply.flags & dns.flags.RA, f"no RA: {dns.flags.to_text(reply.flags)}"
    assert not reply.flags & dns.flags.AA, f"AA on a forwarded reply: {reply}"


def query_log(server: ServerProcess, name: str) -> list[str]:
    """The forwarding server's --log-queries lines for NAME."""
    wanted = f" name={name.rstrip('.')}. ".lower()
    return [line for line in server.log().splitlines() if wanted in line.lower()]


def first_ttl(reply: dns.message.Message) -> int:
    assert reply.answer, reply
    return reply.answer[0].ttl


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two upstreams and a forwarder routing by longest suffix: "." and eng.corp.test to
    the main upstream, corp.test to the corp one. Shared by the read-mostly tests."""
    work = tmp_path_factory.mktemp("forward")
    started: list[ServerProcess] = []

    def start(*args: str) -> ServerProcess:
        proc = ServerProcess(list(args))
        started.append(proc)
        return proc.start(work / f"server{len(started)}.log")

    try:
        main = start_upstream(start, "upstream")
        corp = start_upstream(start, "corp")
        routes = {".": [main.address], "corp.test": [corp.address], "eng.corp.test": [main.address]}
        server = start_forwarder(start, work, routes)
        yield {"server": server, "main": main, "corp": corp}
    finally:
        for proc in started:
            proc.stop()


# --------------------------------------------------------------------------- answers


def test_forwarded_answers_carry_ra_and_repeats_come_from_the_cache(network):
    """The first answer comes from upstream (one question there) with RA and no AA; a
    repeat a second later is the cached answer with a lower TTL and no new question."""
    server, main = network["server"], network["main"]
    name = fresh("repeat-")
    first = ask(server, name, timeout=SLOW)
    assert_forwarded(first)
    assert addresses(first) == ["203.0.113.20"]
    assert 298 <= first_ttl(first) <= 300
    assert main.asked(name) == 1
    time.sleep(1.2)
    again = ask(server, name, timeout=SLOW)
    assert_forwarded(again)
    assert addresses(again) == ["203.0.113.20"]
    assert first_ttl(again) < first_ttl(first)
    assert main.asked(name) == 1, "the repeat went upstream instead of to the cache"
    lines = query_log(server, name)
    assert len(lines) == 2, lines
    assert "policy=forward" in lines[0] and f"upstream={main.address}" in lines[0], lines
    assert "policy=forward" in lines[1] and "upstream=cache" in lines[1], lines


@pytest.mark.skipif(DIG is None, reason="dig is not installed (Debian package bind9-dnsutils)")
@pytest.mark.parametrize("transport", ["+notcp", "+tcp"])
def test_dig_shows_ra_and_a_ttl_that_falls(network, transport: str):
    """dig (over UDP, and over TCP to us) shows `ra`, no `aa`, and a falling TTL."""
    server = network["server"]
    name = fresh("dig-")

    def dig() -> tuple[str, int]:
        out = subprocess.run(
            [DIG, f"@{server.host}", "-p", str(server.port), name, "A", transport,
             "+tries=1", "+time=6", "+noall", "+comments", "+answer"],
            capture_output=True, text=True, check=True, timeout=20,
        ).stdout  # fmt: skip
        flags = re.search(r"^;; flags: ([a-z ]+);", out, re.M)
        answer = re.search(rf"^{re.escape(name)}\.\s+(\d+)\s+IN\s+A\s+203\.0\.113\.20$", out, re.M)
        assert flags and answer, out
        assert "status: NOERROR" in out, out
        return flags.group(1), int(answer.group(1))

    flags, ttl = dig()
    assert "ra" in flags.split() and "aa" not in flags.split(), flags
    time.sleep(1.2)
    flags, later = dig()
    assert "ra" in flags.split() and "aa" not in flags.split(), flags
    assert later < ttl
    assert network["main"].asked(name) == 1


@pytest.mark.parametrize(
    ("name", "rdtype", "rcode"),
    [
        ("nx-{}.upstream.test", "A", dns.rcode.NXDOMAIN),
        ("mail.upstream.test", "TXT", dns.rcode.NOERROR),  # NODATA: mail has only MX
    ],
)
def test_negative_answers_are_cached_for_the_soa_minimum(network, name: str, rdtype: str, rcode):
    """NXDOMAIN and NODATA come back with the upstream's SOA (minimum 2 s, SOA TTL 300),
    are cached for 2 s (a repeat asks nobody), and are asked upstream again after that."""
    server, main = network["server"], network["main"]
    name = name.format(uuid.uuid4().hex[:10])
    asked_before = main.asked(name, rdtype)
    start = time.monotonic()
    first = ask(server, name, rdtype, timeout=SLOW)
    assert_forwarded(first, rcode)
    assert not first.answer
    soa = [r for r in first.authority if r.rdtype == dns.rdatatype.SOA]
    assert len(soa) == 1 and soa[0].name.to_text() == "upstream.test.", first
    assert soa[0].ttl <= 2
    assert main.asked(name, rdtype) == asked_before + 1
    again = ask(server, name, rdtype, timeout=SLOW)
    assert_forwarded(again, rcode)
    assert main.asked(name, rdtype) == asked_before + 1, "a cached negative answer went upstream"
    time.sleep(max(0.0, start + 2.6 - time.monotonic()))
    third = ask(server, name, rdtype, timeout=SLOW)
    assert_forwarded(third, rcode)
    assert main.asked(name, rdtype) == asked_before + 2, "the negative answer outlived 2 s"


def test_a_truncated_upstream_reply_is_retried_over_tcp(network):
    """big.upstream.test TXT does not fit 1232 octets: the upstream truncates it over UDP,
    the forwarder asks again over TCP, and a TCP client gets all 20 records; a UDP client
    gets TC and dnspython's retry over TCP gets them too."""
    server, main = network["server"], network["main"]
    full = ask(server, "big.upstream.test", "TXT", "tcp", timeout=SLOW)
    assert_forwarded(full)
    assert sum(len(rrset) for rrset in full.answer) == 20
    assert main.asked("big.upstream.test", "TXT", "tcp") >= 1, main.proc.log()[-2000:]
    query = make_query("big.upstream.test", "TXT", use_edns=0, payload=1232)
    udp = dns.query.udp(query, server.host, port=server.port, timeout=SLOW)
    assert udp.flags & dns.flags.TC and udp.flags & dns.flags.RA
    retried, used_tcp = dns.query.udp_with_fallback(
        query, server.host, port=server.port, timeout=SLOW
    )
    assert used_tcp and sum(len(rrset) for rrset in retried.answer) == 20


def test_the_question_case_and_the_do_bit_are_as_for_authoritative_answers(network):
    """The client's letter case is echoed (question and owner name) also from the cache,
    whose key ignores case; the DO bit is echoed and is part of the key (RFC 4035)."""
    server, main = network["server"], network["main"]
    name = fresh("case-")
    mixed = "".join(c.upper() if i % 2 else c for i, c in enumerate(name))
    first = ask(server, mixed, timeout=SLOW)
    assert_forwarded(first)
    assert first.question[0].name.to_text() == mixed + "."
    assert first.answer[0].name.to_text() == mixed + "."
    lower = ask(server, name, timeout=SLOW)
    assert_forwarded(lower)
    assert lower.question[0].name.to_text() == name + "."
    assert lower.answer[0].name.to_text() == name + "."
    assert main.asked(name) == 1, "the case of the question split the cache"

    plain = ask(server, name, use_edns=0, timeout=SLOW)
    assert plain.edns == 0 and not plain.ednsflags & dns.flags.DO
    before_do = main.asked(name)
    signed = ask(server, name, want_dnssec=True, timeout=SLOW)
    assert_forwarded(signed)
    assert signed.edns == 0 and signed.ednsflags & dns.flags.DO
    assert addresses(signed) == ["203.0.113.20"]
    assert main.asked(name) == before_do + 1, "a DO question was answered from a non-DO entry"
    assert_forwarded(ask(server, name, want_dnssec=True, timeout=SLOW))
    assert main.asked(name) == before_do + 1, "the DO answer was not cached"
    authoritative = ask(server, "www.home.test", want_dnssec=True)
    assert authoritative.ednsflags & dns.flags.DO  # the same as ours


# --------------------------------------------------------------------------- who and what


def test_clients_outside_allow_recursion_are_refused(network):
    """From 127.0.0.2 (allow_recursion is 127.0.0.1/32) a name outside the zones is
    REFUSED without RA and never asked upstream; our own zone is still answered."""
    server, main = network["server"], network["main"]
    name = fresh("outside-")
    reply = ask(server, name, source="127.0.0.2")
    assert reply.rcode() == dns.rcode.REFUSED
    assert not reply.flags & dns.flags.RA
    tcp = ask(server, name, "A", "tcp", source="127.0.0.2")
    assert tcp.rcode() == dns.rcode.REFUSED
    own = ask(server, "www.home.test", source="127.0.0.2")
    assert own.rcode() == dns.rcode.NOERROR and addresses(own) == ["192.0.2.99"]
    assert main.asked(name) == 0
    # the address is refused, not the name: from 127.0.0.1 it is forwarded
    assert_forwarded(ask(server, name, timeout=SLOW))


def test_queries_without_rd_are_refused(network):
    server, main = network["server"], network["main"]
    name = fresh("nord-")
    for transport in ("udp", "tcp"):
        reply = ask(server, name, transport=transport, rd=False)
        assert reply.rcode() == dns.rcode.REFUSED
        assert not reply.flags & dns.flags.RA
    assert main.asked(name) == 0


def test_names_in_our_own_zones_are_answered_by_us(network):
    """www.home.test exists here (192.0.2.99) and upstream (203.0.113.99): ours, with AA
    and no RA, and upstream hears nothing, also for a name missing from our zone."""
    server, main = network["server"], network["main"]
    reply = ask(server, "www.home.test")
    assert addresses(reply) == ["192.0.2.99"]
    assert reply.flags & dns.flags.AA and not reply.flags & dns.flags.RA
    missing = ask(server, "nope.home.test")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert missing.flags & dns.flags.AA and not missing.flags & dns.flags.RA
    assert main.asked("www.home.test") == 0 and main.asked("nope.home.test") == 0


def test_per_domain_forwarders_route_by_the_longest_suffix(network):
    """www.corp.test goes to the corp upstream; host.eng.corp.test to the main one
    (eng.corp.test is longer than corp.test); other names to "."."""
    server, main, corp = network["server"], network["main"], network["corp"]
    assert addresses(ask(server, "www.corp.test", timeout=SLOW)) == ["10.0.1.1"]
    assert corp.asked("www.corp.test") == 1 and main.asked("www.corp.test") == 0
    eng = ask(server, "host.eng.corp.test", timeout=SLOW)
    assert_forwarded(eng)
    assert addresses(eng) == ["10.0.0.1"]
    assert main.asked("host.eng.corp.test") == 1 and corp.asked("host.eng.corp.test") == 0
    assert addresses(ask(server, "www.upstream.test", timeout=SLOW)) == ["203.0.113.10"]
    assert corp.asked("www.upstream.test") == 0


def test_fifty_clients_asking_one_new_name_cause_one_upstream_query(network):
    """With the upstream stopped (SIGSTOP) the first question waits there; 50 clients ask
    the same new name meanwhile; once it runs again, all 50 get the answer, and the
    upstream was asked once: the questions in flight were joined, not repeated."""
    server, main = network["server"], network["main"]
    name = fresh("herd-")
    replies: list[dns.message.Message | BaseException] = []
    ready = threading.Barrier(51)

    def client() -> None:
        ready.wait()
        try:
            replies.append(ask(server, name, timeout=SLOW))
        except BaseException as exc:  # reported below
            replies.append(exc)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(50)]
    main.proc.signal(signal.SIGSTOP)
    try:
        for thread in threads:
            thread.start()
        ready.wait()
        time.sleep(0.5)  # every client has asked; under the 1 s per-try timeout
    finally:
        main.proc.signal(signal.SIGCONT)
    for thread in threads:
        thread.join(timeout=SLOW + 2)
    assert len(replies) == 50
    for each in replies:
        assert isinstance(each, dns.message.Message), each
        assert_forwarded(each)
        assert addresses(each) == ["203.0.113.20"]
    assert main.asked(name) == 1


def test_metrics_count_forwarded_queries_the_cache_and_the_upstream(network):
    server, main = network["server"], network["main"]
    before = {
        "forward": metric(server, "policydns_queries_total", policy="forward"),
        "hit": metric(server, "policydns_forward_cache_total", result="hit"),
        "miss": metric(server, "policydns_forward_cache_total", result="miss"),
        "upstream": metric(
            server, "policydns_forward_upstream_seconds_count", forwarder=main.address
        ),
    }
    name = fresh("metrics-")
    for _ in range(3):
        assert_forwarded(ask(server, name, timeout=SLOW))
    assert metric(server, "policydns_queries_total", policy="forward") == before["forward"] + 3
    assert metric(server, "policydns_forward_cache_total", result="miss") == before["miss"] + 1
    assert metric(server, "policydns_forward_cache_total", result="hit") == before["hit"] + 2
    latency = metric(server, "policydns_forward_upstream_seconds_count", forwarder=main.address)
    assert latency == before["upstream"] + 1


# --------------------------------------------------------------------------- failures


def test_a_dead_first_forwarder_falls_over_to_the_second(start_server, tmp_path):
    """The first forwarder is a socket that never answers (timeout after 1 s), the second
    a port nobody listens on, the third a real upstream: the answer still comes, within
    the 3 s deadline, and the failures are counted by forwarder and reason."""
    upstream = start_upstream(start_server, "upstream")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.settimeout(0.5)
        mute = f"127.0.0.1:{silent.getsockname()[1]}"
        closed = f"127.0.0.1:{free_port()}"
        server = start_forwarder(start_server, tmp_path, [mute, closed, upstream.address])
        began = time.monotonic()
        reply = ask(server, "www.upstream.test", timeout=SLOW)
        took = time.monotonic() - began
        assert_forwarded(reply)
        assert addresses(reply) == ["203.0.113.10"]
        assert 0.9 <= took <= 3.2, took
        assert silent.recv(4096), "the first forwarder was not asked"
    timeouts = metric(server, "policydns_forward_failures_total", forwarder=mute, reason="timeout")
    assert timeouts == 1
    refused = sum(
        metric(server, "policydns_forward_failures_total", forwarder=closed, reason=reason)
        for reason in ("unreachable", "timeout")
    )
    assert refused == 1
    assert upstream.asked("www.upstream.test") == 1


def test_an_upstream_servfail_or_refused_moves_on_to_the_next(start_server, tmp_path):
    """The corp upstream answers REFUSED for upstream.test (not its zone): the next
    forwarder answers, and the failure is counted as refused."""
    corp = start_upstream(start_server, "corp")
    upstream = start_upstream(start_server, "upstream")
    server = start_forwarder(start_server, tmp_path, [corp.address, upstream.address])
    reply = ask(server, "www.upstream.test", timeout=SLOW)
    assert_forwarded(reply)
    assert addresses(reply) == ["203.0.113.10"]
    assert corp.asked("www.upstream.test") == 1
    refused = metric(
        server, "policydns_forward_failures_total", forwarder=corp.address, reason="refused"
    )
    assert refused == 1


def test_an_upstream_servfail_is_counted_and_the_next_forwarder_answers(start_server, tmp_path):
    upstream = start_upstream(start_server, "upstream")
    with FakeUpstream(lambda query, tcp: [reply(query, rcode=2)]) as failing:
        server = start_forwarder(start_server, tmp_path, [str(failing.address), upstream.address])
        answer = ask(server, "www.upstream.test", timeout=SLOW)
        assert_forwarded(answer)
        assert addresses(answer) == ["203.0.113.10"]
        assert failing.count() == 1
    servfails = metric(
        server,
        "policydns_forward_failures_total",
        forwarder=str(failing.address),
        reason="servfail",
    )
    assert servfails == 1


def test_the_whole_question_has_a_deadline(start_server, tmp_path):
    """Four forwarders that never answer: each try may take 1 s, the question 3 s, so the
    client has SERVFAIL after about 3 s and the fourth forwarder is never asked."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
    try:
        for each in sockets:
            each.bind(("127.0.0.1", 0))
            each.settimeout(0.2)
        mutes = [f"127.0.0.1:{each.getsockname()[1]}" for each in sockets]
        server = start_forwarder(start_server, tmp_path, mutes)
        began = time.monotonic()
        reply = ask(server, "www.upstream.test", timeout=SLOW)
        took = time.monotonic() - began
        assert reply.rcode() == dns.rcode.SERVFAIL
        assert 2.7 <= took <= 3.6, took
        asked = []
        for each in sockets:
            try:
                asked.append(bool(each.recv(4096)))
            except TimeoutError:
                asked.append(False)
        assert asked == [True, True, True, False], asked
    finally:
        for each in sockets:
            each.close()


@pytest.mark.parametrize("serve_stale", [60, 0])
def test_with_every_forwarder_dead_a_stale_answer_or_servfail(start_server, tmp_path, serve_stale):
    """short.upstream.test has TTL 1; after the upstream is stopped and the answer has
    expired: with serve_stale 60 it is served with TTL 30 (RFC 8767), else SERVFAIL."""
    upstream = start_upstream(start_server, "upstream")
    server = start_forwarder(
        start_server, tmp_path, [upstream.address], cache={"serve_stale": serve_stale}
    )
    first = ask(server, "short.upstream.test", timeout=SLOW)
    assert_forwarded(first)
    assert addresses(first) == ["203.0.113.11"]
    upstream.proc.stop()
    time.sleep(1.5)
    reply = ask(server, "short.upstream.test", timeout=SLOW)
    if serve_stale:
        assert_forwarded(reply)
        assert addresses(reply) == ["203.0.113.11"]
        assert first_ttl(reply) == 30
        assert metric(server, "policydns_forward_cache_total", result="stale") == 1
        assert "upstream=stale" in query_log(server, "short.upstream.test")[-1]
    else:
        assert reply.rcode() == dns.rcode.SERVFAIL
        assert reply.flags & dns.flags.RA
    # a name never answered has nothing stale: SERVFAIL either way
    assert ask(server, "www.upstream.test", timeout=SLOW).rcode() == dns.rcode.SERVFAIL


# --------------------------------------------------------------------------- other upstreams


def knot_upstream(base: Path) -> tuple[Any, str]:
    """knotd serving knot.test (tests/fixtures/forward/knot/), as tests/oracle starts it."""
    from tests.oracle.test_knot_differential import KNOTD, start_knot

    if KNOTD is None:
        pytest.skip("knotd (Debian package knot) is not installed")
    master = base / "master"
    master.mkdir()
    shutil.copy(FIXTURES / "knot" / "knot.test.zone", master / "knot.test.zone")
    knot = start_knot(base, master, ["knot.test"])
    return knot, f"127.0.0.1:{knot.port}"


def test_forwarding_to_knot(start_server, tmp_path):
    """Knot as the upstream: its answers forwarded with RA, in the client's case; its
    NXDOMAIN (SOA TTL 300, minimum 2) cached for 2 s. Knot logs no queries here, so the
    cache is shown by stopping Knot: the NXDOMAIN is still served, then SERVFAIL."""
    knot, address = knot_upstream(tmp_path)
    try:
        server = start_forwarder(start_server, tmp_path, [address])
        reply = ask(server, "www.knot.test", timeout=SLOW)
        assert_forwarded(reply)
        assert addresses(reply) == ["203.0.113.30"]
        six = ask(server, "WWW.Knot.Test", "AAAA", timeout=SLOW)
        assert_forwarded(six)
        assert six.question[0].name.to_text() == "WWW.Knot.Test."
        assert addresses(six) == ["2001:db8:53::30"]

        missing = ask(server, "nope.knot.test", timeout=SLOW)
        assert_forwarded(missing, dns.rcode.NXDOMAIN)
        soa = missing.authority[0]
        assert soa.rdtype == dns.rdatatype.SOA and soa.ttl <= 2
        knot.stop()  # from here only the cache answers: for 2 s, then nothing does
        cached = ask(server, "nope.knot.test", timeout=SLOW)
        assert_forwarded(cached, dns.rcode.NXDOMAIN)
        wait_until(
            lambda: ask(server, "nope.knot.test", timeout=SLOW).rcode(),
            "the cached NXDOMAIN to expire (SERVFAIL with Knot gone)",
            timeout=5,
            holds=lambda rcode: rcode == dns.rcode.SERVFAIL,
        )
        assert ask(server, "www.knot.test", timeout=SLOW).rcode() == dns.rcode.NOERROR
    finally:
        knot.stop()


def test_replies_with_a_wrong_id_question_or_source_are_ignored(start_server, tmp_path):
    """A fake upstream first sends a reply with another ID, then one for another question,
    then one from another port, and only then the right one: the client gets the right
    one, so the forwarder dropped the others and went on waiting."""
    right = "wrong.upstream.test. 300 IN A 192.0.2.1"

    def handler(query: bytes, tcp: bool) -> list[Action]:
        ident = int.from_bytes(query[:2], "big")
        other_question = DNSRecord.parse(query)
        other_question.q.qname = DNSLabel("other.upstream.test")
        return [
            reply(query, records=["wrong.upstream.test. 300 IN A 192.0.2.66"], ident=ident ^ 1),
            reply(
                bytes(other_question.pack()), records=["other.upstream.test. 300 IN A 192.0.2.67"]
            ),
            Other(reply(query, records=["wrong.upstream.test. 300 IN A 192.0.2.68"])),
            Pause(0.1),
            reply(query, records=[right]),
        ]

    with FakeUpstream(handler) as fake:
        server = start_forwarder(start_server, tmp_path, [str(fake.address)])
        answer = send(server, make_query("wrong.upstream.test", ident=4242), timeout=SLOW)
        assert_forwarded(answer)
        assert answer.id == 4242
        assert addresses(answer) == ["192.0.2.1"]
        assert fake.count() == 1, fake.queries
        assert fake.queries[0].data[:2] != (4242).to_bytes(2, "big"), (
            "the client's ID went upstream"
        )


def test_the_client_subnet_is_not_sent_upstream_by_default(start_server, tmp_path):
    """A client's ECS option stays with us: the upstream query carries no option 8."""
    zone = "ecs.upstream.test. 300 IN SOA ns. host. 1 7200 900 1209600 60\n"
    zone += "www.ecs.upstream.test. 300 IN A 192.0.2.8\n"
    with FakeUpstream(answering(zone)) as fake:
        server = start_forwarder(start_server, tmp_path, [str(fake.address)])
        reply = ask(server, "www.ecs.upstream.test", ecs=("10.1.2.0", 24), timeout=SLOW)
        assert_forwarded(reply)
        assert addresses(reply) == ["192.0.2.8"]
        assert fake.count() == 1
        sent = dns.message.from_wire(fake.queries[0].data)
        assert not [o for o in sent.options if o.otype == dns.edns.OptionType.ECS], sent


def test_records_outside_the_bailiwick_are_not_cached(start_server, tmp_path):
    """An upstream answering www.upstream.test slips in victim.other.test A 6.6.6.6: a
    later question for victim.other.test is asked upstream, not answered from the slip."""

    def handler(query: bytes, tcp: bool) -> list[Action]:
        name = str(DNSRecord.parse(query).q.qname).lower()
        if name == "www.upstream.test.":
            records = [
                "www.upstream.test. 300 IN A 192.0.2.1",
                "victim.other.test. 300 IN A 6.6.6.6",
            ]
        else:
            records = [f"{name} 300 IN A 192.0.2.2"]
        return [reply(query, records=records)]

    with FakeUpstream(handler) as fake:
        server = start_forwarder(start_server, tmp_path, [str(fake.address)])
        assert "192.0.2.1" in addresses(ask(server, "www.upstream.test", timeout=SLOW))
        victim = ask(server, "victim.other.test", timeout=SLOW)
        assert_forwarded(victim)
        assert addresses(victim) == ["192.0.2.2"]
        assert fake.count() == 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flips=st.lists(st.booleans(), min_size=17, max_size=17))
def test_any_letter_case_is_echoed_and_shares_one_cache_entry(network, flips: list[bool]):
    """Whatever the case of the question: it is echoed exactly, the answer is the same,
    the TTL never rises, and upstream was asked for the name only once in all."""
    server, main = network["server"], network["main"]
    name = "www.upstream.test"
    spelled = "".join(c.upper() if flip else c for c, flip in zip(name, flips, strict=True))
    reply = ask(server, spelled, timeout=SLOW)
    assert_forwarded(reply)
    assert reply.question[0].name.to_text() == spelled + "."
    assert addresses(reply) == ["203.0.113.10"]
    ttl = first_ttl(reply)
    assert ttl <= network.setdefault("last_ttl", ttl)
    network["last_ttl"] = ttl
    assert main.asked(name) <= 1


def test_a_truncated_reply_whose_tcp_retry_fails_moves_on(start_server, tmp_path):
    """The first forwarder truncates over UDP and closes TCP connections unanswered: the
    failure is counted as tcp and the second forwarder answers."""
    upstream = start_upstream(start_server, "upstream")

    def handler(query: bytes, tcp: bool) -> list[Action]:
        return [Close()] if tcp else [reply(query, tc=True)]

    with FakeUpstream(handler) as cutting:
        server = start_forwarder(start_server, tmp_path, [str(cutting.address), upstream.address])
        answer = ask(server, "www.upstream.test", timeout=SLOW)
        assert_forwarded(answer)
        assert addresses(answer) == ["203.0.113.10"]
        assert cutting.count(tcp=False) == 1 and cutting.count(tcp=True) == 1
    failures = metric(
        server, "policydns_forward_failures_total", forwarder=str(cutting.address), reason="tcp"
    )
    assert failures == 1


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A forwarder whose only upstream is a fake that sends what the test puts in
    `mutations` (first) and then a clean reply."""
    work = tmp_path_factory.mktemp("hostile")
    state: dict[str, Any] = {"mutations": []}

    def handler(query: bytes, tcp: bool) -> list[Action]:
        name = str(DNSRecord.parse(query).q.qname)
        clean = reply(query, records=[f"{name} 300 IN A 192.0.2.123"])
        broken = bytearray(clean)
        for at, value in state["mutations"]:
            if 2 <= at < len(broken):  # the ID stays: the reply must be looked at
                broken[at] = value
        return [bytes(broken[: state.get("cut", len(broken))]), clean]

    with FakeUpstream(handler) as fake:
        config = write_config(work, [str(fake.address)])
        proc = ServerProcess(["--config", str(config), "--listen", "127.0.0.1:0", "--no-http"])
        proc.start(work / "server.log")
        try:
            yield {"server": proc, "state": state}
        finally:
            proc.stop()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mutations=st.lists(st.tuples(st.integers(2, 80), st.integers(0, 255)), max_size=6),
    cut=st.integers(2, 120),
)
def test_hostile_upstream_replies_never_break_the_server(hostile, mutations, cut):
    """Whatever bytes come back first (a clean reply with octets changed, cut short), the
    client gets a well-formed reply to its own question within the deadline (the rcode
    is whatever the forwarder made of it), and the server goes on answering its zone."""
    server = hostile["server"]
    hostile["state"].update(mutations=mutations, cut=cut)
    name = fresh("hostile-")
    query = make_query(name)
    answer = send(server, query, timeout=SLOW)
    assert answer.id == query.id
    assert answer.question[0].name.to_text().lower() == name + "."
    assert answer.flags & dns.flags.QR and not answer.flags & dns.flags.AA
    assert addresses(ask(server, "www.home.test")) == ["192.0.2.99"]
