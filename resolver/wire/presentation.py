"""Fields of presentation format (RFC 1035 section 5.1), read strictly: numbers, names,
hex, character-strings and quote-aware tokens. Shared by the record types' parsers."""

from __future__ import annotations

import binascii
import shlex

from dnslib import DNSLabel

from resolver.wire import names


class RdataError(ValueError):
    """A value that does not parse for its record type."""


def uint(text: str, bits: int, what: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise RdataError(f"{what} {text!r} is not a number")
    value = int(text)
    if value >= 1 << bits:
        raise RdataError(f"{what} {value} is larger than {(1 << bits) - 1}")
    return value


def domain_name(text: str, origin: names.Name, what: str) -> DNSLabel:
    try:
        labels = names.from_text(text, origin)
    except (names.NameError_, UnicodeError) as exc:
        raise RdataError(f"{what}: {exc}") from None
    return DNSLabel(list(labels))


def hex_bytes(text: str, what: str) -> bytes:
    try:
        return binascii.unhexlify(text)
    except (binascii.Error, ValueError):
        raise RdataError(f"{what} {text!r} is not hexadecimal") from None


_SHLEX_SPECIAL = frozenset("\"'\\")  # quotes and the escape character (posix mode)


def split_fields(text: str, count: int | None, type_name: str) -> list[str]:
    if text.isascii() and text.isprintable() and not _SHLEX_SPECIAL.intersection(text):
        # shlex.split's answer without shlex: its only whitespace here is ' '.
        fields = text.split()
    else:
        try:
            fields = shlex.split(text, posix=True)
        except ValueError as exc:
            raise RdataError(f"cannot split {text!r}: {exc}") from None
    if count is not None and len(fields) != count:
        raise RdataError(f"{type_name} needs {count} fields, got {len(fields)} in {text!r}")
    return fields


def quoted_tokens(text: str) -> list[str]:
    """Split at whitespace outside quotes; quotes and backslash escapes stay in the tokens."""
    tokens: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char.isspace() and not quoted:
            if current:
                tokens.append("".join(current))
                current = []
            continue
        current.append(char)
    if quoted:
        raise RdataError(f"unterminated quote in {text!r}")
    if escaped:
        raise RdataError(f"{text!r} ends in a lone backslash")
    if current:
        tokens.append("".join(current))
    return tokens


def char_string(raw: str, what: str) -> bytes:
    """An RFC 1035 character-string, quoted or not: \\DDD is a byte, \\X is X itself."""
    quoted = raw.startswith('"')
    body = raw[1:] if quoted else raw
    out = bytearray()
    closed = False
    at = 0
    while at < len(body):
        char = body[at]
        if closed:
            raise RdataError(f"{what}: text after the closing quote in {raw!r}")
        if char == "\\":
            try:
                octets, at = names.unescape_at(body, at)
            except ValueError as exc:
                raise RdataError(f"{what}: {exc} in {raw!r}") from None
            out += octets
            continue
        if char == '"':
            if not quoted:
                raise RdataError(f"{what}: stray quote in {raw!r}")
            closed = True
        else:
            out += char.encode()
        at += 1
    if quoted and not closed:
        raise RdataError(f"{what}: unterminated quote in {raw!r}")
    return bytes(out)
