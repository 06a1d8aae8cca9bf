"""The built-in geography tables: complete, in range, and placed where they should be."""

from __future__ import annotations

import re

import pytest

from policies.countries import CONTINENTS, COUNTRIES, US_STATES, centroid, continent_of
from policies.regions import AWS_REGIONS, great_circle_km

LONDON = (51.5074, -0.1278)
PARIS = (48.8566, 2.3522)
NEW_YORK = (40.7128, -74.0060)
LOS_ANGELES = (34.0522, -118.2437)


def all_points() -> list[tuple[str, float, float]]:
    points = [(f"country {c.code}", c.latitude, c.longitude) for c in COUNTRIES.values()]
    points += [(f"state {s}", lat, lon) for s, (lat, lon) in US_STATES.items()]
    points += [(f"region {r.name}", r.latitude, r.longitude) for r in AWS_REGIONS.values()]
    return points


def test_continent_codes_are_route53s_seven():
    """The continent table holds exactly Route 53's seven continent codes."""
    assert set(CONTINENTS) == {"AF", "AN", "AS", "EU", "NA", "OC", "SA"}


def test_every_country_continent_is_known():
    """Every country is placed on one of the seven continents."""
    assert {c.continent for c in COUNTRIES.values()} <= set(CONTINENTS)


def test_country_entries_are_keyed_by_their_code():
    """Each country entry's code is the key it is stored under."""
    assert all(code == entry.code for code, entry in COUNTRIES.items())


def test_coordinates_in_range():
    """Every latitude is within [-90, 90] and every longitude within [-180, 180]."""
    bad = [name for name, lat, lon in all_points() if not (-90 <= lat <= 90 and -180 <= lon <= 180)]
    assert not bad


def test_countries_are_exactly_iso_3166_1():
    """The country table holds exactly the officially assigned ISO 3166-1 alpha-2 codes."""
    pycountry = pytest.importorskip("pycountry")
    assert set(COUNTRIES) == {c.alpha_2 for c in pycountry.countries}


def test_us_states_are_iso_3166_2_subdivisions():
    """US_STATES has the 50 states plus DC, each an ISO 3166-2:US subdivision."""
    pycountry = pytest.importorskip("pycountry")
    assert len(US_STATES) == 51
    for state in US_STATES:
        assert pycountry.subdivisions.get(code=f"US-{state}") is not None, state


@pytest.mark.parametrize(
    ("country", "continent"),
    [
        ("US", "NA"),
        ("DE", "EU"),
        ("JP", "AS"),
        ("AU", "OC"),
        ("BR", "SA"),
        ("EG", "AF"),
        ("AQ", "AN"),
        ("RU", "EU"),
        ("TR", "AS"),
        ("PA", "NA"),
        ("GL", "NA"),
    ],
)
def test_continent_spot_checks(country, continent):
    """Well-known countries sit on the continent MaxMind and Route 53 put them on."""
    assert continent_of(country) == continent


def test_unknown_country():
    """An unassigned code has no continent and no centroid."""
    assert continent_of("XK") is None
    assert centroid("XK") is None
    assert centroid("ZZ", "CA") is None


def test_state_centroid_differs_from_country():
    """A known US state has its own centroid, distinct from the country's."""
    assert centroid("US", "CA") == US_STATES["CA"]
    assert centroid("US", "CA") != centroid("US")
    assert centroid("US", "US-CA") == US_STATES["CA"]


def test_unknown_subdivision_falls_back_to_country():
    """A subdivision that is not a known state, or of a country other than the US, is ignored."""
    assert centroid("US", "ZZ") == centroid("US")
    assert centroid("CA", "CA") == centroid("CA")


def test_great_circle_london_paris():
    """London to Paris is about 344 km."""
    assert great_circle_km(*LONDON, *PARIS) == pytest.approx(344, abs=5)


def test_great_circle_new_york_los_angeles():
    """New York to Los Angeles is about 3936 km."""
    assert great_circle_km(*NEW_YORK, *LOS_ANGELES) == pytest.approx(3936, abs=20)


def test_great_circle_same_point():
    """A point is no distance from itself."""
    assert great_circle_km(*PARIS, *PARIS) == 0


def test_great_circle_antipodes():
    """Antipodal points are half the Earth's circumference apart, about 20015 km."""
    assert great_circle_km(10.0, 20.0, -10.0, -160.0) == pytest.approx(20015, abs=1)
    assert great_circle_km(90.0, 0.0, -90.0, 0.0) == pytest.approx(20015, abs=1)


def test_region_names_are_well_formed():
    """Every AWS region code has the shape of one, such as eu-west-1 or us-gov-east-1."""
    pattern = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    assert all(pattern.match(name) for name in AWS_REGIONS)
    assert all(name == region.name for name, region in AWS_REGIONS.items())


def test_us_east_1_nearer_new_york_than_frankfurt():
    """us-east-1 is closer to New York than eu-central-1 is."""
    east = AWS_REGIONS["us-east-1"]
    frankfurt = AWS_REGIONS["eu-central-1"]
    assert great_circle_km(*NEW_YORK, east.latitude, east.longitude) < great_circle_km(
        *NEW_YORK, frankfurt.latitude, frankfurt.longitude
    )
