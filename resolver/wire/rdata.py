"""Record values in presentation format parsed strictly into dnslib rdata objects.

dnslib's own zone parser accepts malformed values silently (an A of 999.1.1.1, a relative
SRV target left relative), so each type gets a parser that checks every field.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import shlex
from collections.abc import Callable

from dnslib import (
    AAAA,
    CAA,
    CNAME,
    DS,
    MX,
    NS,
    PTR,
    QTYPE,
    RD,
    SRV,
    SSHFP,
    TLSA,
    TXT,
    A,
    DNSBuffer,
    DNSLabel,
)

from resolver.wire import names
from resolver.wire.rdtypes import HTTPS, NAPTR, SPF, SVC_KEYS, SVC_NAMES, SVCB


class RdataError(ValueError):
    """A value that does not parse for its record type."""


SUPPORTED_TYPES = (
    "A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "CAA",
    "PTR", "NAPTR", "SSHFP", "TLSA", "DS", "HTTPS", "SVCB", "SPF",
)  # fmt: skip


def _uint(text: str, bits: int, what: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise RdataError(f"{what} {text!r} is not a number")
    value = int(text)
    if value >= 1 << bits:
        raise RdataError(f"{what} {value} is larger than {(1 << bits) - 1}")
    return value


def _name(text: str, origin: names.Name, what: str) -> DNSLabel:
    try:
        labels = names.from_text(text, origin)
    except (names.NameError_, UnicodeError) as exc:
        raise RdataError(f"{what}: {exc}") from None
    return DNSLabel(list(labels))


def _hex(text: str, what: str) -> bytes:
    try:
        return binascii.unhexlify(text)
    except (binascii.Error, ValueError):
        raise RdataError(f"{what} {text!r} is not hexadecimal") from None


def _fields(text: str, count: int | None, type_name: str) -> list[str]:
    try:
        fields = shlex.split(text, posix=True)
    except ValueError as exc:
        raise RdataError(f"cannot split {text!r}: {exc}") from None
    if count is not None and len(fields) != count:
        raise RdataError(f"{type_name} needs {count} fields, got {len(fields)} in {text!r}")
    return fields


def split_txt(text: str) -> list[bytes]:
    """One TXT string per 255 bytes; the value is the text itself, spaces included."""
    raw = text.encode("utf-8")
    if not raw:
        return [b""]
    return [raw[i : i + 255] for i in range(0, len(raw), 255)]


def _a(text: str, origin: names.Name) -> RD:
    try:
        return A(str(ipaddress.IPv4Address(text.strip())))
    except ValueError:
        raise RdataError(f"{text!r} is not an IPv4 address") from None


def _aaaa(text: str, origin: names.Name) -> RD:
    try:
        return AAAA(str(ipaddress.IPv6Address(text.strip())))
    except ValueError:
        raise RdataError(f"{text!r} is not an IPv6 address") from None


def _single_name(cls: type[RD]) -> Callable[[str, names.Name], RD]:
    def parse(text: str, origin: names.Name) -> RD:
        (target,) = _fields(text, 1, cls.__name__)
        return cls(_name(target, origin, "target"))

    return parse


def _mx(text: str, origin: names.Name) -> RD:
    pref, exchange = _fields(text, 2, "MX")
    return MX(_name(exchange, origin, "exchange"), _uint(pref, 16, "preference"))


def _srv(text: str, origin: names.Name) -> RD:
    prio, weight, port, target = _fields(text, 4, "SRV")
    return SRV(
        _uint(prio, 16, "priority"),
        _uint(weight, 16, "weight"),
        _uint(port, 16, "port"),
        _name(target, origin, "target"),
    )


def _caa(text: str, origin: names.Name) -> RD:
    flags, tag, value = _fields(text, 3, "CAA")
    if not tag.isalnum() or not tag.isascii():
        raise RdataError(f"CAA tag {tag!r} must be letters and digits")
    return CAA(_uint(flags, 8, "flags"), tag, value)


def _naptr(text: str, origin: names.Name) -> RD:
    order, pref, flags, service, regexp, replacement = _fields(text, 6, "NAPTR")
    return NAPTR(
        _uint(order, 16, "order"),
        _uint(pref, 16, "preference"),
        flags.encode(),
        service.encode(),
        regexp.encode(),
        _name(replacement, origin, "replacement") if replacement != "." else DNSLabel([]),
    )


def _sshfp(text: str, origin: names.Name) -> RD:
    alg, fptype, fingerprint = _fields(text, 3, "SSHFP")
    return SSHFP(
        _uint(alg, 8, "algorithm"), _uint(fptype, 8, "type"), _hex(fingerprint, "fingerprint")
    )


def _tlsa(text: str, origin: names.Name) -> RD:
    fields = _fields(text, None, "TLSA")
    if len(fields) < 4:
        raise RdataError(f"TLSA needs usage, selector, matching type and data in {text!r}")
    usage, selector, mtype, *data = fields
    return TLSA(
        _uint(usage, 8, "usage"),
        _uint(selector, 8, "selector"),
        _uint(mtype, 8, "matching type"),
        _hex("".join(data), "certificate data"),
    )


def _ds(text: str, origin: names.Name) -> RD:
    fields = _fields(text, None, "DS")
    if len(fields) < 4:
        raise RdataError(f"DS needs key tag, algorithm, digest type and digest in {text!r}")
    tag, alg, dtype, *digest = fields
    return DS(
        _uint(tag, 16, "key tag"),
        _uint(alg, 8, "algorithm"),
        _uint(dtype, 8, "digest type"),
        _hex("".join(digest), "digest"),
    )


def _svc_tokens(text: str) -> list[str]:
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


_DIGITS = "0123456789"


def _char_string(raw: str, what: str) -> bytes:
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
            digits = body[at + 1 : at + 4]
            if digits[:1] and digits[0] in _DIGITS:
                if len(digits) < 3 or any(d not in _DIGITS for d in digits) or int(digits) > 255:
                    raise RdataError(f"{what}: bad escape \\{digits} in {raw!r}")
                out.append(int(digits))
                at += 4
                continue
            out += body[at + 1 : at + 2].encode()
            at += 2
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


def _escaped_list(data: bytes, what: str) -> list[bytes]:
    """RFC 9460 appendix A.1: a comma-separated list where items may hold \\, and \\\\."""
    items = [bytearray()]
    at = 0
    while at < len(data):
        byte = data[at]
        if byte == 0x5C:
            if data[at + 1 : at + 2] not in (b",", b"\\"):
                raise RdataError(f"{what}: a backslash may only escape ',' or '\\\\'")
            items[-1] += data[at + 1 : at + 2]
            at += 2
            continue
        if byte == 0x2C:
            items.append(bytearray())
        else:
            items[-1].append(byte)
        at += 1
    if any(not item for item in items):
        raise RdataError(f"{what}: empty item in list")
    return [bytes(item) for item in items]


def _plain_list(data: bytes, what: str) -> list[str]:
    try:
        items = data.decode("ascii").split(",")
    except UnicodeDecodeError:
        raise RdataError(f"{what}: not ASCII") from None
    if any(not item for item in items):
        raise RdataError(f"{what}: empty item in list")
    return items


def _svc_key(name: str) -> int:
    if name in SVC_KEYS:
        return SVC_KEYS[name]
    digits = name[3:]
    if not name.startswith("key") or not digits or any(d not in _DIGITS for d in digits):
        raise RdataError(f"unknown SvcParam {name!r}")
    if len(digits) > 1 and digits[0] == "0":
        raise RdataError(f"SvcParam {name} has leading zeros")
    number = int(digits)
    if number > 65535:
        raise RdataError(f"SvcParam {name} is beyond key65535")
    if number == 65535:
        raise RdataError("SvcParam key65535 is reserved as the invalid key (RFC 9460)")
    return number


def _svc_value(key: int, name: str, value: bytes | None) -> bytes:
    """The wire value of one SvcParam written by its name; keyNNNNN takes wire bytes."""
    if name.startswith("key"):
        return value or b""
    if key == 2:
        if value:
            raise RdataError("no-default-alpn takes no value")
        return b""
    if not value:
        raise RdataError(f"SvcParam {name} needs a value")
    if key == 0:
        numbers = [_svc_key(item) for item in _plain_list(value, name)]
        if 0 in numbers:
            raise RdataError("mandatory may not list mandatory itself (RFC 9460 section 8)")
        if len(set(numbers)) != len(numbers):
            raise RdataError("mandatory lists a key twice")
        return b"".join(n.to_bytes(2, "big") for n in sorted(numbers))
    if key == 1:
        ids = _escaped_list(value, name)
        if any(len(i) > 255 for i in ids):
            raise RdataError("an alpn id is longer than 255 bytes")
        return b"".join(bytes((len(i),)) + i for i in ids)
    if key == 3:
        return _uint(value.decode("utf-8", "replace"), 16, "port").to_bytes(2, "big")
    if key in (4, 6):
        version = ipaddress.IPv4Address if key == 4 else ipaddress.IPv6Address
        out = b""
        for addr in _plain_list(value, name):
            try:
                out += version(addr).packed
            except ValueError:
                family = 4 if key == 4 else 6
                raise RdataError(f"{name} {addr!r} is not an IPv{family} address") from None
        return out
    try:  # key 5, ech: an ECHConfigList in base64
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise RdataError(f"ech {value!r} is not base64") from None


def _svc_check_wire(key: int, value: bytes) -> None:
    """A known key's wire value must decode (keyNNNNN=... of a known key is bytes)."""
    size = len(value)
    problem = None
    if key == 0:
        keys = [int.from_bytes(value[i : i + 2], "big") for i in range(0, size, 2)]
        if not size or size % 2 or keys != sorted(set(keys)) or 0 in keys:
            problem = "mandatory is not a list of other keys in increasing order"
    elif key == 1:
        at = 0
        while at < size and value[at]:
            at += 1 + value[at]
        if not size or at != size:
            problem = "alpn is not a list of non-empty ids"
    elif key == 2 and size:
        problem = "no-default-alpn takes no value"
    elif key == 3 and size != 2:
        problem = "port is not 2 bytes"
    elif key in (4, 6) and (not size or size % (4 if key == 4 else 16)):
        problem = f"{SVC_NAMES[key]} is not a list of addresses"
    elif key == 5 and (size < 6 or int.from_bytes(value[:2], "big") != size - 2):
        problem = "ech is not an ECHConfigList (a 2-byte length, then 4 or more bytes)"
    elif size > 65535:
        problem = f"key{key} is longer than 65535 bytes"
    if problem:
        raise RdataError(problem)


