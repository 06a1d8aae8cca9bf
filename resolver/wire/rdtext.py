"""Record values written in presentation format: the inverse of rdata.parse.

dnslib's toZone leaves names relative to nothing, writes CAA and NAPTR strings without
escaping their quotes and backslashes, and has no SPF, so `export bind` and `import bind`
write values here. For every supported type, rdata.parse(type, text(type, rd), ()) packs
to the same wire bytes as rd (tests/unit/test_rdtext.py checks that), and the same text
is a valid RFC 1035 master-file value.
"""

from __future__ import annotations

import binascii

from dnslib import RD, DNSLabel

from resolver.wire import names
from resolver.wire.rdtypes import charstring

TEXT_TYPES = ("TXT", "SPF")
# The field of a value that is a domain name, by type (0-based, whitespace-separated).
NAME_FIELD = {
    "CNAME": 0,
    "NS": 0,
    "PTR": 0,
    "MX": 1,
    "SRV": 3,
    "NAPTR": 5,
    "HTTPS": 1,
    "SVCB": 1,
}


class NotText(ValueError):
    """A value the zone format's text cannot hold (TXT bytes that are not UTF-8...)."""


def quoted(data: bytes, printable_only: bool = False) -> str:
    """A character-string, quoted: `"` and `\\` escaped, other non-printable bytes \\DDD.

    With printable_only (a zone-file value read by shlex, which has no \\DDD), a byte
    outside printable ASCII and UTF-8 text is refused instead."""
    if printable_only:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise NotText(f"{data!r} is not UTF-8 text") from None
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
            raise NotText(f"{text!r} holds control characters")
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return charstring(data)


def name(label: DNSLabel) -> str:
    return names.to_text(tuple(bytes(part) for part in label.label))


def txt_strings(rd: RD) -> list[bytes]:
    return [bytes(part) for part in rd.data]


def txt_value(rd: RD) -> str:
    """A TXT or SPF value as a zone file holds it: the strings joined, as UTF-8 text."""
    joined = b"".join(txt_strings(rd))
    try:
        return joined.decode("utf-8")
    except UnicodeDecodeError:
        raise NotText("the text is not UTF-8, which a zone file cannot hold") from None


def text(type_name: str, rd: RD, zone_value: bool = False) -> str:
    """RD in presentation format, names absolute. zone_value: the text a zone file's
    `values` holds (TXT as the text itself; quoted strings without \\DDD)."""
    if type_name in TEXT_TYPES:
        if zone_value:
            return txt_value(rd)
        return " ".join(quoted(part) for part in txt_strings(rd))
    if type_name in ("CNAME", "NS", "PTR"):
        return name(rd.label)
    if type_name == "MX":
        return f"{rd.preference} {name(rd.label)}"
    if type_name == "SRV":
        return f"{rd.priority} {rd.weight} {rd.port} {name(rd.target)}"
    if type_name == "CAA":
        value = rd.value.encode("utf-8") if isinstance(rd.value, str) else bytes(rd.value)
        return f"{rd.flags} {rd.tag} {quoted(value, zone_value)}"
    if type_name == "NAPTR":
        strings = (quoted(bytes(f), zone_value) for f in (rd.flags, rd.service, rd.regexp))
        replacement = name(rd.replacement) if rd.replacement.label else "."
        return f"{rd.order} {rd.preference} {' '.join(strings)} {replacement}"
    if type_name == "SSHFP":
        return f"{rd.algorithm} {rd.fp_type} {_hex(rd.fingerprint)}"
    if type_name == "TLSA":
        return f"{rd.cert_usage} {rd.selector} {rd.matching_type} {_hex(rd.cert_data)}"
    if type_name == "DS":
        return f"{rd.key_tag} {rd.algorithm} {rd.digest_type} {_hex(rd.digest)}"
    if type_name in ("HTTPS", "SVCB"):
        return repr(rd)  # rdtypes.HTTPS writes RFC 9460 text; zone values decode its \DDD
    return str(rd)  # A, AAAA


def _hex(data: bytes) -> str:
    return binascii.hexlify(bytes(data)).decode().upper()
