"""A change batch's Route 53 rules: the ones SPEC section 4 does not state.

Everything here works on record sets in Route 53's own shape (the dicts botocore gives and
takes). `apply_changes` applies a batch in order to a working copy of the names it
touches and returns their new record sets, or every problem; the service converts the
result to zone-file records and runs the zone checker (SPEC 4) on it afterwards.

Choices, where Route 53's documentation is silent (messages follow Route 53's wording where
it is known from its real responses; the others are written in the same style):

- Names: absolute with a trailing dot (one is added), compared case-insensitively (ASCII
  letters are lower-cased). `\\ooo` escapes are three-digit *octal*, as Route 53 writes
  them (`\\052` is `*`). Names are stored with every character other than `a-z 0-9 - _`
  escaped that way, so `*.example.com.` is stored as `\\052.example.com.`.
- DELETE must match the current set in every field. Values are compared as a set (order
  and repeats do not matter) after collapsing runs of white space outside double quotes
  to one space and stripping the ends; letter case is ignored except for the free-text
  types TXT, SPF, CAA and NAPTR. Values are stored as sent.
- `EvaluateTargetHealth` defaults to false; `MultiValueAnswer: false` is the same as
  leaving it out (a simple set).
- Request-shape problems (missing TTL, two routing fields, Weight out of range, ...) are
  `InvalidInput` in Route 53, the rest `InvalidChangeBatch`: `changeshape.shape_errors`
  gives the former alone so the service can raise the right code; `apply_changes`
  reports both.
- Conflicts between record sets (mixed routing policies, CNAME beside other types, the
  same TTL for weighted sets, one latency set per Region, one geolocation set per
  location, one IP-based set per CIDR location, group size) are judged on the state after
  the whole batch, so a DELETE then CREATE (or CREATE then DELETE) that swaps a policy is
  fine. Existence (CREATE of an existing set, DELETE of a missing one) is judged in
  order. Conflicts are reported against the sets the batch wrote; sets the batch did not
  touch come first, then the written ones in change order, and the first decides.
- One value only: CNAME, and weighted, latency and multivalue-answer sets (the API
  model's documentation says so for these; `ONE_VALUE_POLICIES`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from resolver.route53.changeshape import ROUTING_FIELDS, change_shape, shape_errors

RRSet = dict[str, Any]

POLICY_WORDS = {
    "Weight": "weighted",
    "Region": "latency",
    "GeoLocation": "geolocation",
    "GeoProximityLocation": "geoproximity",
    "Failover": "failover",
    "MultiValueAnswer": "multivalue answer",
    "CidrRoutingConfig": "IP-based",
}
ONE_VALUE_POLICIES = frozenset({"Weight", "Region", "MultiValueAnswer"})
# Route 53's quotas on record sets of one name and type (DG:DNSLimitations).
GROUP_LIMITS = {
    "Weight": 100,
    "Region": 100,
    "GeoLocation": 100,
    "MultiValueAnswer": 100,
    "CidrRoutingConfig": 100,
    "GeoProximityLocation": 30,
}
SIMPLE_ONLY_TYPES = frozenset({"NS", "SOA", "DS"})
FREE_TEXT_TYPES = frozenset({"TXT", "SPF", "CAA", "NAPTR"})

_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_OCTAL = frozenset("01234567")
_SPACE = re.compile(r"\s+")


# -- names -----------------------------------------------------------------------------


def name_labels(name: str) -> list[str]:
    """The labels of a Route 53 name, escapes decoded, ASCII letters lower-cased, root
    last label dropped: `\\052.Example.com.` -> ['*', 'example', 'com']."""
    labels: list[str] = []
    current: list[str] = []
    i, size = 0, len(name)
    while i < size:
        char = name[i]
        if char == "\\" and i + 1 < size:
            digits = name[i + 1 : i + 4]
            if len(digits) == 3 and set(digits) <= _OCTAL:
                current.append(chr(int(digits, 8)))
                i += 4
            else:
                current.append(name[i + 1])
                i += 2
            continue
        if char == ".":
            labels.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    if current:
        labels.append("".join(current))
    if labels == [""]:
        return []
    return [_lower(label) for label in labels]


def _lower(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def _escape(label: str) -> str:
    out = []
    for char in label:
        if char in _PLAIN:
            out.append(char)
        elif ord(char) < 256:
            out.append(f"\\{ord(char):03o}")
        else:
            out.extend(f"\\{byte:03o}" for byte in char.encode("utf-8"))
    return "".join(out)


def normalise_name(name: str) -> str:
    """Route 53's stored form: lower case, octal escapes (`\\052`), a trailing dot."""
    labels = name_labels(name)
    return "".join(_escape(label) + "." for label in labels) or "."


# -- record sets -----------------------------------------------------------------------


