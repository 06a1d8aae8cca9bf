"""Seeded zones written twice: as policydns YAML and as RFC 1035 master files for Knot.

The same random content goes into both formats, so any difference in the answers of the two
servers is a difference in how they answer, not in what they serve. Only simple record sets
(no routing policies, no aliases): Knot has neither.

Layout (names fixed, content random):

- ``oracle.test``: the parent. Every supported type, odd TXT, wildcards with names beside and
  below them, empty non-terminals, CNAME chains of every kind, delegations with and without
  glue, DS at the cuts.
- ``child.oracle.test``: delegated from the parent (NS + glue + DS there) and served here too.
- ``other.test``: a sibling zone for chains that leave and re-enter this server's zones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PARENT = "oracle.test."
CHILD = "child.oracle.test."
OTHER = "other.test."

SUPPORTED = (
    "A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "CAA",
    "PTR", "NAPTR", "SSHFP", "TLSA", "DS", "HTTPS", "SVCB", "SPF",
)  # fmt: skip

# SvcParamKey numbers (RFC 9460 section 14.3.2), for writing the master file in key order.
SVC_KEY_NUMBERS = {
    "mandatory": 0,
    "alpn": 1,
    "no-default-alpn": 2,
    "port": 3,
    "ipv4hint": 4,
    "ech": 5,
    "ipv6hint": 6,
}
TTLS = (0, 1, 60, 300, 3600, 86400, 2147483647)


@dataclass
class RecordSet:
    """One name+type: values as policydns reads them and as a master file spells them."""

    owner: str  # relative to the zone ("@" for the apex), letter case as written
    rtype: str
    ttl: int
    yaml_values: list[str]
    master_values: list[str]


@dataclass
class Zone:
    """One zone's SOA, apex NS and record sets, writable in both formats."""

    origin: str  # absolute, lower case, with the trailing dot
    ttl: int
    soa: dict[str, int | str]
    ns: list[str]
    rrsets: list[RecordSet] = field(default_factory=list)

    def add(self, owner: str, rtype: str, ttl: int, values: list[str], master=None) -> None:
        """Add a record set; `master` gives the master-file spelling when it differs."""
        for rs in self.rrsets:
            if rs.owner.lower() == owner.lower() and rs.rtype == rtype:
                raise ValueError(f"duplicate {owner} {rtype} in {self.origin}")
        self.rrsets.append(RecordSet(owner, rtype, ttl, values, master or list(values)))

    def absolute(self, owner: str) -> str:
        """The owner as an absolute name (case kept)."""
        return self.origin if owner == "@" else f"{owner}.{self.origin}"

    def owners(self) -> list[str]:
        """Every owner name that has data (absolute, case as written)."""
        seen: dict[str, str] = {self.origin: self.origin}
        for rs in self.rrsets:
            name = self.absolute(rs.owner)
            seen.setdefault(name.lower(), name)
        return list(seen.values())

    def to_yaml(self) -> str:
        """The zone as a policydns zone file (SPEC section 4)."""
        records: dict[str, list[dict]] = {}
        for rs in self.rrsets:
            records.setdefault(rs.owner, []).append(
                {"type": rs.rtype, "ttl": rs.ttl, "values": list(rs.yaml_values)}
            )
        doc = {
            "zone": self.origin.rstrip("."),
            "ttl": self.ttl,
            "soa": dict(self.soa),
            "ns": list(self.ns),
            "records": records,
        }
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1000)

    def to_master(self) -> str:
        """The zone as an RFC 1035 master file (absolute owners, explicit TTL and class)."""
        s = self.soa
        lines = [
            f"$ORIGIN {self.origin}",
            f"$TTL {self.ttl}",
            f"@ {self.ttl} IN SOA {s['mname']} {s['rname']} {s['serial']} {s['refresh']} "
            f"{s['retry']} {s['expire']} {s['minimum']}",
        ]
        lines += [f"@ {self.ttl} IN NS {ns}" for ns in self.ns]
        for rs in self.rrsets:
            owner = self.absolute(rs.owner)
            lines += [f"{owner} {rs.ttl} IN {rs.rtype} {v}" for v in rs.master_values]
        return "\n".join(lines) + "\n"


