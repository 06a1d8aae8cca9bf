"""The one mapping between Route 53's shapes and zone-file documents (SPEC 4 and 6).

Pure data in, data out: the API, `import route53` and `export route53` all call these
functions, so a field is translated in exactly one place. Route 53 side: the plain dicts
botocore gives and takes (ResourceRecordSet, HealthCheckConfig). Zone side: the plain-dict
form of a zone file (`resolver.zones.render.ZoneDoc`).

Every field, in one place:

Route 53 ResourceRecordSet -> zone-file record set:

- Name (absolute, lower case, octal \\DDD escapes) -> the owner key (relative, "@" apex)
- Type -> type; TTL -> ttl (always written on export; none with an alias)
- ResourceRecords[{Value}] -> values (names in values absolute; TXT/SPF below)
- AliasTarget{DNSName, EvaluateTargetHealth} -> alias{target, evaluate_target_health};
  HostedZoneId is derived on export (Ids.zone_id_of, else the zone's own id)
- SetIdentifier -> set_id; HealthCheckId -> health_check (the check's id is the zone's)
- and the routing fields, the table ROUTING below: Weight -> weight, Region -> region,
  Failover PRIMARY|SECONDARY -> failover primary|secondary,
  GeoLocation{ContinentCode, CountryCode, SubdivisionCode} -> geolocation{continent,
  country, subdivision}, GeoProximityLocation{AWSRegion, Coordinates{Latitude,
  Longitude} (strings), Bias} -> geoproximity{region, coordinates{latitude, longitude}
  (numbers), bias}, MultiValueAnswer true -> multivalue: true (false is simple),
  CidrRoutingConfig{CollectionId, LocationName} -> cidr{collection (a name, via Ids),
  location}
- LocalZoneGroup, AZAffinity, CLOUDWATCH_METRIC checks, unknown keys: MappingError;
  TrafficPolicyInstanceId: a loss (below)

HealthCheckConfig -> zone-file health check: _CHECK_TYPES and _CHECK_FIELDS below;
IPAddress -> target (FullyQualifiedDomainName -> host), or FullyQualifiedDomainName ->
target without an IPAddress; the keys in _CHECK_NOTES have no equivalent and are notes.

TXT and SPF: Route 53 writes each value as quoted character-strings (`"a" "b"`, `\\"` and
`\\\\` escaped, other octets outside 0x20-0x7E as octal `\\DDD`); the zone file holds the
text itself, which the loader splits into 255-byte strings. A value whose strings are
exactly that split (all but the last 255 bytes) maps both ways without loss. Any other
split maps to the concatenation of its strings, which keeps every byte but moves the
string boundaries: that is a *note* when the caller collects notes (`notes=[...]`), and a
MappingError when it does not, so nothing changes silently. Text that is not UTF-8 cannot
be held by a zone file: MappingError.

Losses follow the same rule everywhere (coordinates with more than two decimals on export,
SOA/NS TTLs that differ from the zone's): a note if collected, else MappingError.
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from resolver.wire import names, rdata
from resolver.wire.presentation import RdataError, quoted_tokens
from resolver.wire.rdtext import NAME_FIELD, TEXT_TYPES

Record = dict[str, Any]
RRSet = dict[str, Any]

ROUTE53_TYPES = frozenset(rdata.SUPPORTED_TYPES) | {"SOA"}
# Octets Route 53 writes as themselves in names; every other one is \DDD in octal.
_NAME_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-_")
_NAMESPACE = uuid.UUID("6f1b7a52-3c1e-5b8e-9d43-7d2d1f0c5a11")  # policydns CIDR collections


class MappingError(ValueError):
    """A Route 53 shape or zone-file entry that has no equivalent on the other side; the
    message names the field and why."""


# ---------------------------------------------------------------------------- ids


def zone_id_for(zone_name: str) -> str:
    """The hosted zone id of a zone: "Z" and 20 of [A-Z0-9] from a hash of its name, so
    every instance and every restart gives a zone the same id."""
    key = _absolute_text(zone_name).lower().encode()
    digest = int.from_bytes(hashlib.sha256(key).digest(), "big")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    chars = []
    for _ in range(20):
        digest, index = divmod(digest, len(alphabet))
        chars.append(alphabet[index])
    return "Z" + "".join(chars)


def collection_id_for(name: str) -> str:
    """The CollectionId of a zone file's CIDR collection: a UUID as it is (lower case),
    so an imported collection named by its Route 53 id exports to that id; any other
    name a uuid5 of it."""
    try:
        return str(uuid.UUID(name))
    except ValueError:
        return str(uuid.uuid5(_NAMESPACE, name))


def _no_name(_: str) -> str | None:
    return None


@dataclass(frozen=True)
class Ids:
    """How ids are resolved. zone_id_of(abs_name): the hosted zone holding a name (for
    AliasTarget.HostedZoneId; None means the zone being converted). collection_name_of(id)
    and collection_id_of(name) translate CIDR collections; None from collection_name_of
    keeps the id as the collection's name."""

    zone_id_of: Callable[[str], str | None] = _no_name
    collection_name_of: Callable[[str], str | None] = _no_name
    collection_id_of: Callable[[str], str | None] = collection_id_for

    @classmethod
    def for_names(cls, zones: Sequence[str] = (), collections: Sequence[str] = ()) -> Ids:
        """Ids for a known set of zones and collections, by the deterministic functions."""
        origins = {names.from_text(_absolute_text(z)): z for z in zones}
        by_id = {collection_id_for(c): c for c in collections}

        def zone_id_of(abs_name: str) -> str | None:
            labels = _route53_labels(abs_name)
            for i in range(len(labels) + 1):
                if labels[i:] in origins:
                    return zone_id_for(origins[labels[i:]])
            return None

        return cls(zone_id_of, by_id.get, collection_id_for)


