"""Master-file entries to a zone document (`import bind`), a loaded zone to a master file
(`export bind`).

Every value goes through the project's own strict parser (resolver/wire/rdata.py) with
the $ORIGIN in force where it was written, and is written back with absolute names by
resolver/wire/rdtext.py, so what the zone file holds packs to the bytes the master file
meant. What cannot be carried over is a Problem with the file and line it came from;
nothing is dropped without one.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dnslib import QTYPE, RDMAP, DNSBuffer, DNSError

from resolver.bindfile.master import Entry, Problem, shorten, ttl_value
from resolver.wire import names, rdata, rdtext
from resolver.wire.names import Name
from resolver.wire.presentation import RdataError, char_string
from resolver.zones.model import RecordSet, Zone

_ADDRESS = frozenset({int(QTYPE.A), int(QTYPE.AAAA)})
_SOA_FIELDS = ("mname", "rname", "serial", "refresh", "retry", "expire", "minimum")


def relative_text(name: Name, zone: Name) -> str:
    """NAME as a zone file writes an owner: "@" for the apex, else relative, no final dot."""
    rel = name[: len(name) - len(zone)]
    return names.to_text(rel)[:-1] if rel else "@"


def written(entry: Entry) -> str:
    """The record as one master-file line, for the report of what was not imported."""
    text = " ".join(
        (names.to_text(entry.owner), str(entry.ttl), entry.rclass, entry.rtype, *entry.rdata)
    )
    return shorten(text, 100)


def _type_name(mnemonic: str) -> str:
    """The mnemonic for TYPEnnn when dnslib knows one (RFC 3597 allows either)."""
    if mnemonic.startswith("TYPE") and mnemonic[4:].isdigit():
        known = QTYPE.get(int(mnemonic[4:]))
        if isinstance(known, str) and not known.startswith("TYPE"):
            return known
    return mnemonic


def _generic(type_name: str, tokens: tuple[str, ...]) -> Any:
    """RFC 3597 `\\# LENGTH HEX` read into the type's rdata object."""
    if len(tokens) < 2 or not tokens[1].isdigit():
        raise RdataError("\\# needs a length and hex data")
    try:
        wire = binascii.unhexlify("".join(tokens[2:]))
    except (binascii.Error, ValueError):
        raise RdataError("\\# data is not hexadecimal") from None
    if len(wire) != int(tokens[1]):
        raise RdataError(f"\\# says {tokens[1]} bytes, the data has {len(wire)}")
    cls = RDMAP.get(type_name)
    if cls is None:
        raise RdataError(f"no reader for {type_name} in generic form")
    buffer = DNSBuffer(wire)
    try:
        rd = cls.parse(buffer, len(wire))
    except (DNSError, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise RdataError(f"\\# data is not a {type_name} value: {exc}") from None
    if buffer.offset != len(wire):
        raise RdataError(f"\\# data is longer than the {type_name} value it holds")
    return rd


def _token(token: str) -> str:
    """A quoted token re-quoted the way zone values read them (shlex, no \\DDD)."""
    if not token.startswith('"'):
        return token
    return rdtext.quoted(char_string(token, "string"), printable_only=True)


def _txt_value(entry: Entry, changed: list[Problem], what: str) -> str:
    strings = [char_string(token, "string") for token in entry.rdata] or [b""]
    if any(len(s) > 255 for s in strings):
        raise RdataError("a string is longer than 255 bytes")
    try:
        text = b"".join(strings).decode("utf-8")
    except UnicodeDecodeError:
        raise RdataError("the text is not UTF-8, which a zone file cannot hold") from None
    if rdata.split_txt(text) != strings:
        changed.append(
            Problem(
                entry.file,
                entry.line,
                what,
                f"its {len(strings)} strings become one text, split at every 255 bytes"
                " (every byte kept; the strings' boundaries are not)",
            )
        )
    return text


def _value(entry: Entry, type_name: str, zone: Name, changed: list[Problem], what: str) -> str:
    """The zone-file value of one entry; raises RdataError, NotText or NameError_."""
    if entry.rdata[:1] == ("\\#",):
        rd = _generic(type_name, entry.rdata)
        value = rdtext.text(type_name, rd, zone_value=True)
        if rdata.packed(rdata.parse(type_name, value, zone)) != rdata.packed(rd):
            raise RdataError("the value cannot be written in presentation form")
        return value
    if type_name in rdtext.TEXT_TYPES:
        return _txt_value(entry, changed, what)
    text = " ".join(_token(token) for token in entry.rdata)
    rd = rdata.parse(type_name, text, entry.origin)
    return rdtext.text(type_name, rd, zone_value=True)


def _soa(entry: Entry) -> dict[str, Any]:
    if len(entry.rdata) != 7:
        raise RdataError(f"SOA needs 7 fields, got {len(entry.rdata)}")
    mname, rname, serial, *timers = entry.rdata
    doc: dict[str, Any] = {
        "mname": names.to_text(names.from_text(mname, entry.origin)),
        "rname": names.to_text(names.from_text(rname, entry.origin)),
    }
    if not (serial.isascii() and serial.isdigit()) or int(serial) > 0xFFFFFFFF:
        raise RdataError(f"serial {serial!r} is not a 32-bit number")
    doc["serial"] = int(serial)
    for key, token in zip(_SOA_FIELDS[3:], timers, strict=True):
        doc[key] = ttl_value(token)
    return doc


@dataclass(slots=True)
class _Set:
    """One RRset being gathered: values in file order (a set beside them, so a duplicate
    costs what any record costs), every TTL written, and the entry that opened it."""

    values: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    ttls: set[int] = field(default_factory=set)
    first: Entry | None = None

    def add(self, entry: Entry, value: str) -> bool:
        """Take one record; False when its value is already there."""
        if self.first is None:
            self.first = entry
        self.ttls.add(entry.ttl)
        if value in self.seen:
            return False
        self.seen.add(value)
        self.values.append(value)
        return True


def import_entries(
    entries: Iterable[Entry], zone: Name
) -> tuple[dict[str, Any], list[Problem], list[Problem]]:
    """The zone document, what was not imported, and what was imported changed."""
    dropped: list[Problem] = []
    changed: list[Problem] = []
    soa: dict[str, Any] | None = None
    soa_ttl: int | None = None
    apex_ns = _Set()
    # (owner key, type) -> its values, TTLs and first entry
    sets: dict[tuple[str, str], _Set] = {}
    zone_text = names.to_text(zone)
    for entry in entries:
        owner = relative_text(entry.owner, zone) if names.is_subdomain(entry.owner, zone) else None
        type_name = _type_name(entry.rtype)
        what = f"{names.to_text(entry.owner)} {type_name}"

        def drop(reason: str, entry: Entry = entry, what: str = what) -> None:
            dropped.append(Problem(entry.file, entry.line, what, f"{reason}: {written(entry)}"))

        if entry.rclass != "IN":
            drop(f"class {entry.rclass}: only IN records are served; not imported")
            continue
        if owner is None:
            drop(f"outside the zone {zone_text}; not imported")
            continue
        try:
            if type_name == "SOA":
                if entry.owner != zone:
                    drop("an SOA below the zone apex; not imported")
                elif soa is not None:
                    drop("a second SOA; not imported")
                else:
                    soa, soa_ttl = _soa(entry), entry.ttl
                continue
            if type_name not in rdata.SUPPORTED_TYPES:
                drop(f"type {type_name} is not one the zone format holds; not imported")
                continue
            value = _value(entry, type_name, zone, changed, what)
        except (RdataError, rdtext.NotText, names.NameError_, UnicodeError, ValueError) as exc:
            drop(f"{exc}; not imported")
            continue
        apex = type_name == "NS" and entry.owner == zone
        group = apex_ns if apex else sets.setdefault((owner, type_name), _Set())
        if not group.add(entry, value):
            changed.append(Problem(entry.file, entry.line, what, "a duplicate record; kept once"))
    if soa_ttl is None:
        any_ttl = [min(group.ttls) for group in sets.values()]
        soa_ttl = min(any_ttl) if any_ttl else 3600
    doc: dict[str, Any] = {"zone": zone_text.rstrip(".") or ".", "ttl": soa_ttl}
    if soa is not None:
        doc["soa"] = soa
    if apex_ns.values:
        doc["ns"] = apex_ns.values
        other = sorted(apex_ns.ttls - {soa_ttl})
        if other and apex_ns.first is not None:
            changed.append(
                Problem(
                    apex_ns.first.file,
                    apex_ns.first.line,
                    f"{zone_text} NS",
                    f"TTL {other[0]} becomes {soa_ttl}: the apex NS takes the zone's ttl (the"
                    " SOA's)",
                )
            )
    records: dict[str, list[dict[str, Any]]] = {}
    for (owner, type_name), group in sets.items():
        ttl = min(group.ttls)
        if len(group.ttls) > 1 and group.first is not None:
            changed.append(
                Problem(
                    group.first.file,
                    group.first.line,
                    f"{names.to_text(group.first.owner)} {type_name}",
                    f"TTLs {', '.join(str(t) for t in sorted(group.ttls))} in one RRset: the"
                    f" lowest, {ttl}, is used (RFC 2181 section 5.2)",
                )
            )
        record: dict[str, Any] = {"type": type_name}
        if ttl != soa_ttl:
            record["ttl"] = ttl
        record["values"] = group.values
        records.setdefault(owner, []).append(record)
    doc["records"] = records
    return doc, dropped, changed


def export_zone(zone: Zone, source: str) -> tuple[str, list[Problem], list[Problem]]:
    """The master file of ZONE's static records; the sets left out; what else to know
    (a health check not carried, a name server the checkers will miss an address for)."""
    left_out: list[Problem] = []
    changed: list[Problem] = []
    origin = zone.name_text
    soa = zone.soa
    out = [
        f"; {origin} exported by policydns from {source}\n",
        "; routing-policy and alias records have no master-file form and are not here\n",
        f"$ORIGIN {origin}\n",
        f"$TTL {zone.ttl}\n",
        f"@\t{zone.ttl}\tIN\tSOA\t{names.to_text(soa.mname)} {names.to_text(soa.rname)} ("
        f" {soa.serial} {soa.refresh} {soa.retry} {soa.expire} {soa.minimum} )\n",
    ]
    ns = int(QTYPE.NS)
    addressed: set[Name] = set()  # owners with an exported A or AAAA
    servers: list[tuple[Name | None, RecordSet]] = []  # NS targets and the set naming them
    apex_first = sorted(zone.nodes.items(), key=lambda item: item[0] != zone.origin)
    for owner, groups in apex_first:
        owner_text = relative_text(owner, zone.origin)
        ordered = sorted(
            groups.items(), key=lambda item: not (owner == zone.origin and item[0] == ns)
        )
        for rtype, group in ordered:
            type_name = QTYPE.get(rtype)
            what = f"{names.to_text(owner)} {type_name}"
            aliased = any(s.alias is not None for s in group.sets)
            if group.policy != "simple" or aliased:
                reason = (
                    "an alias has no master-file form (a CNAME would answer differently)"
                    if aliased and group.policy == "simple"
                    else f"{group.policy} routing has no master-file form"
                )
                for each in group.sets:
                    left_out.append(Problem(each.file, each.line, what, f"{reason}; not exported"))
                continue
            for each in group.sets:
                if each.health_check is not None:
                    changed.append(
                        Problem(
                            each.file,
                            each.line,
                            what,
                            f"health check {each.health_check} is not exported; the values are",
                        )
                    )
                for rd in each.rdata:
                    text = rdtext.text(type_name, rd)
                    out.append(f"{owner_text}\t{each.ttl}\tIN\t{type_name}\t{text}\n")
                if rtype in _ADDRESS:
                    addressed.add(owner)
                elif rtype == ns:
                    servers.extend((rdata.target_name(rd), each) for rd in each.rdata)
    for server, each in servers:
        if (
            server is not None
            and names.is_subdomain(server, zone.origin)
            and server not in addressed
        ):
            changed.append(
                Problem(
                    each.file,
                    each.line,
                    f"{names.to_text(each.name)} NS",
                    f"no A or AAAA for the name server {names.to_text(server)} is exported;"
                    " named-checkzone and kzonecheck refuse the file until the zone has one",
                )
            )
    return "".join(out), left_out, changed
