"""Derived SOA serials: stable for unchanged content, strictly rising on change."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from resolver.zones.check import load_zone_set
from resolver.zones.serial import newer, next_serial

ORIGIN = (b"example", b"test")


def write(path: Path, body: str, mtime: int) -> None:
    path.write_text(f"zone: example.test\nrecords:\n  www: [{{type: A, values: [{body}]}}]\n")
    os.utime(path, (mtime, mtime))


class TestSerialArithmetic:
    def test_rfc1982_comparison(self):
        """Serials compare in RFC 1982 arithmetic, wrapping at 2^32."""
        assert newer(2, 1) and not newer(1, 2) and not newer(5, 5)
        assert newer(0, 0xFFFFFFFF)
        assert not newer(0xFFFFFFFF, 0)

    def test_next_serial_rises(self):
        """A candidate that is not newer is raised to previous + 1."""
        assert next_serial(100, 50) == 100
        assert next_serial(50, 100) == 101
        assert next_serial(5, 0xFFFFFFFF) == 5
        assert next_serial(0xFFFFFFFF, 0xFFFFFFFF) == 0


class TestDerivedSerial:
    def test_unchanged_content_keeps_serial(self, tmp_path: Path):
        """A reload of the same text keeps the serial even when the file was touched."""
        zone = tmp_path / "z.yaml"
        write(zone, "192.0.2.1", 1_800_000_000)
        first = load_zone_set([str(tmp_path)])
        write(zone, "192.0.2.1", 1_800_000_500)
        again = load_zone_set([str(tmp_path)], previous=first)
        assert again.zones[ORIGIN].soa.serial == first.zones[ORIGIN].soa.serial == 1_800_000_000

    def test_changed_content_in_same_second_rises(self, tmp_path: Path):
        """Changed content with the same modification time still gets a greater serial."""
        zone = tmp_path / "z.yaml"
        write(zone, "192.0.2.1", 1_800_000_000)
        first = load_zone_set([str(tmp_path)])
        write(zone, "192.0.2.2", 1_800_000_000)
        second = load_zone_set([str(tmp_path)], previous=first)
        assert second.zones[ORIGIN].soa.serial == 1_800_000_001

    def test_explicit_serial_is_kept(self, tmp_path: Path):
        """A serial written in the file is used as written."""
        (tmp_path / "z.yaml").write_text("zone: example.test\nsoa: {serial: 7}\n")
        first = load_zone_set([str(tmp_path)])
        (tmp_path / "z.yaml").write_text("zone: example.test\nsoa: {serial: 7}\nttl: 30\n")
        second = load_zone_set([str(tmp_path)], previous=first)
        assert second.zones[ORIGIN].soa.serial == 7

    def test_carrying_a_serial_leaves_the_loaded_zones_as_they_were(self, tmp_path: Path):
        """A reload returns new zones with the carried serial; neither the zones it replaces
        nor the zones it was built from change after construction."""
        zone = tmp_path / "z.yaml"
        write(zone, "192.0.2.1", 1_800_000_000)
        first = load_zone_set([str(tmp_path)])
        old = first.zones[ORIGIN]
        write(zone, "192.0.2.2", 1_800_000_000)
        fresh = load_zone_set([str(tmp_path)])
        second = load_zone_set([str(tmp_path)], previous=first)
        assert second.zones[ORIGIN].soa.serial == 1_800_000_001
        assert old.soa.serial == fresh.zones[ORIGIN].soa.serial == 1_800_000_000
        assert first.zones[ORIGIN] is old
        with pytest.raises(dataclasses.FrozenInstanceError):
            old.soa = second.zones[ORIGIN].soa  # type: ignore[misc]
