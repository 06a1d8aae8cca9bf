"""Every record type on the wire, checked by an independent parser (dnspython).

Each value is loaded from a real zone file and answered by the real handler; dnspython
then parses the reply and must find the rdata that `dns.rdata.from_text` makes of the same
presentation text. Names inside RDATA may be compressed only for the RFC 1035 types
(RFC 3597 section 4), and SvcParams must be in increasing key order (RFC 9460 section 2.2).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import random
import struct
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest
import yaml
from dnslib import QTYPE, DNSHeader, DNSLabel, DNSQuestion, DNSRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthcheck.view import AllHealthy
from resolver.errors import LoadFailed
from resolver.query.chaos import Chaos
from resolver.query.engine import Resolver
from resolver.query.handler import Handler
from resolver.query.result import Record
from resolver.wire import names, rdata
from resolver.zones.check import load_zone_set

ORIGIN = dns.name.from_text("example.com.")
OUR_ORIGIN = names.from_text("example.com.")
IN = dns.rdataclass.IN
# Types whose RDATA names may be compressed (RFC 3597 section 4); all others must not be.
COMPRESSIBLE = {"CNAME", "NS", "PTR", "MX", "SOA"}
HEX32 = "0123456789abcdef" * 4
ECH = base64.b64encode(b"\x00\x08" + b"echconfg").decode()
LONG = "".join(chr(ord("a") + i % 26) for i in range(600))
ODD = 'say "hi" \\ back\\\\slash; $ORIGIN @ (paren) tab\there ünïcødé ✓ end '


def txt_presentation(text: str) -> str:
    """Standard presentation of a TXT value that is `text` itself, cut every 255 bytes."""
    return " ".join(
        '"'
        + "".join(f"\\{b:03d}" if b < 0x20 or b > 0x7E or b in b'"\\' else chr(b) for b in c)
        + '"'
        for c in rdata.split_txt(text)
    )


# (owner, type, [(our value, dnspython's presentation when it differs)], extra records)
CASES = [
    ("www", "A", [("192.0.2.1", None), ("192.0.2.2", None)], {}),
    ("www", "AAAA", [("2001:db8::1", None), ("::ffff:192.0.2.1", None)], {}),
    ("alias", "CNAME", [("www.example.com.", None)], {}),
    ("@", "MX", [("10 example.com.", None), ("20 mail", None)], {}),
    ("@", "NS", [("ns1.example.com.", None)], {}),
    ("ptr", "PTR", [("ptr.example.com.", None)], {}),
    (
        "txt",
        "TXT",
        [(v, txt_presentation(v)) for v in ("v=spf1 -all", "", LONG, ODD, "x" * 255)],
        {},
    ),
    ("@", "SPF", [("v=spf1 mx -all", '"v=spf1 mx -all"')], {}),
    ("_sip._tcp", "SRV", [("10 60 5060 _sip._tcp.example.com.", None), ("0 0 1 .", None)], {}),
    (
        "@",
        "CAA",
        [('0 issue "letsencrypt.org"', None), ('128 iodef "mailto:sec@example.com"', None)],
        {},
    ),
    (
        "sip",
        "NAPTR",
        [
            ('100 10 "S" "SIP+D2U" "" sip.example.com.', None),
            ('100 20 "U" "E2U+sip" "!^(.*)$!sip:\\\\1@example.com!" .', None),
            ('90 10 "" "" "" example.com.', None),
        ],
        {},
    ),
    ("ssh", "SSHFP", [(f"4 2 {HEX32}", None)], {}),
    ("_443._tcp.www", "TLSA", [(f"3 1 1 {HEX32}", None)], {}),
    (
        "sub",
        "DS",
        [(f"12345 13 2 {HEX32}", None)],
        {"sub": [{"type": "NS", "values": ["ns.sub.example.com."]}]},
    ),
    (
        "web",
        "HTTPS",
        [
            (f"1 web.example.com. port=8443 ech={ECH} alpn=h3,h2 mandatory=port,alpn", None),
            (
                r'2 . key667="hello world" ipv6hint=2001:db8::1,::2 alpn="f\\\\oo\\,bar,h2"',
                None,
            ),
            ("3 . ipv4hint=192.0.2.7,192.0.2.8 no-default-alpn alpn=h2 key65534", None),
            ('4 . key3="\\001\\187" mandatory=key3', None),
            ('5 . alpn=f\\\\\\092oo\\092,bar,h2 key12345="caf\\195\\169"', None),
        ],
        {},
    ),
    ("aliasmode", "HTTPS", [("0 web.example.com.", None)], {}),
    (
        "_svc",
        "SVCB",
        [
            ("1 _svc.example.com. port=53 alpn=dot key65280 ipv4hint=192.0.2.53", None),
            ('2 svc2 key7="\\000x" ech="' + ECH + '"', None),
        ],
        {},
    ),
]


def write_zone(path: Path, text: str) -> None:
    """Write a zone file dated a minute ago: the loader waits for files written just now."""
    path.write_text(text)
    stamp = time.time() - 60
    os.utime(path, (stamp, stamp))


def make_handler(directory: Path, records: dict) -> Handler:
    """A real handler over one zone file with these records (and the apex NS's address)."""
    zone = {
        "zone": "example.com",
        "ttl": 300,
        "ns": ["ns1.example.com."],
        "records": {"ns1": [{"type": "A", "values": ["192.0.2.53"]}], **records},
    }
    write_zone(directory / "example.com.yaml", yaml.safe_dump(zone, allow_unicode=True))
    return Handler(Resolver(load_zone_set([str(directory)])), AllHealthy(), Chaos("t", "t"))


def skip_name(wire: bytes, at: int) -> int:
    while True:
        size = wire[at]
        if size & 0xC0 == 0xC0:
            return at + 2
        at += 1 + size
        if size == 0:
            return at


def answer_rdata(wire: bytes) -> list[tuple[int, bytes]]:
    """(type, raw RDATA) of each answer record, read straight from the reply bytes."""
    qdcount, ancount = struct.unpack_from("!HH", wire, 4)
    at = 12
    for _ in range(qdcount):
        at = skip_name(wire, at) + 4
    found = []
    for _ in range(ancount):
        at = skip_name(wire, at)
        rtype, _rclass, _ttl, length = struct.unpack_from("!HHIH", wire, at)
        at += 10
        found.append((rtype, wire[at : at + length]))
        at += length
    return found


def expected_rdata(rtype: str, values: list[tuple[str, str | None]]) -> list[dns.rdata.Rdata]:
    return [
        dns.rdata.from_text(
            IN, rtype, theirs if theirs is not None else ours, origin=ORIGIN, relativize=False
        )
        for ours, theirs in values
    ]


def assert_rdata_clean(rtype: str, raw: list[bytes], expected: list[dns.rdata.Rdata]) -> None:
    """Each RDATA parsed alone (no message around it) is one expected value: a compression
    pointer would point outside the buffer or into the wrong bytes."""
    code = dns.rdatatype.from_text(rtype)
    for data in raw:
        try:
            alone = dns.rdata.from_wire(IN, code, data, 0, len(data))
        except dns.exception.DNSException as exc:
            raise AssertionError(f"{rtype} RDATA {data.hex()} does not parse alone: {exc}") from exc
        assert alone in expected, f"{rtype} RDATA {data.hex()} parses alone as {alone}"
        assert alone.to_wire() == data  # uncompressed and canonical: SvcParams in key order


@pytest.mark.parametrize(
    ("owner", "rtype", "values", "extra"),
    [pytest.param(*case, id=f"{case[1]}-{case[0]}") for case in CASES],
)
def test_every_type_answers_its_presentation_value(tmp_path, owner, rtype, values, extra):
    """dnspython reads back, from the handler's real reply, what it parses from the text."""
    records = dict(extra)
    if not (rtype == "NS" and owner == "@"):  # the apex NS comes from the zone's `ns` key
        records.setdefault(owner, []).append({"type": rtype, "values": [v for v, _ in values]})
    handler = make_handler(tmp_path, records)
    qname = "example.com." if owner == "@" else f"{owner}.example.com."
    query = dns.message.make_query(qname, rtype)
    wire = handler.handle(query.to_wire(), "127.0.0.1", True)
    assert wire is not None
    reply = dns.message.from_wire(wire)
    assert reply.rcode() == 0
    answer = reply.find_rrset(reply.answer, dns.name.from_text(qname), IN, rtype)
    expected = expected_rdata(rtype, values)
    assert sorted(answer, key=str) == sorted(expected, key=str)
    raw = [data for code, data in answer_rdata(wire) if code == int(QTYPE.reverse[rtype])]
    assert len(raw) == len(expected)
    if rtype not in COMPRESSIBLE:
        assert_rdata_clean(rtype, raw, expected)


def test_naptr_replacement_is_not_compressed(tmp_path):
    """The replacement repeats the question name, yet goes out in full (RFC 3403 4.1)."""
    handler = make_handler(
        tmp_path, {"sip": [{"type": "NAPTR", "values": ['1 1 "S" "SIP+D2U" "" sip.example.com.']}]}
    )
    query = dns.message.make_query("sip.example.com.", "NAPTR")
    ((_, data),) = answer_rdata(handler.handle(query.to_wire(), "127.0.0.1", False))
    assert data.endswith(b"\x03sip\x07example\x03com\x00")


def test_svcb_params_go_out_in_increasing_key_order(tmp_path):
    """Params written port, alpn, mandatory go out as keys 0, 1, 3 (RFC 9460 2.2)."""
    handler = make_handler(
        tmp_path, {"web": [{"type": "HTTPS", "values": ["1 . port=443 alpn=h2 mandatory=alpn"]}]}
    )
    query = dns.message.make_query("web.example.com.", "HTTPS")
    ((_, data),) = answer_rdata(handler.handle(query.to_wire(), "127.0.0.1", False))
    keys, at = [], 3  # priority and the root target
    while at < len(data):
        key, size = struct.unpack_from("!HH", data, at)
        keys.append(key)
        at += 4 + size
    assert keys == [0, 1, 3]


# --------------------------------------------------------------------------- load errors

BAD_SVC = [
    pytest.param('1 . alpn=h2 key1="\\002h3"', "appears twice", id="same-key-by-number"),
    pytest.param("1 . port=443 port=8443", "port appears twice", id="same-key-twice"),
    pytest.param("1 . mandatory=port", "absent: port", id="mandatory-key-missing"),
    pytest.param("1 . mandatory=key3", "absent: port", id="mandatory-generic-key-missing"),
    pytest.param("1 . mandatory=mandatory", "mandatory itself", id="mandatory-lists-itself"),
    pytest.param('1 . key0="\\000\\000"', "mandatory", id="mandatory-lists-itself-generic"),
    pytest.param("1 . mandatory=alpn,alpn alpn=h2", "twice", id="mandatory-lists-key-twice"),
    pytest.param("0 . alpn=h2", "AliasMode", id="aliasmode-with-params"),
    pytest.param("1 . no-default-alpn", "needs alpn", id="no-default-alpn-without-alpn"),
    pytest.param("1 . key65535", "key65535", id="invalid-key-65535"),
    pytest.param("1 . key3=443", "port is not 2 bytes", id="generic-known-key-bad-wire"),
    pytest.param("1 . ech=AAAA", "ECHConfigList", id="ech-not-a-list"),
    pytest.param("1 . ech=@@@", "base64", id="ech-not-base64"),
    pytest.param('1 . alpn="h2', "unterminated quote", id="unterminated-quote"),
    pytest.param("1 . alpn=h2,,h3", "empty item", id="alpn-empty-item"),
    pytest.param("1 . ipv4hint=192.0.2.1,2001:db8::1", "IPv4", id="ipv4hint-v6-address"),
    pytest.param("1 . ipv6hint=192.0.2.1", "IPv6", id="ipv6hint-v4-address"),
    pytest.param("1 . port=65536", "port", id="port-too-large"),
    pytest.param("1 . no-default-alpn=x alpn=h2", "no value", id="no-default-alpn-value"),
    pytest.param("1 . alpn=", "needs a value", id="alpn-empty"),
]


@pytest.mark.parametrize(("value", "reason"), BAD_SVC)
def test_bad_svcb_value_is_a_load_error(tmp_path, value, reason):
    """A malformed HTTPS value fails the load as FILE:LINE: NAME TYPE: reason."""
    path = tmp_path / "example.com.yaml"
    write_zone(
        path,
        "zone: example.com\n"
        "records:\n"
        "  www: [{type: A, values: [192.0.2.1]}]\n"
        f"  web: [{{type: HTTPS, values: [{json.dumps(value)}]}}]\n",
    )
    assert yaml.safe_load(path.read_text())["records"]["web"][0]["values"] == [value]
    with pytest.raises(LoadFailed) as info:
        load_zone_set([str(tmp_path)])
    errors = info.value.errors
    assert any(
        e.file == str(path)
        and e.line == 4
        and e.what == "web.example.com. HTTPS"
        and reason.lower() in e.reason.lower()
        for e in errors
    ), "\n".join(str(e) for e in errors)


def test_params_in_another_order_are_the_same_value(tmp_path):
    """Two texts of one SVCB value are a duplicate value, as two equal A addresses are."""
    path = tmp_path / "example.com.yaml"
    write_zone(
        path,
        "zone: example.com\n"
        "records:\n"
        '  web: [{type: HTTPS, values: ["1 . alpn=h2 port=1", "1 . port=1 alpn=h2"]}]\n',
    )
    with pytest.raises(LoadFailed) as info:
        load_zone_set([str(tmp_path)])
    assert any("duplicate value" in e.reason for e in info.value.errors)


# --------------------------------------------------------------------------- properties

_ALPN_ID = st.binary(min_size=1, max_size=12)
_PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "alpn": st.lists(_ALPN_ID, min_size=1, max_size=3),
        "port": st.integers(0, 65535),
        "ipv4hint": st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=3),
        "ipv6hint": st.lists(st.integers(0, 2**128 - 1), min_size=1, max_size=2),
        "ech": st.binary(min_size=4, max_size=20),
        # Keys 7 (dohpath, RFC 9461) and 8 (ohttp, RFC 9540) have their own value rules in
        # dnspython, so arbitrary bytes under them are not generic values; start above them.
        "generic": st.dictionaries(st.integers(9, 65534), st.binary(max_size=10), max_size=3),
        "mandatory": st.booleans(),
    },
)