def policy_of(rrset: RRSet) -> str | None:
    """The routing field a set uses (`Weight`, ...), or None for simple routing."""
    for field in ROUTING_FIELDS:
        value = rrset.get(field)
        if field == "MultiValueAnswer":
            if value is True:
                return field
        elif value is not None:
            return field
    return None


def normalise_rrset(rrset: RRSet) -> RRSet:
    """The canonical form kept and compared: normalised names, ints for numbers, absent
    instead of None, EvaluateTargetHealth false by default, `MultiValueAnswer: false`
    dropped. Values are kept as sent; keys come in the service model's order, so the
    result never depends on the order of the input's keys. Expects a set that passed
    `shape_errors`."""
    out: RRSet = {}
    for key, value in rrset.items():
        if value is None:
            continue
        if key == "Name":
            out[key] = normalise_name(value)
        elif key in ("TTL", "Weight"):
            out[key] = int(value)
        elif key == "ResourceRecords":
            out[key] = [{"Value": str(record["Value"])} for record in value]
        elif key == "AliasTarget":
            out[key] = {
                "HostedZoneId": str(value["HostedZoneId"]),
                "DNSName": normalise_name(value["DNSName"]),
                "EvaluateTargetHealth": bool(value.get("EvaluateTargetHealth", False)),
            }
        elif key == "MultiValueAnswer":
            if value is True:
                out[key] = True
        elif key == "GeoLocation":
            out[key] = {k: str(v) for k, v in sorted(value.items()) if v is not None}
        elif key == "GeoProximityLocation":
            geo: RRSet = {}
            for k, v in sorted(value.items()):
                if v is None:
                    continue
                if k == "Bias":
                    geo[k] = int(v)
                elif k == "Coordinates":
                    geo[k] = {"Latitude": str(v["Latitude"]), "Longitude": str(v["Longitude"])}
                else:
                    geo[k] = str(v)
            out[key] = geo
        elif key == "CidrRoutingConfig":
            out[key] = {k: str(v) for k, v in sorted(value.items()) if v is not None}
        else:
            out[key] = value
    return {key: out[key] for key in sorted(out, key=_field_rank)}


# The service model's order of a record set's members, which ListResourceRecordSets keeps.
_FIELD_ORDER = (
    "Name", "Type", "SetIdentifier", "Weight", "Region", "GeoLocation", "Failover",
    "MultiValueAnswer", "TTL", "ResourceRecords", "AliasTarget", "HealthCheckId",
    "TrafficPolicyInstanceId", "CidrRoutingConfig", "GeoProximityLocation",
)  # fmt: skip


def _field_rank(key: str) -> tuple[int, str]:
    return (_FIELD_ORDER.index(key), "") if key in _FIELD_ORDER else (len(_FIELD_ORDER), key)


def rrset_key(rrset: RRSet) -> tuple[str, str, str]:
    """What identifies a set in a zone: (normalised name, type, SetIdentifier or "")."""
    return (normalise_name(rrset["Name"]), rrset["Type"], rrset.get("SetIdentifier") or "")


def value_key(rtype: str, value: str) -> str:
    """A value as DELETE compares it: white space outside quotes collapsed, case folded
    except for the free-text types."""
    parts = value.split('"')
    for i in range(0, len(parts), 2):  # the even parts lie outside quotes
        parts[i] = _SPACE.sub(" ", parts[i])
    text = '"'.join(parts).strip()
    return text if rtype in FREE_TEXT_TYPES else _lower(text)


def _match_form(rrset: RRSet) -> RRSet:
    out = dict(rrset)
    if "ResourceRecords" in out:
        out["ResourceRecords"] = frozenset(
            value_key(rrset["Type"], r["Value"]) for r in rrset["ResourceRecords"]
        )
    return out


def _describe(key: tuple[str, str, str]) -> str:
    name, rtype, set_id = key
    text = f"[name='{name}', type='{rtype}'"
    if set_id:
        text += f", set-identifier='{set_id}'"
    return text + "]"


# -- the batch (InvalidChangeBatch) ----------------------------------------------------


