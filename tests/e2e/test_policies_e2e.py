"""SPEC sections 3, 5 and 7: every routing policy of the fixture steer.example, end to end.

Clients in different places are emulated with EDNS Client Subnet (RFC 7871) against the real
server: first with a `locations` map in the config, then with a generated GeoLite2-City-shaped
test MMDB (config `geoip.database` and `--geoip-db`). Also the ECS edge cases, the weighted
distribution, multivalue, and `policydns explain` as a subprocess.
"""

from __future__ import annotations

import json
import selectors
import socket
import struct
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import dns.edns
import dns.flags
import dns.ipv6
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from tests.dnshelp import (
    addresses,
    ask,
    assert_any_rrset_in_answer,
    assert_rcode,
    rrset,
    send,
)
from tests.fixtures.make_test_mmdb import write_test_mmdb
from tests.serverproc import REPO, ZONES, ServerProcess

pytestmark = pytest.mark.timeout(60)

ECS = dns.edns.OptionType.ECS

# The answers of steer.example.yaml (tests/fixtures/zones).
CALIFORNIA, US, EUROPE, GEO_DEFAULT = "192.0.2.41", "192.0.2.42", "198.51.100.43", "203.0.113.44"
VIRGINIA, FRANKFURT = "192.0.2.51", "198.51.100.52"
USE1, EUC1 = "192.0.2.61", "198.51.100.62"
HQ, BRANCH, REST = "10.1.0.5", "10.2.0.5", "192.0.2.80"
APP_US, APP_EU = {"192.0.2.91", "192.0.2.92"}, {"198.51.100.91"}
WWW_US, WWW_EU = "192.0.2.10", "198.51.100.10"
API_PRIMARY, API_BACKUP = "192.0.2.30", "198.51.100.30"
POOL = {"192.0.2.71", "192.0.2.72", "192.0.2.73"}

LOCATIONS_CONFIG = """\
locations:
  10.1.0.0/16: {continent: NA, country: US, subdivision: CA, latitude: 37.4, longitude: -122.1}
  10.2.0.0/16: {continent: EU, country: DE, latitude: 50.1, longitude: 8.7}
  # Virginia by distance, but the measured latency below says Frankfurt is faster.
  10.3.0.0/16: {continent: NA, country: US, subdivision: VA, latitude: 38.9, longitude: -77.0}
  # Mid-Atlantic: nearer us-east-1 (3137 km) than Frankfurt (3631 km), but Frankfurt's
  # bias 25 makes its distance 2723 km.
  10.4.0.0/16: {latitude: 45.0, longitude: -40.0}
latency:
  10.3.0.0/16: {us-east-1: 200, eu-central-1: 10}
"""


# --------------------------------------------------------------------------- helpers


def ecs_of(reply: dns.message.Message) -> dns.edns.ECSOption | None:
    found = [o for o in reply.options if o.otype == ECS]
    assert len(found) <= 1, f"more than one ECS option in the reply: {found}"
    return found[0] if found else None  # type: ignore[return-value]


def answer(server: ServerProcess, name: str, ecs: tuple[str, int]) -> tuple[list[str], int]:
    """(addresses, ECS scope) for a NOERROR reply whose ECS option echoes the query's."""
    reply = ask(server, name, ecs=ecs)
    assert reply.rcode() == dns.rcode.NOERROR, reply
    assert reply.flags & dns.flags.AA
    option = ecs_of(reply)
    assert option is not None, f"no ECS option in the reply to {name} {ecs}"
    address, srclen = ecs
    assert option.family == (1 if ":" not in address else 2)
    assert option.address == address
    assert option.srclen == srclen
    return addresses(reply), option.scopelen


