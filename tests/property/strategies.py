"""Hypothesis strategies: DNS queries built by dnspython, their mutations, record values.

A generated query is a `Built`: its wire bytes plus what the generator knows it holds
(the question's wire, whether its EDNS and ECS are valid), so properties can state the
exact outcome for an unmutated query and only the general invariants for a mutated one.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
from hypothesis import strategies as st

# --- names ---------------------------------------------------------------------------------

# Owner names of the zones the properties load (tests/fixtures/zones and world.PROP_ZONE),
# some of them the names whose answers are CNAME chains, wildcards, delegations and empty
# non-terminals.
ZONE_NAMES = [
    "example.com",
    "www.example.com",
    "mail.example.com",
    "docs.example.com",
    "blog.example.com",
    "cdn.example.com",
    "shop.example.com",
    "gone.example.com",
    "lab.example.com",
    "host.deep.lab.example.com",
    "x.apps.example.com",
    "sub.example.com",
    "a.sub.example.com",
    "ns1.sub.example.com",
    "example.net",
    "_sip._udp.example.net",
    "sip.example.net",
    "ssh.example.net",
    "_443._tcp.www.example.net",
    "_svc.example.net",
    "10.2.0.192.in-addr.example.net",
    "secure.example.net",
    "long.example.net",
    "example.org",
    "app2.example.org",
    "legacy.example.org",
    "steer.example",
    "api.steer.example",
    "geo.steer.example",
    "office.steer.example",
    "near.steer.example",
    "prop.test",
    "sip.prop.test",
    "_dns.prop.test",
    "alias-svc.prop.test",
    "www.prop.test",
    "child.prop.test",
    "x.child.prop.test",
    "any.wild.prop.test",
    "ssh.prop.test",
    "_25._tcp.mx.prop.test",
    "4.2.0.192.in-addr.prop.test",
    "weighted.prop.test",
    "multi.prop.test",
    "www.steer.example",
    "pool.steer.example",
    "outside.invalid",
    "version.bind",
]
APEXES = ["example.com", "example.net", "example.org", "steer.example", "prop.test", "invalid"]

# Types worth asking often: every supported type, the meta types the handler special-cases,
# and pairs of codes that differ only in bit 0x20 of a byte (65/97, 33/1 ...), which a
# careless lowercase of the whole question would merge.
INTERESTING_TYPES = [
    1, 2, 5, 6, 12, 15, 16, 28, 33, 35, 43, 44, 52, 64, 65, 97, 99, 257,
    0, 41, 251, 252, 253, 254, 255, 84, 66, 68, 80, 0x4101, 0x6101, 0x4141, 0x6161,
]  # fmt: skip


@st.composite
def random_case(draw: st.DrawFn, label: bytes) -> bytes:
    """The label with each ASCII letter's case chosen at random."""
    flips = draw(st.lists(st.booleans(), min_size=len(label), max_size=len(label)))
    return bytes(
        b ^ 0x20 if flip and (0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A) else b
        for b, flip in zip(label, flips, strict=True)
    )


any_label = st.binary(min_size=1, max_size=63)
ascii_label = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=20).map(
    str.encode
)


def _fits(labels: tuple[bytes, ...]) -> bool:
    return sum(len(label) + 1 for label in labels) + 1 <= 255


@st.composite
def query_labels(draw: st.DrawFn) -> tuple[bytes, ...]:
    """A name's labels: a zone name, random labels under an apex, or anything at all.

    Any octet may appear in a label (RFC 2181 section 11), so random labels are arbitrary
    bytes, including dots, NULs and bytes that are not UTF-8.
    """
    kind = draw(st.sampled_from(["zone", "under", "any"]))
    if kind == "zone":
        base = tuple(x.encode() for x in draw(st.sampled_from(ZONE_NAMES)).split("."))
        prefix: list[bytes] = []
    else:
        base = (
            tuple(x.encode() for x in draw(st.sampled_from(APEXES)).split("."))
            if kind == "under"
            else ()
        )
        prefix = draw(st.lists(st.one_of(any_label, ascii_label), min_size=1, max_size=4))
    labels = tuple(prefix) + base
    while not _fits(labels):
        labels = labels[1:]
    return tuple(draw(random_case(label)) for label in labels)


def name_of(labels: tuple[bytes, ...]) -> dns.name.Name:
    return dns.name.Name((*labels, b""))


