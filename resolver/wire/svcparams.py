"""SvcParams of SVCB and HTTPS records in presentation format (RFC 9460 section 2.1 and
appendix A): each key's value read and checked, the record checked whole."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable

from dnslib import RD, DNSLabel

from resolver.wire import names
from resolver.wire.names import DIGITS
from resolver.wire.presentation import (
    RdataError,
    char_string,
    domain_name,
    quoted_tokens,
    uint,
)
from resolver.wire.rdtypes import SVC_KEYS, SVC_NAMES


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
    if not name.startswith("key") or not digits or any(d not in DIGITS for d in digits):
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
        return uint(value.decode("utf-8", "replace"), 16, "port").to_bytes(2, "big")
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


def parser(cls: type[RD]) -> Callable[[str, names.Name], RD]:
    """RFC 9460 presentation format: PRIORITY TARGET key[=value]..., checked whole."""

    def parse(text: str, origin: names.Name) -> RD:
        fields = quoted_tokens(text)
        if len(fields) < 2:
            raise RdataError(f"{cls.__name__} needs priority and target in {text!r}")
        prio = uint(fields[0], 16, "priority")
        target = domain_name(fields[1], origin, "target") if fields[1] != "." else DNSLabel([])
        if prio == 0 and fields[2:]:
            raise RdataError("AliasMode (priority 0) takes no SvcParams")
        params: dict[int, bytes] = {}
        for param in fields[2:]:
            name, eq, raw = param.partition("=")
            key = _svc_key(name)
            if key in params:
                written = name if name in SVC_KEYS else f"{name} ({SVC_NAMES.get(key, name)})"
                raise RdataError(f"SvcParam {written} appears twice")
            value = char_string(raw, name) if eq else None
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