def _svc(cls: type[RD]) -> Callable[[str, names.Name], RD]:
    """RFC 9460 presentation format: PRIORITY TARGET key[=value]..., checked whole."""

    def parse(text: str, origin: names.Name) -> RD:
        fields = _svc_tokens(text)
        if len(fields) < 2:
            raise RdataError(f"{cls.__name__} needs priority and target in {text!r}")
        prio = _uint(fields[0], 16, "priority")
        target = _name(fields[1], origin, "target") if fields[1] != "." else DNSLabel([])
        if prio == 0 and fields[2:]:
            raise RdataError("AliasMode (priority 0) takes no SvcParams")
        params: dict[int, bytes] = {}
        for param in fields[2:]:
            name, eq, raw = param.partition("=")
            key = _svc_key(name)
            if key in params:
                written = name if name in SVC_KEYS else f"{name} ({SVC_NAMES.get(key, name)})"
                raise RdataError(f"SvcParam {written} appears twice")
            value = _char_string(raw, name) if eq else None
            params[key] = _svc_value(key, name, value)
            _svc_check_wire(key, params[key])
        mandatory = params.get(0, b"")
        listed = [int.from_bytes(mandatory[i : i + 2], "big") for i in range(0, len(mandatory), 2)]
        missing = [SVC_NAMES.get(k, f"key{k}") for k in listed if k not in params]
        if missing:
            raise RdataError(f"mandatory lists keys that are absent: {', '.join(missing)}")
        if 2 in params and 1 not in params:
            raise RdataError("no-default-alpn needs alpn")
        return cls(prio, list(target.label), sorted(params.items()))

    return parse