def raw_ecs(family: int, source: int, scope: int, address: bytes) -> dns.edns.GenericOption:
    """An ECS option from raw fields, to send what ECSOption refuses to build."""
    return dns.edns.GenericOption(ECS, struct.pack("!HBB", family, source, scope) + address)


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def serve(log: Path, *args: str) -> ServerProcess:
    return ServerProcess(
        [*args, "--zones", str(ZONES), "--listen", "127.0.0.1:0", "--no-http"]
    ).start(log)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def located(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose client networks are placed by the config's `locations` map."""
    base = tmp_path_factory.mktemp("located")
    proc = serve(base / "server.log", "--config", write(base / "cfg.yaml", LOCATIONS_CONFIG))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def mmdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_mmdb(tmp_path_factory.mktemp("geoip") / "city.mmdb")


@pytest.fixture(scope="module")
def geoip(tmp_path_factory: pytest.TempPathFactory, mmdb: Path) -> Iterator[ServerProcess]:
    """A server without a locations map, locating clients in the test MMDB (config file)."""
    base = tmp_path_factory.mktemp("geoip-config")
    cfg = write(base / "cfg.yaml", f"geoip: {{database: {mmdb}}}\n")
    proc = serve(base / "server.log", "--config", cfg)
    yield proc
    proc.stop()


# --------------------------------------------------------------------------- locations map


@pytest.mark.parametrize(
    ("ecs", "expected", "scope"),
    [
        (("10.1.2.0", 24), CALIFORNIA, 16),
        (("10.1.255.128", 25), CALIFORNIA, 16),
        (("10.2.3.0", 24), EUROPE, 16),
        (("10.2.0.0", 16), EUROPE, 16),
        (("0.0.0.0", 0), GEO_DEFAULT, 0),
    ],
)
def test_geolocation_by_locations_map(located, ecs, expected, scope):
    assert answer(located, "geo.steer.example", ecs) == ([expected], scope)


def test_geolocation_country_without_subdivision_match(located):
    """10.3/16 is US-VA: no VA set, so the country set answers (SPEC 5)."""
    assert answer(located, "geo.steer.example", ("10.3.4.0", 24)) == ([US], 16)


def test_geolocation_unknown_client_gets_default(located):
    """A documentation network is in no locations block and has no registry country."""
    found, scope = answer(located, "geo.steer.example", ("192.0.2.0", 24))
    assert found == [GEO_DEFAULT]
    assert 0 <= scope <= 24


@pytest.mark.parametrize(
    ("name", "ecs"),
    [
        ("www.steer.example", ("10.1.2.0", 24)),
        ("www.steer.example", ("10.2.3.0", 24)),
        ("api.steer.example", ("10.1.2.0", 24)),
        ("api.steer.example", ("10.2.3.0", 24)),
        ("pool.steer.example", ("10.2.3.0", 24)),
        ("api.steer.example", ("2001:db8:1::", 56)),
    ],
)
def test_client_independent_policies_answer_scope_zero(located, name, ecs):
    """Weighted, failover and multivalue do not use the client: scope 0, ECS still echoed."""
    found, scope = answer(located, name, ecs)
    assert found
    assert scope == 0


@pytest.mark.parametrize(
    ("ecs", "expected"),
    [
        (("10.1.2.0", 24), VIRGINIA),  # California: us-east-1 is far nearer than Frankfurt
        (("10.2.3.0", 24), FRANKFURT),
        (("10.4.5.0", 24), FRANKFURT),  # nearer Virginia, but Frankfurt's bias 25 wins
    ],
)
def test_geoproximity_per_location(located, ecs, expected):
    assert answer(located, "near.steer.example", ecs) == ([expected], 16)


@pytest.mark.parametrize(
    ("ecs", "expected"),
    [
        (("10.1.2.0", 24), USE1),
        (("10.2.3.0", 24), EUC1),
        (("10.3.4.0", 24), EUC1),  # the measured latency table beats the distance estimate
    ],
)
def test_latency_per_location(located, ecs, expected):
    assert answer(located, "fast.steer.example", ecs) == ([expected], 16)


@pytest.mark.parametrize(
    ("ecs", "expected", "scope"),
    [
        (("10.1.2.0", 24), HQ, 16),
        (("10.2.3.0", 24), BRANCH, 16),
        (("2001:db8:1:2::", 64), HQ, 48),
        (("192.0.2.0", 24), REST, None),
    ],
)
def test_ip_based_per_client_network(located, ecs, expected, scope):
    found, got_scope = answer(located, "office.steer.example", ecs)
    assert found == [expected]
    if scope is not None:
        assert got_scope == scope
    else:
        assert 0 < got_scope <= ecs[1]


def test_ip_based_subnet_shorter_than_block_does_not_match(located):
    """SPEC 5: a client subnet shorter than a block does not match it (10.0.0.0/8 vs /16s)."""
    found, _ = answer(located, "office.steer.example", ("10.0.0.0", 8))
    assert found == [REST]


def test_nested_latency_then_weighted(located):
    """app: latency picks the region, then that region's weighted sets answer."""
    seen_us: set[str] = set()
    for _ in range(30):
        found, scope = answer(located, "app.steer.example", ("10.1.2.0", 24))
        assert len(found) == 1 and found[0] in APP_US
        assert scope == 16
        seen_us.update(found)
    assert seen_us == APP_US, "app-us is weighted 50/50: both values show up in 30 queries"
    for _ in range(5):
        found, scope = answer(located, "app.steer.example", ("10.2.3.0", 24))
        assert set(found) == APP_EU
        assert scope == 16


def test_ipv6_client_subnet_is_echoed_with_family_2(located):
    reply = ask(located, "office.steer.example", ecs=("2001:db8:1:2::", 64))
    option = ecs_of(reply)
    assert option is not None
    assert (option.family, option.address, option.srclen) == (2, "2001:db8:1:2::", 64)


def test_tcp_carries_the_same_ecs_answer(located):
    reply = ask(located, "geo.steer.example", "A", "tcp", ecs=("10.2.3.0", 24))
    assert addresses(reply) == [EUROPE]
    option = ecs_of(reply)
    assert option is not None and option.scopelen == 16


# --------------------------------------------------------------------------- GeoIP database


GEOIP_CASES = [
    # ECS, expected geo answer, scope = min(source prefix, the mmdb network's prefix)
    (("172.16.5.0", 24), EUROPE, 12),  # DE-BY, network /12
    (("10.1.2.0", 24), CALIFORNIA, 16),  # US-CA, network /16
    (("10.1.2.0", 28), CALIFORNIA, 16),
    (("10.9.9.0", 24), US, 13),  # US-VA, the rest of 10/8 split around 10.1/16: /13
    (("203.0.113.0", 24), EUROPE, 24),  # GB-ENG, network /24
    (("203.0.113.0", 26), EUROPE, 24),
    (("172.16.0.0", 12), EUROPE, 12),
    (("10.128.0.0", 10), US, 9),  # leaf 10.128/9
    (("2001:db8:1::", 56), GEO_DEFAULT, 48),  # OC-AU: no set for it, so the default
]


@pytest.mark.parametrize(("ecs", "expected", "scope"), GEOIP_CASES)
def test_geolocation_by_mmdb_in_config(geoip, ecs, expected, scope):
    assert answer(geoip, "geo.steer.example", ecs) == ([expected], scope)


@pytest.mark.parametrize(
    "ecs",
    [("192.0.2.128", 25), ("192.0.2.200", 32), ("192.0.2.192", 26)],
)
def test_mmdb_network_longer_than_24(start_server, mmdb, tmp_path, ecs):
    """192.0.2.0/25 is US-NY, 192.0.2.128/25 FR-IDF: a client in the upper half is in Europe.

    Fresh server per case, so that no earlier lookup in the same /24 is cached.
    """
    server = start_server(
        "--geoip-db", str(mmdb), "--zones", str(ZONES), "--listen", "127.0.0.1:0", "--no-http"
    )
    assert answer(server, "geo.steer.example", ecs) == ([EUROPE], 25)


def test_mmdb_halves_of_one_24_are_told_apart(start_server, mmdb):
    """Both halves of 192.0.2.0/24 asked one after the other get their own location."""
    server = start_server(
        "--geoip-db", str(mmdb), "--zones", str(ZONES), "--listen", "127.0.0.1:0", "--no-http"
    )
    assert answer(server, "geo.steer.example", ("192.0.2.0", 25)) == ([US], 25)
    assert answer(server, "geo.steer.example", ("192.0.2.128", 25)) == ([EUROPE], 25)
    assert answer(server, "geo.steer.example", ("192.0.2.0", 25)) == ([US], 25)


def test_mmdb_client_outside_every_network_gets_default(geoip):
    found, scope = answer(geoip, "geo.steer.example", ("198.18.0.0", 24))
    assert found == [GEO_DEFAULT]
    assert scope <= 24


@pytest.mark.parametrize(
    ("name", "ecs", "expected", "scope"),
    [
        ("near.steer.example", ("10.1.2.0", 24), VIRGINIA, 16),
        ("near.steer.example", ("172.16.5.0", 24), FRANKFURT, 12),
        ("fast.steer.example", ("203.0.113.0", 24), EUC1, 24),
        ("fast.steer.example", ("10.9.9.0", 24), USE1, 13),
        ("office.steer.example", ("2001:db8:1::", 56), HQ, 48),
    ],
)
def test_other_location_policies_by_mmdb(geoip, name, ecs, expected, scope):
    assert answer(geoip, name, ecs) == ([expected], scope)


def test_geoip_db_on_the_command_line(start_server, mmdb):
    server = start_server(
        "--geoip-db", str(mmdb), "--zones", str(ZONES), "--listen", "127.0.0.1:0", "--no-http"
    )
    for ecs, expected, scope in GEOIP_CASES[:5]:
        assert answer(server, "geo.steer.example", ecs) == ([expected], scope)


def test_locations_map_is_checked_before_the_mmdb(start_server, tmp_path, mmdb):
    """10.1/16 is US-CA in the mmdb; the config's locations map says DE, and wins."""
    cfg = write(
        tmp_path / "cfg.yaml",
        f"geoip: {{database: {mmdb}}}\n"
        "locations:\n  10.1.0.0/16: {continent: EU, country: DE, latitude: 50.1, longitude: 8.7}\n",
    )
    server = start_server(
        "--config", cfg, "--zones", str(ZONES), "--listen", "127.0.0.1:0", "--no-http"
    )
    assert answer(server, "geo.steer.example", ("10.1.2.0", 24)) == ([EUROPE], 16)
    assert answer(server, "geo.steer.example", ("172.16.5.0", 24)) == ([EUROPE], 12)
    assert answer(server, "geo.steer.example", ("203.0.113.0", 24)) == ([EUROPE], 24)
    found, _ = answer(server, "geo.steer.example", ("10.9.9.0", 24))
    assert found == [US]


# --------------------------------------------------------------------------- ECS edge cases


def test_source_prefix_zero_is_an_unknown_client(located):
    reply = ask(located, "geo.steer.example", ecs=("0.0.0.0", 0))
    assert addresses(reply) == [GEO_DEFAULT]
    option = ecs_of(reply)
    assert option is not None
    assert (option.family, option.srclen, option.scopelen) == (1, 0, 0)


def test_source_prefix_zero_ipv6(located):
    reply = ask(located, "near.steer.example", ecs=("::", 0))
    assert reply.rcode() == dns.rcode.NOERROR
    option = ecs_of(reply)
    assert option is not None
    assert (option.family, option.srclen, option.scopelen) == (2, 0, 0)


@pytest.mark.parametrize(
    "option",
    [
        # 10.1.2.0/20: the third byte has bits set beyond the 20-bit prefix
        raw_ecs(1, 20, 0, bytes([10, 1, 2])),
        # IPv4 /24 with the host byte sent and set
        raw_ecs(1, 24, 0, bytes([10, 1, 2, 1])),
        # unknown address family
        raw_ecs(3, 24, 0, bytes([10, 1, 2])),
        # source prefix longer than an IPv4 address
        raw_ecs(1, 33, 0, bytes([10, 1, 2, 3, 0])),
        # source prefix longer than an IPv6 address
        raw_ecs(2, 129, 0, bytes(17)),
        # scope must be 0 in a query
        raw_ecs(1, 24, 16, bytes([10, 1, 2])),
        # address longer than the prefix needs
        raw_ecs(1, 8, 0, bytes([10, 0])),
        # shorter than the fixed header
        dns.edns.GenericOption(ECS, b"\x00\x01\x18"),
    ],
    ids=[
        "bits-beyond-prefix",
        "host-byte-sent",
        "family-3",
        "v4-prefix-33",
        "v6-prefix-129",
        "scope-in-query",
        "address-too-long",
        "truncated",
    ],
)
def test_malformed_ecs_gets_formerr(located, option):
    reply = ask(located, "geo.steer.example", ecs=option)
    assert reply.rcode() == dns.rcode.FORMERR
    assert not reply.answer


def test_two_ecs_options_get_formerr(located):
    options = [dns.edns.ECSOption("10.1.2.0", 24), dns.edns.ECSOption("10.2.3.0", 24)]
    query = dns.message.make_query("geo.steer.example", "A", use_edns=0, options=options)
    reply = send(located, query)
    assert reply.rcode() == dns.rcode.FORMERR


def test_ipv4_mapped_ecs_scope_is_in_the_options_family(located):
    """Family 2 `::ffff:10.1.2.0/120`: the server routes it as IPv4 10.1.2.0/24 (the /16
    locations block), so the scope it returns must count IPv6 bits: 96 + 16 = 112, not 16
    (a family-2 scope of 16 would make a resolver reuse the answer for all of ::/16)."""
    mapped = dns.ipv6.inet_aton("::ffff:10.1.2.0")[:15]
    reply = ask(located, "geo.steer.example", ecs=raw_ecs(2, 120, 0, mapped))
    assert reply.rcode() == dns.rcode.NOERROR
    option = ecs_of(reply)
    assert option is not None and option.family == 2 and option.srclen == 120
    assert addresses(reply) == [CALIFORNIA]
    assert option.scopelen == 112


def test_well_formed_raw_option_is_accepted(located):
    """The raw builder itself is right: a correct 10.2.3.0/24 gets the Europe answer."""
    reply = ask(located, "geo.steer.example", ecs=raw_ecs(1, 24, 0, bytes([10, 2, 3])))
    assert reply.rcode() == dns.rcode.NOERROR
    assert addresses(reply) == [EUROPE]


@pytest.mark.parametrize("use_edns", [False, 0])
def test_query_without_ecs_gets_no_ecs_back(located, use_edns):
    reply = ask(located, "geo.steer.example", use_edns=use_edns)
    assert reply.rcode() == dns.rcode.NOERROR
    assert ecs_of(reply) is None
    # 127.0.0.1 is in no locations block and has no country: the default
    assert addresses(reply) == [GEO_DEFAULT]


def test_ecs_off_in_config_ignores_the_option(start_server, tmp_path):
    cfg = write(tmp_path / "cfg.yaml", LOCATIONS_CONFIG + "ecs: false\n")
    server = start_server(
        "--config", cfg, "--zones", str(ZONES), "--listen", "127.0.0.1:0", "--no-http"
    )
    for ecs in [("10.1.2.0", 24), ("10.2.3.0", 24)]:
        reply = ask(server, "geo.steer.example", ecs=ecs)
        assert reply.rcode() == dns.rcode.NOERROR
        assert addresses(reply) == [GEO_DEFAULT]  # routed by 127.0.0.1, not the subnet
        assert ecs_of(reply) is None
        assert reply.edns == 0  # EDNS itself still answered
    # Nor is a malformed option looked at.
    reply = ask(server, "geo.steer.example", ecs=raw_ecs(3, 24, 0, bytes([10, 1, 2])))
    assert reply.rcode() == dns.rcode.NOERROR
    assert ecs_of(reply) is None


# --------------------------------------------------------------------------- weighted, multivalue


def blast(server: ServerProcess, name: str, count: int, window: int = 200) -> list[str]:
    """`count` UDP queries over one socket with up to `window` in flight; the answers.

    Lost datagrams are sent again (with a new ID) after a short wait, with an overall deadline.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.connect((server.host, server.port))
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    template = dns.message.make_query(name, "A")
    answers: list[str] = []
    pending: dict[int, float] = {}  # id -> when sent
    next_id = 0
    deadline = time.monotonic() + 30
    try:
        while len(answers) < count:
            assert time.monotonic() < deadline, f"only {len(answers)}/{count} answers"
            now = time.monotonic()
            for qid, sent in list(pending.items()):
                if now - sent > 1.0:
                    del pending[qid]  # lost: replaced below
            while len(pending) < window and len(answers) + len(pending) < count:
                next_id = (next_id + 1) & 0xFFFF
                template.id = next_id
                try:
                    sock.send(template.to_wire())
                except BlockingIOError:
                    break
                pending[next_id] = time.monotonic()
            for _ in sel.select(timeout=0.2):
                while True:
                    try:
                        wire = sock.recv(4096)
                    except BlockingIOError:
                        break
                    reply = dns.message.from_wire(wire)
                    if pending.pop(reply.id, None) is None:
                        continue  # late reply to a query already given up on
                    assert reply.rcode() == dns.rcode.NOERROR
                    found = addresses(reply)
                    assert len(found) == 1, found
                    answers.append(found[0])
    finally:
        sel.close()
        sock.close()
    return answers


def test_weighted_70_30(located):
    count = 2500
    answers = Counter(blast(located, "www.steer.example", count))
    assert set(answers) == {WWW_US, WWW_EU}
    share = 100 * answers[WWW_US] / count
    assert 66 <= share <= 74, f"192.0.2.10 got {share:.1f}% (weight 70 of 100): {answers}"
    # Each reply holds exactly one of the two record sets, with the zone's TTL.
    choices = [rrset("www.steer.example.", 60, "A", address) for address in (WWW_US, WWW_EU)]
    for _ in range(10):
        reply = ask(located, "www.steer.example")
        assert_rcode(reply, dns.rcode.NOERROR)
        assert len(reply.answer) == 1
        assert_any_rrset_in_answer(reply, choices)


def test_multivalue_distinct_up_to_eight_all_present(located):
    orders = set()
    for _ in range(20):
        reply = ask(located, "pool.steer.example", ecs=("10.1.2.0", 24))
        assert reply.rcode() == dns.rcode.NOERROR
        found = addresses(reply)
        assert len(found) <= 8
        assert len(found) == len(set(found)), f"duplicates: {found}"
        assert set(found) == POOL
        assert all(rrset.rdtype == dns.rdatatype.A for rrset in reply.answer)
        orders.add(tuple(found))
    assert len(orders) > 1, "multivalue answers are shuffled per query"


# --------------------------------------------------------------------------- explain CLI


def explain(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "resolver", "explain", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
        check=False,
    )


@pytest.fixture(scope="module")
def explain_config(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write(tmp_path_factory.mktemp("explain") / "cfg.yaml", LOCATIONS_CONFIG)


def test_explain_geolocation(explain_config):
    done = explain(
        "geo.steer.example",
        "A",
        "--subnet",
        "10.2.3.0/24",
        "--config",
        explain_config,
        "--zones",
        str(ZONES),
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("answer:")
    assert EUROPE in last
    assert CALIFORNIA not in last


def test_explain_json(explain_config):
    done = explain(
        "geo.steer.example",
        "A",
        "--subnet",
        "10.2.3.0/24",
        "--json",
        "--config",
        explain_config,
        "--zones",
        str(ZONES),
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["decisions"][0]["policy"] == "geolocation"
    assert report["ecs_scope"] == 16
    assert any(EUROPE in rr for rr in report["answer"])


def test_explain_nested_shows_every_level(explain_config):
    done = explain(
        "app.steer.example",
        "--subnet",
        "10.2.3.0/24",
        "--json",
        "--config",
        explain_config,
        "--zones",
        str(ZONES),
    )
    assert done.returncode == 0, done.stderr
    policies = [step["policy"] for step in json.loads(done.stdout)["decisions"]]
    assert policies[:2] == ["latency", "weighted"]


def test_explain_health_file_changes_failover(explain_config, tmp_path):
    base = ["api.steer.example", "A", "--config", explain_config, "--zones", str(ZONES)]
    healthy = explain(*base)
    assert healthy.returncode == 0, healthy.stderr
    assert API_PRIMARY in healthy.stdout.strip().splitlines()[-1]
    health = write(tmp_path / "health.json", json.dumps({"db": "unhealthy"}))
    failed = explain(*base, "--health", health)
    assert failed.returncode == 0, failed.stderr
    last = failed.stdout.strip().splitlines()[-1]
    assert last.startswith("answer:")
    assert API_BACKUP in last
    assert API_PRIMARY not in last
