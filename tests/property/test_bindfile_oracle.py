"""dnspython is the oracle for the master-file reader: for hand-written files with every
feature and for generated ones, the record sets our entries make (owner, type, TTL, rdata
as dnspython parses our tokens) are the ones dns.zone reads from the same text.

dnspython keeps one TTL per record set (the smallest), so both sides are compared that way,
and it leaves out names outside the zone, which our reader keeps (the converter reports
them): those are compared apart.
"""

from __future__ import annotations

from pathlib import Path

import dns.name
import dns.rdata
import dns.rdatatype
import dns.zone
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.bindfile.master import Entry, parse, parse_text

ORIGIN = "example.com."
ORIGIN_NAME = (b"example", b"com")

Sets = dict[tuple[dns.name.Name, str], tuple[int, frozenset[dns.rdata.Rdata]]]


def ours(entries: list[Entry]) -> Sets:
    """Our entries in the zone as record sets, rdata parsed by dnspython from our tokens."""
    out: dict[tuple[dns.name.Name, str], tuple[int, set[dns.rdata.Rdata]]] = {}
    for entry in entries:
        if entry.owner[-2:] != ORIGIN_NAME:
            continue
        assert entry.rclass == "IN"
        origin = dns.name.Name([*entry.origin, b""])
        rdata = dns.rdata.from_text(
            "IN", entry.rtype, " ".join(entry.rdata), origin=origin, relativize=False
        )
        key = (dns.name.Name([*entry.owner, b""]), entry.rtype)
        ttl, values = out.get(key, (entry.ttl, set()))
        values.add(rdata)
        out[key] = (min(ttl, entry.ttl), values)
    return {key: (ttl, frozenset(values)) for key, (ttl, values) in out.items()}


def theirs(zone: dns.zone.Zone) -> Sets:
    out: Sets = {}
    for name, node in zone.nodes.items():
        for rdataset in node.rdatasets:
            key = (name, dns.rdatatype.to_text(rdataset.rdtype))
            out[key] = (rdataset.ttl, frozenset(rdataset))
    return out


def agree(text: str) -> list[Entry]:
    entries, problems = parse_text(text, "gen.db", ORIGIN_NAME)
    assert problems == [], [str(p) for p in problems]
    zone = dns.zone.from_text(text, ORIGIN, relativize=False, check_origin=False)
    assert ours(entries) == theirs(zone)
    return entries


HAND_WRITTEN = r"""
$TTL 1h
@   IN  SOA ns1 hostmaster.example.com. (
        2024010101 ; serial
        2h         ; refresh
        30M 2W
        300 )      ; minimum
    IN  NS  ns1
    in  ns  ns2.example.net.
ns1 300 IN A 192.0.2.1
ns2 IN 1d1h A 192.0.2.2
WWW         A 192.0.2.3
            AAAA 2001:db8::3
mail    MX  10 mx ; relative target
        mx  20 @
        MX  ( 30
              mx.example.net. )
txt TXT "quoted \"inner\" ; not a comment" "back\\slash" "\065\066C" plain ( "paren" )
    TXT "(" ")" "semi;colon"
alias 600 CNAME www
$ORIGIN sub
host 1w A 192.0.2.4
@ TXT "at sub"
esc\065pe.abs.example.com. 5 A 192.0.2.5
$ORIGIN example.org.
other 1H30m in A 192.0.2.6
$ORIGIN example.com.
*.wild 60 TXT wildcard
$GENERATE 1-9/4 gen$ 120 IN A 198.51.100.$
$GENERATE 0-2 g${10,3,d}.x A 198.51.100.${0,1,x}
$GENERATE 0-1 h${0,2,X} TXT a\$$
$GENERATE 8-9 o${0,2,o} CNAME g${8,3}.x
"""


def test_hand_written_file_agrees():
    entries = agree(HAND_WRITTEN)
    assert len(entries) > 25
    outside = {b".".join(e.owner) for e in entries if e.owner[-2:] != ORIGIN_NAME}
    assert outside == {b"other.example.org"}