# ---------------------------------------------------------------------------- names


def _absolute_text(name: str) -> str:
    return name if name.endswith(".") else name + "."


def _origin(origin: str) -> names.Name:
    return names.from_text(_absolute_text(origin))


def _unescape(text: str, at: int, what: str) -> tuple[bytes, int]:
    """The octets of the escape at text[at] (a backslash), and where the text goes on:
    `\\DDD` is an octet in octal (Route 53's form), any other `\\X` is X."""
    digits = text[at + 1 : at + 4]
    if len(digits) == 3 and all(d in "01234567" for d in digits):
        octet = int(digits, 8)
        if octet > 0xFF:
            raise MappingError(f"{what}: \\{digits} is not an octet")
        return bytes([octet]), at + 4
    return text[at + 1 : at + 2].encode(), at + 2


def _route53_labels(name: str) -> names.Name:
    """A Route 53 name's labels: `\\DDD` is an octet in octal, `\\X` is X; always absolute."""
    labels: list[bytes] = []
    current = bytearray()
    text = name.strip()
    at = 0
    while at < len(text):
        char = text[at]
        if char == "\\":
            if at + 1 >= len(text):
                raise MappingError(f"Name {name!r}: ends in a lone backslash")
            octets, at = _unescape(text, at, f"Name {name!r}")
            current += octets
            continue
        if char == ".":
            if not current:
                if at == len(text) - 1 and not labels and at == 0:
                    break  # the root, "."
                raise MappingError(f"Name {name!r}: empty label")
            labels.append(bytes(current))
            current = bytearray()
        else:
            current += char.encode("idna") if not char.isascii() else char.encode()
        at += 1
    if current:
        labels.append(bytes(current))
    result = names.lower(labels)
    for label in result:
        if len(label) > names.MAX_LABEL:
            raise MappingError(f"Name {name!r}: a label is longer than 63 octets")
    try:
        names.check_length(result)
    except names.NameError_ as exc:
        raise MappingError(f"Name {name!r}: {exc}") from None
    return result


def _route53_text(labels: names.Name) -> str:
    """Route 53's presentation of a name: lower case, final dot, octal escapes."""
    if not labels:
        return "."
    return (
        ".".join(
            "".join(chr(b) if b in _NAME_PLAIN else f"\\{b:03o}" for b in label.lower())
            for label in labels
        )
        + "."
    )


def route53_name(owner: str, origin: str) -> str:
    """A zone-file owner ("@", "www", "*.apps" or an absolute name) as Route 53 writes it."""
    zone = _origin(origin)
    try:
        labels = names.from_text(str(owner), zone)
    except (names.NameError_, UnicodeError) as exc:
        raise MappingError(f"Name {owner!r}: {exc}") from None
    if not names.is_subdomain(labels, zone):
        raise MappingError(f"Name {owner!r} is outside the zone {names.to_text(zone)}")
    return _route53_text(labels)


