"""dnslib rdata classes fixed for the wire, and record types dnslib lacks (SVCB, SPF).

Only the RFC 1035 types (NS, CNAME, SOA, PTR, MX, ...) may carry compressed names in
RDATA (RFC 3597 section 4); and RFC 9460 section 2.2 wants SvcParams in increasing key
order. dnslib gets both wrong somewhere, so the classes we build values with pack right.
"""

from __future__ import annotations

import base64
import ipaddress
import struct
from typing import Any

import dnslib
from dnslib import QTYPE, RDMAP, TXT

from resolver.wire import names

# SvcParamKey numbers by presentation name (RFC 9460 section 14.3.2).
SVC_KEYS: dict[str, int] = {
    "mandatory": 0,
    "alpn": 1,
    "no-default-alpn": 2,
    "port": 3,
    "ipv4hint": 4,
    "ech": 5,
    "ipv6hint": 6,
}
SVC_NAMES: dict[int, str] = {number: name for name, number in SVC_KEYS.items()}


def charstring(data: bytes) -> str:
    """RFC 1035 character-string text for data, always quoted: printable ASCII as is."""
    out = []
    for byte in data:
        if byte in b'"\\':
            out.append("\\" + chr(byte))
        elif 0x20 <= byte <= 0x7E:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def _alpn_ids(value: bytes) -> list[bytes]:
    ids, at = [], 0
    while at < len(value):
        size = value[at]
        ids.append(value[at + 1 : at + 1 + size])
        at += 1 + size
    return ids


def svc_param_text(key: int, value: bytes) -> str:
    """One SvcParam in presentation format; unknown keys and odd values as keyNNNNN=bytes."""
    name = SVC_NAMES.get(key, f"key{key}")
    try:
        if key == 0 and len(value) % 2 == 0:
            keys = struct.unpack(f"!{len(value) // 2}H", value)
            return name + "=" + ",".join(SVC_NAMES.get(k, f"key{k}") for k in keys)
        if key == 1:
            items = [i.replace(b"\\", b"\\\\").replace(b",", b"\\,") for i in _alpn_ids(value)]
            return name + "=" + charstring(b",".join(items))
        if key == 2 and not value:
            return name
        if key == 3 and len(value) == 2:
            return f"{name}={struct.unpack('!H', value)[0]}"
        if key == 4 and value and len(value) % 4 == 0:
            addrs = [ipaddress.IPv4Address(value[i : i + 4]) for i in range(0, len(value), 4)]
            return name + "=" + ",".join(map(str, addrs))
        if key == 5 and value:
            return name + "=" + base64.b64encode(value).decode()
        if key == 6 and value and len(value) % 16 == 0:
            addrs6 = [ipaddress.IPv6Address(value[i : i + 16]) for i in range(0, len(value), 16)]
            return name + "=" + ",".join(map(str, addrs6))
    except (IndexError, ValueError):
        pass
    generic = f"key{key}"
    return generic + ("=" + charstring(value) if value else "")


class HTTPS(dnslib.HTTPS):
    """HTTPS (RFC 9460) that packs its SvcParams in increasing key order.

    dnslib packs them in the order they were written; RFC 9460 section 2.2 requires
    increasing order and clients must treat anything else as malformed. It also prints
    key 5 as the draft's "echconfig"; this class prints "ech" and escapes odd bytes.
    """

    def pack(self, buffer: Any) -> None:
        buffer.pack("!H", self.priority)
        for label in self.target:
            buffer.pack("B", len(label))
            buffer.append(label)
        buffer.pack("B", 0)
        for key, value in sorted(self.params, key=lambda param: param[0]):
            buffer.pack("!HH", key, len(value))
            buffer.append(value)

    def __repr__(self) -> str:
        target = names.to_text(tuple(bytes(label) for label in self.target))
        params = [svc_param_text(k, bytes(v)) for k, v in sorted(self.params, key=lambda p: p[0])]
        return " ".join([str(self.priority), target, *params])


class SVCB(HTTPS):
    """SVCB shares HTTPS's wire and presentation format (RFC 9460 section 2)."""


class NAPTR(dnslib.NAPTR):
    """NAPTR whose replacement name is never compressed.

    dnslib's NAPTR.pack uses buffer.encode_name, which compresses; RFC 3597 section 4
    allows compression in RDATA only for the RFC 1035 types, and RFC 3403 section 4.1
    says the replacement MUST NOT be compressed.
    """

    def pack(self, buffer: Any) -> None:
        buffer.pack("!HH", self.order, self.preference)
        for field in (self.flags, self.service, self.regexp):
            buffer.pack("!B", len(field))
            buffer.append(field)
        buffer.encode_name_nocompress(self.replacement)


class SPF(TXT):
    """SPF has TXT's format under type code 99."""


def register() -> None:
    """Make dnslib build these classes when it parses or reads a zone, and SVCB/SPF by name."""
    RDMAP["HTTPS"] = HTTPS
    RDMAP["SVCB"] = SVCB
    RDMAP["NAPTR"] = NAPTR
    RDMAP.setdefault("SPF", SPF)
    if QTYPE.reverse["SVCB"] != 64 or QTYPE.reverse["SPF"] != 99:
        raise RuntimeError("this dnslib numbers SVCB or SPF differently; policydns needs 64, 99")


register()