def _txt(cls: type[RD]) -> Callable[[str, names.Name], RD]:
    def parse(text: str, origin: names.Name) -> RD:
        return cls(split_txt(text))

    return parse


PARSERS: dict[str, Callable[[str, names.Name], RD]] = {
    "A": _a,
    "AAAA": _aaaa,
    "CNAME": _single_name(CNAME),
    "NS": _single_name(NS),
    "PTR": _single_name(PTR),
    "MX": _mx,
    "TXT": _txt(TXT),
    "SPF": _txt(SPF),
    "SRV": _srv,
    "CAA": _caa,
    "NAPTR": _naptr,
    "SSHFP": _sshfp,
    "TLSA": _tlsa,
    "DS": _ds,
    "HTTPS": _svc(HTTPS),
    "SVCB": _svc(SVCB),
}


def parse(type_name: str, text: str, origin: names.Name) -> RD:
    """Parse one value of TYPE; relative names are completed with the zone origin."""
    rd = PARSERS[type_name](text, origin)
    buffer = DNSBuffer()
    rd.pack(buffer)
    if len(buffer.data) > 65535:
        raise RdataError(f"the value is {len(buffer.data)} bytes on the wire, above 65535")
    return rd


def type_code(type_name: str) -> int:
    return int(QTYPE.reverse[type_name])


def target_name(rd: RD) -> names.Name | None:
    """The domain name a CNAME/NS/MX/SRV value points at, for chasing and glue."""
    for attr in ("label", "mx", "target"):
        value = getattr(rd, attr, None)
        if isinstance(value, DNSLabel):
            return names.lower(value.label)
    return None