def _zone_label(label: bytes, name: str) -> str:
    if any(not 0x21 <= b <= 0x7E or b == 0x2E for b in label):
        shown = "".join(
            f"\\{b:03o}" if not 0x21 <= b <= 0x7E or b == 0x2E else chr(b) for b in label
        )
        raise MappingError(
            f"Name {name!r}: the label {shown!r} holds an octet a zone file cannot write"
            " (a space, a dot, a control or non-ASCII octet)"
        )
    return label.decode("ascii")


def owner_of(name: str, origin: str) -> str:
    """A Route 53 name as a zone-file owner: relative to the zone, "@" for the apex."""
    zone = _origin(origin)
    labels = _route53_labels(name)
    if not names.is_subdomain(labels, zone):
        raise MappingError(f"Name {name!r} is outside the zone {names.to_text(zone)}")
    relative = labels[: len(labels) - len(zone)]
    if not relative:
        return "@"
    text = ".".join(_zone_label(label, name) for label in relative)
    if text == "@":
        raise MappingError(f"Name {name!r}: a zone file reads the owner '@' as the apex")
    return text


def _target_of(name: str, origin: str) -> str:
    """An alias target for the zone file: relative inside the zone, else absolute."""
    labels = _route53_labels(name)
    zone = _origin(origin)
    if names.is_subdomain(labels, zone):
        return owner_of(name, origin)
    return ".".join(_zone_label(label, name) for label in labels) + "." if labels else "."


def _absolute_target(target: str, origin: str) -> str:
    zone = _origin(origin)
    try:
        return _route53_text(names.from_text(str(target), zone))
    except (names.NameError_, UnicodeError) as exc:
        raise MappingError(f"alias target {target!r}: {exc}") from None


# ---------------------------------------------------------------------------- values


def _loss(notes: list[str] | None, message: str) -> None:
    """A conversion that changes something: noted when the caller collects, else refused."""
    if notes is None:
        raise MappingError(message)
    notes.append(message)


def _txt_strings(value: str, what: str) -> list[bytes]:
    """Route 53's TXT value: character-strings, quoted or not, `\\DDD` octal."""
    try:
        tokens = quoted_tokens(value)
    except RdataError as exc:
        raise MappingError(f"{what}: {exc}") from None
    strings = []
    for token in tokens:
        body = token[1:-1] if len(token) >= 2 and token[0] == token[-1] == '"' else token
        if '"' in body.replace('\\"', ""):
            raise MappingError(f"{what}: stray quote in {value!r}")
        out = bytearray()
        at = 0
        while at < len(body):
            char = body[at]
            if char == "\\":
                octets, at = _unescape(body, at, what)
                out += octets
                continue
            out += char.encode()
            at += 1
        if len(out) > 255:
            raise MappingError(f"{what}: a string is longer than 255 octets")
        strings.append(bytes(out))
    return strings or [b""]


def _txt_value(text: str) -> str:
    """The zone file's text as Route 53 writes it: quoted 255-byte strings."""
    parts = []
    for chunk in rdata.split_txt(text):
        chars = []
        for b in chunk:
            if b in b'"\\':
                chars.append("\\" + chr(b))
            elif 0x20 <= b <= 0x7E:
                chars.append(chr(b))
            else:
                chars.append(f"\\{b:03o}")
        parts.append('"' + "".join(chars) + '"')
    return " ".join(parts)


def _with_name_field(rtype: str, value: str, fix: Callable[[str], str], what: str) -> str:
    """The value with its name field passed through `fix`, whitespace normalised."""
    try:
        tokens = quoted_tokens(value)
    except RdataError as exc:
        raise MappingError(f"{what}: {exc}") from None
    if rtype not in NAME_FIELD:
        return " ".join(tokens)
    index = NAME_FIELD[rtype]
    if len(tokens) <= index:
        raise MappingError(f"{what}: {value!r} has no name field")
    tokens[index] = fix(tokens[index])
    return " ".join(tokens)