qtypes = st.one_of(
    st.sampled_from(INTERESTING_TYPES),
    st.sampled_from(INTERESTING_TYPES).map(lambda t: t ^ 0x20),
    st.integers(0, 65535),
)
qclasses = st.one_of(
    st.just(1), st.just(1), st.sampled_from([3, 255, 254, 4, 2]), st.integers(0, 65535)
)

# --- EDNS and ECS --------------------------------------------------------------------------


@st.composite
def ecs_valid(draw: st.DrawFn) -> bytes:
    """An ECS option RFC 7871 section 6 allows in a query: exact length, zero padding."""
    family = draw(st.sampled_from([1, 2]))
    bits = 32 if family == 1 else 128
    source = draw(st.integers(0, bits))
    address = draw(st.integers(0, (1 << bits) - 1)) >> (bits - source) << (bits - source)
    raw = address.to_bytes(bits // 8, "big")[: (source + 7) // 8]
    return struct.pack("!HBB", family, source, 0) + raw


@st.composite
def ecs_invalid(draw: st.DrawFn) -> bytes:
    """An ECS option that RFC 7871 section 6 says gets FORMERR: exactly one flaw."""
    family = draw(st.sampled_from([1, 2]))
    bits = 32 if family == 1 else 128
    source, scope = draw(st.integers(0, bits)), 0
    flaw = draw(st.sampled_from(["family", "source", "scope", "long", "short", "pad", "tiny"]))
    if flaw == "tiny":
        return draw(st.binary(max_size=3))
    if flaw == "family":
        family = draw(st.integers(0, 65535).filter(lambda f: f not in (1, 2)))
    elif flaw == "source":
        source = draw(st.integers(bits + 1, 255))
    elif flaw == "scope":
        scope = draw(st.integers(1, 255))
    size = (source + 7) // 8
    raw = bytearray(draw(st.binary(min_size=size, max_size=size)))
    spare = (8 - source % 8) % 8
    if raw and spare:
        raw[-1] = raw[-1] >> spare << spare
    if flaw == "long":
        raw += draw(st.binary(min_size=1, max_size=4))
    elif flaw == "short":
        if raw:
            del raw[-1]
        else:
            raw.append(0)  # source 0 holds no address byte: one is too many
    elif flaw == "pad":
        if raw and spare:
            raw[-1] |= draw(st.integers(1, (1 << spare) - 1))
        else:
            raw.append(draw(st.integers(0, 255)))  # no spare bits: too long instead
    return struct.pack("!HBB", family, source, scope) + bytes(raw)


@dataclass(frozen=True)
class Edns:
    """What the query's OPT holds, as the generator chose it."""

    version: int
    payload: int
    flags: int  # the 16 bits of the OPT TTL after version (DO is 0x8000)
    options: tuple[tuple[int, bytes], ...]
    ecs: str  # "none", "valid", "invalid" (invalid also covers two ECS options)

    @property
    def do(self) -> bool:
        return bool(self.flags & 0x8000)


@st.composite
def edns_shapes(draw: st.DrawFn) -> Edns | None:
    if draw(st.integers(0, 3)) == 0:
        return None
    version = draw(st.sampled_from([0, 0, 0, 0, 1, 255]))
    payload = draw(
        st.one_of(st.sampled_from([0, 511, 512, 1232, 4096, 65535]), st.integers(0, 65535))
    )
    flags = draw(st.one_of(st.sampled_from([0, 0x8000]), st.integers(0, 0xFFFF)))
    options: list[tuple[int, bytes]] = []
    ecs_kind = draw(st.sampled_from(["none", "none", "valid", "valid", "invalid", "two"]))
    if ecs_kind == "valid":
        options.append((8, draw(ecs_valid())))
    elif ecs_kind == "invalid":
        options.append((8, draw(ecs_invalid())))
    elif ecs_kind == "two":
        options += [(8, draw(ecs_valid())), (8, draw(ecs_valid()))]
    others = draw(
        st.lists(
            st.tuples(
                st.integers(0, 65535).filter(lambda c: c != 8),
                st.binary(max_size=12),
            ),
            max_size=2,
        )
    )
    cookie = [(10, b"\x01" * 8)] if draw(st.integers(0, 5)) == 0 else []
    position = draw(st.integers(0, len(options)))
    options[position:position] = others + cookie
    return Edns(
        version, payload, flags, tuple(options), "invalid" if ecs_kind == "two" else ecs_kind
    )


# --- whole queries -------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    """A query's wire and what went into it."""

    wire: bytes
    labels: tuple[bytes, ...]
    qtype: int
    qclass: int
    opcode: int
    edns: Edns | None

    @property
    def question(self) -> bytes:
        """The question section's wire as sent (letter case kept)."""
        return name_of(self.labels).to_wire() + struct.pack("!HH", self.qtype, self.qclass)

    @property
    def opt_offset(self) -> int | None:
        """Where the OPT record starts in `wire` (right after the question), if any."""
        return 12 + len(self.question) if self.edns is not None else None


def build(
    labels: tuple[bytes, ...],
    qtype: int,
    qclass: int,
    edns: Edns | None,
    ident: int = 4242,
    flags: int = dns.flags.RD,
    opcode: int = 0,
) -> Built:
    """The query's wire, as dnspython renders it."""
    msg = dns.message.Message(id=ident)
    msg.flags = flags & ~0x8000 & ~0x7800
    msg.set_opcode(dns.opcode.Opcode.make(opcode) if opcode in range(16) else 0)
    msg.find_rrset(msg.question, name_of(labels), qclass, qtype, create=True, force_unique=True)
    if edns is not None:
        msg.use_edns(
            edns.version,
            ednsflags=edns.flags,
            payload=edns.payload,
            options=[dns.edns.GenericOption(code, data) for code, data in edns.options],
        )
    return Built(msg.to_wire(), labels, qtype, qclass, opcode, edns)


@st.composite
def queries(draw: st.DrawFn, opcodes: bool = True) -> Built:
    """A well-formed query: random name, type, class, header bits, EDNS and ECS."""
    flags = draw(st.sampled_from([0, dns.flags.RD, dns.flags.RD | dns.flags.CD, 0x0030]))
    flags |= draw(st.sampled_from([0, 0, 0, dns.flags.AD, dns.flags.AA, dns.flags.TC, 0x0040]))
    opcode = draw(st.sampled_from([0, 0, 0, 0, 1, 2, 4, 5, 15])) if opcodes else 0
    return build(
        draw(query_labels()),
        draw(qtypes),
        draw(qclasses),
        draw(edns_shapes()),
        ident=draw(st.integers(0, 65535)),
        flags=flags,
        opcode=opcode,
    )


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Built, bytes]:
    """A valid query and the same bytes after one to four hostile edits."""
    base = draw(queries())
    wire = bytearray(base.wire)
    edits = ["flip", "truncate", "insert", "count", "rdlength", "delete", "append_rr", "byte"]
    for _ in range(draw(st.sampled_from([1, 1, 2, 3, 4]))):
        edit = draw(st.sampled_from([*edits, "lie", "lie"]))
        size = len(wire)
        if edit == "flip" and size:
            pos = draw(st.integers(0, size - 1))
            wire[pos] ^= 1 << draw(st.integers(0, 7))
        elif edit == "byte" and size:
            wire[draw(st.integers(0, size - 1))] = draw(st.integers(0, 255))
        elif edit == "truncate":
            del wire[draw(st.integers(0, size)) :]
        elif edit == "insert":
            pos = draw(st.integers(0, size))
            wire[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif edit == "delete" and size:
            pos = draw(st.integers(0, size - 1))
            del wire[pos : pos + draw(st.integers(1, 8))]
        elif edit == "count" and size >= 12:
            which = draw(st.integers(0, 3))
            value = draw(st.one_of(st.integers(0, 3), st.integers(0, 65535)))
            struct.pack_into("!H", wire, 4 + 2 * which, value)
        elif edit == "rdlength":
            # Make the OPT's RDLENGTH (or an option's length) disagree with what follows.
            at = base.opt_offset
            if at is not None and at + 11 <= len(wire):
                target = at + 9
                if base.edns and base.edns.options and at + 15 <= len(wire):
                    target = draw(st.sampled_from([at + 9, at + 13]))
                struct.pack_into("!H", wire, target, draw(st.integers(0, 65535)))
        elif edit == "lie" and size >= 12:
            # A record that reads well by its type but whose RDLENGTH says otherwise, put
            # before the OPT: a parser that trusts one and skips by the other goes astray.
            rtype, rdata = draw(
                st.sampled_from(
                    [
                        (1, b"\xc0\x00\x02\x01"),
                        (28, bytes(15) + b"\x01"),
                        (16, b"\x03abc"),
                        (5, b"\x01a\x00"),
                        (15, b"\x00\x0a\xc0\x0c"),
                        (2, b"\xc0\x0c"),
                    ]
                )
            )
            length = len(rdata) + draw(st.integers(-len(rdata), 12).filter(bool))
            record = b"\xc0\x0c" + struct.pack("!HHIH", rtype, 1, 60, length) + rdata
            at = base.opt_offset or len(wire)
            wire[at:at] = record
            section = draw(st.sampled_from([6, 8, 10]))
            count = struct.unpack_from("!H", wire, section)[0]
            struct.pack_into("!H", wire, section, (count + 1) & 0xFFFF)
        elif edit == "append_rr":
            # One more record (any type, lying RDLENGTH or not) after what is there.
            rtype = draw(st.sampled_from([1, 2, 5, 6, 15, 16, 28, 33, 41, 35, 64, 65, 250]))
            fixed = {1: 4, 28: 16}.get(rtype, 0)
            rdata = draw(st.binary(min_size=fixed, max_size=fixed) | st.binary(max_size=16))
            length = draw(
                st.just(len(rdata))
                | st.integers(max(0, len(rdata) - 4), len(rdata) + 12)
                | st.integers(0, 65535)
            )
            owner = draw(st.sampled_from([b"\x00", b"\xc0\x0c", b"\x01a\x00", b"\xc0\xff"]))
            record = owner + struct.pack("!HHIH", rtype, 1, 0, length) + rdata
            # At the end, or between the question and the OPT, where a lie about its
            # length makes the OPT after it unreadable.
            at = draw(st.sampled_from([len(wire), base.opt_offset or len(wire)]))
            wire[at:at] = record
            if size >= 12:
                section = draw(st.sampled_from([6, 8, 10]))
                count = struct.unpack_from("!H", wire, section)[0]
                struct.pack_into("!H", wire, section, (count + 1) & 0xFFFF)
    return base, bytes(wire)


# --- record values -------------------------------------------------------------------------

rdata_label = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=15)


