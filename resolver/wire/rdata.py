"""Record values in presentation format parsed strictly into dnslib rdata objects.

dnslib's own zone parser accepts malformed values silently (an A of 999.1.1.1, a relative
SRV target left relative), so each type gets a parser that checks every field.
"""

from __future__ import annotations

import ipaddress
import socket
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

from resolver.wire import names, svcparams
from resolver.wire.presentation import RdataError, domain_name, hex_bytes, split_fields, uint
from resolver.wire.rdtypes import HTTPS, NAPTR, SPF, SVCB

SUPPORTED_TYPES = (
    "A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "CAA",
    "PTR", "NAPTR", "SSHFP", "TLSA", "DS", "HTTPS", "SVCB", "SPF",
)  # fmt: skip


def split_txt(text: str) -> list[bytes]:
    """One TXT string per 255 bytes; the value is the text itself, spaces included."""
    raw = text.encode("utf-8")
    if not raw:
        return [b""]
    return [raw[i : i + 255] for i in range(0, len(raw), 255)]


def _packed(family: int, text: str) -> bytes | None:
    """The address's bytes when TEXT is already in inet_ntop's form (ipaddress accepts it
    and reads the same bytes); None sends anything else to ipaddress, which decides."""
    try:
        packed = socket.inet_pton(family, text)
    except OSError:
        return None
    return packed if socket.inet_ntop(family, packed) == text else None


def _a(text: str, origin: names.Name) -> RD:
    packed = _packed(socket.AF_INET, text.strip())
    if packed is not None:
        return A(tuple(packed))
    try:
        return A(str(ipaddress.IPv4Address(text.strip())))
    except ValueError:
        raise RdataError(f"{text!r} is not an IPv4 address") from None


def _aaaa(text: str, origin: names.Name) -> RD:
    packed = _packed(socket.AF_INET6, text.strip())
    if packed is not None:
        return AAAA(tuple(packed))
    try:
        return AAAA(str(ipaddress.IPv6Address(text.strip())))
    except ValueError:
        raise RdataError(f"{text!r} is not an IPv6 address") from None


def _single_name(cls: type[RD]) -> Callable[[str, names.Name], RD]:
    def parse(text: str, origin: names.Name) -> RD:
        (target,) = split_fields(text, 1, cls.__name__)
        return cls(domain_name(target, origin, "target"))

    return parse


def _mx(text: str, origin: names.Name) -> RD:
    pref, exchange = split_fields(text, 2, "MX")
    return MX(domain_name(exchange, origin, "exchange"), uint(pref, 16, "preference"))


def _srv(text: str, origin: names.Name) -> RD:
    prio, weight, port, target = split_fields(text, 4, "SRV")
    return SRV(
        uint(prio, 16, "priority"),
        uint(weight, 16, "weight"),
        uint(port, 16, "port"),
        domain_name(target, origin, "target"),
    )


def _caa(text: str, origin: names.Name) -> RD:
    flags, tag, value = split_fields(text, 3, "CAA")
    if not tag.isalnum() or not tag.isascii():
        raise RdataError(f"CAA tag {tag!r} must be letters and digits")
    return CAA(uint(flags, 8, "flags"), tag, value)


def _naptr(text: str, origin: names.Name) -> RD:
    order, pref, flags, service, regexp, replacement = split_fields(text, 6, "NAPTR")
    return NAPTR(
        uint(order, 16, "order"),
        uint(pref, 16, "preference"),
        flags.encode(),
        service.encode(),
        regexp.encode(),
        domain_name(replacement, origin, "replacement") if replacement != "." else DNSLabel([]),
    )


# Digest lengths fixed by the type number: DS (RFC 4034, 4509, 5933, 6605), SSHFP (RFC 4255,
# 6594), TLSA (RFC 6698). Resolvers and libraries refuse a value of another length, most
# (dnspython) by rejecting the whole message, so one such record breaks every reply holding it.
DS_DIGEST_SIZES = {1: 20, 2: 32, 3: 32, 4: 48}
SSHFP_FINGERPRINT_SIZES = {1: 20, 2: 32}
TLSA_DATA_SIZES = {1: 32, 2: 64}


def _sized(data: bytes, kind: int, sizes: dict[int, int], what: str) -> bytes:
    """`data`, if its length is the one its type number `kind` fixes (or none is fixed)."""
    size = sizes.get(kind)
    if size is not None and len(data) != size:
        raise RdataError(f"{what} of type {kind} must be {size} bytes, not {len(data)}")
    return data


def _sshfp(text: str, origin: names.Name) -> RD:
    alg, fptype, fingerprint = split_fields(text, 3, "SSHFP")
    kind = uint(fptype, 8, "type")
    data = hex_bytes(fingerprint, "fingerprint")
    return SSHFP(
        uint(alg, 8, "algorithm"),
        kind,
        _sized(data, kind, SSHFP_FINGERPRINT_SIZES, "SSHFP fingerprint"),
    )


def _tlsa(text: str, origin: names.Name) -> RD:
    fields = split_fields(text, None, "TLSA")
    if len(fields) < 4:
        raise RdataError(f"TLSA needs usage, selector, matching type and data in {text!r}")
    usage, selector, mtype, *data = fields
    kind = uint(mtype, 8, "matching type")
    association = hex_bytes("".join(data), "certificate data")
    return TLSA(
        uint(usage, 8, "usage"),
        uint(selector, 8, "selector"),
        kind,
        _sized(association, kind, TLSA_DATA_SIZES, "TLSA certificate data"),
    )


def _ds(text: str, origin: names.Name) -> RD:
    fields = split_fields(text, None, "DS")
    if len(fields) < 4:
        raise RdataError(f"DS needs key tag, algorithm, digest type and digest in {text!r}")
    tag, alg, dtype, *digest = fields
    kind = uint(dtype, 8, "digest type")
    data = hex_bytes("".join(digest), "digest")
    return DS(
        uint(tag, 16, "key tag"),
        uint(alg, 8, "algorithm"),
        kind,
        _sized(data, kind, DS_DIGEST_SIZES, "DS digest"),
    )


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
    "HTTPS": svcparams.parser(HTTPS),
    "SVCB": svcparams.parser(SVCB),
}


# Types whose RDATA cannot pass 65,535 octets: a name is at most 255 (names.from_text).
_BOUNDED = frozenset({"A", "AAAA", "CNAME", "NS", "PTR", "MX", "SRV"})


def parse(type_name: str, text: str, origin: names.Name) -> RD:
    """Parse one value of TYPE; relative names are completed with the zone origin."""
    rd = PARSERS[type_name](text, origin)
    if type_name in _BOUNDED:
        return rd
    size = len(packed(rd))
    if size > 65535:
        raise RdataError(f"the value is {size} bytes on the wire, above 65535")
    return rd


def packed(rd: RD) -> bytes:
    """RD's RDATA on the wire, uncompressed."""
    buffer = DNSBuffer()
    rd.pack(buffer)
    return bytes(buffer.data)


def type_code(type_name: str) -> int:
    return int(QTYPE.reverse[type_name])


def target_name(rd: RD) -> names.Name | None:
    """The domain name a CNAME/NS/MX/SRV value points at, for chasing and glue."""
    for attr in ("label", "mx", "target"):
        value = getattr(rd, attr, None)
        if isinstance(value, DNSLabel):
            return names.lower(value.label)
    return None
