"""Reading an RFC 1035 master file into entries: one per resource record, names absolute.

Entry and Problem are the contract between this reader and resolver/bindfile/convert.py.
RFC 1035 section 5 plus what BIND accepts: $TTL (RFC 2308), TTL units, either order of
TTL and class, $GENERATE. Nothing raises to the caller: what cannot be read is a Problem
and reading goes on with the next record.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from resolver.bindfile import lexer
from resolver.wire import names
from resolver.wire.names import Name

MAX_INCLUDE_DEPTH = 8  # files nested under the first one
MAX_GENERATE = 65536  # records one $GENERATE may make
# Records all $GENERATEs of one read may make: a file of many short $GENERATE lines must
# not cost more than a file of that many records would.
MAX_GENERATED = 1 << 20
MAX_RDATA = 65536  # characters of rdata in one entry
MAX_TTL = 2**31 - 1  # RFC 2181 section 8
# A master file (or one it includes) larger than this is refused: a million records is
# about 50 MB; this leaves room and bounds what one command can be made to hold.
MAX_FILE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Entry:
    """One resource record as the file wrote it, with owner and TTL settled."""

    file: str  # the file it came from (an $INCLUDEd file names itself)
    line: int  # the line its owner (first token) is on, 1-based
    owner: Name  # absolute, lowercase (names.from_text)
    ttl: int
    ttl_explicit: bool  # the record wrote its own TTL
    # Upper case as written ("IN", "CH", "CLASS3"); omitted, the last one written (RFC 1035
    # section 5.1), "IN" at first.
    rclass: str
    rtype: str  # upper case as written ("A", "TYPE65")
    # The RDATA tokens as written: a quoted string keeps its quotes and escapes; a
    # parenthesised record's tokens from every line; comments removed.
    rdata: tuple[str, ...]
    origin: Name  # the $ORIGIN in force: relative names in rdata are relative to it


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the reader could not take: printed as FILE:LINE: WHAT: reason."""

    file: str
    line: int
    what: str  # the record or directive as written, shortened ("www A", "$INCLUDE")
    reason: str

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}: {self.what}: {self.reason}"
        # What the file wrote must not reach the operator's terminal as a control sequence.
        return text if text.isprintable() else "".join(_printable(c) for c in text)


def _printable(char: str) -> str:
    return char if char.isprintable() else f"\\{ord(char):03d}"


def read_file(path: str) -> str:
    """The file's text, refused when larger than MAX_FILE_BYTES before it is read whole;
    raises OSError or UnicodeDecodeError."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise OSError(f"larger than {MAX_FILE_BYTES} bytes")
    return data.decode("utf-8")


def parse(
    path: str, origin: Name = (), reader: Callable[[str], str] = read_file
) -> tuple[list[Entry], list[Problem]]:
    """Every record of the file at PATH (and what it $INCLUDEs), and every problem."""
    try:
        text = reader(path)
    except (OSError, UnicodeDecodeError) as err:
        return [], [Problem(path, 0, "file", f"cannot read it: {_why(err)}")]
    return parse_text(text, path, origin, reader)


def parse_text(
    text: str, file: str = "<text>", origin: Name = (), reader: Callable[[str], str] = read_file
) -> tuple[list[Entry], list[Problem]]:
    """The same for text already read (FILE names it in problems and anchors $INCLUDE)."""
    state = _Reader(reader)
    state.stack.append(os.path.realpath(file))
    state.read(text, _File(file, origin, origin != (), None), 0)
    return state.entries, state.problems


_CLASSES = frozenset({"IN", "CH", "HS", "CS"})
_CLASSNNN = re.compile(r"CLASS(\d{1,5})", re.IGNORECASE)
_TTL = re.compile(r"\d+|(?:\d+[smhdw])+", re.IGNORECASE)
_TTL_PART = re.compile(r"(\d+)([smhdw])", re.IGNORECASE)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RANGE = re.compile(r"(\d{1,10})-(\d{1,10})(?:/(\d{1,10}))?")
_MODIFIER = re.compile(r"\{([+-]?\d{1,10})(?:,(\d{1,3})(?:,([doxX]))?)?\}")
_WHAT = 60  # characters of a record kept in a Problem


def ttl_value(text: str) -> int:
    """Seconds from a TTL as written: a number or BIND units (1h30m, 2D, 1w); ValueError."""
    if not _TTL.fullmatch(text):
        raise ValueError(f"bad TTL {shorten(text)!r}")
    if text.isdigit():
        parts = [(text, "s")]
    else:
        parts = [(m.group(1), m.group(2).lower()) for m in _TTL_PART.finditer(text)]
    total = 0
    for digits, unit in parts:
        digits = digits.lstrip("0") or "0"
        if len(digits) > 10:  # also keeps int() away from huge digit strings
            raise ValueError(f"TTL {shorten(text)!r} is above {MAX_TTL}")
        total += int(digits) * _UNIT[unit]
    if total > MAX_TTL:
        raise ValueError(f"TTL {shorten(text)!r} is above {MAX_TTL}")
    return total


def is_class(word: str) -> bool:
    """IN, CH, HS, CS or CLASSnnn (RFC 3597), any case."""
    if word.upper() in _CLASSES:
        return True
    match = _CLASSNNN.fullmatch(word)
    return match is not None and int(match.group(1)) <= 65535


def _absolute(text: str) -> bool:
    """The name ends in an unescaped dot (or is the root)."""
    if not text.endswith("."):
        return False
    backslashes = len(text[:-1]) - len(text[:-1].rstrip("\\"))
    return backslashes % 2 == 0


def shorten(text: str, limit: int = _WHAT) -> str:
    """TEXT cut to LIMIT characters for a report: hostile input stays one short line."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _why(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err)


