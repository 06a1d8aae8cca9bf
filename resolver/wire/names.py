"""Domain names as tuples of lowercase label bytes: exact, hashable and case-insensitive."""

from __future__ import annotations

Name = tuple[bytes, ...]

MAX_LABEL = 63
MAX_NAME = 255


class NameError_(ValueError):
    """A domain name that cannot exist on the wire."""


def from_text(text: str, origin: Name = ()) -> Name:
    """Parse a zone-file name: '@' is the origin, names without a final dot are relative."""
    text = text.strip()
    if text in ("@", ""):
        return origin
    if text == ".":
        return ()
    if "\\" in text:
        return _escaped_from_text(text, origin)
    absolute = text.endswith(".")
    if absolute:
        text = text[:-1]
    labels = []
    for part in text.split("."):
        if not part:
            raise NameError_(f"empty label in name {text!r}")
        raw = part.encode("ascii", "strict") if part.isascii() else part.encode("idna")
        if len(raw) > MAX_LABEL:
            raise NameError_(f"label {part!r} is longer than {MAX_LABEL} bytes")
        labels.append(raw.lower())
    name = tuple(labels) if absolute else tuple(labels) + origin
    check_length(name)
    return name


DIGITS = "0123456789"


def unescape_at(text: str, at: int) -> tuple[bytes, int]:
    """The escape at text[at] (a backslash) of RFC 1035 section 5.1, shared by names and
    character-strings: \\DDD is the octet DDD in decimal, \\X is X itself. Returns its
    octets and where the text goes on; ValueError for a bad or a lone backslash."""
    digits = text[at + 1 : at + 4]
    if digits[:1] and digits[0] in DIGITS:
        if len(digits) < 3 or any(d not in DIGITS for d in digits) or int(digits) > 255:
            raise ValueError(f"bad escape \\{digits}")
        return bytes((int(digits),)), at + 4
    if at + 1 >= len(text):
        raise ValueError("a lone backslash at the end")
    return text[at + 1].encode(), at + 2


def _escaped_from_text(text: str, origin: Name) -> Name:
    """RFC 1035 section 5.1 escapes: \\DDD is the octet DDD (decimal), \\X is X itself,
    so a label may hold a dot, a backslash or any byte. Only ASCII names take escapes."""
    if not text.isascii():
        raise NameError_(f"name {text!r} mixes escapes and non-ASCII characters")
    labels: list[bytes] = []
    label = bytearray()
    at, size = 0, len(text)
    ended = False  # the name ended with an unescaped dot: it is absolute
    while at < size:
        char = text[at]
        if char == "\\":
            try:
                octets, at = unescape_at(text, at)
            except ValueError as exc:
                raise NameError_(f"{exc} in name {text!r}") from None
            label += octets
        elif char == ".":
            if not label:
                raise NameError_(f"empty label in name {text!r}")
            labels.append(bytes(label))
            label = bytearray()
            at += 1
            ended = at == size
        else:
            label += char.encode()
            at += 1
    if label:
        labels.append(bytes(label))
    for raw in labels:
        if len(raw) > MAX_LABEL:
            raise NameError_(f"label {raw!r} is longer than {MAX_LABEL} bytes")
    lowered = tuple(raw.lower() for raw in labels)
    name = lowered if ended else lowered + origin
    check_length(name)
    return name


def check_length(name: Name) -> None:
    if wire_length(name) > MAX_NAME:
        raise NameError_(f"name is longer than {MAX_NAME} bytes on the wire")


def wire_length(name: Name) -> int:
    return sum(len(label) + 1 for label in name) + 1


def to_text(name: Name) -> str:
    """Presentation form with the final dot; non-printable bytes escaped as \\DDD."""
    if not name:
        return "."
    out = []
    for label in name:
        chars = []
        for byte in label:
            if byte in b'.\\"()@;$ ' or not 0x21 <= byte <= 0x7E:
                chars.append(f"\\{byte:03d}" if not 0x21 <= byte <= 0x7E else "\\" + chr(byte))
            else:
                chars.append(chr(byte))
        out.append("".join(chars))
    return ".".join(out) + "."


def lower(labels: tuple[bytes, ...] | list[bytes]) -> Name:
    return tuple(label.lower() for label in labels)


def is_subdomain(name: Name, parent: Name) -> bool:
    """True when name equals parent or lies below it."""
    return not parent or (name[len(name) - len(parent) :] == parent and len(name) >= len(parent))


def escaped(name: Name | tuple[bytes, ...]) -> str:
    """Presentation form for logs (RFC 1035 5.1), with the final dot.

    Printable ASCII stays as it is; every other octet, and '.' and '\\' inside a label,
    is written \\DDD: a label cannot end a log line or pass for a label boundary.
    """
    if not name:
        return "."
    return ".".join(label.decode("latin-1").translate(_ESCAPES) for label in name) + "."


_ESCAPES = {
    byte: f"\\{byte:03d}" for byte in range(256) if not 0x21 <= byte <= 0x7E or byte in b".\\"
}
