"""Reading an RFC 1035 master file into entries: one per resource record, names absolute.

INTERFACE FIXED BY THE LEAD; the body is being written. Entry and Problem are the
contract between this reader and resolver/bindfile/convert.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from resolver.wire.names import Name


@dataclass(frozen=True, slots=True)
class Entry:
    """One resource record as the file wrote it, with owner and TTL settled."""

    file: str  # the file it came from (an $INCLUDEd file names itself)
    line: int  # the line its owner (first token) is on, 1-based
    owner: Name  # absolute, lowercase (names.from_text)
    ttl: int
    ttl_explicit: bool  # the record wrote its own TTL
    rclass: str  # upper case as written ("IN", "CH", "CLASS3"); "IN" when omitted
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
        return f"{self.file}:{self.line}: {self.what}: {self.reason}"


def read_file(path: str) -> str:
    """The file's text; raises OSError or UnicodeDecodeError."""
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def parse(
    path: str, origin: Name = (), reader: Callable[[str], str] = read_file
) -> tuple[list[Entry], list[Problem]]:
    """Every record of the file at PATH (and what it $INCLUDEs), and every problem."""
    raise NotImplementedError


def parse_text(
    text: str, file: str = "<text>", origin: Name = (), reader: Callable[[str], str] = read_file
) -> tuple[list[Entry], list[Problem]]:
    """The same for text already read (FILE names it in problems and anchors $INCLUDE)."""
    raise NotImplementedError