@dataclass
class ZoneSet:
    """The generated zones plus names worth asking about that hold no data."""

    zones: list[Zone]
    absent: list[str]  # non-existent names in every interesting position
    outside: list[str]  # names outside every zone

    def write(self, yaml_dir: Path, master_dir: Path) -> None:
        """Write <zone>.yaml into yaml_dir and <zone>.zone into master_dir."""
        yaml_dir.mkdir(parents=True, exist_ok=True)
        master_dir.mkdir(parents=True, exist_ok=True)
        for zone in self.zones:
            stem = zone.origin.rstrip(".")
            (yaml_dir / f"{stem}.yaml").write_text(zone.to_yaml(), encoding="utf-8")
            (master_dir / f"{stem}.zone").write_text(zone.to_master(), encoding="utf-8")

    def owners(self) -> list[str]:
        """Every owner of every zone."""
        return [name for zone in self.zones for name in zone.owners()]

    def record_count(self) -> int:
        """Resource records across the zones (SOA and apex NS included)."""
        return sum(1 + len(z.ns) + sum(len(rs.yaml_values) for rs in z.rrsets) for z in self.zones)


def master_txt(text: str) -> str:
    """A TXT value (one text, split at 255 bytes like policydns) as master-file strings."""
    raw = text.encode("utf-8")
    chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
    out = []
    for chunk in chunks:
        escaped = []
        for byte in chunk:
            if byte in (0x22, 0x5C):
                escaped.append("\\" + chr(byte))
            elif 0x20 <= byte < 0x7F:
                escaped.append(chr(byte))
            else:
                escaped.append(f"\\{byte:03d}")
        out.append('"' + "".join(escaped) + '"')
    return " ".join(out)


