"""Built-in AWS region locations and great-circle distance, for latency and geoproximity routing.

Latency routing names AWS regions, and with no latency measurements to hand the nearest
region is the best estimate of the fastest one. So each region carries the approximate
coordinates of the metro area it serves (AWS does not publish data centre locations; these
come from public knowledge and are good to a few tens of kilometres at best), and distances
are great-circle distances on a spherical Earth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Region:
    """One AWS region: its code, the approximate location of its metro, and where that is."""

    name: str
    latitude: float
    longitude: float
    description: str


# (region code, latitude, longitude, description), grouped by partition and geography.
_REGION_ROWS: tuple[tuple[str, float, float, str], ...] = (
    # Commercial partition: the Americas.
    ("us-east-1", 38.9, -77.4, "US East (N. Virginia)"),
    ("us-east-2", 40.0, -83.0, "US East (Ohio)"),
    ("us-west-1", 37.4, -122.0, "US West (N. California)"),
    ("us-west-2", 45.8, -119.7, "US West (Oregon)"),
    ("ca-central-1", 45.5, -73.6, "Canada (Central), Montreal"),
    ("ca-west-1", 51.0, -114.1, "Canada West (Calgary)"),
    ("mx-central-1", 20.6, -100.4, "Mexico (Central), Querétaro"),
    ("sa-east-1", -23.5, -46.6, "South America (São Paulo)"),
    # Commercial partition: Europe, the Middle East and Africa.
    ("eu-central-1", 50.1, 8.7, "Europe (Frankfurt)"),
    ("eu-central-2", 47.4, 8.5, "Europe (Zurich)"),
    ("eu-west-1", 53.3, -6.3, "Europe (Ireland), Dublin"),
    ("eu-west-2", 51.5, -0.1, "Europe (London)"),
    ("eu-west-3", 48.9, 2.4, "Europe (Paris)"),
    ("eu-north-1", 59.3, 18.1, "Europe (Stockholm)"),
    ("eu-south-1", 45.5, 9.2, "Europe (Milan)"),
    ("eu-south-2", 41.6, -0.9, "Europe (Spain), Aragón"),
    ("il-central-1", 32.1, 34.8, "Israel (Tel Aviv)"),
    ("me-south-1", 26.2, 50.6, "Middle East (Bahrain)"),
    ("me-central-1", 25.2, 55.3, "Middle East (UAE)"),
    ("af-south-1", -33.9, 18.4, "Africa (Cape Town)"),
    # Commercial partition: Asia Pacific.
    ("ap-east-1", 22.3, 114.2, "Asia Pacific (Hong Kong)"),
    ("ap-east-2", 25.0, 121.5, "Asia Pacific (Taipei)"),
    ("ap-south-1", 19.1, 72.9, "Asia Pacific (Mumbai)"),
    ("ap-south-2", 17.4, 78.5, "Asia Pacific (Hyderabad)"),
    ("ap-southeast-1", 1.3, 103.8, "Asia Pacific (Singapore)"),
    ("ap-southeast-2", -33.9, 151.2, "Asia Pacific (Sydney)"),
    ("ap-southeast-3", -6.2, 106.8, "Asia Pacific (Jakarta)"),
    ("ap-southeast-4", -37.8, 145.0, "Asia Pacific (Melbourne)"),
    ("ap-southeast-5", 3.1, 101.7, "Asia Pacific (Malaysia), Kuala Lumpur"),
    ("ap-southeast-6", -36.8, 174.8, "Asia Pacific (New Zealand), Auckland"),
    ("ap-southeast-7", 13.8, 100.5, "Asia Pacific (Thailand), Bangkok"),
    ("ap-northeast-1", 35.7, 139.7, "Asia Pacific (Tokyo)"),
    ("ap-northeast-2", 37.6, 127.0, "Asia Pacific (Seoul)"),
    ("ap-northeast-3", 34.7, 135.5, "Asia Pacific (Osaka)"),
    # China partition.
    ("cn-north-1", 39.9, 116.4, "China (Beijing)"),
    ("cn-northwest-1", 37.5, 105.2, "China (Ningxia), Zhongwei"),
    # GovCloud partition: AWS does not say where; these are the commercial neighbours.
    ("us-gov-east-1", 40.0, -83.0, "AWS GovCloud (US-East), Ohio area"),
    ("us-gov-west-1", 45.8, -119.7, "AWS GovCloud (US-West), Oregon area"),
)

AWS_REGIONS: dict[str, Region] = {row[0]: Region(*row) for row in _REGION_ROWS}

_EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres between two points in degrees (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    # Rounding can push a a hair past 1 for antipodal points; asin would then fail.
    return 2 * _EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, max(0.0, a))))