@st.composite
def rdata_name(draw: st.DrawFn, origin: str, root: bool = False) -> tuple[str, str]:
    """(as written in the zone, absolute) for a name inside RDATA: relative or absolute."""
    if root and draw(st.integers(0, 4)) == 0:
        return ".", "."
    labels = draw(st.lists(rdata_label, min_size=1, max_size=4))
    text = ".".join(labels)
    if draw(st.booleans()):
        return text + ".", text + "."
    return text, f"{text}.{origin}."


def _quoted(raw: bytes) -> str:
    """A <character-string> in presentation form: quoted, with \\DDD for odd bytes."""
    out = []
    for b in raw:
        if b in b'"\\':
            out.append("\\" + chr(b))
        elif 0x20 <= b <= 0x7E:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03d}")
    return '"' + "".join(out) + '"'


# A zone-file character-string field (CAA value, NAPTR strings): printable ASCII without the
# quote and backslash that the zone's field splitter would take as quoting.
field_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\'), max_size=40
)


def _hexes(min_size: int = 1, max_size: int = 64) -> st.SearchStrategy[str]:
    return st.binary(min_size=min_size, max_size=max_size).map(bytes.hex)


u8, u16 = st.integers(0, 255), st.integers(0, 65535)


@st.composite
def svc_params(draw: st.DrawFn) -> list[tuple[int, str]]:
    """SvcParams as (key number, "key=value" text), in a random order (as a zone may list)."""
    params: dict[int, str] = {}
    if draw(st.booleans()):
        alpn = draw(
            st.lists(
                st.sampled_from(["h2", "h3", "http/1.1", "dot", "doq", "h3-29"]),
                min_size=1,
                max_size=3,
                unique=True,
            )
        )
        params[1] = "alpn=" + ",".join(alpn)
        if draw(st.integers(0, 3)) == 0:
            params[2] = "no-default-alpn"
    if draw(st.booleans()):
        params[3] = f"port={draw(u16)}"
    if draw(st.booleans()):
        hints = draw(st.lists(st.ip_addresses(v=4), min_size=1, max_size=3, unique=True))
        params[4] = "ipv4hint=" + ",".join(map(str, hints))
    if draw(st.integers(0, 3)) == 0:
        import base64

        configs = draw(st.binary(min_size=4, max_size=24))  # an ECHConfigList: length first
        params[5] = "ech=" + base64.b64encode(struct.pack("!H", len(configs)) + configs).decode()
    if draw(st.booleans()):
        hints6 = draw(st.lists(st.ip_addresses(v=6), min_size=1, max_size=2, unique=True))
        params[6] = "ipv6hint=" + ",".join(str(ipaddress.IPv6Address(h)) for h in hints6)
    # Keys from 16 on: dnspython gives 7-9 (dohpath, ohttp, ...) their own formats.
    for key in draw(st.lists(st.integers(16, 65534), max_size=2, unique=True)):
        value = draw(st.text("abcdefghijklmnopqrstuvwxyz0123456789", max_size=8))
        params[key] = f"key{key}={value}" if value else f"key{key}"
    if params and draw(st.integers(0, 3)) == 0:
        listed = sorted(draw(st.sets(st.sampled_from(sorted(params)), min_size=1)))
        params[0] = "mandatory=" + ",".join(
            {1: "alpn", 2: "no-default-alpn", 3: "port", 4: "ipv4hint", 5: "ech",
             6: "ipv6hint"}.get(k, f"key{k}") for k in listed
        )  # fmt: skip
    items = list(params.items())
    return draw(st.permutations(items)) if items else []


