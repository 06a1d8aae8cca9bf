"""Differential test: policydns against Knot DNS, serving the same seeded zones.

Knot is an independent implementation of the same RFCs, so every answer policydns gives is
compared with Knot's answer to the same bytes. The few places where the RFCs allow two
answers are listed in ACCEPTED, each with its reason; everything else must be equal.
A second test asks the same questions of fresh and warmed-up servers in both orders: an
answer must not depend on what was asked before.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from tests.dnshelp import free_port
from tests.oracle import zonegen
from tests.oracle.querygen import CLIENT_SUBNETS, Client, Query, questions
from tests.serverproc import ServerProcess

KNOTD = shutil.which("knotd") or ("/usr/sbin/knotd" if os.path.exists("/usr/sbin/knotd") else None)
SEED = int(os.environ.get("POLICYDNS_ORACLE_SEED", "20261201"))
QUERIES = int(os.environ.get("POLICYDNS_ORACLE_QUERIES", "5000"))
SHOW = 20  # mismatches printed in full

pytestmark = [
    pytest.mark.skipif(
        KNOTD is None, reason="knotd (Debian package knot) is not installed; scripts/test.sh does"
    ),
    pytest.mark.timeout(300),
]

# The accepted differences: name -> the RFC reason. Each is applied in `expected()` below
# (search for the name); nothing else may differ. A policydns bug never goes here.
ACCEPTED: dict[str, str] = {
    "name-case": (
        "RFC 4343 section 3: letter case in names is not significant. Knot compresses owner and "
        "RDATA names against the question, so they come back in the client's spelling; names "
        "in answer/authority/additional are compared case-insensitively (the question section "
        "is compared exactly)."
    ),
    "extended-errors": (
        "RFC 8914 section 3: Extended DNS Error options are optional; Knot adds EDE 20 (Not "
        "Authoritative) to REFUSED. EDE options are dropped from Knot's OPT before comparing."
    ),
    "additional-data": (
        "RFC 1034 section 4.3.2 step 6 and RFC 2181 section 9: additional data is optional "
        "(Knot adds addresses of MX/SRV/SVCB/NS targets). Every RRset policydns puts in the "
        "additional section must be one Knot has too; only for referrals, in-domain glue is "
        "required (RFC 9471 section 3) and must match Knot's."
    ),
    "cross-zone-cname": (
        "RFC 1034 section 4.3.2 step 3a restarts the lookup with the CNAME target, and "
        "policydns does so in every zone it serves (SPEC section 7); Knot stops at the end of "
        "its zone (RFC 1034 section 3.6.2 lets the resolver finish). Expected: Knot's chain, "
        "followed by Knot's own answer to the target (its rcode and authority, RFC 6604)."
    ),
    "client-subnet": (
        "RFC 7871 section 7.2.1: a server that implements ECS echoes the option with a SCOPE "
        "PREFIX-LENGTH; Knot (without its geoip module) does not and ignores it as an unknown "
        "option (RFC 6891 section 6.1.2). Expected: Knot's OPT plus the client's option with "
        "scope 0 (these simple records do not depend on the client's address), for the "
        "questions ECS applies to: class IN or ANY, EDNS version 0 (else BADVERS, RFC 6891 section "
        "6.1.3), not a zone transfer."
    ),
    "zone-transfer": (
        "RFC 5936 section 2.2.1/4.2: an unauthorised AXFR/IXFR is refused with an error RCODE; "
        "Knot uses NOTAUTH (NOTIMP for AXFR over UDP, which no RFC defines), policydns "
        "REFUSED. Both must be one of those three, with empty sections."
    ),
    "dnssec-types-beside-cname": (
        "RFC 2181 section 10.1 and RFC 4035 section 2.5: RRSIG and NSEC live beside a CNAME, "
        "so Knot answers a query for them at a CNAME owner without following the chain; RFC "
        "1034 section 4.3.2 step 3a follows it. In these unsigned zones no name holds RRSIG or "
        "NSEC, so the expectation is Knot's answer to the same question with QTYPE 65534 (held "
        "nowhere either), question section as asked."
    ),
    "truncated": (
        "RFC 2181 section 9 and RFC 1035 section 4.2.1: a reply with TC set is incomplete and "
        "the client retries over TCP, so when both set TC only the header, question and OPT "
        "are compared (the TCP questions compare the full answers)."
    ),
}

FLAG_NAMES = ("QR", "AA", "TC", "RD", "RA", "AD", "CD")
RRsetKey = tuple[str, int, int, int, tuple[bytes, ...]]
EDE = 15
RFC1035_COMPRESSIBLE = {2, 3, 4, 5, 6, 7, 8, 9, 12, 14, 15}


@dataclass(frozen=True)
class Reply:
    """The parts of a reply that are compared, in a form where equality is the RFC's."""

    rcode: str
    flags: frozenset[str]
    question: tuple[tuple[str, int, int], ...]
    opt: tuple | None
    answer: frozenset[RRsetKey]
    authority: frozenset[RRsetKey]
    additional: frozenset[RRsetKey]
    wire: bytes | None
    error: str = ""
    basis: tuple[str, Reply] | None = None  # another Knot answer the expectation is built on

    @property
    def truncated(self) -> bool:
        return "TC" in self.flags

    def text(self) -> str:
        """The reply as dig-like text (made only for the failure report)."""
        if self.wire is None:
            text = "(no reply)"
        elif self.error:
            text = f"(unparseable: {self.error}; {len(self.wire)} bytes: {self.wire.hex()})"
        else:
            text = dns.message.from_wire(self.wire).to_text()
        if self.basis is not None:
            text += f"\n;; {self.basis[0]}:\n" + self.basis[1].text()
        return text