def _escape(data: bytes, specials: bytes) -> str:
    return "".join(f"\\{b:03d}" if b < 0x21 or b > 0x7E or b in specials else chr(b) for b in data)


def svc_text(params: dict, order: random.Random) -> str:
    """A presentation text of these params, written in a shuffled order."""
    parts = []
    if "alpn" in params:
        items = [i.replace(b"\\", b"\\\\").replace(b",", b"\\,") for i in params["alpn"]]
        parts.append('alpn="' + _escape(b",".join(items), b'"\\') + '"')
    if "port" in params:
        parts.append(f"port={params['port']}")
    if "ipv4hint" in params:
        parts.append(
            "ipv4hint=" + ",".join(str(ipaddress.IPv4Address(a)) for a in params["ipv4hint"])
        )
    if "ipv6hint" in params:
        parts.append(
            "ipv6hint=" + ",".join(str(ipaddress.IPv6Address(a)) for a in params["ipv6hint"])
        )
    if "ech" in params:
        ech = len(params["ech"]).to_bytes(2, "big") + params["ech"]
        parts.append("ech=" + base64.b64encode(ech).decode())
    for key, value in params.get("generic", {}).items():
        parts.append(f"key{key}" + ('="' + _escape(value, b'"\\') + '"' if value else ""))
    if params.get("mandatory") and len(parts) > 0:
        parts.append("mandatory=" + ",".join(p.split("=")[0] for p in parts))
    order.shuffle(parts)
    return " ".join(["1", "svc.example.com.", *parts])