def _what(logical: lexer.Logical) -> str:
    """The record's owner and type as written ("www A"), or the directive."""
    words = [token.text for token in logical.tokens]
    if not words:
        return "(empty)"
    if not logical.blank_owner and words[0].startswith("$"):
        return shorten(words[0].upper())
    head = [] if logical.blank_owner else words[:1]
    for word in words[len(head) :]:
        if not (word[:1].isdigit() or is_class(word)):
            head.append(word.upper())
            break
    return shorten(" ".join(head))


def substitute(template: str, counter: int) -> str:
    """A $GENERATE template with its counter: $, ${offset[,width[,base]]}; \\$ and $$ stay
    a literal dollar (the backslash escape is kept for the converter); ValueError."""
    out: list[str] = []
    at, size = 0, len(template)
    while at < size:
        char = template[at]
        if char == "\\":
            out.append(template[at : at + 2])
            at += 2
        elif char != "$":
            out.append(char)
            at += 1
        elif template.startswith("$", at + 1):
            out.append("$")
            at += 2
        else:
            at += 1
            offset, width, base = 0, 0, "d"
            if template.startswith("{", at):
                match = _MODIFIER.match(template, at)
                if match is None:
                    raise ValueError("bad ${offset,width,base} modifier")
                offset = int(match.group(1))
                width = int(match.group(2) or 0)
                base = match.group(3) or "d"
                at = match.end()
            out.append(format(counter + offset, base).zfill(width))
    return "".join(out)


@dataclass(slots=True)
class _File:
    """What one file being read has in force: it ends with the file ($INCLUDE restores)."""

    file: str
    origin: Name
    origin_set: bool  # an origin was given or set: () then means the root
    owner: Name | None  # the previous record's owner, for a blank owner


