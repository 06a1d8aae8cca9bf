"""Atheris target: the zone loader fed YAML, then the handler asked about what loaded.

    python fuzz/zone_target.py -max_total_time=600 fuzz/corpus/zone

Each input is written as one zone file (in a fresh directory on tmpfs, dated back so the
loader trusts it at once) and loaded as the server does (`load_zone_set`). It must load,
or raise LoadFailed whose every error names that file and a line (>= 0); any other
exception is a finding. When it loads, every owner name and empty non-terminal is asked
for A, ANY and each type it holds, over UDP and TCP, and every reply must pass the
handler target's invariants (internal errors raise).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["resolver", "policies", "healthcheck"]):
    from resolver.errors import LoadFailed
    from resolver.zones.check import load_zone_set

import dns.message
import dns.name

sys.path.insert(0, str(Path(__file__).resolve().parent))
from handler_target import Finding, FlipHealth, ask_twice, handler_for, quiet

BASE = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
HEALTH = FlipHealth()
TYPES = (1, 255)  # A and ANY besides the types each name holds
MAX_QUESTIONS = 400  # a big zone is still one input, not a minute


def load(data: bytes) -> object | None:
    """The loaded ZoneSet, or None for a rejected file; Finding for anything else."""
    with tempfile.TemporaryDirectory(dir=BASE) as root:
        path = Path(root) / "fuzz.yaml"
        path.write_bytes(data)
        os.utime(path, ns=(0, 0))  # long settled
        try:
            return load_zone_set([str(path)])
        except LoadFailed as exc:
            if not exc.errors:
                raise Finding("LoadFailed without errors") from exc
            for error in exc.errors:
                if error.file != str(path) or not isinstance(error.line, int) or error.line < 0:
                    raise Finding(f"error without this file and a line: {error}") from exc
            return None


def TestOneInput(data: bytes) -> None:
    zone_set = load(data)
    if zone_set is None:
        return
    handler = handler_for(zone_set, HEALTH)  # type: ignore[arg-type]
    asked = 0
    for zone in zone_set.zones.values():  # type: ignore[attr-defined]
        for owner in sorted(zone.existing):
            types = set(TYPES) | set(zone.nodes.get(owner, {}))
            for rtype in sorted(types):
                wire = dns.message.make_query(
                    dns.name.Name([*owner, b""]), rtype, use_edns=0
                ).to_wire()
                for tcp in (False, True):
                    ask_twice(handler, wire, "192.0.2.7", tcp)
                asked += 1
                if asked >= MAX_QUESTIONS:
                    return


def main() -> None:
    quiet()
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