def pack_in_message(rd, rtype: str) -> bytes:
    """One answer of rd, owned by the name its target repeats, packed by our Record."""
    owner = DNSLabel("svc.example.com.")
    code = int(QTYPE.reverse[rtype])
    record = DNSRecord(DNSHeader(qr=1), q=DNSQuestion(owner, code))
    record.add_answer(Record(owner, code, 60, rd))  # type: ignore[arg-type]
    return bytes(record.pack())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=_PARAMS, seed=st.integers(0, 1000))
def test_svcb_any_param_order_packs_like_dnspython(params, seed):
    """Any set of SvcParams in any written order packs to dnspython's canonical RDATA."""
    text = svc_text(params, random.Random(seed))
    ours = rdata.parse("SVCB", text, OUR_ORIGIN)
    expected = dns.rdata.from_text(IN, "SVCB", text, origin=ORIGIN, relativize=False)
    ((_, data),) = answer_rdata(pack_in_message(ours, "SVCB"))
    assert data == expected.to_wire()
    again = rdata.parse("SVCB", repr(ours), OUR_ORIGIN)  # our printed form reads back
    ((_, same),) = answer_rdata(pack_in_message(again, "SVCB"))
    assert same == data


@settings(max_examples=150, deadline=None)
@given(text=st.text(min_size=0, max_size=700))
def test_txt_of_any_text_is_that_text(text):
    """A TXT value is its text, cut into 255-byte strings, whatever characters it holds."""
    ours = rdata.parse("TXT", text, OUR_ORIGIN)
    ((_, data),) = answer_rdata(pack_in_message(ours, "TXT"))
    parsed = dns.rdata.from_wire(IN, dns.rdatatype.TXT, data, 0, len(data))
    assert b"".join(parsed.strings) == text.encode()
    assert parsed == dns.rdata.from_text(IN, "TXT", txt_presentation(text))


def test_value_longer_than_rdlength_allows_is_rejected():
    """A value over 65535 bytes on the wire cannot be sent: a load error, not a SERVFAIL."""
    with pytest.raises(rdata.RdataError, match="above 65535"):
        rdata.parse("TXT", "x" * 66000, OUR_ORIGIN)
    assert len(rdata.parse("TXT", "x" * 65000, OUR_ORIGIN).data) == -(-65000 // 255)
