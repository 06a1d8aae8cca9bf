"""Splitting an RFC 1035 master file into logical lines of tokens (RFC 1035 section 5.1).

A logical line is one physical line, or several joined by parentheses. Tokens keep their
text as written (a quoted string keeps its quotes and escapes) so the reader and the
converter decide what an escape means. Nothing here raises: what cannot be split is an
`error` on the logical line it belongs to, and the reader turns it into a Problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Token:
    """One word of a logical line, as written."""

    text: str
    line: int  # 1-based physical line it starts on
    quoted: bool  # a "quoted string": text keeps the quotes


@dataclass(slots=True)
class Logical:
    """The tokens of one record or directive, with where it starts."""

    line: int
    blank_owner: bool  # the first physical line began with white space
    tokens: list[Token] = field(default_factory=list)
    error: str | None = None  # the first reason the line cannot be taken


# Every position of the text matches exactly one alternative, so the scan never stalls.
# A backslash escapes the next character (kept verbatim); a quoted string ends at the end
# of its physical line at the latest (BIND and dnspython: no newline inside quotes). A
# word ending in `=` goes on into a quoted part, as RFC 9460's `alpn="h2,h3"` does: one
# token; elsewhere a quote splits a word (`a"b"c` is three tokens, as for dnspython).
_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\f\v]+)
  | (?P<comment>;[^\n]*)
  | (?P<nl>\n)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<quoted>"(?:[^"\\\n]|\\[^\n])*")
  | (?P<unterminated>"(?:[^"\\\n]|\\[^\n])*\\?)
  | (?P<keyvalue>(?:[^ \t\r\f\v\n;()"\\]|\\[^\n])*="(?:[^"\\\n]|\\[^\n])*")
  | (?P<word>(?:[^ \t\r\f\v\n;()"\\]|\\[^\n])+\\?|\\)
    """,
    re.VERBOSE,
)


def split(text: str) -> list[Logical]:
    """The logical lines of TEXT, in order; empty lines and comment-only lines left out.

    An unclosed parenthesis swallows the rest of the file: that line gets an error and the
    scan starts again on the line after it opened, once (a second unclosed parenthesis
    ends the scan, said in its error), so hostile input costs at most two passes.
    """
    out: list[Logical] = []
    size = len(text)
    pos, line = 0, 1
    restarted = False
    current: Logical | None = None
    current_pos = 0  # where the physical line that began `current` starts
    line_start = True  # the next match is the first on its physical line
    line_pos = 0  # where the current physical line starts
    depth = 0
    blank = False  # the current physical line began with white space
    while True:
        if pos >= size:
            if current is not None and depth > 0:
                if restarted:
                    current.error = current.error or (
                        f"unterminated parenthesis (opened on line {current.line}); "
                        "the rest of the file is not read"
                    )
                    out.append(current)
                    return out
                current.error = current.error or (
                    f"unterminated parenthesis (opened on line {current.line})"
                )
                out.append(current)
                restarted = True
                resume = text.find("\n", current_pos)
                if resume < 0:
                    return out
                pos, line = resume + 1, current.line + 1
                line_pos, line_start, depth, blank, current = pos, True, 0, False, None
                continue
            if current is not None and (current.tokens or current.error):
                out.append(current)
            return out
        match = _TOKEN.match(text, pos)
        assert match is not None  # the alternatives cover every character
        kind, value = match.lastgroup, match.group()
        pos = match.end()
        first, line_start = line_start, False
        if kind == "ws":
            if first and depth == 0 and current is None:
                blank = True
            continue
        if kind == "comment":
            continue
        if kind == "nl":
            line += 1
            line_start, line_pos = True, pos
            if depth == 0:
                if current is not None and (current.tokens or current.error):
                    out.append(current)
                current, blank = None, False
            continue
        if current is None:
            current = Logical(line=line, blank_owner=blank)
            current_pos = line_pos
        if kind == "open":
            depth += 1
        elif kind == "close":
            if depth == 0:
                current.error = current.error or f"a ')' on line {line} without a '('"
            else:
                depth -= 1
        elif kind == "quoted":
            current.tokens.append(Token(value, line, True))
        elif kind == "unterminated":
            current.error = current.error or f"unterminated quoted string on line {line}"
            current.tokens.append(Token(value, line, True))
        else:
            current.tokens.append(Token(value, line, False))