def _rrsets(section: list[dns.rrset.RRset]) -> frozenset[RRsetKey]:
    keys = []
    for rrset in section:
        if rrset.rdtype == dns.rdatatype.OPT:
            continue
        rdatas = tuple(sorted(rd.to_digestable() for rd in rrset))  # names lower-cased
        keys.append((rrset.name.to_text().lower(), rrset.rdtype, rrset.rdclass, rrset.ttl, rdatas))
    return frozenset(keys)


def parse(wire: bytes | None) -> Reply:
    """Parse a reply; an unparseable one (or none) becomes a Reply that matches nothing."""
    if wire is None:
        return Reply("(no reply)", frozenset(), (), None, frozenset(), frozenset(), frozenset(),
                     None, "no reply")  # fmt: skip
    try:
        msg = dns.message.from_wire(wire)
    except Exception as exc:  # any parse failure is the finding
        return Reply("(unparseable)", frozenset(), (), None, frozenset(), frozenset(),
                     frozenset(), wire, repr(exc))  # fmt: skip
    flags = frozenset(f for f in FLAG_NAMES if msg.flags & dns.flags.from_text(f))
    opt = None
    if msg.edns >= 0:
        options = tuple(sorted((o.otype, o.to_wire()) for o in msg.options))
        opt = (msg.edns, bool(msg.ednsflags & dns.flags.DO), msg.payload, options)
    question = tuple((q.name.to_text(), q.rdtype, q.rdclass) for q in msg.question)
    return Reply(
        dns.rcode.to_text(msg.rcode()),
        flags,
        question,
        opt,
        _rrsets(msg.answer),
        _rrsets(msg.authority),
        _rrsets(msg.additional),
        wire,
    )


def uncompressible_rdata(wire: bytes) -> list[str]:
    """RRs of types outside RFC 1035 whose RDATA holds a compression pointer (RFC 3597 s4).

    dnspython decompresses silently, so this walks the raw message and re-reads each such
    RDATA on its own: a pointer then points outside it or reads differently.
    """
    try:
        msg = dns.message.from_wire(wire)
    except Exception:
        return []
    found = []
    for section in (msg.answer, msg.authority, msg.additional):
        for rrset in section:
            if rrset.rdtype in RFC1035_COMPRESSIBLE or rrset.rdtype == dns.rdatatype.OPT:
                continue
            for rd in rrset:
                raw = rd.to_wire()
                if raw is None or raw in wire:
                    continue
                found.append(f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)} {rd}")
    return found


