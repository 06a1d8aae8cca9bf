"""CIDR collections: create, change, list collections, locations and blocks, delete."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Mapping
from typing import Any

from dnslib import QTYPE

from resolver.route53.core import (
    ServiceCore,
    required,
)
from resolver.route53.errors import Route53Error
from resolver.wire import names

ARN = "arn:aws:route53:::cidrcollection/"


def _cidrs(change: Mapping[str, Any]) -> list[str]:
    blocks = change.get("CidrList") or []
    try:
        for b in blocks:
            ipaddress.ip_network(b, strict=True)
    except ValueError as exc:
        raise Route53Error("InvalidInput", f"bad CIDR block: {exc}", 400) from None
    return [str(b) for b in blocks]


class CidrCollections(ServiceCore):
    """CreateCidrCollection, ChangeCidrCollection, the three listings, DeleteCidrCollection."""

    def _collection(self, collection_id: str) -> dict[str, Any]:
        item = self.resources["cidr_collections"].get(collection_id)
        if item is None:
            raise Route53Error(
                "NoSuchCidrCollectionException",
                f"The CIDR collection {collection_id} does not exist.",
                404,
            )
        return item

    def _collection_summary(self, collection_id: str) -> dict[str, Any]:
        item = self._collection(collection_id)
        return {
            "Arn": ARN + collection_id,
            "Id": collection_id,
            "Name": item["Name"],
            "Version": item["Version"],
        }

    async def _create_cidr_collection(self, p: dict[str, Any]) -> dict[str, Any]:
        name = required(p, "Name")
        reference = required(p, "CallerReference")
        async with self.host.lock:
            taken = {c["Name"] for c in self.resources["cidr_collections"].values()}
            if name in taken or name in self.host.zone_set.cidr_collections:
                raise Route53Error(
                    "CidrCollectionAlreadyExistsException",
                    f"A CIDR collection named {name} already exists.",
                    409,
                )
            collection_id = str(uuid.uuid4())
            self.resources["cidr_collections"][collection_id] = {
                "Name": name,
                "CallerReference": reference,
                "Version": 1,
                "Locations": {},
            }
            await self._save_resources()
            return {
                "Collection": self._collection_summary(collection_id),
                "Location": f"https://route53.amazonaws.com/2013-04-01/cidrcollection/{collection_id}",
            }

    async def _change_cidr_collection(self, p: dict[str, Any]) -> dict[str, Any]:
        collection_id = required(p, "Id")
        async with self.host.lock:
            item = self._collection(collection_id)
            version = p.get("CollectionVersion")
            if version is not None and int(version) != item["Version"]:
                raise Route53Error(
                    "CidrCollectionVersionMismatchException",
                    f"CollectionVersion {version} does not match the current version "
                    f"{item['Version']}",
                    409,
                )
            locations = {k: list(v) for k, v in item["Locations"].items()}
            for change in p.get("Changes") or []:
                loc = change.get("LocationName")
                blocks = [str(ipaddress.ip_network(b, strict=True)) for b in _cidrs(change)]
                if change.get("Action") == "PUT":
                    locations[loc] = sorted(set(locations.get(loc, [])) | set(blocks))
                elif change.get("Action") == "DELETE_IF_EXISTS":
                    left = [b for b in locations.get(loc, []) if b not in blocks]
                    if left:
                        locations[loc] = left
                    else:
                        locations.pop(loc, None)
                else:
                    raise Route53Error.invalid_input("Action must be PUT or DELETE_IF_EXISTS")
            gone = set(item["Locations"]) - set(locations)
            used = self._users_of_locations(item["Name"], gone)
            if used:
                raise Route53Error(
                    "CidrBlockInUseException",
                    f"locations still used by records: {', '.join(used[:5])}",
                    400,
                )
            old = dict(item)
            item["Locations"], item["Version"] = locations, item["Version"] + 1
            try:
                await self._checks_changed([item["Name"]])
            except Route53Error:
                self.resources["cidr_collections"][collection_id] = old
                raise
            return {"Id": collection_id}

    def _users_of_locations(self, name: str, locations: set[str]) -> list[str]:
        users = []
        for zone in self.host.zone_set.zones.values():
            for node in zone.nodes.values():
                for group in node.values():
                    for s in group.sets:
                        r = s.routing
                        if (
                            getattr(r, "collection", None) == name
                            and getattr(r, "location", None) in locations
                        ):
                            users.append(f"{names.to_text(s.name)} {QTYPE.get(s.rtype)}")
        return users

    def _list_cidr_collections(self, p: dict[str, Any]) -> dict[str, Any]:
        ids = sorted(
            self.resources["cidr_collections"],
            key=lambda i: self.resources["cidr_collections"][i]["Name"],
        )
        return {"CidrCollections": [self._collection_summary(i) for i in ids]}

    def _list_cidr_locations(self, p: dict[str, Any]) -> dict[str, Any]:
        item = self._collection(required(p, "CollectionId"))
        return {"CidrLocations": [{"LocationName": loc} for loc in sorted(item["Locations"])]}

    def _list_cidr_blocks(self, p: dict[str, Any]) -> dict[str, Any]:
        item = self._collection(required(p, "CollectionId"))
        wanted = p.get("LocationName")
        if wanted and wanted not in item["Locations"]:
            raise Route53Error(
                "NoSuchCidrLocationException", f"No location {wanted} in the collection", 404
            )
        blocks = [
            {"CidrBlock": block, "LocationName": loc}
            for loc, cidrs in sorted(item["Locations"].items())
            if not wanted or loc == wanted
            for block in cidrs
        ]
        return {"CidrBlocks": blocks}

    async def _delete_cidr_collection(self, p: dict[str, Any]) -> dict[str, Any]:
        collection_id = required(p, "Id")
        async with self.host.lock:
            item = self._collection(collection_id)
            used = self._users_of_locations(item["Name"], set(item["Locations"]) | {"*"})
            if used:
                raise Route53Error(
                    "CidrCollectionInUseException",
                    f"The CIDR collection is used by {', '.join(used[:5])}",
                    400,
                )
            del self.resources["cidr_collections"][collection_id]
            await self._save_resources()
            return {}
