"""Property 4 of issue 10: every encoded RR re-parses to itself with an independent parser.

Hypothesis generates values of every supported type in presentation format; they are
written into a zone file, loaded by the server's own loader, asked for through
Handler.handle over TCP, and the reply is parsed by dnspython. The records must equal
dns.rdata.from_text of the same values, and for types outside RFC 1035 the RDATA bytes
must be exactly dnspython's uncompressed encoding (SPEC 7: names inside RDATA are
compressed only for the RFC 1035 types; SVCB/HTTPS parameters in increasing key order).
"""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.errors import LoadFailed
from resolver.zones.check import known_regions, load_zone_set
from tests.dnshelp import settled
from tests.property import strategies as gen
from tests.property.world import SCALE, error_log, make_handler

ORIGIN = "gen.test"
TYPES = [
    "A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "CAA",
    "PTR", "NAPTR", "SSHFP", "TLSA", "DS", "HTTPS", "SVCB", "SPF",
]  # fmt: skip
# RFC 1035 types, whose RDATA names may be compressed (RFC 3597 section 4).
COMPRESSIBLE = {"CNAME", "MX", "NS", "PTR"}


def rdata_spans(wire: bytes, section: int) -> list[tuple[int, bytes]]:
    """(type, raw RDATA) of every record in a reply section (0 answer, 1 authority)."""
    qd, an, ns, _ = struct.unpack_from("!4H", wire, 4)
    pos = 12

    def skip_name(pos: int) -> int:
        while True:
            length = wire[pos]
            if length >= 0xC0:
                return pos + 2
            if length == 0:
                return pos + 1
            pos += 1 + length

    for _ in range(qd):
        pos = skip_name(pos) + 4
    spans = []
    for index in range(an + ns):
        pos = skip_name(pos)
        rtype, _, _, length = struct.unpack_from("!HHIH", wire, pos)
        pos += 10
        if (index >= an) == bool(section):
            spans.append((rtype, wire[pos : pos + length]))
        pos += length
    return spans


@st.composite
def record_sets(draw: st.DrawFn, rtype: str) -> list[tuple[str, str]]:
    """One to four distinct values of a type: (as in the zone, dnspython presentation)."""
    values = draw(
        st.lists(
            gen.record_values(rtype, ORIGIN),
            min_size=1,
            max_size=1 if rtype == "CNAME" else 4,
            unique_by=lambda v: dns.rdata.from_text("IN", rtype, v[1]).to_digestable(),
        )
    )
    return values


def zone_text(rtype: str, values: list[tuple[str, str]], ttl: int) -> str:
    doc = {
        "zone": ORIGIN,
        "ttl": 300,
        "records": {"own": [{"type": rtype, "ttl": ttl, "values": [z for z, _ in values]}]},
    }
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=10_000)


@pytest.mark.parametrize("rtype", TYPES)
@settings(max_examples=int(40 * SCALE) or 1)
@given(data=st.data(), ttl=st.integers(0, 2147483647))
def test_every_encoded_record_reparses_to_its_value(rtype, data, ttl):
    """Generated values of one type come back from the wire as exactly those values."""
    values = data.draw(record_sets(rtype), label="values")
    text = zone_text(rtype, values, ttl)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "gen.test.yaml"
        path.write_text(text, encoding="utf-8")
        settled(path)
        try:
            zone_set = load_zone_set([str(path)], regions=known_regions())
        except LoadFailed as exc:
            raise AssertionError(f"valid values rejected: {exc.errors}\n{text}") from None
    owner = dns.name.from_text(f"own.{ORIGIN}.")
    query = dns.message.make_query(owner, rtype, use_edns=0, payload=1232)
    with error_log() as errors:
        reply = make_handler(zone_set).handle(query.to_wire(), "127.0.0.1", True)
    assert not errors.messages, errors.messages[0]
    assert reply is not None
    message = dns.message.from_wire(reply, ignore_trailing=False)
    code = dns.rdatatype.from_text(rtype)
    section = message.authority if rtype == "NS" else message.answer
    found = [rrset for rrset in section if rrset.rdtype == code and rrset.name == owner]
    assert len(found) == 1, f"no {rtype} at {owner} in\n{message}"
    expected = {dns.rdata.from_text("IN", rtype, p, relativize=False) for _, p in values}
    assert set(found[0]) == expected, f"zone file:\n{text}\nreply:\n{message}"
    assert found[0].ttl == ttl
    if rtype not in COMPRESSIBLE:
        raw = sorted(span for t, span in rdata_spans(reply, rtype == "NS") if t == code)
        assert raw == sorted(r.to_wire() for r in expected), f"RDATA bytes differ:\n{text}"