class _Batch:
    """The working copy: the touched names' sets by key, and which change wrote each."""

    def __init__(self, zone: str, existing: Callable[[str], list[RRSet]]) -> None:
        self.zone = normalise_name(zone)
        self.zone_labels = name_labels(zone)
        self.existing = existing
        self.names: dict[str, dict[tuple[str, str, str], RRSet]] = {}
        self.written: dict[tuple[str, str, str], int] = {}
        self.errors: list[str] = []

    def at(self, name: str) -> dict[tuple[str, str, str], RRSet]:
        if name not in self.names:
            sets = (normalise_rrset(rrset) for rrset in self.existing(name))
            self.names[name] = {rrset_key(rrset): rrset for rrset in sets}
        return self.names[name]

    def in_zone(self, name: str) -> bool:
        labels, zone = name_labels(name), self.zone_labels
        return len(labels) >= len(zone) and labels[len(labels) - len(zone) :] == zone

    def apply(self, number: int, action: str, raw: RRSet) -> None:
        rrset = normalise_rrset(raw)
        name, rtype = rrset["Name"], rrset["Type"]
        if not self.in_zone(name):
            self.errors.append(f"RRSet with DNS name {name} is not permitted in zone {self.zone}")
            return
        apex = name == self.zone
        soa_values = len(rrset.get("ResourceRecords", []))
        if rtype == "SOA" and apex and (action != "UPSERT" or soa_values != 1):
            self.errors.append("A HostedZone must contain exactly one SOA record.")
            return
        if rtype == "NS" and apex and action == "DELETE":
            self.errors.append(
                "A HostedZone must contain at least one NS record for the zone itself."
            )
            return
        if action != "DELETE":
            self.errors += content_errors(rrset, self.zone)
        key = rrset_key(rrset)
        sets = self.at(name)
        current = sets.get(key)
        if action == "CREATE":
            if current is not None:
                self.errors.append(
                    f"Tried to create resource record set {_describe(key)} but it already exists"
                )
                return
        elif action == "DELETE":
            if current is None:
                self.errors.append(
                    f"Tried to delete resource record set {_describe(key)} but it was not found"
                )
            elif _match_form(current) != _match_form(rrset):
                self.errors.append(
                    f"Tried to delete resource record set {_describe(key)} "
                    "but the values provided do not match the current values"
                )
            else:
                del sets[key]
                self.written.pop(key, None)
            return
        sets[key] = rrset
        self.written.pop(key, None)
        self.written[key] = number

    def order(self, sets: Iterable[RRSet]) -> list[RRSet]:
        """Untouched sets first (in a fixed order), then the written ones in change order."""
        return sorted(
            sets,
            key=lambda s: (
                self.written.get(rrset_key(s), 0),
                s["Type"],
                s.get("SetIdentifier") or "",
            ),
        )

    def conflicts(self) -> None:
        for name in sorted(self.names, key=lambda n: list(reversed(name_labels(n)))):
            sets = self.order(self.names[name].values())
            self._cname_conflicts(name, sets)
            for rtype in sorted({s["Type"] for s in sets}):
                self._group_conflicts(name, rtype, [s for s in sets if s["Type"] == rtype])

    def _is_written(self, rrset: RRSet) -> bool:
        return rrset_key(rrset) in self.written

    def _cname_conflicts(self, name: str, sets: list[RRSet]) -> None:
        types = {s["Type"] for s in sets}
        if "CNAME" not in types or len(types) == 1:
            return
        cname_first = sets[0]["Type"] == "CNAME"
        for rrset in sets:
            if not self._is_written(rrset):
                continue
            if cname_first and rrset["Type"] != "CNAME":
                self.errors.append(
                    f"RRSet of type {rrset['Type']} with DNS name {name} is not permitted because "
                    "a conflicting RRSet of type  CNAME with the same DNS name already exists "
                    f"in zone {self.zone}"
                )
            elif not cname_first and rrset["Type"] == "CNAME" and name != self.zone:
                self.errors.append(
                    f"RRSet of type CNAME with DNS name {name} is not permitted as it conflicts "
                    f"with other records with the same DNS name in zone {self.zone}"
                )

    def _group_conflicts(self, name: str, rtype: str, group: list[RRSet]) -> None:
        if not any(self._is_written(s) for s in group):
            return
        policy = policy_of(group[0])
        for rrset in group:
            if not self._is_written(rrset) or policy_of(rrset) == policy:
                continue
            own = policy_of(rrset)
            if own is None:
                self.errors.append(
                    f"RRSet with DNS name {name}, type {rtype} cannot be created as other RRSets "
                    "exist with the same name and type."
                )
            else:
                self.errors.append(
                    f"RRSet with DNS name {name}, type {rtype}, SetIdentifier "
                    f"{rrset['SetIdentifier']} cannot be created as a non-{POLICY_WORDS[own]} "
                    "set exists with the same name and type."
                )
        same = [s for s in group if policy_of(s) == policy]
        if policy is None:
            return
        limit = GROUP_LIMITS.get(policy)
        if limit is not None and len(same) > limit:
            self.errors.append(
                f"Exceeded limit on number of {POLICY_WORDS[policy]} RRSets for {name}, "
                f"type {rtype} in this zone."
            )
        if policy == "Weight":
            ttls = [s for s in same if "TTL" in s]
            for rrset in ttls:
                if self._is_written(rrset) and rrset["TTL"] != ttls[0]["TTL"]:
                    self.errors.append(
                        f"RRSet with DNS name {name} and type {rtype}, SetIdentifier "
                        f"{rrset['SetIdentifier']} cannot be created as weighted sets must "
                        "contain the same TTL."
                    )
        place = _PLACES.get(policy)
        if place is None:
            return
        seen: set[Any] = set()
        for rrset in same:
            spot = place(rrset)
            if spot in seen and self._is_written(rrset):
                self.errors.append(
                    f"RRSet with DNS name {name}, type {rtype}, SetIdentifier "
                    f"{rrset['SetIdentifier']} cannot be created as a {POLICY_WORDS[policy]} set "
                    "for the same location exists with the same name and type."
                )
            seen.add(spot)