@st.composite
def record_values(draw: st.DrawFn, rtype: str, origin: str) -> tuple[str, str]:
    """(value as written in the zone file, the same value as dnspython presentation text)."""
    if rtype == "A":
        text = str(draw(st.ip_addresses(v=4)))
        return text, text
    if rtype == "AAAA":
        text = str(draw(st.ip_addresses(v=6)))
        return text, text
    if rtype in ("CNAME", "NS", "PTR"):
        return draw(rdata_name(origin))
    if rtype == "MX":
        pref = draw(u16)
        zone, absolute = draw(rdata_name(origin))
        return f"{pref} {zone}", f"{pref} {absolute}"
    if rtype == "SRV":
        prio, weight, port = draw(u16), draw(u16), draw(u16)
        zone, absolute = draw(rdata_name(origin, root=True))
        return f"{prio} {weight} {port} {zone}", f"{prio} {weight} {port} {absolute}"
    if rtype in ("TXT", "SPF"):
        text = draw(
            st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=300)
            | st.text("ab \"\\;'", max_size=20)
            | st.text(max_size=700).filter(lambda t: t.isprintable())
        )
        raw = text.encode()
        chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
        return text, " ".join(_quoted(c) for c in chunks)
    if rtype == "CAA":
        flags = draw(st.sampled_from([0, 128, 1]) | u8)
        tag = draw(
            st.sampled_from(["issue", "issuewild", "iodef"])
            | st.text(
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                min_size=1,
                max_size=15,
            )
        )
        value = draw(field_text)
        return f'{flags} {tag} "{value}"', f"{flags} {tag} {_quoted(value.encode())}"
    if rtype == "NAPTR":
        order, pref = draw(u16), draw(u16)
        flags = draw(st.sampled_from(["", "S", "A", "U", "P"]))
        service, regexp = draw(field_text), draw(field_text)
        zone, absolute = draw(rdata_name(origin, root=True))
        strings = " ".join(f'"{s}"' for s in (flags, service, regexp))
        quoted = " ".join(_quoted(s.encode()) for s in (flags, service, regexp))
        return f"{order} {pref} {strings} {zone}", f"{order} {pref} {quoted} {absolute}"
    if rtype == "SSHFP":
        text = f"{draw(u8)} {draw(u8)} {draw(_hexes())}"
        return text, text
    if rtype == "TLSA":
        # SHA-256 and SHA-512 data have their fixed lengths; other matching types any.
        mtype = draw(st.sampled_from([0, 1, 2]) | u8)
        size = {1: 32, 2: 64}.get(mtype)
        text = f"{draw(u8)} {draw(u8)} {mtype} {draw(_hexes(size or 1, size or 64))}"
        return text, text
    if rtype == "DS":
        # SHA-1, SHA-256 and SHA-384 digests have their fixed lengths; others any length.
        dtype = draw(st.sampled_from([1, 2, 4]) | st.integers(5, 255))
        size = {1: 20, 2: 32, 4: 48}.get(dtype)
        digest = draw(_hexes(size or 1, size or 64))
        text = f"{draw(u16)} {draw(u8)} {dtype} {digest}"
        return text, text
    if rtype in ("HTTPS", "SVCB"):
        params = draw(svc_params())
        prio = 0 if not params and draw(st.booleans()) else draw(st.integers(1, 65535))
        zone, absolute = draw(rdata_name(origin, root=True))
        if prio == 0:
            params = []
        written = " ".join([str(prio), zone, *(text for _, text in params)])
        return written, " ".join([str(prio), absolute, *(t for _, t in sorted(params))])
    raise ValueError(rtype)
