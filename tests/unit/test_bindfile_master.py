"""The RFC 1035 master-file reader: one example per feature, and every kind of problem
reported as FILE:LINE with reading going on after it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from resolver.bindfile import lexer, master
from resolver.bindfile.master import (
    MAX_GENERATE,
    MAX_RDATA,
    Entry,
    Problem,
    parse,
    parse_text,
    substitute,
    ttl_value,
)
from resolver.wire.names import from_text

ORIGIN = (b"example", b"com")


def read(text: str, origin: tuple[bytes, ...] = ORIGIN) -> list[Entry]:
    """Entries of TEXT, which must have no problem."""
    entries, problems = parse_text(text, "z.db", origin)
    assert problems == []
    return entries


def one(text: str, origin: tuple[bytes, ...] = ORIGIN) -> Entry:
    entries = read(text, origin)
    assert len(entries) == 1, entries
    return entries[0]


def problems_of(text: str, origin: tuple[bytes, ...] = ORIGIN) -> list[Problem]:
    return parse_text(text, "z.db", origin)[1]


def owners(entries: list[Entry]) -> list[str]:
    return [b".".join(entry.owner).decode() for entry in entries]


def files(mapping: dict[str, str]):
    """A reader over a dict of paths, as parse and $INCLUDE call it."""

    def reader(path: str) -> str:
        path = os.path.normpath(path)
        if path not in mapping:
            raise FileNotFoundError(2, "No such file or directory", path)
        return mapping[path]

    return reader


class TestDirectives:
    def test_origin_is_relative_to_the_current_origin(self):
        entries = read("$ORIGIN sub\nwww 1 A 192.0.2.1\n$ORIGIN other.net.\nx 1 A 192.0.2.2\n")
        assert owners(entries) == ["www.sub.example.com", "x.other.net"]
        assert entries[0].origin == (b"sub", b"example", b"com")
        assert entries[1].origin == (b"other", b"net")

    def test_ttl_directive_is_the_default(self):
        entries = read("$TTL 120\na A 192.0.2.1\n$TTL 1h\nb A 192.0.2.1\n")
        assert [(e.ttl, e.ttl_explicit) for e in entries] == [(120, False), (3600, False)]

    def test_directive_keywords_any_case(self):
        entries = read("$origin sub\n$ttl 5\nwww a 192.0.2.1\n")
        assert owners(entries) == ["www.sub.example.com"]
        assert entries[0].ttl == 5 and entries[0].rtype == "A"

    def test_unknown_directive_is_a_problem_and_reading_goes_on(self):
        entries, problems = parse_text("$BOGUS x\nwww 1 A 192.0.2.1\n", "z.db", ORIGIN)
        assert owners(entries) == ["www.example.com"]
        assert [str(p) for p in problems] == ["z.db:1: $BOGUS: unknown directive"]

    def test_bad_ttl_directive(self):
        (problem,) = problems_of("$TTL 5x\n")
        assert str(problem).startswith("z.db:1: $TTL: bad TTL")
        assert "z.db:2: $TTL: $TTL takes one TTL" in [str(p) for p in problems_of("\n$TTL\n")]


class TestIncludes:
    def test_path_relative_to_including_file_and_origin_restored(self):
        reader = files(
            {
                "/z/main.db": "$ORIGIN example.com.\n$INCLUDE sub/part.db\nafter 1 A 192.0.2.9\n"
                "  1 TXT back\n",
                "/z/sub/part.db": "$ORIGIN inner\nin 1 A 192.0.2.1\n",
            }
        )
        entries, problems = parse("/z/main.db", (), reader)
        assert problems == []
        assert owners(entries) == ["in.inner.example.com", "after.example.com", "after.example.com"]
        assert entries[0].file == "/z/sub/part.db" and entries[0].line == 2
        assert entries[1].origin == ORIGIN and entries[1].file == "/z/main.db"

    def test_origin_argument(self):
        reader = files(
            {"/z/main.db": "$INCLUDE part.db other.net.\n", "/z/part.db": "@ 1 A 1.2.3.4\n"}
        )
        entries, problems = parse("/z/main.db", ORIGIN, reader)
        assert problems == []
        assert owners(entries) == ["other.net"] and entries[0].origin == (b"other", b"net")

    def test_blank_owner_after_include_is_the_includers(self):
        reader = files(
            {
                "/z/m.db": "www 1 A 192.0.2.1\n$INCLUDE p.db\n 1 A 192.0.2.2\n",
                "/z/p.db": "x 1 A 1.1.1.1\n",
            }
        )
        entries, _ = parse("/z/m.db", ORIGIN, reader)
        assert owners(entries) == ["www.example.com", "x.example.com", "www.example.com"]

    def test_real_files(self, tmp_path: Path):
        (tmp_path / "inc").mkdir()
        (tmp_path / "inc" / "a.db").write_text("a 1 A 192.0.2.1\n")
        (tmp_path / "main.db").write_text('$INCLUDE "inc/a.db"\n')
        entries, problems = parse(str(tmp_path / "main.db"), ORIGIN)
        assert problems == [] and owners(entries) == ["a.example.com"]

    def test_missing_include_is_a_problem(self):
        reader = files({"/z/m.db": "$INCLUDE nope.db\nwww 1 A 192.0.2.1\n"})
        entries, problems = parse("/z/m.db", ORIGIN, reader)
        assert owners(entries) == ["www.example.com"]
        assert len(problems) == 1
        assert str(problems[0]).startswith("/z/m.db:1: $INCLUDE: cannot read /z/nope.db")

    def test_cycle_is_a_problem(self, tmp_path: Path):
        (tmp_path / "a.db").write_text("a 1 A 192.0.2.1\n$INCLUDE b.db\n")
        (tmp_path / "b.db").write_text("b 1 A 192.0.2.2\n$INCLUDE ./a.db\n")
        entries, problems = parse(str(tmp_path / "a.db"), ORIGIN)
        assert owners(entries) == ["a.example.com", "b.example.com"]
        assert len(problems) == 1 and "include cycle" in problems[0].reason
        assert str(problems[0]).startswith(f"{tmp_path / 'b.db'}:2: $INCLUDE:")

    def test_at_most_eight_deep(self):
        mapping = {f"/z/{n}.db": f"n{n} 1 A 192.0.2.1\n$INCLUDE {n + 1}.db\n" for n in range(12)}
        entries, problems = parse("/z/0.db", ORIGIN, files(mapping))
        assert len(entries) == 9  # the first file and eight nested under it
        assert [str(p) for p in problems] == ["/z/8.db:2: $INCLUDE: nested more than 8 files deep"]

    def test_unreadable_top_file(self, tmp_path: Path):
        entries, problems = parse(str(tmp_path / "none.db"))
        assert entries == [] and len(problems) == 1
        assert str(problems[0]).startswith(f"{tmp_path / 'none.db'}:0: ")

    def test_undecodable_include(self, tmp_path: Path):
        (tmp_path / "bin.db").write_bytes(b"\xff\xfe\x00")
        (tmp_path / "m.db").write_text("$INCLUDE bin.db\n")
        _, problems = parse(str(tmp_path / "m.db"), ORIGIN)
        assert len(problems) == 1 and str(problems[0]).startswith(f"{tmp_path / 'm.db'}:1:")


class TestSyntax:
    def test_parentheses_span_lines_with_comments(self):
        entry = one("@ 1 IN SOA ns1 host ( 1 ; serial\n  2 ; refresh\n 3 4\n  5 )\n")
        assert entry.rtype == "SOA" and entry.rdata == ("ns1", "host", "1", "2", "3", "4", "5")
        assert entry.line == 1

    def test_comment_not_inside_quotes(self):
        entry = one('t 1 TXT "a;b" c ; gone\n')
        assert entry.rdata == ('"a;b"', "c")

    def test_quoted_escapes_are_kept_verbatim(self):
        entry = one(r't 1 TXT "say \"hi\"" "back\\slash" "\065\066" "(" plain\;semi' + "\n")
        assert entry.rdata == (
            r'"say \"hi\""',
            r'"back\\slash"',
            r'"\065\066"',
            '"("',
            r"plain\;semi",
        )

    def test_owner_forms(self):
        entries = read(
            "@ 1 A 192.0.2.1\nwww 1 A 192.0.2.2\nabs.example.net. 1 A 192.0.2.3\n"
            "WwW.Mixed 1 A 192.0.2.4\n"
        )
        assert owners(entries) == [
            "example.com",
            "www.example.com",
            "abs.example.net",
            "www.mixed.example.com",
        ]

    def test_blank_owner_is_the_previous_owner_and_its_own_line(self):
        entries = read("www 1 A 192.0.2.1\n\n; c\n\t 1 A 192.0.2.2\n")
        assert owners(entries) == ["www.example.com", "www.example.com"]
        assert [e.line for e in entries] == [1, 4]

    def test_blank_owner_first_is_a_problem(self):
        (problem,) = problems_of("  1 A 192.0.2.1\n")
        assert str(problem) == "z.db:1: A: a blank owner and no previous owner"

    def test_owner_escapes(self):
        entry = one(r"a\.b\065 1 A 192.0.2.1" + "\n")
        assert entry.owner == (b"a.ba", b"example", b"com")

    def test_bad_owner_is_a_problem(self):
        (problem,) = problems_of("a..b 1 A 192.0.2.1\nok 1 A 192.0.2.1\n")
        assert str(problem).startswith("z.db:1: a..b A: bad name 'a..b'")
        (problem,) = problems_of(("x" * 64) + " 1 A 192.0.2.1\n")
        assert str(problem).startswith("z.db:1: ") and "longer than 63" in problem.reason
        (problem,) = problems_of(r"bad\300 1 A 192.0.2.1" + "\n")
        assert "bad escape" in problem.reason

    def test_non_ascii_owner_that_idna_refuses(self):
        (problem,) = problems_of("\u00ad\u200b. 1 A 192.0.2.1\n")
        assert str(problem).startswith("z.db:1: ") and "bad name" in problem.reason

    def test_relative_name_and_no_origin(self):
        entries, problems = parse_text(
            "www 1 A 192.0.2.1\nabs.test. 1 A 192.0.2.2\n@ 1 A 1.2.3.4\n"
        )
        assert owners(entries) == ["abs.test"]
        assert [str(p) for p in problems] == [
            "<text>:1: www A: relative name and no $ORIGIN",
            "<text>:3: @ A: relative name and no $ORIGIN",
        ]

    def test_origin_directive_sets_an_origin(self):
        entries, problems = parse_text("$ORIGIN example.org.\nwww 1 A 192.0.2.1\n")
        assert problems == [] and owners(entries) == ["www.example.org"]

    def test_origin_root(self):
        entries, problems = parse_text("$ORIGIN .\nwww 1 A 192.0.2.1\n")
        assert problems == [] and owners(entries) == ["www"] and entries[0].origin == ()

    def test_crlf_lines(self):
        entries = read("a 1 A 192.0.2.1\r\nb 1 TXT x\r\n")
        assert owners(entries) == ["a.example.com", "b.example.com"]
        assert entries[1].rdata == ("x",)


class TestTtlAndClass:
    @pytest.mark.parametrize(
        "text,seconds",
        [
            ("0", 0),
            ("300", 300),
            ("1h30m", 5400),
            ("2d", 172800),
            ("1W", 604800),
            ("1w2D3h4M5s", 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5),
            ("2147483647", 2147483647),
            ("00000000000000000300", 300),
        ],
    )
    def test_ttl_forms(self, text: str, seconds: int):
        assert ttl_value(text) == seconds
        assert one(f"www {text} A 192.0.2.1\n").ttl == seconds

    @pytest.mark.parametrize("text", ["2147483648", "1h30", "5x", "99999999999999w", "1" * 5000])
    def test_bad_ttls(self, text: str):
        with pytest.raises(ValueError):
            ttl_value(text)
        (problem,) = problems_of(f"www {text} A 192.0.2.1\n")
        assert str(problem).startswith("z.db:1: www A: ")

    def test_a_unit_alone_is_not_a_ttl(self):
        """'h' is no TTL: a word that is not a TTL or class is the type."""
        with pytest.raises(ValueError):
            ttl_value("h")
        assert one("www 1 h x\n").rtype == "H"

    def test_either_order(self):
        entries = read("www 300 IN A 192.0.2.1\nwww IN 300 A 192.0.2.2\n")
        assert [(e.ttl, e.rclass) for e in entries] == [(300, "IN"), (300, "IN")]

    def test_ttl_rule(self):
        entries = read(
            "a 100 A 192.0.2.1\n"  # its own
            "b A 192.0.2.1\n"  # the last explicit TTL
            "$TTL 200\n"
            "c A 192.0.2.1\n"  # $TTL wins over the last explicit
            "d 300 A 192.0.2.1\n"
            "e A 192.0.2.1\n"  # still $TTL
        )
        assert [(e.ttl, e.ttl_explicit) for e in entries] == [
            (100, True),
            (100, False),
            (200, False),
            (300, True),
            (200, False),
        ]

    def test_soa_minimum_when_nothing_else(self):
        entry = one("@ IN SOA ns1 host 1 2 3 4 1h\n")
        assert entry.ttl == 3600 and not entry.ttl_explicit

    def test_no_ttl_is_a_problem(self):
        entries, problems = parse_text("www A 192.0.2.1\nok 5 A 192.0.2.1\n", "z.db", ORIGIN)
        assert owners(entries) == ["ok.example.com"]
        assert [str(p) for p in problems] == ["z.db:1: www A: no TTL and no $TTL"]

    def test_classes(self):
        entries = read(
            "a 1 CH TXT x\nb 1 TXT y\nc 1 hs TXT z\nd 1 CS A 1.2.3.4\ne 1 class3 TXT w\n"
            "f 1 in A 1.2.3.4\n"
        )
        assert [e.rclass for e in entries] == ["CH", "CH", "HS", "CS", "CLASS3", "IN"]

    def test_class_in_at_first(self):
        assert one("www 1 A 192.0.2.1\n").rclass == "IN"

    def test_type_upper_cased_typennn_and_rest_is_rdata(self):
        entry = one(r"www 1 type65 \# 3 010203" + "\n")
        assert entry.rtype == "TYPE65" and entry.rdata == (r"\#", "3", "010203")
        assert one("www 1 aaaa 2001:db8::1\n").rtype == "AAAA"

    def test_a_second_ttl_or_class_is_a_problem(self):
        (problem,) = problems_of("www 1 2 A 192.0.2.1\n")
        assert str(problem) == "z.db:1: www A: a second TTL: 2"
        (problem,) = problems_of("www IN 1 CH A 192.0.2.1\n")
        assert str(problem) == "z.db:1: www A: a second class: CH"

    def test_quoted_type_is_a_problem(self):
        (problem,) = problems_of('www 1 "A" 192.0.2.1\n')
        assert problem.reason == 'a quoted string as the type: "A"'


class TestGenerate:
    def test_range_step_and_dollar(self):
        entries = read("$GENERATE 1-5/2 host$ 60 IN A 192.0.2.$\n")
        assert owners(entries) == [f"host{n}.example.com" for n in (1, 3, 5)]
        assert [e.rdata for e in entries] == [(f"192.0.2.{n}",) for n in (1, 3, 5)]
        assert all(e.ttl == 60 and e.ttl_explicit and e.line == 1 for e in entries)

    def test_modifiers(self):
        assert substitute("${0,3,d}", 7) == "007"
        assert substitute("${8,0,o}", 1) == "11"
        assert substitute("${-1,4,x}", 255) == "00fe"
        assert substitute("${0,2,X}", 171) == "AB"
        assert substitute("${5}", 1) == "6"
        assert substitute(r"a\$b$$c$", 3) == r"a\$b$c3"
        with pytest.raises(ValueError):
            substitute("${1,2,q}", 1)

    def test_literal_dollar_and_quoted_rhs(self):
        entries = read('$TTL 5\n$GENERATE 0-1 h${0,2,x} TXT "a\\$ $"\n')
        assert owners(entries) == ["h00.example.com", "h01.example.com"]
        assert [e.rdata for e in entries] == [(r"a\$", "0"), (r"a\$", "1")]

    def test_class_then_ttl_and_origin(self):
        entries = read("$ORIGIN sub\n$GENERATE 3-3 x$ IN 9 CNAME y$\n")
        assert owners(entries) == ["x3.sub.example.com"]
        assert entries[0].rdata == ("y3",) and entries[0].origin == (b"sub", *ORIGIN)
        assert entries[0].ttl == 9

    def test_limit(self):
        assert len(read(f"$GENERATE 1-{MAX_GENERATE} h$ 1 A 192.0.2.1\n")) == MAX_GENERATE
        (problem,) = problems_of(f"$GENERATE 0-{MAX_GENERATE} h$ 1 A 192.0.2.1\n")
        assert str(problem) == f"z.db:1: $GENERATE: more than {MAX_GENERATE} records"

    def test_total_limit(self, monkeypatch):
        monkeypatch.setattr(master, "MAX_GENERATED", 15)
        text = "".join(f"$GENERATE 1-10 h{i}-$ 1 A 192.0.2.1\n" for i in range(3))
        entries, problems = parse_text(text, "z.db", ORIGIN)
        assert len(entries) == 10
        assert [str(p) for p in problems] == [
            "z.db:2: $GENERATE: more than 15 records by $GENERATE",
            "z.db:3: $GENERATE: more than 15 records by $GENERATE",
        ]

    @pytest.mark.parametrize(
        "line",
        [
            "$GENERATE 5-1 h$ 1 A 1.2.3.4",
            "$GENERATE 1-2/0 h$ 1 A 1.2.3.4",
            "$GENERATE x h$ A 1",
            "$GENERATE 1-2 h$ A",
            "$GENERATE 1-2 h$ 1 A 1.2.3.$ extra",
            "$GENERATE 1-2 h${x} 1 A 1",
        ],
    )
    def test_bad_generate(self, line: str):
        entries, problems = parse_text(f"\n{line}\nok 1 A 192.0.2.1\n", "z.db", ORIGIN)
        assert owners(entries) == ["ok.example.com"]
        assert len(problems) == 1 and str(problems[0]).startswith("z.db:2: $GENERATE: ")


class TestProblems:
    def test_unterminated_quote(self):
        entries, problems = parse_text('t 1 TXT "open\nok 1 A 192.0.2.1\n', "z.db", ORIGIN)
        assert owners(entries) == ["ok.example.com"]
        assert [str(p) for p in problems] == ["z.db:1: t TXT: unterminated quoted string on line 1"]

    def test_unterminated_quote_inside_parentheses_loses_only_that_record(self):
        text = 't 1 TXT ( "open\n more )\nok 1 A 192.0.2.1\n'
        entries, problems = parse_text(text, "z.db", ORIGIN)
        assert owners(entries) == ["ok.example.com"] and len(problems) == 1

    def test_unterminated_parenthesis_then_reading_goes_on(self):
        text = "soa 1 SOA ns host ( 1 2\nok 1 A 192.0.2.1\n"
        entries, problems = parse_text(text, "z.db", ORIGIN)
        assert owners(entries) == ["ok.example.com"]
        assert [str(p) for p in problems] == [
            "z.db:1: soa SOA: unterminated parenthesis (opened on line 1)"
        ]

    def test_second_unterminated_parenthesis_stops_and_says_so(self):
        text = "a 1 TXT (\nb 1 TXT (\nc 1 A 192.0.2.1\n"
        entries, problems = parse_text(text, "z.db", ORIGIN)
        assert entries == []
        assert [p.line for p in problems] == [1, 2]
        assert "the rest of the file is not read" in problems[1].reason

    def test_close_without_open(self):
        entries, problems = parse_text("a 1 TXT x )\nok 1 A 192.0.2.1\n", "z.db", ORIGIN)
        assert owners(entries) == ["ok.example.com"]
        assert str(problems[0]).startswith("z.db:1: a TXT: a ')'")

    def test_owner_but_no_type(self):
        entries, problems = parse_text("lonely\nalso 300 IN\nok 1 A 1.2.3.4\n", "z.db", ORIGIN)
        assert owners(entries) == ["ok.example.com"]
        assert [str(p) for p in problems] == [
            "z.db:1: lonely: no record type",
            "z.db:2: also: no record type",
        ]

    def test_long_rdata_is_a_problem(self):
        text = f"big 1 TXT {'x' * (MAX_RDATA + 1)}\nok 1 A 192.0.2.1\n"
        entries, problems = parse_text(text, "z.db", ORIGIN)
        assert owners(entries) == ["ok.example.com"]
        assert [str(p) for p in problems] == [
            f"z.db:1: big TXT: rdata longer than {MAX_RDATA} characters"
        ]

    def test_problem_what_is_short(self):
        (problem,) = problems_of(("a" * 200) + "\n")
        assert len(problem.what) <= 60

    def test_many_open_parentheses_is_linear(self):
        text = "a 1 TXT (\n" * 20000
        _, problems = parse_text(text, "z.db", ORIGIN)
        assert len(problems) == 2


class TestLexer:
    def test_tokens_and_lines(self):
        (first, second) = lexer.split('a "b c" (d\n e) ; x\n f\n')
        assert [(t.text, t.line, t.quoted) for t in first.tokens] == [
            ("a", 1, False),
            ('"b c"', 1, True),
            ("d", 1, False),
            ("e", 2, False),
        ]
        assert second.blank_owner and second.line == 3

    def test_key_then_quoted_value_is_one_token(self):
        (only,) = lexer.split('x HTTPS 1 . alpn="h2,h3" port=443\n')
        assert [t.text for t in only.tokens][-2:] == ['alpn="h2,h3"', "port=443"]

    def test_adjacent_quote_splits_a_word(self):
        (only,) = lexer.split('a"b"c\n')
        assert [t.text for t in only.tokens] == ["a", '"b"', "c"]

    def test_name_helper_agrees(self):
        assert from_text("www", ORIGIN) == (b"www", *ORIGIN)


def test_a_file_above_the_cap_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(master, "MAX_FILE_BYTES", 10)
    path = tmp_path / "big.zone"
    path.write_text("$ORIGIN z.\nwww 60 A 192.0.2.1\n")
    entries, problems = master.parse(str(path))
    assert entries == []
    assert [str(p) for p in problems] == [f"{path}:0: file: cannot read it: larger than 10 bytes"]