class _Reader:
    """State shared by a file and what it includes: TTLs and class carry on (BIND)."""

    def __init__(self, reader: Callable[[str], str]) -> None:
        self.reader = reader
        self.entries: list[Entry] = []
        self.problems: list[Problem] = []
        self.default_ttl: int | None = None  # the last $TTL
        self.last_ttl: int | None = None  # the last TTL a record wrote
        self.last_class = "IN"
        self.stack: list[str] = []  # real paths of the files being read, for cycles
        self.generated = 0  # records made by $GENERATE so far

    def problem(self, here: _File, line: int, what: str, reason: str) -> None:
        self.problems.append(Problem(here.file, line, what, reason))

    def read(self, text: str, here: _File, depth: int) -> None:
        for logical in lexer.split(text):
            what = _what(logical)
            if logical.error is not None:
                self.problem(here, logical.line, what, logical.error)
            elif not logical.blank_owner and logical.tokens[0].text.startswith("$"):
                if logical.tokens[0].quoted:
                    self.record(here, logical, what)
                else:
                    self.directive(here, logical, what, depth)
            else:
                self.record(here, logical, what)

    def name(
        self, here: _File, token: lexer.Token, what: str, origin: Name | None = None
    ) -> Name | None:
        """A name through names.from_text, relative to ORIGIN or the file's; None when it is
        a Problem (already recorded)."""
        text = token.text
        if token.quoted:
            self.problem(here, token.line, what, f"a quoted string {shorten(text)} as a name")
            return None
        if origin is None and not here.origin_set and not _absolute(text):
            self.problem(here, token.line, what, "relative name and no $ORIGIN")
            return None
        try:
            return names.from_text(text, here.origin if origin is None else origin)
        except ValueError as err:  # NameError_ and UnicodeError
            self.problem(here, token.line, what, f"bad name {shorten(text)!r}: {err}")
            return None

    def ttl_class(
        self, here: _File, tokens: list[lexer.Token], what: str
    ) -> tuple[int | None, str | None, int] | None:
        """The TTL and class before the type, in either order, and the type's index."""
        ttl: int | None = None
        rclass: str | None = None
        at = 0
        while at < len(tokens) and not tokens[at].quoted:
            word = tokens[at].text
            if ttl is None and word[:1].isdigit():
                try:
                    ttl = ttl_value(word)
                except ValueError as err:
                    self.problem(here, tokens[at].line, what, str(err))
                    return None
            elif rclass is None and is_class(word):
                rclass = word.upper()
            else:
                break
            at += 1
        if at == len(tokens):
            self.problem(here, tokens[0].line if tokens else 0, what, "no record type")
            return None
        word = tokens[at].text
        if tokens[at].quoted or word[:1].isdigit() or is_class(word):
            if tokens[at].quoted:
                reason = "a quoted string as the type"
            else:
                reason = "a second TTL" if word[:1].isdigit() else "a second class"
            self.problem(here, tokens[at].line, what, f"{reason}: {shorten(word)}")
            return None
        return ttl, rclass, at

    def implicit_ttl(self) -> int | None:
        """$TTL, else the last TTL written (RFC 2308 section 4, BIND)."""
        return self.default_ttl if self.default_ttl is not None else self.last_ttl

    def record(self, here: _File, logical: lexer.Logical, what: str) -> None:
        tokens = logical.tokens
        if logical.blank_owner:
            if here.owner is None:
                self.problem(here, logical.line, what, "a blank owner and no previous owner")
                return
            owner, rest, line = here.owner, tokens, logical.line
        else:
            named = self.name(here, tokens[0], what)
            if named is None:
                return
            here.owner = owner = named
            rest, line = tokens[1:], tokens[0].line
        if not rest:
            self.problem(here, line, what, "no record type")
            return
        found = self.ttl_class(here, rest, what)
        if found is None:
            return
        ttl, rclass, at = found
        rtype = rest[at].text.upper()
        rdata = tuple(token.text for token in rest[at + 1 :])
        if sum(len(word) + 1 for word in rdata) > MAX_RDATA:
            self.problem(here, line, what, f"rdata longer than {MAX_RDATA} characters")
            return
        explicit = ttl is not None
        if ttl is None:
            ttl = self.implicit_ttl()
        if ttl is None and rtype == "SOA" and len(rdata) >= 7:
            try:
                ttl = ttl_value(rdata[6])  # RFC 1035: MINIMUM, BIND's fallback for the SOA
            except ValueError as err:
                self.problem(here, line, what, f"SOA MINIMUM: {err}")
                return
        if ttl is None:
            self.problem(here, line, what, "no TTL and no $TTL")
            return
        if explicit:
            self.last_ttl = ttl
        self.last_class = rclass = rclass or self.last_class
        self.entries.append(
            Entry(here.file, line, owner, ttl, explicit, rclass, rtype, rdata, here.origin)
        )

    def directive(self, here: _File, logical: lexer.Logical, what: str, depth: int) -> None:
        word = logical.tokens[0].text.upper()
        args = logical.tokens[1:]
        line = logical.tokens[0].line
        if word == "$ORIGIN":
            if len(args) != 1:
                self.problem(here, line, what, "$ORIGIN takes one name")
                return
            origin = self.name(here, args[0], what)
            if origin is not None:
                here.origin, here.origin_set = origin, True
        elif word == "$TTL":
            if len(args) != 1 or args[0].quoted:
                self.problem(here, line, what, "$TTL takes one TTL")
                return
            try:
                self.default_ttl = ttl_value(args[0].text)
            except ValueError as err:
                self.problem(here, line, what, str(err))
        elif word == "$INCLUDE":
            self.include(here, args, line, what, depth)
        elif word == "$GENERATE":
            self.generate(here, args, line, what)
        else:
            self.problem(here, line, what, "unknown directive")

    def include(
        self, here: _File, args: list[lexer.Token], line: int, what: str, depth: int
    ) -> None:
        """$INCLUDE file [origin]: the file's path is relative to the including file."""
        if not 1 <= len(args) <= 2:
            self.problem(here, line, what, "$INCLUDE takes a file name and an optional origin")
            return
        name = args[0].text
        if args[0].quoted:
            name = re.sub(r"\\(.)", r"\1", name[1:-1])
        origin, origin_set = here.origin, here.origin_set
        if len(args) == 2:
            given = self.name(here, args[1], what)
            if given is None:
                return
            origin, origin_set = given, True
        if depth >= MAX_INCLUDE_DEPTH:
            self.problem(here, line, what, f"nested more than {MAX_INCLUDE_DEPTH} files deep")
            return
        path = os.path.join(os.path.dirname(here.file), name)
        real = os.path.realpath(path)
        if real in self.stack:
            self.problem(here, line, what, f"{path} is already being read (an include cycle)")
            return
        try:
            text = self.reader(path)
        except (OSError, UnicodeDecodeError) as err:
            self.problem(here, line, what, f"cannot read {path}: {_why(err)}")
            return
        self.stack.append(real)
        try:
            self.read(text, _File(path, origin, origin_set, here.owner), depth + 1)
        finally:
            self.stack.pop()

    def generate(self, here: _File, args: list[lexer.Token], line: int, what: str) -> None:
        """$GENERATE range lhs [ttl] [class] type rhs (BIND)."""
        if len(args) < 4 or args[0].quoted or args[1].quoted:
            self.problem(here, line, what, "$GENERATE takes range lhs [ttl] [class] type rhs")
            return
        match = _RANGE.fullmatch(args[0].text)
        if match is None:
            self.problem(here, line, what, f"bad range {shorten(args[0].text)!r}")
            return
        start, stop, step = int(match.group(1)), int(match.group(2)), int(match.group(3) or 1)
        if stop < start or step < 1:
            self.problem(here, line, what, f"bad range {args[0].text!r}")
            return
        counters = range(start, stop + 1, step)
        if len(counters) > MAX_GENERATE:
            self.problem(here, line, what, f"more than {MAX_GENERATE} records")
            return
        if self.generated + len(counters) > MAX_GENERATED:
            self.problem(here, line, what, f"more than {MAX_GENERATED} records by $GENERATE")
            return
        self.generated += len(counters)
        found = self.ttl_class(here, args[2:], what)
        if found is None:
            return
        ttl, rclass, at = found
        at += 2
        if at + 2 != len(args):
            self.problem(here, line, what, "$GENERATE takes one rhs after the type")
            return
        rtype = args[at].text.upper()
        rhs = args[at + 1]
        template = lexer.split(rhs.text[1:-1] if rhs.quoted else rhs.text)
        if len(template) != 1 or template[0].error is not None:
            reason = template[0].error if len(template) == 1 else "the rhs is not one record"
            self.problem(here, line, what, f"bad rhs: {reason}")
            return
        explicit = ttl is not None
        if ttl is None:
            ttl = self.implicit_ttl()
            if ttl is None:
                self.problem(here, line, what, "no TTL and no $TTL")
                return
        else:
            self.last_ttl = ttl
        self.last_class = rclass = rclass or self.last_class
        lhs = args[1]
        for counter in counters:
            try:
                owner_text = substitute(lhs.text, counter)
                rdata = tuple(substitute(token.text, counter) for token in template[0].tokens)
            except ValueError as err:
                self.problem(here, line, what, str(err))
                return
            owner = self.name(here, lexer.Token(owner_text, line, False), what)
            if owner is None:
                return
            if sum(len(word) + 1 for word in rdata) > MAX_RDATA:
                self.problem(here, line, what, f"rdata longer than {MAX_RDATA} characters")
                return
            self.entries.append(
                Entry(here.file, line, owner, ttl, explicit, rclass, rtype, rdata, here.origin)
            )
