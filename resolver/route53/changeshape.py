"""A change batch's request shape, as Route 53 checks it before anything else: members
present, of their type, in range and matching their patterns. What fails here Route 53
answers with InvalidInput (route53.batch judges the rest, InvalidChangeBatch), in its
own words: `1 validation error detected: Value ... at '<path>' failed to satisfy
constraint: ...`, paths numbered from 1 as Route 53 numbers them.
"""

from __future__ import annotations

import re
from typing import Any

RRSet = dict[str, Any]

RR_TYPES = (
    "SOA", "A", "TXT", "NS", "CNAME", "MX", "NAPTR", "PTR", "SRV", "SPF", "AAAA", "CAA",
    "DS", "TLSA", "SSHFP", "SVCB", "HTTPS",
)  # fmt: skip
ACTIONS = ("CREATE", "DELETE", "UPSERT")
ROUTING_FIELDS = (
    "Weight", "Region", "GeoLocation", "GeoProximityLocation", "Failover",
    "MultiValueAnswer", "CidrRoutingConfig",
)  # fmt: skip
TTL_MAX = 2147483647
_CONTINENT = re.compile(r"[A-Z]{2}")
_COUNTRY = re.compile(r"\*|[A-Z]{2}")
_SUBDIVISION = re.compile(r"[A-Z0-9]{1,3}")
_LATITUDE = re.compile(r"[-+]?[0-9]{1,2}(\.[0-9]{0,2})?")
_LONGITUDE = re.compile(r"[-+]?[0-9]{1,3}(\.[0-9]{0,2})?")
_LOCATION_NAME = re.compile(r"[0-9A-Za-z_\-*]{1,16}")
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def validation_error(path: str, value: Any, constraint: str) -> str:
    shown = "null" if value is None else f"'{value}'"
    return (
        f"1 validation error detected: Value {shown} at '{path}' "
        f"failed to satisfy constraint: {constraint}"
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_range(path: str, value: Any, low: int, high: int) -> list[str]:
    if not _is_int(value):
        return [validation_error(path, value, "Member must be an integer")]
    if value < low:
        return [
            validation_error(path, value, f"Member must have value greater than or equal to {low}")
        ]
    if value > high:
        return [
            validation_error(path, value, f"Member must have value less than or equal to {high}")
        ]
    return []


def _pattern(path: str, value: Any, pattern: re.Pattern[str]) -> list[str]:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        rule = f"Member must satisfy regular expression pattern: {pattern.pattern}"
        return [validation_error(path, value, rule)]
    return []


def _context(change: dict[str, Any], rrset: RRSet) -> str:
    set_id = rrset.get("SetIdentifier")
    return (
        f"in Change with [Action={change.get('Action')}, Name={rrset.get('Name')}, "
        f"Type={rrset.get('Type')}, SetIdentifier={'null' if set_id is None else set_id}]"
    )


def change_shape(number: int, change: Any) -> list[str]:
    """Every request-shape problem of one change (numbered from 1, as Route 53 does)."""
    base = f"changeBatch.changes.{number}.member"
    if not isinstance(change, dict):
        return [validation_error(base, None, "Member must not be null")]
    errors: list[str] = []
    if change.get("Action") not in ACTIONS:
        rule = "Member must satisfy enum value set: [CREATE, DELETE, UPSERT]"
        errors.append(validation_error(f"{base}.action", change.get("Action"), rule))
    rrset = change.get("ResourceRecordSet")
    path = f"{base}.resourceRecordSet"
    if not isinstance(rrset, dict):
        return [*errors, validation_error(path, None, "Member must not be null")]
    where = _context(change, rrset)
    name = rrset.get("Name")
    if not isinstance(name, str) or not name:
        errors.append(validation_error(f"{path}.name", None, "Member must not be null"))
    elif len(name) > 1024:
        rule = "Member must have length less than or equal to 1024"
        errors.append(validation_error(f"{path}.name", name, rule))
    rtype = rrset.get("Type")
    if rtype not in RR_TYPES:
        rule = f"Member must satisfy enum value set: [{', '.join(RR_TYPES)}]"
        errors.append(validation_error(f"{path}.type", rtype, rule))

    alias = rrset.get("AliasTarget")
    ttl = rrset.get("TTL")
    records = rrset.get("ResourceRecords")
    if rrset.get("TrafficPolicyInstanceId") is not None:
        errors.append(f"Invalid request: TrafficPolicyInstanceId is not supported {where}")
    data = "AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId"
    if alias is not None and (ttl is not None or records is not None):
        errors.append(
            f"Invalid request: Expected exactly one of [{data}], but found more than one {where}"
        )
    elif alias is None and (ttl is None or records is None):
        errors.append(f"Invalid request: Expected exactly one of [{data}], but found none {where}")
    if ttl is not None:
        errors += _int_range(f"{path}.tTL", ttl, 0, TTL_MAX)
    if records is not None:
        errors += _records_shape(f"{path}.resourceRecords", records)
    if alias is not None:
        errors += _alias_shape(f"{path}.aliasTarget", alias)

    set_id = rrset.get("SetIdentifier")
    if set_id is not None and (not isinstance(set_id, str) or not 1 <= len(set_id) <= 128):
        rule = "Member must have length between 1 and 128"
        errors.append(validation_error(f"{path}.setIdentifier", set_id, rule))
    mva = rrset.get("MultiValueAnswer")
    if mva is not None and not isinstance(mva, bool):
        errors.append(validation_error(f"{path}.multiValueAnswer", mva, "Member must be a boolean"))
    used = [
        f for f in ROUTING_FIELDS if f in rrset and rrset[f] is not None and rrset[f] is not False
    ]
    if len(used) > 1:
        errors.append(
            f"Invalid request: Expected at most one of [{', '.join(ROUTING_FIELDS)}], "
            f"but found more than one {where}"
        )
    if used and set_id is None:
        errors.append(f"Invalid request: Missing field 'SetIdentifier' {where}")
    if not used and set_id is not None:
        errors.append(
            f"Invalid request: Field 'SetIdentifier' needs one of "
            f"[{', '.join(ROUTING_FIELDS)}] {where}"
        )
    if rrset.get("Weight") is not None:
        errors += _int_range(f"{path}.weight", rrset["Weight"], 0, 255)
    failover = rrset.get("Failover")
    if failover is not None and failover not in ("PRIMARY", "SECONDARY"):
        rule = "Member must satisfy enum value set: [PRIMARY, SECONDARY]"
        errors.append(validation_error(f"{path}.failover", failover, rule))
    region = rrset.get("Region")
    if region is not None and (not isinstance(region, str) or not 1 <= len(region) <= 64):
        rule = "Member must have length between 1 and 64"
        errors.append(validation_error(f"{path}.region", region, rule))
    if rrset.get("GeoLocation") is not None:
        errors += _geolocation_shape(f"{path}.geoLocation", rrset["GeoLocation"], where)
    if rrset.get("GeoProximityLocation") is not None:
        errors += _geoproximity_shape(
            f"{path}.geoProximityLocation", rrset["GeoProximityLocation"], where
        )
    if rrset.get("CidrRoutingConfig") is not None:
        errors += _cidr_shape(f"{path}.cidrRoutingConfig", rrset["CidrRoutingConfig"])
    check = rrset.get("HealthCheckId")
    if check is not None and (not isinstance(check, str) or not 1 <= len(check) <= 64):
        rule = "Member must have length between 1 and 64"
        errors.append(validation_error(f"{path}.healthCheckId", check, rule))
    return errors


def _records_shape(path: str, records: Any) -> list[str]:
    if not isinstance(records, list) or not records:
        return [
            validation_error(path, records, "Member must have length greater than or equal to 1")
        ]
    errors = []
    for i, record in enumerate(records, 1):
        value = record.get("Value") if isinstance(record, dict) else None
        if not isinstance(value, str):
            errors.append(
                validation_error(f"{path}.{i}.member.value", None, "Member must not be null")
            )
        elif len(value) > 4000:
            rule = "Member must have length less than or equal to 4000"
            errors.append(validation_error(f"{path}.{i}.member.value", value, rule))
    return errors


def _alias_shape(path: str, alias: Any) -> list[str]:
    if not isinstance(alias, dict):
        return [validation_error(path, alias, "Member must be a structure")]
    errors = []
    for field in ("HostedZoneId", "DNSName"):
        if not isinstance(alias.get(field), str) or not alias[field]:
            errors.append(
                validation_error(
                    f"{path}.{field[0].lower()}{field[1:]}", None, "Member must not be null"
                )
            )
    health = alias.get("EvaluateTargetHealth")
    if health is not None and not isinstance(health, bool):
        errors.append(
            validation_error(f"{path}.evaluateTargetHealth", health, "Member must be a boolean")
        )
    return errors


def _geolocation_shape(path: str, geo: Any, where: str) -> list[str]:
    if not isinstance(geo, dict):
        return [validation_error(path, geo, "Member must be a structure")]
    errors = []
    continent = geo.get("ContinentCode")
    country = geo.get("CountryCode")
    subdivision = geo.get("SubdivisionCode")
    if continent is not None and (country is not None or subdivision is not None):
        errors.append(
            "Invalid request: Expected exactly one of [ContinentCode, CountryCode], "
            f"but found more than one {where}"
        )
    elif continent is None and country is None:
        errors.append(
            "Invalid request: Expected exactly one of [ContinentCode, CountryCode], "
            f"but found none {where}"
        )
    if continent is not None:
        errors += _pattern(f"{path}.continentCode", continent, _CONTINENT)
    if country is not None:
        errors += _pattern(f"{path}.countryCode", country, _COUNTRY)
    if subdivision is not None:
        errors += _pattern(f"{path}.subdivisionCode", subdivision, _SUBDIVISION)
        if country == "*":
            errors.append(
                f"Invalid request: SubdivisionCode needs a CountryCode other than '*' {where}"
            )
    return errors


def _geoproximity_shape(path: str, geo: Any, where: str) -> list[str]:
    if not isinstance(geo, dict):
        return [validation_error(path, geo, "Member must be a structure")]
    errors = []
    places = [f for f in ("AWSRegion", "LocalZoneGroup", "Coordinates") if geo.get(f) is not None]
    if len(places) != 1:
        found = "none" if not places else "more than one"
        errors.append(
            "Invalid request: Expected exactly one of [AWSRegion, LocalZoneGroup, Coordinates], "
            f"but found {found} {where}"
        )
    for field in ("AWSRegion", "LocalZoneGroup"):
        value = geo.get(field)
        if value is not None and (not isinstance(value, str) or not 1 <= len(value) <= 64):
            rule = "Member must have length between 1 and 64"
            errors.append(validation_error(f"{path}.{field[0].lower()}{field[1:]}", value, rule))
    coordinates = geo.get("Coordinates")
    if coordinates is not None:
        if not isinstance(coordinates, dict):
            errors.append(
                validation_error(f"{path}.coordinates", coordinates, "Member must be a structure")
            )
        else:
            for field, pattern, limit in (
                ("Latitude", _LATITUDE, 90),
                ("Longitude", _LONGITUDE, 180),
            ):
                value = coordinates.get(field)
                where_field = f"{path}.coordinates.{field.lower()}"
                bad = _pattern(where_field, value, pattern)
                if not bad and abs(float(str(value))) > limit:
                    bad = [
                        validation_error(
                            where_field, value, f"Member must be between -{limit} and {limit}"
                        )
                    ]
                errors += bad
    if geo.get("Bias") is not None:
        errors += _int_range(f"{path}.bias", geo["Bias"], -99, 99)
    return errors


def _cidr_shape(path: str, cidr: Any) -> list[str]:
    if not isinstance(cidr, dict):
        return [validation_error(path, cidr, "Member must be a structure")]
    return _pattern(f"{path}.collectionId", cidr.get("CollectionId"), _UUID) + _pattern(
        f"{path}.locationName", cidr.get("LocationName"), _LOCATION_NAME
    )


def shape_errors(changes: Any) -> list[str]:
    """The request-shape problems of a batch, which Route 53 answers with InvalidInput."""
    if not isinstance(changes, list) or not changes:
        rule = "Member must have length greater than or equal to 1"
        return [validation_error("changeBatch.changes", changes, rule)]
    errors: list[str] = []
    for number, change in enumerate(changes, 1):
        errors += change_shape(number, change)
    return errors