def best_zone(
    name: dns.name.Name, qtype: int, origins: list[dns.name.Name]
) -> dns.name.Name | None:
    """The served zone that answers NAME/QTYPE: the closest enclosing one, but DS at an apex
    belongs to the parent (RFC 4035 section 3.1.4.1)."""
    found = [o for o in origins if name.is_subdomain(o)]
    if qtype == dns.rdatatype.DS:
        found = [o for o in found if o != name] or found
    return max(found, key=len, default=None)


def chain_end(reply_wire: bytes, qname: dns.name.Name) -> tuple[dns.name.Name, dns.name.Name]:
    """Follow the CNAMEs of an answer from qname: (last CNAME owner, its target)."""
    msg = dns.message.from_wire(reply_wire)
    cnames = {r.name: r[0].target for r in msg.answer if r.rdtype == dns.rdatatype.CNAME}
    owner, current = qname, qname
    for _ in range(len(cnames) + 1):
        if current not in cnames:
            break
        owner, current = current, cnames[current]
    return owner, current


Asker = Callable[[Query], bytes | None]


def expected(query: Query, knot_wire: bytes | None, ask_knot: Asker, origins, fired) -> Reply:
    """Knot's reply with the ACCEPTED rules applied; `fired` counts each rule's use."""
    want = _expected(query, knot_wire, ask_knot, origins, fired)
    ecs_applies = (
        query.qclass in (dns.rdataclass.IN, dns.rdataclass.ANY)
        and query.edns_version == 0
        and query.qtype not in (dns.rdatatype.AXFR, dns.rdatatype.IXFR)
    )
    if query.ecs is not None and want.opt is not None and ecs_applies:
        fired["client-subnet"] += 1
        sent = CLIENT_SUBNETS[query.ecs]
        echo = dns.edns.ECSOption(sent.address, sent.srclen, 0)
        options = tuple(sorted((*want.opt[3], (echo.otype, echo.to_wire()))))
        want = replace(want, opt=(*want.opt[:3], options))
    return want


def _expected(query: Query, knot_wire: bytes | None, ask_knot: Asker, origins, fired, depth=0):
    knot = parse(knot_wire)
    if knot_wire is None or knot.error:
        return knot
    if knot.opt is not None and any(otype == EDE for otype, _ in knot.opt[3]):
        fired["extended-errors"] += 1
        options = tuple(o for o in knot.opt[3] if o[0] != EDE)
        knot = replace(knot, opt=(*knot.opt[:3], options))
    qtype = query.qtype
    if qtype in (dns.rdatatype.CNAME, dns.rdatatype.ANY) or knot.truncated or depth > 8:
        return knot
    if qtype in (dns.rdatatype.RRSIG, dns.rdatatype.NSEC) and not knot.answer:
        probe_query = replace(query, qtype=65534)
        probe = _expected(probe_query, ask_knot(probe_query), ask_knot, origins, fired, depth + 1)
        if any(k[1] == dns.rdatatype.CNAME for k in probe.answer):
            fired["dnssec-types-beside-cname"] += 1
            label = "expected: Knot's answer with QTYPE 65534 (question aside)"
            return replace(probe, question=knot.question, wire=knot_wire, basis=(label, probe))
        return knot
    owner, target = chain_end(knot_wire, query.qname)
    answered = any(k[0] == target.to_text().lower() and k[1] == qtype for k in knot.answer)
    if target == query.qname or answered:
        return knot
    here, there = best_zone(owner, qtype, origins), best_zone(target, qtype, origins)
    if there is None or there == here:
        return knot
    fired["cross-zone-cname"] += 1
    sub_query = replace(query, qname=target)
    sub = _expected(sub_query, ask_knot(sub_query), ask_knot, origins, fired, depth + 1)
    return replace(
        knot,
        rcode=sub.rcode,
        flags=knot.flags | (sub.flags & {"TC"}),
        answer=knot.answer | sub.answer,
        authority=sub.authority,
        additional=knot.additional | sub.additional,
        basis=("expected: the above, then Knot's answer for the CNAME target", sub),
    )


def is_referral(reply: Reply) -> bool:
    return (
        reply.rcode == "NOERROR"
        and "AA" not in reply.flags
        and any(k[1] == dns.rdatatype.NS for k in reply.authority)
    )