def value_to_zone(rtype: str, value: str, origin: str, notes: list[str] | None = None) -> str:
    """One ResourceRecord Value as a zone-file value (checked by the zone's own parser)."""
    what = f"{rtype} value {value!r}"
    if rtype in TEXT_TYPES:
        strings = _txt_strings(value, what)
        if any(len(s) != 255 for s in strings[:-1]) or (len(strings) > 1 and not strings[-1]):
            _loss(
                notes,
                f"{what}: its {len(strings)} strings become one text (every byte kept, the"
                " zone file splits it at every 255 bytes instead)",
            )
        joined = b"".join(strings)
        try:
            text = joined.decode("utf-8")
        except UnicodeDecodeError:
            raise MappingError(f"{what}: not UTF-8 text, which a zone file cannot hold") from None
    else:

        def absolute(name: str) -> str:
            return name.lower() if name.endswith(".") else name.lower() + "."

        text = _with_name_field(rtype, str(value), absolute, what)
    try:
        rdata.parse(rtype, text, _origin(origin))
    except (RdataError, ValueError) as exc:
        raise MappingError(f"{what}: {exc}") from None
    return text


def value_to_route53(rtype: str, value: Any, origin: str) -> str:
    """One zone-file value as a ResourceRecord Value: names absolute, TXT quoted."""
    text = str(value)
    if rtype in TEXT_TYPES:
        return _txt_value(text)
    zone = _origin(origin)

    def absolute(name: str) -> str:
        if name.endswith("."):
            return name.lower()
        try:
            return names.to_text(names.from_text(name, zone))
        except (names.NameError_, UnicodeError) as exc:
            raise MappingError(f"{rtype} value {text!r}: {exc}") from None

    return _with_name_field(rtype, text, absolute, f"{rtype} value {text!r}")


# ---------------------------------------------------------------------------- routing


def _coordinate(text: Any, what: str) -> float:
    try:
        number = Decimal(str(text))
    except InvalidOperation:
        raise MappingError(f"{what} {text!r} is not a decimal number") from None
    if not number.is_finite():
        raise MappingError(f"{what} {text!r} is not a decimal number")
    return float(number)


def _coordinate_text(number: Any, what: str, notes: list[str] | None) -> str:
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise MappingError(f"{what} {number!r} is not a number")
    text = f"{number:.2f}"
    if Decimal(text) != Decimal(str(number)):
        _loss(notes, f"{what} {number!r}: Route 53 takes two decimals, written as {text}")
    text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True)
class Routing:
    """One routing field: its Route 53 key, its zone-file key and the two conversions."""

    route53: str
    zone: str
    to_zone: Callable[[Any, Ids, list[str] | None], Any]
    to_route53: Callable[[Any, Ids, list[str] | None], Any]


def _geo_to_zone(raw: Any, ids: Ids, notes: list[str] | None) -> dict[str, str]:
    keys = {
        "ContinentCode": "continent",
        "CountryCode": "country",
        "SubdivisionCode": "subdivision",
    }
    unknown = set(raw) - set(keys)
    if unknown:
        raise MappingError(f"GeoLocation: unknown key(s) {', '.join(sorted(unknown))}")
    return {keys[k]: str(raw[k]) for k in keys if k in raw}


def _geo_to_route53(raw: Any, ids: Ids, notes: list[str] | None) -> dict[str, str]:
    keys = {
        "continent": "ContinentCode",
        "country": "CountryCode",
        "subdivision": "SubdivisionCode",
    }
    return {keys[k]: str(raw[k]).upper() if raw[k] != "*" else "*" for k in keys if k in raw}


