"""Where API-managed state lives: one small interface, and a state directory behind it.

Zones are zone files of SPEC 4 (`zones/<name>.yaml`), so `policydns check`, backups and
version control work on them; health checks, CIDR collections and zone metadata are one
JSON document (`resources.json`). Every write is atomic (temporary file, fsync, rename,
directory fsync): a crash at any moment leaves the old file or the new one, never a mix.
A later store (a distributed one) implements the same five methods.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Protocol

RESOURCES = "resources.json"
ZONES = "zones"
_UNSAFE = re.compile(r"[^a-z0-9._-]")


class Store(Protocol):
    def zone_paths(self) -> list[str]:
        """The zone files the server loads (beside the operator's)."""
        ...

    def zone_path(self, name: str) -> str: ...

    def write_zone(self, name: str, text: str) -> str:
        """Replace (or create) one zone's file; return its path."""
        ...

    def delete_zone(self, name: str) -> None: ...

    def read_resources(self) -> dict[str, Any]: ...

    def write_resources(self, data: dict[str, Any]) -> None: ...


def file_name(zone: str) -> str:
    """A zone's file name: its lower-case name without the final dot; any octet outside
    [a-z0-9._-] as %XX, so no name escapes the directory or hides as a dot file."""
    text = zone.rstrip(".").lower() or "root"
    out = _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), text)
    if out.startswith("."):
        out = "%2E" + out[1:]
    return out + ".yaml"


class FileStore:
    """The state directory: created 0700 on first use, temporary files cleaned at start."""

    def __init__(self, state_dir: str) -> None:
        self.root = Path(state_dir)
        self.zones = self.root / ZONES
        self.zones.mkdir(parents=True, exist_ok=True, mode=0o700)
        for stale in [*self.root.glob(".*.tmp"), *self.zones.glob(".*.tmp")]:
            stale.unlink(missing_ok=True)  # a write a crash interrupted: never renamed

    def zone_paths(self) -> list[str]:
        return [str(self.zones)]

    def zone_path(self, name: str) -> str:
        return str(self.zones / file_name(name))

    def write_zone(self, name: str, text: str) -> str:
        path = self.zones / file_name(name)
        atomic_write(path, text.encode("utf-8"))
        return str(path)

    def delete_zone(self, name: str) -> None:
        path = self.zones / file_name(name)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        _fsync_dir(self.zones)

    def read_resources(self) -> dict[str, Any]:
        path = self.root / RESOURCES
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: not a JSON object")
        return data

    def write_resources(self, data: dict[str, Any]) -> None:
        text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        atomic_write(self.root / RESOURCES, text.encode("utf-8"))


def atomic_write(path: Path, data: bytes) -> None:
    """Write data to path so that a crash leaves the old content or the new, whole."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.replace(temp, path)
    except OSError:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