def in_domain_glue(reply: Reply) -> frozenset[RRsetKey]:
    """Glue for NS names at or below the cut (RFC 9471 section 2.1)."""
    cuts = {k[0] for k in reply.authority if k[1] == dns.rdatatype.NS}
    return frozenset(
        k
        for k in reply.additional
        if k[1] in (dns.rdatatype.A, dns.rdatatype.AAAA)
        and any(dns.name.from_text(k[0]).is_subdomain(dns.name.from_text(c)) for c in cuts)
    )


def differences(query: Query, ours: Reply, want: Reply, fired: Counter) -> list[str]:
    """What differs between our reply and the expected one, after the ACCEPTED rules."""
    if ours.error or want.error:
        return [] if ours.error == want.error == "no reply" else ["reply"]
    diffs = [
        part
        for part in ("rcode", "flags", "question", "opt")
        if getattr(ours, part) != getattr(want, part)
    ]
    qtype = query.qtype
    if qtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
        refusals = {"REFUSED", "NOTAUTH", "NOTIMP"}
        if ours.rcode in refusals and want.rcode in refusals:
            fired["zone-transfer"] += 1
            diffs = [d for d in diffs if d != "rcode"]
        if ours.answer or ours.authority or ours.additional:
            diffs.append("sections")
        return diffs
    if ours.truncated and want.truncated:
        fired["truncated"] += 1
        return diffs
    if ours.answer != want.answer:
        diffs.append("answer")
    if ours.authority != want.authority:
        diffs.append("authority")
    extra = ours.additional - want.additional
    missing_glue = in_domain_glue(want) - ours.additional if is_referral(want) else frozenset()
    if extra or missing_glue:
        diffs.append("additional")
    elif ours.additional != want.additional:
        fired["additional-data"] += 1
    return diffs


# --- servers ------------------------------------------------------------------------------


KNOT_CONF = """\
server:
    rundir: "{run}"
    pidfile: "{run}/knot.pid"
    listen: 127.0.0.1@{port}
    identity: ""
    version: ""
    nsid: ""
    udp-max-payload: 1232
log:
  - target: stderr
    any: warning
database:
    storage: "{run}"
control:
    listen: "{run}/knot.sock"
template:
  - id: default
    storage: "{master}"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: on
zone:
{zones}
"""


@dataclass
class Knot:
    """knotd in the foreground, as the current user, with everything under one directory."""

    proc: subprocess.Popen
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_knot(base: Path, master: Path, origins: list[str]) -> Knot:
    """Start knotd on a free port and wait until every zone answers its SOA."""
    assert KNOTD is not None
    for attempt in range(3):
        run = base / f"knot{attempt}"
        run.mkdir()
        port = free_port()
        zones = "\n".join(f"  - domain: {o}" for o in origins)
        conf = run / "knot.conf"
        conf.write_text(KNOT_CONF.format(run=run, port=port, master=master, zones=zones))
        log_path = run / "knot.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([KNOTD, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        knot = Knot(proc, port, log_path)
        if _wait_for_zones(knot, origins):
            return knot
        knot.stop()
    raise RuntimeError(f"knotd did not serve the zones:\n{knot.log()}")


def _wait_for_zones(knot: Knot, origins: list[str], timeout: float = 15.0) -> bool:
    client = Client("127.0.0.1", knot.port, timeout=0.2)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and knot.proc.poll() is None:
            ready = 0
            for i, origin in enumerate(origins):
                q = Query(i, dns.name.from_text(origin), 6, None, False, False, False, False, False)
                reply = parse(client.ask(q))
                ready += reply.rcode == "NOERROR" and "AA" in reply.flags and bool(reply.answer)
            if ready == len(origins):
                return True
            time.sleep(0.1)
        return False
    finally:
        client.close()


@pytest.fixture(scope="module")
def zone_set() -> zonegen.ZoneSet:
    return zonegen.generate(SEED)