def test_hand_written_include_agrees(tmp_path: Path):
    """$INCLUDE with and without an origin; the origin is restored after each."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "hosts.db").write_text(
        "$ORIGIN deep\nh1 10 A 192.0.2.10\n  TXT inner\n@ 20 MX 5 h1\n"
    )
    (tmp_path / "other.db").write_text("@ 30 A 192.0.2.11\nx 30 TXT x\n")
    # dnspython opens an $INCLUDE file relative to its working directory, so the paths
    # are absolute here; ours are relative to the including file either way.
    main, hosts, other = tmp_path / "main.db", tmp_path / "sub" / "hosts.db", tmp_path / "other.db"
    main.write_text(
        f"$TTL 300\n$INCLUDE {hosts}\nafter A 192.0.2.12\n"
        f"$INCLUDE {other} other.example.com.\n@ TXT apex\n$INCLUDE {hosts} inc\n"
    )
    entries, problems = parse(str(main), ORIGIN_NAME)
    assert problems == []
    zone = dns.zone.from_file(str(main), ORIGIN, relativize=False, check_origin=False)
    assert ours(entries) == theirs(zone)
    assert {e.file for e in entries} == {str(main), str(hosts), str(other)}


def test_relative_include_paths_agree_from_its_directory(tmp_path: Path, monkeypatch):
    """Ours is relative to the including file: the same as dnspython's from that directory."""
    (tmp_path / "part.db").write_text("p 1 A 192.0.2.1\n")
    (tmp_path / "main.db").write_text("$INCLUDE part.db\nq 2 A 192.0.2.2\n")
    monkeypatch.chdir(tmp_path)
    entries, problems = parse(str(tmp_path / "main.db"), ORIGIN_NAME)
    assert problems == []
    zone = dns.zone.from_file("main.db", ORIGIN, relativize=False, check_origin=False)
    assert ours(entries) == theirs(zone)


# Generated files.

LABELS = ["www", "mail", "a.b", "x-1", "UPPER", r"\065bc", "*.w", "deep.er.name"]
ABSOLUTE = ["abs.example.net.", "example.com.", r"odd\.dot.example.com."]
ORIGINS = ["s1", "s2.x", "example.com.", "other.test."]
ALIASES = ["alias0", "alias1", "alias2"]


@st.composite
def ttl_text(draw: st.DrawFn) -> str:
    seconds = draw(st.integers(0, 10**6))
    form = draw(st.sampled_from(["plain", "units", "upper"]))
    if form == "plain":
        return str(seconds)
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    text = "".join(parts) or "0s"
    return text.upper() if form == "upper" else text


ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda p: ".".join(map(str, p)))
ipv6 = st.sampled_from(["2001:db8::1", "::1", "2001:DB8:0:0:1::2", "fe80::a:b:c:d", "::"])
txt_piece = st.one_of(
    st.text("abcXYZ019 ;()$@", min_size=1, max_size=5),
    st.sampled_from([r"\"", r"\\", r"\;"]),
    st.integers(0, 255).map(lambda n: f"\\{n:03d}"),
)
txt_string = st.lists(txt_piece, max_size=5).map(lambda p: '"' + "".join(p) + '"')
txt_word = st.text("abcdefgh0123", min_size=1, max_size=6)
mx_target = st.sampled_from(["mail", "@", "mx.other.test.", "m.x", "MX.Upper."])


@st.composite
def rdata(draw: st.DrawFn, rtype: str) -> list[str]:
    if rtype == "A":
        return [draw(ipv4)]
    if rtype == "AAAA":
        return [draw(ipv6)]
    if rtype == "MX":
        return [str(draw(st.integers(0, 65535))), draw(mx_target)]
    return draw(st.lists(st.one_of(txt_string, txt_word), min_size=1, max_size=4))