def _prox_to_zone(raw: Any, ids: Ids, notes: list[str] | None) -> dict[str, Any]:
    for key in ("LocalZoneGroup",):
        if key in raw:
            raise MappingError(f"GeoProximityLocation.{key} has no zone-file equivalent")
    unknown = set(raw) - {"AWSRegion", "Coordinates", "Bias"}
    if unknown:
        raise MappingError(f"GeoProximityLocation: unknown key(s) {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    if "AWSRegion" in raw:
        out["region"] = str(raw["AWSRegion"])
    if "Coordinates" in raw:
        where = raw["Coordinates"]
        out["coordinates"] = {
            "latitude": _coordinate(where.get("Latitude"), "GeoProximityLocation Latitude"),
            "longitude": _coordinate(where.get("Longitude"), "GeoProximityLocation Longitude"),
        }
    out["bias"] = int(raw.get("Bias", 0))
    return out


def _prox_to_route53(raw: Any, ids: Ids, notes: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "region" in raw:
        out["AWSRegion"] = str(raw["region"])
    if "coordinates" in raw:
        where = raw["coordinates"]
        out["Coordinates"] = {
            "Latitude": _coordinate_text(where.get("latitude"), "latitude", notes),
            "Longitude": _coordinate_text(where.get("longitude"), "longitude", notes),
        }
    out["Bias"] = int(raw.get("bias", 0))
    return out


def _cidr_to_zone(raw: Any, ids: Ids, notes: list[str] | None) -> dict[str, str]:
    collection_id = str(raw.get("CollectionId", ""))
    name = ids.collection_name_of(collection_id)
    return {"collection": name or collection_id, "location": str(raw.get("LocationName", ""))}


def _cidr_to_route53(raw: Any, ids: Ids, notes: list[str] | None) -> dict[str, str]:
    name = str(raw.get("collection", ""))
    collection_id = ids.collection_id_of(name)
    if collection_id is None:
        raise MappingError(f"cidr collection {name!r} has no CollectionId")
    return {"CollectionId": collection_id, "LocationName": str(raw.get("location", ""))}


def _same(value: Any, ids: Ids, notes: list[str] | None) -> Any:
    return value


def _failover_to_zone(value: Any, ids: Ids, notes: list[str] | None) -> str:
    if value not in ("PRIMARY", "SECONDARY"):
        raise MappingError(f"Failover must be PRIMARY or SECONDARY, not {value!r}")
    return str(value).lower()


def _failover_to_route53(value: Any, ids: Ids, notes: list[str] | None) -> str:
    return str(value).upper()


def _int(value: Any, ids: Ids, notes: list[str] | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MappingError(f"Weight must be an integer, not {value!r}")
    return value


ROUTING = (
    Routing("Weight", "weight", _int, _same),
    Routing("Region", "region", _same, _same),
    Routing("Failover", "failover", _failover_to_zone, _failover_to_route53),
    Routing("GeoLocation", "geolocation", _geo_to_zone, _geo_to_route53),
    Routing("GeoProximityLocation", "geoproximity", _prox_to_zone, _prox_to_route53),
    Routing("MultiValueAnswer", "multivalue", _same, _same),
    Routing("CidrRoutingConfig", "cidr", _cidr_to_zone, _cidr_to_route53),
)
_PLAIN = {"Name", "Type", "TTL", "ResourceRecords", "AliasTarget", "SetIdentifier", "HealthCheckId"}
_KNOWN = _PLAIN | {r.route53 for r in ROUTING} | {"TrafficPolicyInstanceId"}


# ---------------------------------------------------------------------------- record sets


def rrset_to_record(
    rrset: Mapping[str, Any], origin: str, ids: Ids | None = None, *, notes: list[str] | None = None
) -> tuple[str, Record]:
    """A ResourceRecordSet as (owner, zone-file record set). SOA and apex NS belong to the
    document's header: see apex_from_rrsets."""
    ids = ids or Ids()
    name = str(rrset.get("Name", ""))
    rtype = str(rrset.get("Type", ""))
    what = f"{name} {rtype}"
    unknown = set(rrset) - _KNOWN
    if unknown:
        raise MappingError(f"{what}: {', '.join(sorted(unknown))} has no zone-file equivalent")
    if rtype not in ROUTE53_TYPES or rtype == "SOA":
        raise MappingError(f"{what}: type {rtype!r} cannot be a zone-file record set")
    owner = owner_of(name, origin)
    if rtype == "NS" and owner == "@":
        raise MappingError(f"{what}: the apex NS set is the zone's 'ns' key")
    record: Record = {"type": rtype}
    if "TrafficPolicyInstanceId" in rrset:
        _loss(notes, f"{what}: TrafficPolicyInstanceId dropped (no traffic policies here)")
    if "AliasTarget" in rrset:
        target = rrset["AliasTarget"]
        if "ResourceRecords" in rrset or "TTL" in rrset:
            raise MappingError(f"{what}: an alias has neither ResourceRecords nor TTL")
        record["alias"] = {
            "target": _target_of(str(target.get("DNSName", "")), origin),
            "evaluate_target_health": bool(target.get("EvaluateTargetHealth", False)),
        }
    else:
        values = rrset.get("ResourceRecords") or []
        if not values:
            raise MappingError(f"{what}: needs ResourceRecords or an AliasTarget")
        if "TTL" not in rrset:
            raise MappingError(f"{what}: TTL is required without an AliasTarget")
        record["ttl"] = int(rrset["TTL"])
        record["values"] = [
            value_to_zone(rtype, str(v.get("Value", "")), origin, notes) for v in values
        ]
    if "SetIdentifier" in rrset:
        record["set_id"] = str(rrset["SetIdentifier"])
    if "HealthCheckId" in rrset:
        record["health_check"] = str(rrset["HealthCheckId"])
    for routing in ROUTING:
        if routing.route53 in rrset:
            if routing.route53 == "MultiValueAnswer" and rrset[routing.route53] is not True:
                continue  # false is simple routing
            record[routing.zone] = routing.to_zone(rrset[routing.route53], ids, notes)
    return owner, record


def record_to_rrset(
    owner: str,
    record: Mapping[str, Any],
    origin: str,
    zone_ttl: int,
    ids: Ids | None = None,
    *,
    notes: list[str] | None = None,
) -> RRSet:
    """A zone-file record set as a ResourceRecordSet, TTL written out (none with alias)."""
    ids = ids or Ids()
    rtype = str(record.get("type", "")).upper()
    rrset: RRSet = {"Name": route53_name(owner, origin), "Type": rtype}
    if rtype not in ROUTE53_TYPES:
        raise MappingError(f"{rrset['Name']} {rtype}: Route 53 has no type {rtype!r}")
    if "SetIdentifier" not in rrset and record.get("set_id") is not None:
        rrset["SetIdentifier"] = str(record["set_id"])
    for routing in ROUTING:
        if routing.zone in record:
            rrset[routing.route53] = routing.to_route53(record[routing.zone], ids, notes)
    if "alias" in record:
        alias = record["alias"]
        if isinstance(alias, str):
            alias = {"target": alias}
        dns_name = _absolute_target(str(alias["target"]), origin)
        zone_id = ids.zone_id_of(dns_name) or zone_id_for(origin)
        rrset["AliasTarget"] = {
            "HostedZoneId": zone_id,
            "DNSName": dns_name,
            "EvaluateTargetHealth": bool(alias.get("evaluate_target_health", False)),
        }
    else:
        values = record.get("values", record.get("value"))
        if not isinstance(values, list):
            values = [values]
        rrset["TTL"] = int(record.get("ttl", zone_ttl))
        rrset["ResourceRecords"] = [{"Value": value_to_route53(rtype, v, origin)} for v in values]
    if record.get("health_check") is not None:
        rrset["HealthCheckId"] = str(record["health_check"])
    return rrset


# ---------------------------------------------------------------------------- apex

SOA_FIELDS = ("mname", "rname", "serial", "refresh", "retry", "expire", "minimum")
SOA_DEFAULTS = {"refresh": 7200, "retry": 900, "expire": 1209600, "minimum": 300}


def apex_rrsets(doc: Mapping[str, Any], *, serial: int | None = None) -> list[RRSet]:
    """The SOA and apex NS record sets of a document, as Route 53 lists them first. The
    serial is the document's, else `serial` (the loaded zone's derived one), else 1."""
    origin = str(doc["zone"])
    zone = _origin(origin)
    ttl = int(doc.get("ttl", 300))
    ns = doc.get("ns") or [f"ns1.{names.to_text(zone)}"]
    if isinstance(ns, str):
        ns = [ns]
    ns_values = [value_to_route53("NS", n, origin) for n in ns]
    soa = dict(doc.get("soa") or {})
    mname = value_to_route53("NS", soa.get("mname", ns[0]), origin)
    rname = value_to_route53("NS", soa.get("rname", "hostmaster"), origin)
    numbers = [int(soa.get("serial", serial if serial is not None else 1))]
    numbers += [int(soa.get(k, SOA_DEFAULTS[k])) for k in ("refresh", "retry", "expire", "minimum")]
    apex = _route53_text(zone)
    return [
        {
            "Name": apex,
            "Type": "SOA",
            "TTL": ttl,
            "ResourceRecords": [{"Value": " ".join([mname, rname, *map(str, numbers)])}],
        },
        {
            "Name": apex,
            "Type": "NS",
            "TTL": ttl,
            "ResourceRecords": [{"Value": v} for v in ns_values],
        },
    ]


def is_apex_rrset(rrset: Mapping[str, Any], origin: str) -> bool:
    """SOA and apex NS: the header's, not a record set of `records`."""
    if rrset.get("Type") == "SOA":
        return True
    return rrset.get("Type") == "NS" and _route53_labels(str(rrset.get("Name", ""))) == _origin(
        origin
    )


def apex_from_rrsets(
    rrsets: Sequence[Mapping[str, Any]],
    origin: str,
    zone_ttl: int | None = None,
    *,
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """The header keys ("ttl", "soa", "ns") from a zone's SOA and apex NS record sets. The
    zone's ttl is `zone_ttl`, else the SOA's TTL; a differing NS TTL is a loss."""
    out: dict[str, Any] = {}
    apex_ttls = []
    for rrset in rrsets:
        if not is_apex_rrset(rrset, origin):
            continue
        rtype = rrset["Type"]
        if _route53_labels(str(rrset.get("Name", ""))) != _origin(origin):
            raise MappingError(f"{rrset.get('Name')} SOA: an SOA belongs at the zone's apex")
        values = [str(v.get("Value", "")) for v in rrset.get("ResourceRecords") or []]
        if "TTL" in rrset:
            apex_ttls.append((rtype, int(rrset["TTL"])))
        if rtype == "SOA":
            if len(values) != 1 or len(values[0].split()) != 7:
                raise MappingError(f"SOA value {values!r}: needs MNAME RNAME and five numbers")
            fields = values[0].split()
            soa: dict[str, Any] = {
                "mname": value_to_zone("NS", fields[0], origin),
                "rname": value_to_zone("NS", fields[1], origin),
            }
            for key, text in zip(SOA_FIELDS[2:], fields[2:], strict=True):
                if not text.isdigit() or int(text) > 0xFFFFFFFF:
                    raise MappingError(f"SOA {key} {text!r}: not 0..4294967295")
                soa[key] = int(text)
            out["soa"] = soa
        else:
            if not values:
                raise MappingError("apex NS: no ResourceRecords")
            out["ns"] = [value_to_zone("NS", v, origin) for v in values]
    ttl = zone_ttl
    if ttl is None:
        ttl = next((t for rtype, t in apex_ttls if rtype == "SOA"), None)
    if ttl is not None:
        out["ttl"] = ttl
        for rtype, value in apex_ttls:
            if value != ttl:
                _loss(notes, f"{origin} {rtype}: TTL {value} becomes the zone's ttl {ttl}")
    return out


# ---------------------------------------------------------------------------- health checks

_CHECK_TYPES = {
    "HTTP": ("http", False),
    "HTTPS": ("https", False),
    "HTTP_STR_MATCH": ("http", True),
    "HTTPS_STR_MATCH": ("https", True),
    "TCP": ("tcp", False),
    "CALCULATED": ("calculated", False),
}
# HealthCheckConfig key -> zone key, for the keys that map one to one.
_CHECK_FIELDS = {
    "Port": "port",
    "ResourcePath": "path",
    "SearchString": "search",
    "RequestInterval": "interval",
    "FailureThreshold": "failure_threshold",
    "Inverted": "invert",
    "Disabled": "disabled",
    "HealthThreshold": "healthy_threshold",
    "ChildHealthChecks": "children",
}
# Zone defaults: a key at its default is left out, so documents stay small and compare.
_CHECK_DEFAULTS: dict[str, Any] = {
    "interval": 30,
    "failure_threshold": 3,
    "invert": False,
    "disabled": False,
    "path": "/",
}
_CHECK_NOTES = {
    "MeasureLatency": "latency is not measured",
    "Regions": "one checker, here, not checkers in AWS regions",
    "EnableSNI": "https checks send the host name as SNI always",
    "AlarmIdentifier": "no CloudWatch alarms",
    "InsufficientDataHealthStatus": "no CloudWatch alarms",
    "RoutingControlArn": "no recovery controls",
    "EndpointType": "no endpoint types",
    "HealthCheckSourceId": "no health check sources",
}


def config_to_check(config: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A HealthCheckConfig as a zone-file health check, and notes on what it drops."""
    kind = config.get("Type")
    if kind not in _CHECK_TYPES:
        raise MappingError(
            f"HealthCheckConfig.Type {kind!r}: only {', '.join(_CHECK_TYPES)} can be checked here"
        )
    zone_type, str_match = _CHECK_TYPES[kind]
    check: dict[str, Any] = {"type": zone_type}
    notes: list[str] = []
    unknown = set(config) - set(_CHECK_FIELDS) - set(_CHECK_NOTES)
    unknown -= {"Type", "IPAddress", "FullyQualifiedDomainName"}
    if unknown:
        raise MappingError(f"HealthCheckConfig: unknown key(s) {', '.join(sorted(unknown))}")
    if zone_type != "calculated":
        address, fqdn = config.get("IPAddress"), config.get("FullyQualifiedDomainName")
        if not address and not fqdn:
            raise MappingError("HealthCheckConfig needs IPAddress or FullyQualifiedDomainName")
        check["target"] = str(address or fqdn).rstrip(".") if not address else str(address)
        if address and fqdn and zone_type != "tcp":
            check["host"] = str(fqdn)
        elif address and fqdn:
            notes.append("FullyQualifiedDomainName: a tcp check sends no host name")
    if str_match and not config.get("SearchString"):
        raise MappingError(f"HealthCheckConfig.Type {kind}: needs a SearchString")
    if not str_match and "SearchString" in config:
        notes.append(f"SearchString: ignored by Route 53 for {kind}, dropped")
    for key, zone_key in _CHECK_FIELDS.items():
        if key not in config or (key == "SearchString" and not str_match):
            continue
        value = config[key]
        if zone_type == "calculated" and zone_key in ("port", "path", "search"):
            continue
        if zone_type != "calculated" and zone_key in ("healthy_threshold", "children"):
            continue
        if zone_type == "tcp" and zone_key in ("path",):
            continue
        if zone_key == "children":
            value = [str(c) for c in value]
        if zone_key == "path" and not str(value).startswith("/"):
            value = "/" + str(value)  # Route 53 adds the leading slash
        if _CHECK_DEFAULTS.get(zone_key, object()) == value:
            continue
        check[zone_key] = value
    for key, why in _CHECK_NOTES.items():
        # A note only where the check would behave differently here.
        if key in config and config[key] != (key == "EnableSNI"):
            notes.append(f"{key}: not mapped ({why})")
    return check, notes


def check_to_config(check: Mapping[str, Any]) -> dict[str, Any]:
    """A zone-file health check as a HealthCheckConfig. Route 53 has no timeout setting
    (its own are the zone defaults) and RequestInterval is 10 or 30: an interval up to 10 s
    is fast (10), a longer one the standard 30."""
    kind = str(check.get("type", ""))
    search = check.get("search")
    names_by_type = {
        ("http", False): "HTTP",
        ("https", False): "HTTPS",
        ("http", True): "HTTP_STR_MATCH",
        ("https", True): "HTTPS_STR_MATCH",
        ("tcp", False): "TCP",
        ("calculated", False): "CALCULATED",
    }
    key = (kind, search is not None and kind in ("http", "https"))
    if key not in names_by_type:
        raise MappingError(f"health check type {kind!r} has no Route 53 type")
    config: dict[str, Any] = {"Type": names_by_type[key]}
    if kind == "calculated":
        children = [str(c) for c in check.get("children", [])]
        config["ChildHealthChecks"] = children
        config["HealthThreshold"] = int(check.get("healthy_threshold", len(children)))
    else:
        target = str(check.get("target", ""))
        if _is_ip(target):
            config["IPAddress"] = target
            if check.get("host"):
                config["FullyQualifiedDomainName"] = str(check["host"])
        else:
            config["FullyQualifiedDomainName"] = target
            if check.get("host") and check["host"] != target:
                raise MappingError(
                    f"health check host {check['host']!r}: Route 53 probes a name target by"
                    " that name; a different host needs an IP address target"
                )
        config["Port"] = int(check.get("port", 443 if kind == "https" else 80))
        if kind != "tcp":
            config["ResourcePath"] = str(check.get("path", "/"))
        if key[1]:
            config["SearchString"] = str(search)
        interval = float(check.get("interval", 30))
        config["RequestInterval"] = 10 if interval <= 10 else 30
        config["FailureThreshold"] = int(check.get("failure_threshold", 3))
    config["Inverted"] = bool(check.get("invert", False))
    config["Disabled"] = bool(check.get("disabled", False))
    return config


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


__all__ = [
    "ROUTING",
    "Ids",
    "MappingError",
    "apex_from_rrsets",
    "apex_rrsets",
    "check_to_config",
    "collection_id_for",
    "config_to_check",
    "is_apex_rrset",
    "owner_of",
    "record_to_rrset",
    "route53_name",
    "rrset_to_record",
    "value_to_route53",
    "value_to_zone",
    "zone_id_for",
]
