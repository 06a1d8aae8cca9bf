"""Write the seed corpora for both targets (kept out of git: regenerate them).

    python fuzz/make_seeds.py            # -> fuzz/corpus/handler, fuzz/corpus/zone

Handler seeds: the oracle's query generator (tests/oracle/querygen.py) against its own
generated zones, plus questions for every fixture-zone owner and the robustness test's
hostile kinds, each behind the target's client prefix (flags, source address). Zone seeds:
the fixture zones, the shipped examples, the docs' policy examples and the oracle zones.
"""

from __future__ import annotations

import hashlib
import random
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import dns.edns  # noqa: E402
import dns.message  # noqa: E402

from tests.e2e import test_robustness as robustness  # noqa: E402
from tests.oracle import querygen, zonegen  # noqa: E402

SOURCES = (
    bytes([0]) + bytes([192, 0, 2, 99]),
    bytes([0]) + bytes([10, 1, 2, 3]),  # locations: US/CA
    bytes([0]) + bytes([10, 2, 9, 9]),  # locations: DE
    bytes([2]) + bytes.fromhex("20010db8000100000000000000000001"),
)


def save(directory: Path, data: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)


def handler_seeds(out: Path) -> int:
    rng = random.Random(12)
    wires: list[tuple[bool, bytes]] = []
    zones = zonegen.generate(7)
    for q in querygen.questions(zones, 12, 400):
        wires.append((q.tcp, q.wire()))
    owners = ["steer.example", "example.com", "example.org", "records.example.net"]
    for path in (REPO / "tests" / "fixtures" / "zones").glob("*.yaml"):
        text = path.read_text()
        zone = re.search(r"^zone: (\S+)", text, re.M)
        if zone:
            for owner in re.findall(r"^  ([\w*@.\"-]+):", text, re.M):
                owner = owner.strip('"')
                owners.append(zone.group(1) if owner == "@" else f"{owner}.{zone.group(1)}")
    for name in owners:
        for rdtype in ("A", "AAAA", "TXT", "MX", "ANY", "NS", "DS"):
            ecs = [dns.edns.ECSOption(rng.choice(("10.1.0.0", "10.2.0.0", "198.51.100.0")), 24)]
            query = dns.message.make_query(name, rdtype, use_edns=0, options=ecs)
            wires.append((False, query.to_wire()))
            wires.append((False, dns.message.make_query(name, rdtype).to_wire()))
    for kind in robustness.KINDS:
        for wire, _ in robustness.packets(kind)[:60]:
            wires.append((False, wire))
    for tcp, wire in wires:
        prefix = bytearray(rng.choice(SOURCES))
        prefix[0] |= int(tcp)
        save(out, bytes(prefix) + wire)
    return len(wires)


def zone_seeds(out: Path) -> int:
    texts = [p.read_text() for p in (REPO / "tests" / "fixtures" / "zones").glob("*.yaml")]
    texts += [p.read_text() for p in (REPO / "zones").glob("*.yaml")]
    for page in (REPO / "docs" / "policies").glob("*.md"):
        texts += re.findall(r"```yaml\n(.*?)```", page.read_text(), re.S)
    texts += [zone.to_yaml() for zone in zonegen.generate(7).zones]
    for text in texts:
        save(out, text.encode())
    return len(texts)


def main() -> None:
    corpus = Path(__file__).resolve().parent / "corpus"
    print("handler seeds:", handler_seeds(corpus / "handler"))
    print("zone seeds:", zone_seeds(corpus / "zone"))


if __name__ == "__main__":
    main()