class _Gen:
    """The random choices, all drawn from one random.Random(seed)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.n = 0

    def label(self) -> str:
        self.n += 1
        syl = ("ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "vu", "ze")
        return "".join(self.rng.choice(syl) for _ in range(self.rng.randint(1, 3))) + str(self.n)

    def mixcase(self, text: str) -> str:
        return "".join(c.upper() if self.rng.random() < 0.5 else c for c in text)

    def ttl(self) -> int:
        return self.rng.choice(TTLS)

    def ipv4(self) -> str:
        net = self.rng.choice(("192.0.2", "198.51.100", "203.0.113"))
        return f"{net}.{self.rng.randint(1, 254)}"

    def ipv6(self) -> str:
        return f"2001:db8:{self.rng.randint(0, 0xFFFF):x}::{self.rng.randint(1, 0xFFFF):x}"

    def hexdata(self, size: int) -> str:
        return "".join(f"{self.rng.randint(0, 255):02x}" for _ in range(size))

    def target(self, origin: str) -> str:
        """A target name: relative (completed with the origin) or absolute."""
        pick = self.rng.random()
        if pick < 0.3:
            return self.label()
        if pick < 0.6:
            return f"{self.label()}.{origin}"
        return f"{self.label()}.example-target.invalid."

    def text(self) -> str:
        kinds = (
            lambda: "plain text " + self.label(),
            lambda: 'with "quotes" and \\backslashes\\ ' + self.label(),
            lambda: "  leading and trailing spaces  ",
            lambda: "x" * self.rng.randint(250, 260),
            lambda: " ".join(self.label() for _ in range(self.rng.randint(40, 90))),
            lambda: "semi;colon (parens) $dollar @at",
            lambda: "caf\u00e9 \u00fcml\u00e4ut \u2603",
            lambda: "",
        )
        return self.rng.choice(kinds)()

    def svc_params(self) -> tuple[list[str], list[str]]:
        """SvcParams out of order (for policydns) and in key order (for Knot)."""
        params: dict[str, str] = {}
        if self.rng.random() < 0.8:
            params["alpn"] = ",".join(self.rng.sample(["h2", "h3", "http/1.1"], 2))
        if self.rng.random() < 0.6:
            params["port"] = str(self.rng.randint(1, 65535))
        if self.rng.random() < 0.6:
            params["ipv4hint"] = ",".join(self.ipv4() for _ in range(self.rng.randint(1, 2)))
        if self.rng.random() < 0.5:
            params["ipv6hint"] = ",".join(self.ipv6() for _ in range(self.rng.randint(1, 2)))
        if "alpn" in params and self.rng.random() < 0.3:
            params["no-default-alpn"] = ""
        if len(params) >= 2 and self.rng.random() < 0.5:
            keys = self.rng.sample(sorted(params), 2)
            params["mandatory"] = ",".join(keys)  # unsorted as written
        shuffled = list(params)
        self.rng.shuffle(shuffled)
        if len(shuffled) >= 2 and shuffled == sorted(shuffled, key=SVC_KEY_NUMBERS.get):
            shuffled.reverse()  # out of order whenever there are two keys

        def spell(key: str, value: str) -> str:
            return key if key == "no-default-alpn" else f"{key}={value}"

        def sorted_value(key: str) -> str:
            if key == "mandatory":
                return ",".join(sorted(params[key].split(","), key=SVC_KEY_NUMBERS.get))
            return params[key]

        yaml_params = [spell(k, params[k]) for k in shuffled]
        master_params = [spell(k, sorted_value(k)) for k in sorted(params, key=SVC_KEY_NUMBERS.get)]
        return yaml_params, master_params

    def values(self, rtype: str, origin: str) -> tuple[list[str], list[str]]:
        """1-4 random values of one type: (YAML spelling, master-file spelling)."""
        count = self.rng.randint(1, 4)
        yaml_v: list[str] = []
        master_v: list[str] = []
        seen: set[str] = set()
        for _ in range(count):
            y, m = self.value(rtype, origin)
            if m in seen:
                continue
            seen.add(m)
            yaml_v.append(y)
            master_v.append(m)
        return yaml_v, master_v

    def value(self, rtype: str, origin: str) -> tuple[str, str]:
        r = self.rng
        if rtype == "A":
            v = self.ipv4()
        elif rtype == "AAAA":
            v = self.ipv6()
        elif rtype in ("CNAME", "PTR", "NS"):
            v = self.target(origin)
        elif rtype == "MX":
            v = f"{r.randint(0, 65535)} {self.target(origin)}"
        elif rtype in ("TXT", "SPF"):
            text = self.text()
            return text, master_txt(text)
        elif rtype == "SRV":
            v = f"{r.randint(0, 65535)} {r.randint(0, 65535)} {r.randint(1, 65535)} "
            v += self.target(origin)
        elif rtype == "CAA":
            tag = r.choice(("issue", "issuewild", "iodef"))
            val = r.choice(
                ("ca.example.net", "ca.example.net; account=12345", "mailto:sec@example.net", ";")
            )
            v = f'{r.choice((0, 128))} {tag} "{val}"'
        elif rtype == "NAPTR":
            flags = r.choice(("S", "A", "U", "", "P"))
            service = r.choice(("SIP+D2U", "E2U+sip", "SIPS+D2T", ""))
            regexp = r.choice(("", "!^.*$!sip:info@oracle.test!"))
            replacement = "." if regexp else self.target(origin)
            v = f'{r.randint(0, 65535)} {r.randint(0, 65535)} "{flags}" "{service}" '
            v += f'"{regexp}" {replacement}'
        elif rtype == "SSHFP":
            fptype = r.choice((1, 2))
            v = f"{r.randint(1, 4)} {fptype} {self.hexdata(20 if fptype == 1 else 32)}"
        elif rtype == "TLSA":
            v = f"{r.randint(0, 3)} {r.randint(0, 1)} 1 {self.hexdata(32)}"
        elif rtype == "DS":
            dtype = r.choice((1, 2))
            digest = self.hexdata(20 if dtype == 1 else 32).upper()
            v = f"{r.randint(0, 65535)} {r.choice((8, 13))} {dtype} {digest}"
        elif rtype in ("HTTPS", "SVCB"):
            if r.random() < 0.2:
                v = f"0 {self.target(origin)}"
            else:
                target = r.choice((".", self.target(origin)))
                yaml_p, master_p = self.svc_params()
                prio = r.randint(1, 65535)
                return (
                    " ".join([str(prio), target, *yaml_p]),
                    " ".join([str(prio), target, *master_p]),
                )
        else:
            raise ValueError(rtype)
        return v, v


def _zone(gen: _Gen, origin: str, ns: list[str]) -> Zone:
    r = gen.rng
    ttl = r.choice((60, 300, 3600))
    soa = {
        "mname": ns[0],
        "rname": f"hostmaster.{origin}",
        "serial": r.randint(1, 4294967295),
        "refresh": r.randint(1200, 86400),
        "retry": r.randint(300, 7200),
        "expire": r.randint(604800, 2419200),
        "minimum": r.choice((0, 30, ttl // 2, ttl, ttl * 4)),
    }
    return Zone(origin, ttl, soa, ns)


def _random_rrsets(gen: _Gen, zone: Zone, count: int) -> None:
    """Random owners (some multi-label, making ENTs, some mixed-case) of random types."""
    plain = [t for t in SUPPORTED if t not in ("NS", "DS", "CNAME")]
    for _ in range(count):
        owner = gen.label()
        if gen.rng.random() < 0.3:
            owner = f"{owner}.{gen.label()}"
        if gen.rng.random() < 0.3:
            owner = gen.mixcase(owner)
        if gen.rng.random() < 0.15:
            y, m = gen.values("CNAME", zone.origin)
            zone.add(owner, "CNAME", gen.ttl(), y[:1], m[:1])
            continue
        for rtype in gen.rng.sample(plain, gen.rng.randint(1, 4)):
            y, m = gen.values(rtype, zone.origin)
            zone.add(owner, rtype, gen.ttl(), y, m)


def _every_type(gen: _Gen, zone: Zone, prefix: str) -> None:
    """At least two owners per supported type (NS and DS only where they belong)."""
    for rtype in SUPPORTED:
        if rtype in ("NS", "DS"):
            continue
        for i in range(2):
            y, m = gen.values(rtype, zone.origin)
            if rtype == "CNAME":
                y, m = y[:1], m[:1]
            zone.add(f"{prefix}{rtype.lower()}{i}", rtype, gen.ttl(), y, m)


def generate(seed: int) -> ZoneSet:
    """Three zones, the same for the same seed."""
    gen = _Gen(seed)
    r = gen.rng
    parent = _zone(gen, PARENT, [f"ns1.{PARENT}", f"ns2.{OTHER}"])
    child = _zone(gen, CHILD, [f"ns1.{CHILD}", f"ns2.{OTHER}"])
    other = _zone(gen, OTHER, [f"ns.{OTHER}", f"ns2.{OTHER}"])

    # --- parent: apex data, NS addresses, every type
    p = parent
    for rtype in ("MX", "TXT", "SPF", "CAA", "HTTPS"):
        y, m = gen.values(rtype, p.origin)
        p.add("@", rtype, gen.ttl(), y, m)
    p.add("ns1", "A", p.ttl, [gen.ipv4()])
    p.add("ns1", "AAAA", p.ttl, [gen.ipv6()])
    www_a = [gen.ipv4() for _ in range(3)]
    p.add("www", "A", gen.ttl(), www_a)
    p.add("www", "AAAA", gen.ttl(), [gen.ipv6()])
    _every_type(gen, p, "t-")

    # --- odd TXT, one owner per kind, and a big set that forces truncation without EDNS
    long_text = " ".join(gen.label() for _ in range(120))
    odd = {
        "txt-long": [long_text],
        "txt-quotes": ['say "hello" to "them"', '"'],
        "txt-backslash": ["back\\slash", "\\065\\\\ not an escape", "\\"],
        "txt-spaces": ["  two  spaces  ", " "],
        "txt-utf8": ["caf\u00e9", "\u2603 snow"],
        "txt-empty": [""],
        "txt-254": ["y" * 254, "z" * 255, "w" * 256],
        "txt-many": [f"value {i} {gen.label()}" for i in range(40)],
    }
    for owner, texts in odd.items():
        p.add(owner, "TXT", gen.ttl(), texts, [master_txt(t) for t in texts])

    # --- wildcards: one with names beside and below it, one CNAME wildcard, one below an ENT
    p.add("*.wild", "A", gen.ttl(), [gen.ipv4(), gen.ipv4()])
    txt = "wildcard text"
    p.add("*.wild", "TXT", gen.ttl(), [txt], [master_txt(txt)])
    p.add("*.wild", "MX", gen.ttl(), [f"10 mx.{OTHER}"])
    p.add("beside.wild", "A", gen.ttl(), [gen.ipv4()])  # beside: blocks the wildcard
    p.add("deep.below.wild", "AAAA", gen.ttl(), [gen.ipv6()])  # below.wild: an ENT
    p.add("*.cw", "CNAME", gen.ttl(), ["www"])
    p.add("*.w3.ent", "TXT", gen.ttl(), ["under an ENT"], [master_txt("under an ENT")])
    p.add("*.Star", "SRV", gen.ttl(), ["1 2 3 www"])

    # --- empty non-terminals
    p.add("host.lab.deep", "A", gen.ttl(), [gen.ipv4()])
    p.add("x.y.z.ents", "TXT", gen.ttl(), ["ents"], [master_txt("ents")])

    # --- CNAME chains
    cnames = {
        "c-in1": "c-in2",  # in zone, two steps
        "c-in2": "www",
        "c-other": f"alias.{OTHER}",  # into a sibling zone, chain continues there
        "c-child": f"www.{CHILD}",  # into the child zone served here
        "c-out": "target.example-cdn.invalid.",  # out of every zone: chain ends
        "c-miss": "nothing-here",  # to a missing name in this zone
        "c-missx": f"missing.{OTHER}",  # to a missing name in the sibling zone
        "c-ent": "deep",  # to an ENT (NODATA)
        "c-wild": "foo.wild",  # to a wildcard-synthesised name
        "c-cw": "x.cw",  # to a wildcard CNAME
        "c-deleg": "host.ext",  # to a name below a delegation
        "c-cut": "child",  # to the child's delegation point
        "c-back": f"c-up.{CHILD}",  # parent -> child -> parent
        "c-long1": "c-long2",
        "c-long2": "c-long3",
        "c-long3": "c-long4",
        "c-long4": "txt-many",  # four links: Knot follows at most five (see the test)
        "MiXeD-CnAmE": "WwW",
    }
    for owner, target in cnames.items():
        p.add(owner, "CNAME", gen.ttl(), [target])

    # --- delegations: without glue (out of bailiwick), with glue, and to the child zone
    p.add("ext", "NS", gen.ttl(), [f"ns.{OTHER}", f"ns2.{OTHER}"])
    p.add("glued", "NS", gen.ttl(), ["ns1.glued", f"ns2.glued.{PARENT}", f"ns2.{OTHER}"])
    y, m = gen.values("DS", p.origin)
    p.add("glued", "DS", gen.ttl(), y, m)
    p.add("ns1.glued", "A", gen.ttl(), [gen.ipv4()])
    p.add("ns1.glued", "AAAA", gen.ttl(), [gen.ipv6()])
    p.add("ns2.glued", "A", gen.ttl(), [gen.ipv4()])
    child_ns1 = gen.ipv4()
    p.add("child", "NS", gen.ttl(), [f"ns1.{CHILD}", f"ns2.{OTHER}"])
    y, m = gen.values("DS", p.origin)
    p.add("child", "DS", gen.ttl(), y, m)
    p.add("ns1.child", "A", gen.ttl(), [child_ns1])
    p.add("NoDs", "NS", gen.ttl(), [f"ns.{OTHER}"])  # a cut without DS, mixed case
    _random_rrsets(gen, p, r.randint(25, 40))

    # --- child zone
    c = child
    c.add("ns1", "A", c.ttl, [child_ns1])
    c.add("www", "A", gen.ttl(), [gen.ipv4()])
    c.add("www", "AAAA", gen.ttl(), [gen.ipv6()])
    c.add("c-up", "CNAME", gen.ttl(), [f"c-in1.{PARENT}"])
    c.add("c-sib", "CNAME", gen.ttl(), [f"www.{OTHER}"])
    c.add("*.wc", "A", gen.ttl(), [gen.ipv4()])
    c.add("grand", "NS", gen.ttl(), [f"ns.{OTHER}"])
    y, m = gen.values("DS", c.origin)
    c.add("grand", "DS", gen.ttl(), y, m)
    for rtype in ("MX", "TXT", "HTTPS"):
        y, m = gen.values(rtype, c.origin)
        c.add("@", rtype, gen.ttl(), y, m)
    _every_type(gen, c, "k-")
    _random_rrsets(gen, c, r.randint(8, 15))

    # --- sibling zone
    o = other
    o.add("ns", "A", o.ttl, [gen.ipv4()])
    o.add("ns2", "A", o.ttl, [gen.ipv4()])
    o.add("ns2", "AAAA", o.ttl, [gen.ipv6()])
    o.add("www", "A", gen.ttl(), [gen.ipv4()])
    o.add("www", "AAAA", gen.ttl(), [gen.ipv6()])
    o.add("alias", "CNAME", gen.ttl(), ["www"])
    o.add("mx", "A", gen.ttl(), [gen.ipv4()])
    o.add("c-loop-free", "CNAME", gen.ttl(), [f"c-child.{PARENT}"])
    o.add("svc", "SVCB", gen.ttl(), [f"0 www.{OTHER}"])
    _random_rrsets(gen, o, r.randint(10, 20))

    absent = [
        f"nx-{gen.label()}.{PARENT}",
        f"a.b.nx-{gen.label()}.{PARENT}",
        f"anything.wild.{PARENT}",  # synthesised
        f"a.b.c.wild.{PARENT}",  # synthesised, several labels down
        f"x.beside.wild.{PARENT}",  # below a name beside the wildcard: NXDOMAIN
        f"below.wild.{PARENT}",  # ENT below the wildcard's parent
        f"x.below.wild.{PARENT}",  # below that ENT: NXDOMAIN, not the wildcard
        f"wild.{PARENT}",  # the wildcard's parent (ENT)
        f"q.cw.{PARENT}",
        f"r.w3.ent.{PARENT}",
        f"w3.ent.{PARENT}",
        f"ent.{PARENT}",
        f"any.star.{PARENT}",
        f"lab.deep.{PARENT}",
        f"deep.{PARENT}",
        f"nx.lab.deep.{PARENT}",
        f"nx.host.lab.deep.{PARENT}",
        f"y.z.ents.{PARENT}",
        f"z.ents.{PARENT}",
        f"host.ext.{PARENT}",
        f"a.b.ext.{PARENT}",
        f"x.glued.{PARENT}",
        f"x.ns1.glued.{PARENT}",
        f"nx.child.{PARENT}",
        f"a.b.child.{PARENT}",
        f"x.nods.{PARENT}",
        f"x.grand.{CHILD}",
        f"a.wc.{CHILD}",
        f"nx.{CHILD}",
        f"nx.{OTHER}",
        f"a.b.{OTHER}",
        f"nx.c-in1.{PARENT}",  # below a CNAME
        f"x.txt-long.{PARENT}",
    ]
    outside = [
        ".",
        "test.",
        "example-target.invalid.",
        "target.example-cdn.invalid.",
        f"x{gen.label()}.test.",
        "otest.",
        "xoracle.test.",
        "com.",
        "ns1.example.com.",
    ]
    return ZoneSet([parent, child, other], absent, outside)