@pytest.fixture(scope="module")
def zone_dirs(zone_set: zonegen.ZoneSet, tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("oracle")
    zone_set.write(base / "yaml", base / "master")
    return base, base / "yaml", base / "master"


@pytest.fixture(scope="module")
def query_list(zone_set: zonegen.ZoneSet) -> list[Query]:
    return questions(zone_set, SEED, QUERIES)


@pytest.fixture
def start_policydns(zone_dirs, start_server) -> Callable[[], ServerProcess]:
    """A policydns serving the generated YAML zones (conftest's start_server stops it)."""
    return lambda: start_server(
        "--zones", str(zone_dirs[1]), "--listen", "127.0.0.1:0", "--no-http"
    )


@pytest.fixture
def knot(zone_dirs, zone_set: zonegen.ZoneSet, tmp_path: Path) -> Iterator[Knot]:
    server = start_knot(tmp_path, zone_dirs[2], [z.origin for z in zone_set.zones])
    yield server
    server.stop()


def test_answers_equal_knots(knot: Knot, start_policydns, zone_set, query_list) -> None:
    """Every question gets the answer Knot gives, but for the ACCEPTED differences."""
    ours_srv = start_policydns()
    ours_client = Client(ours_srv.host, ours_srv.port)
    knot_client = Client("127.0.0.1", knot.port)
    origins = [dns.name.from_text(z.origin) for z in zone_set.zones]
    fired: Counter = Counter()
    failures: list[str] = []
    kinds: Counter = Counter()
    try:
        ours_all = ours_client.ask_all(query_list)
        knot_all = knot_client.ask_all(query_list)
        for q in query_list:
            ours_wire, knot_wire = ours_all[q.index], knot_all[q.index]
            want = expected(q, knot_wire, knot_client.ask, origins, fired)
            ours = parse(ours_wire)
            diffs = differences(q, ours, want, fired)
            packed = uncompressible_rdata(ours_wire) if ours_wire else []
            if packed:
                diffs.append("compressed RDATA names: " + "; ".join(packed))
            if diffs:
                kinds[", ".join(d.split(":")[0] for d in diffs)] += 1
                if len(failures) < SHOW:
                    failures.append(
                        f"#{q.index} {q.describe()}\n  differs in: {', '.join(diffs)}\n"
                        f"--- policydns:\n{ours.text()}\n"
                        f"--- knot (and the expectation built from it):\n{want.text()}\n"
                    )
    finally:
        ours_client.close()
        knot_client.close()
    summary = (
        f"{sum(kinds.values())} of {len(query_list)} answers differ from Knot's "
        f"(by part: {dict(kinds)}); accepted differences used: {dict(fired)}"
    )
    assert not failures, summary + "\n\n" + "\n".join(failures)


def _without_id(wire: bytes | None) -> bytes | None:
    return None if wire is None else wire[2:]


def test_answers_do_not_depend_on_order(start_policydns, query_list) -> None:
    """Fresh and warmed-up servers, questions forwards and backwards: identical replies."""
    backwards = list(reversed(query_list))
    runs: dict[str, dict[int, bytes | None]] = {}
    for first_label, first, second_label, second in (
        ("fresh, forwards", query_list, "warm, then backwards", backwards),
        ("fresh, backwards", backwards, "warm, then forwards", query_list),
    ):
        server = start_policydns()
        client = Client(server.host, server.port)
        try:
            runs[first_label] = client.ask_all(first)
            runs[f"{first_label}; {second_label}"] = client.ask_all(second)
        finally:
            client.close()
            server.stop()
    reference_label = "fresh, forwards"
    reference = runs[reference_label]
    failures: list[str] = []
    differing: Counter = Counter()
    for label, run in runs.items():
        for q in query_list:
            if _without_id(run[q.index]) == _without_id(reference[q.index]):
                continue
            differing[label] += 1
            if len(failures) < SHOW:
                failures.append(
                    f"#{q.index} {q.describe()}\n--- {reference_label}:\n"
                    f"{parse(reference[q.index]).text()}\n--- {label}:\n"
                    f"{parse(run[q.index]).text()}\n"
                )
    summary = f"answers that differ from the {reference_label!r} run: {dict(differing)}"
    assert not failures, summary + "\n\n" + "\n".join(failures)