@st.composite
def zone_text(draw: st.DrawFn) -> str:
    lines: list[str] = []
    have_ttl = False  # a $TTL or an explicit TTL came before: omitting one is fine
    previous: str | None = None  # the kind of the previous record: None, "cname", "other"
    # dnspython skips a record outside the zone before it reads its TTL, so such records
    # (our reader keeps them) get no TTL of their own here: the TTLs carried on agree.
    origin_inside = True  # the $ORIGIN in force is in example.com
    previous_inside = True
    for _ in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(["record"] * 6 + ["origin", "ttl", "cname", "noise"]))
        if kind == "origin":
            origin = draw(st.sampled_from(ORIGINS))
            lines.append(f"$ORIGIN {origin}")
            if origin.endswith("."):
                origin_inside = origin == ORIGIN
            continue
        if kind == "ttl":
            lines.append(f"{draw(st.sampled_from(['$TTL', '$ttl']))} {draw(ttl_text())}")
            have_ttl = True
            continue
        if kind == "noise":
            lines.append(draw(st.sampled_from(["", '; a comment ( " ', "   ", "\t; indented"])))
            continue
        if kind == "cname" and origin_inside:
            # CNAME owners hold nothing else and one target (dnspython keeps the last).
            index = draw(st.integers(0, len(ALIASES) - 1))
            lines.append(
                f"{ALIASES[index]} 77 {draw(st.sampled_from(['CNAME', 'cname']))} t{index}"
            )
            have_ttl, previous = True, "cname"
            continue
        forms = ["@", "label", "absolute"] + (["blank"] if previous == "other" else [])
        form = draw(st.sampled_from(forms))
        owner = {
            "@": "@",
            "label": draw(st.sampled_from(LABELS)),
            "absolute": draw(st.sampled_from(ABSOLUTE)),
            "blank": draw(st.sampled_from([" ", "\t", "    "])),
        }[form]
        inside = {
            "@": origin_inside,
            "label": origin_inside,
            "absolute": owner.endswith(ORIGIN),
            "blank": previous_inside,
        }[form]
        if not inside and not have_ttl:
            continue
        ttl = draw(ttl_text()) if inside and (not have_ttl or draw(st.booleans())) else None
        rclass = draw(st.sampled_from([None, "IN", "in"]))
        head = [word for word in (ttl, rclass) if word is not None]
        if draw(st.booleans()):
            head.reverse()
        rtype = draw(st.sampled_from(["A", "AAAA", "MX", "TXT"]))
        written_type = rtype.lower() if draw(st.booleans()) else rtype
        words = draw(rdata(rtype))
        comment = draw(st.sampled_from(["", " ; trailing", ' ; "quote (paren']))
        if draw(st.booleans()) and len(words) >= 1:
            # parentheses spanning lines, a comment on each
            cut = draw(st.integers(0, len(words)))
            body = " ".join(words[:cut]) + " ; first part\n\t" + " ".join(words[cut:])
            tail = f"( {body}\n )"
        else:
            tail = " ".join(words)
        sep = "" if form == "blank" else " "
        lines.append(f"{owner}{sep}{' '.join([*head, written_type])} {tail}{comment}")
        have_ttl = have_ttl or ttl is not None
        previous, previous_inside = "other", inside
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None)
@given(text=zone_text())
def test_generated_files_agree(text: str):
    agree(text)


HOSTILE = [
    *' \t\n;()"\\$@.{},-/aA1hIN',
    "$TTL",
    "$ORIGIN",
    "$INCLUDE",
    "$GENERATE",
    "\u00e9",
    "\\0",
]


@settings(max_examples=150, deadline=None)
@given(text=st.lists(st.sampled_from(HOSTILE), max_size=80).map("".join))
def test_any_text_is_entries_and_problems_never_an_exception(text: str):
    """Hostile input: nothing raises, and every problem says where it is."""
    entries, problems = parse_text(text, "any.db", ORIGIN_NAME, reader=_no_files)
    assert all(str(problem).startswith("any.db:") for problem in problems)
    assert all(entry.line >= 1 for entry in entries)


def _no_files(path: str) -> str:
    raise FileNotFoundError(2, "No such file or directory", path)
