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
    HTTPS,
    MX,
    NAPTR,
    NS,
    PTR,
    QTYPE,
    RD,
    SRV,
    SSHFP,
    TLSA,
    TXT,
    A,
    DNSLabel,
)

from resolver import names
from resolver.rdtypes import SPF, SVCB


class RdataError(ValueError):
    """A value that does not parse for its record type."""


SUPPORTED_TYPES = (
    "A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "CAA",
    "PTR", "NAPTR", "SSHFP", "TLSA", "DS", "HTTPS", "SVCB", "SPF",
)  # fmt: skip


def _uint(text: str, bits: int, what: str) -> int:
    if not text.isdigit():
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


_SVC_KEYS = {"mandatory", "alpn", "no-default-alpn", "port", "ipv4hint", "ech", "ipv6hint"}


def _svc(cls: type[RD]) -> Callable[[str, names.Name], RD]:
    def parse(text: str, origin: names.Name) -> RD:
        fields = text.split()
        if len(fields) < 2:
            raise RdataError(f"{cls.__name__} needs priority and target in {text!r}")
        prio = _uint(fields[0], 16, "priority")
        target = _name(fields[1], origin, "target") if fields[1] != "." else DNSLabel([])
        present: list[str] = []
        mandatory: list[str] = []
        for param in fields[2:]:
            key, _, value = param.partition("=")
            if key not in _SVC_KEYS and not (key.startswith("key") and key[3:].isdigit()):
                raise RdataError(f"unknown SvcParam {key!r}")
            if key.startswith("key") and int(key[3:]) > 65535:
                raise RdataError(f"SvcParam {key} is beyond key65535")
            if key in present:
                raise RdataError(f"SvcParam {key} appears twice")
            present.append(key)
            if key == "mandatory":
                mandatory = value.split(",")
            elif key == "port":
                _uint(value, 16, "port")
            elif key in ("ipv4hint", "ipv6hint"):
                for addr in value.split(","):
                    try:
                        ipaddress.ip_address(addr)
                    except ValueError:
                        raise RdataError(f"{key} {addr!r} is not an address") from None
            elif key == "ech":
                try:
                    base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    raise RdataError(f"ech {value!r} is not base64") from None
        missing = [k for k in mandatory if k not in present]
        if missing or "mandatory" in mandatory:
            raise RdataError(
                f"mandatory lists keys that are absent: {', '.join(missing or mandatory)}"
            )
        try:
            parsed = cls.fromZone([fields[0], ".", *fields[2:]], DNSLabel([]))
        except Exception as exc:  # dnslib raises many kinds here
            raise RdataError(f"bad SvcParams in {text!r}: {exc}") from None
        return cls(prio, list(target.label), parsed.params)

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
    return PARSERS[type_name](text, origin)


def type_code(type_name: str) -> int:
    return int(QTYPE.reverse[type_name])


def target_name(rd: RD) -> names.Name | None:
    """The domain name a CNAME/NS/MX/SRV value points at, for chasing and glue."""
    for attr in ("label", "mx", "target"):
        value = getattr(rd, attr, None)
        if isinstance(value, DNSLabel):
            return names.lower(value.label)
    return None