# Where a set of a policy points: two sets of one group may not share it.
_PLACES: dict[str, Callable[[RRSet], Any]] = {
    "Region": lambda s: s["Region"],
    "GeoLocation": lambda s: tuple(sorted(s["GeoLocation"].items())),
    "CidrRoutingConfig": lambda s: (
        s["CidrRoutingConfig"].get("CollectionId"),
        s["CidrRoutingConfig"].get("LocationName"),
    ),
}


def content_errors(rrset: RRSet, zone: str) -> list[str]:
    """Route 53's rules on one normalised set by itself: placement, type per policy,
    alias types, how many values."""
    name, rtype = rrset["Name"], rrset["Type"]
    zone = normalise_name(zone)
    policy = policy_of(rrset)
    alias = "AliasTarget" in rrset
    values = [r["Value"] for r in rrset.get("ResourceRecords", [])]
    errors = []
    set_id = rrset.get("SetIdentifier", "")
    if rtype == "SOA" and name != zone:
        errors.append(
            f"RRSet of type SOA with DNS name {name} is not permitted except at apex in zone {zone}"
        )
    if rtype == "CNAME" and name == zone:
        errors.append(
            f"RRSet of type CNAME with DNS name {name} is not permitted at apex in zone {zone}"
        )
    if rtype == "NS" and name.startswith("\\052."):
        errors.append(
            f"RRSet of type NS with DNS name {name} is not permitted: "
            "a wildcard name cannot have NS records"
        )
    if policy is not None and (
        rtype in SIMPLE_ONLY_TYPES or (policy == "MultiValueAnswer" and rtype == "CNAME")
    ):
        errors.append(
            f"RRSet with DNS name {name}, type {rtype}, SetIdentifier {set_id} is not permitted: "
            f"{POLICY_WORDS[policy]} record sets cannot have type {rtype}"
        )
    if alias and rtype in ("NS", "SOA"):
        errors.append(
            f"RRSet with DNS name {name}, type {rtype} is not permitted: "
            f"an alias cannot have type {rtype}"
        )
    if alias and policy == "MultiValueAnswer":
        errors.append(
            f"RRSet with DNS name {name}, type {rtype}, SetIdentifier {set_id} is not permitted: "
            "multivalue answer record sets cannot be aliases"
        )
    if rtype == "CNAME" and len(values) > 1:
        errors.append(
            f"RRSet of type CNAME with DNS name {name} is not permitted: "
            "a CNAME holds exactly one value"
        )
    elif policy in ONE_VALUE_POLICIES and len(values) > 1:
        errors.append(
            f"RRSet with DNS name {name}, type {rtype}, SetIdentifier {set_id} is not permitted: "
            f"a {POLICY_WORDS[policy]} record set holds exactly one value"
        )
    seen: set[str] = set()
    for value in values:
        key = value_key(rtype, value)
        if key in seen:
            errors.append(f"Duplicate Resource Record: '{value}'")
        seen.add(key)
    return errors


def _dedupe(messages: list[str]) -> list[str]:
    return list(dict.fromkeys(messages))


def apply_changes(
    zone_name: str, existing: Callable[[str], list[RRSet]], changes: list[dict[str, Any]]
) -> tuple[dict[str, list[RRSet]], list[str]]:
    """Apply a batch in order to a working copy of the names it touches.

    `existing(name)` gives the current sets at one normalised name, all types. Returns
    the new sets of every touched name (normalised, sorted by type and SetIdentifier; a
    name left without sets maps to []) and no messages, or an empty mapping and every
    message when anything is wrong. Shape problems come first (see `shape_errors`).
    """
    shaped = shape_errors(changes)
    batch = _Batch(zone_name, existing)
    for number, change in enumerate(changes if isinstance(changes, list) else [], 1):
        if change_shape(number, change):
            continue
        batch.apply(number, change["Action"], change["ResourceRecordSet"])
    batch.conflicts()
    errors = _dedupe(shaped + batch.errors)
    if errors:
        return {}, errors
    result = {
        name: sorted(sets.values(), key=lambda s: (s["Type"], s.get("SetIdentifier") or ""))
        for name, sets in batch.names.items()
    }
    return result, []
