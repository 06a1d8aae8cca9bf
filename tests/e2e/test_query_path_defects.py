"""Issue 10's query-path defects against the real server over loopback sockets and dig.

dig sends a COOKIE option by default, which sends a query down the general route;
`+nocookie` (or a bare query from a socket) takes the fast route.
"""

from __future__ import annotations

import re
import struct
import subprocess
from collections.abc import Iterator

import dns.edns
import dns.message
import pytest

from tests.dnshelp import answered, wait_until
from tests.serverproc import ZONES, ServerProcess

pytestmark = pytest.mark.timeout(90)

CONFIG = """\
locations:
  10.1.0.0/16: {continent: NA, country: US, subdivision: CA, latitude: 37.4, longitude: -122.1}
"""
NOERROR, FORMERR, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 3, 4, 5
COOKIE = struct.pack("!HH", 10, 8) + b"\x01" * 8
QUERY_LINE = re.compile(r"^.*policydns\.query.*$", re.M)


def start(base, *extra: str) -> ServerProcess:
    (base / "cfg.yaml").write_text(CONFIG)
    args = ["--config", str(base / "cfg.yaml"), "--zones", str(ZONES), *extra]
    return ServerProcess([*args, "--listen", "127.0.0.1:0", "--no-http"]).start(base / "server.log")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start(tmp_path_factory.mktemp("qpath"))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def logging_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start(tmp_path_factory.mktemp("qpath-log"), "--log-queries")
    yield proc
    proc.stop()


def dig(server: ServerProcess, *args: str) -> str:
    command = ["dig", f"@{server.host}", "-p", str(server.port), "+tries=1", "+time=3", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=10, check=True).stdout


def raw_query(labels: list[bytes], qtype: int = 1, general: bool = False, ident: int = 77) -> bytes:
    name = b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"
    option = COOKIE if general else b""
    opt_rr = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, len(option)) + option
    head = struct.pack("!6H", ident, 0x0100, 1, 0, 0, 1)
    return head + name + struct.pack("!HH", qtype, 1) + opt_rr


# --- 1 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cookie", ["+nocookie", "+cookie"])
@pytest.mark.parametrize(("other", "wanted"), [("TYPE97", "HTTPS"), ("TYPE67", "SPF")])
def test_dig_type97_then_https_still_gets_https(server, cookie, other, wanted):
    first = dig(server, "example.net", other, cookie, "+noall", "+comments", "+answer")
    assert "status: NOERROR" in first and "ANSWER: 0" in first
    for flag in ("+nocookie", "+cookie"):
        answer = dig(server, "example.net", wanted, flag, "+noall", "+answer")
        assert re.search(rf"^example\.net\.\s+\d+\s+IN\s+{wanted}\s", answer, re.M), answer


# --- 4 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("general", [False, True], ids=["fast", "general"])
@pytest.mark.parametrize(
    ("labels", "rcode", "address"),
    [
        ([b"\xff\xfe", b"example", b"com"], NXDOMAIN, None),
        ([b"\xc3\x28", b"elsewhere", b"invalid"], REFUSED, None),
        ([b"\x80", b"apps", b"example", b"com"], NOERROR, "192.0.2.90"),
        ([b"x.apps", b"example", b"com"], NXDOMAIN, None),
    ],
)
def test_names_with_any_octets_are_answered_on_both_routes(server, general, labels, rcode, address):
    reply = answered(server, raw_query(labels, general=general))
    assert reply[3] & 0xF == rcode
    message = dns.message.from_wire(reply)
    assert message.question[0].name.labels[:-1] == tuple(labels)
    if address is not None:
        assert [rr.address for rrset in message.answer for rr in rrset] == [address]


def test_dig_with_an_escaped_octet_gets_the_wildcard(server):
    for flag in ("+nocookie", "+cookie"):
        out = dig(server, r"\255.apps.example.com", "A", flag, "+noall", "+comments", "+answer")
        assert "status: NOERROR" in out and "192.0.2.90" in out, out


# --- 6 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("opcode", [1, 2, 4, 5])
def test_other_opcodes_get_notimp_with_query_flags_clear(server, opcode):
    flags = opcode << 11 | 0x0100 | 0x0020 | 0x0010  # RD, AD, CD
    wire = struct.pack("!6H", 31, flags, 1, 0, 0, 0) + b"\x07example\x03com\x00\x00\x06\x00\x01"
    out = struct.unpack_from("!H", answered(server, wire), 2)[0]
    assert (out >> 11) & 0xF == opcode and out & 0xF == NOTIMP
    assert out & 0x05B0 == 0, f"flags {out:#06x}: AA, RD, RA, AD or CD set"


# --- 8 ----------------------------------------------------------------------------------


def test_record_lying_about_its_length_is_formerr_without_traceback(server):
    question = b"\x07example\x03com\x00\x00\x01\x00\x01"
    a_record = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 8) + bytes([192, 0, 2, 1])
    opt_rr = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    wire = struct.pack("!6H", 8, 0x0100, 1, 1, 0, 1) + question + a_record + opt_rr
    for _ in range(20):
        assert answered(server, wire)[3] & 0xF == FORMERR
    assert "status: NOERROR" in dig(server, "www.example.com", "A")
    assert "Traceback" not in server.log()
    assert "internal error" not in server.log()


# --- 18 (and 10's log side) -------------------------------------------------------------


def query_lines(server: ServerProcess, count: int) -> list[str]:
    return wait_until(
        lambda: (found := QUERY_LINE.findall(server.log())) and len(found) >= count and found,
        f"{count} query lines",
    )


def test_query_log_cannot_be_forged_by_a_label(logging_server):
    before = len(QUERY_LINE.findall(logging_server.log()))
    forged = b"x\ninfo policydns.query query client=6.6.6.6 name=evil"  # 51 octets
    for general in (False, True):
        answered(logging_server, raw_query([forged, b"a.b", b"example", b"com"], general=general))
    lines = query_lines(logging_server, before + 2)[before:]
    assert len(lines) == 2
    assert all("client=6.6.6.6" not in line.split(" name=")[0] for line in lines)
    assert "\nclient=6.6.6.6" not in logging_server.log()
    names = [line.split(" name=")[1].split(" type=")[0] for line in lines]
    assert names[0] == names[1]
    assert names[0].startswith(r"x\010info\032policydns\046query\032query")
    assert names[0].endswith(r"name=evil.a\046b.example.com.")


def test_query_log_shows_the_type_number_and_the_scope_sent(logging_server):
    before = len(QUERY_LINE.findall(logging_server.log()))
    query = dns.message.make_query(
        "geo.steer.example", "A", use_edns=0, options=[dns.edns.ECSOption("10.1.2.0", 24)]
    )
    scopes = []
    for _ in range(3):  # the second and third come from the cache
        reply = dns.message.from_wire(answered(logging_server, query.to_wire()))
        (option,) = [o for o in reply.options if o.otype == 8]
        scopes.append(option.scopelen)
    answered(logging_server, raw_query([b"www", b"example", b"com"], qtype=65280))
    lines = query_lines(logging_server, before + 4)[before:]
    assert scopes[0] > 0
    assert [int(line.split(" scope=")[1].split(" ")[0]) for line in lines[:3]] == scopes
    assert " type=TYPE65280 " in lines[3]
