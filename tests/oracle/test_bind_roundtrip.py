"""The BIND round trip: `policydns import bind`, `policydns export bind`, against Knot DNS.

tests/fixtures/bind/example.test.zone (with the file it $INCLUDEs) uses every master-file
feature the importer reads and one record of each supported type. Knot serving that file is
the oracle: policydns serving the import must answer every question as Knot does (the
differential test's comparison and its ACCEPTED rules, imported from there), and Knot
serving the export must answer as Knot serving the original. BIND's named-checkzone and
Knot's kzonecheck must accept the original and every export. unsupported.test.zone holds
what the importer cannot convert; policy.test.yaml holds what the exporter cannot write.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest
import yaml

from tests.oracle.querygen import Client, Query
from tests.oracle.test_knot_differential import (
    KNOTD,
    Knot,
    Reply,
    RRsetKey,
    differences,
    expected,
    parse,
    start_knot,
)
from tests.serverproc import REPO, run_cli


def _tool(name: str) -> str | None:
    for path in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if path and os.path.exists(path):
            return path
    return None


NAMED_CHECKZONE = _tool("named-checkzone")
KZONECHECK = _tool("kzonecheck")
FIXTURES = REPO / "tests" / "fixtures" / "bind"
ORIGINAL = FIXTURES / "example.test.zone"
INCLUDED = FIXTURES / "example.test.hosts"
UNSUPPORTED = FIXTURES / "unsupported.test.zone"
POLICY = FIXTURES / "policy.test.yaml"
ZONE = "example.test"
ORIGIN = dns.name.from_text(ZONE)
# The TXT written as two strings that are not 255 bytes long: the import joins them into one
# value (SPEC section 4: a TXT value is the text itself) and says so on stderr, so its
# strings are compared joined.
MULTI_STRING_OWNER = "multi.example.test."

needs_knotd = pytest.mark.skipif(
    KNOTD is None, reason="knotd (Debian package knot) is not installed"
)
needs_named_checkzone = pytest.mark.skipif(
    NAMED_CHECKZONE is None, reason="named-checkzone (Debian package bind9-utils) is not installed"
)
needs_kzonecheck = pytest.mark.skipif(
    KZONECHECK is None, reason="kzonecheck (Debian package knot-dnssecutils) is not installed"
)
pytestmark = pytest.mark.timeout(120)


# --- running the commands ---------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (
            f"`policydns {' '.join(self.args)}` exited {self.returncode}\n"
            f"--- stderr:\n{self.stderr}\n--- stdout:\n{self.stdout[:4000]}"
        )


def policydns(*args: str) -> Run:
    """`python -m resolver ARGS` from the repository (so this checkout's package runs)."""
    proc = run_cli(*args)
    return Run(args, proc.returncode, proc.stdout, proc.stderr)


def check_zone(path: Path, origin: str = ZONE) -> None:
    """Both zone checkers accept the master file at PATH (relative $INCLUDEs: its directory)."""
    for argv in (
        [NAMED_CHECKZONE, origin, path.name] if NAMED_CHECKZONE else None,
        [KZONECHECK, "-o", origin, path.name] if KZONECHECK else None,
    ):
        if argv is None:
            continue
        proc = subprocess.run(argv, cwd=path.parent, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, (
            f"{' '.join(argv)} (in {path.parent}) exited {proc.returncode}:\n"
            f"{proc.stdout}{proc.stderr}\n--- {path}:\n{path.read_text()}"
        )


def line_of(path: Path, pattern: str) -> int:
    """The 1-based line of PATH that matches the regular expression (exactly one does)."""
    found = [
        i for i, text in enumerate(path.read_text().splitlines(), 1) if re.search(pattern, text)
    ]
    assert len(found) == 1, f"{path}: {pattern!r} is on lines {found}"
    return found[0]


def problem_line(stderr: str, command: str, path: Path, line: int) -> str | None:
    """The stderr line `policydns COMMAND: FILE:LINE: ...` for that file and line, if any."""
    pattern = re.compile(
        rf"^policydns {command}: (?:\S*/)?{re.escape(path.name)}:{line}: (?P<rest>.+)$"
    )
    for text in stderr.splitlines():
        if pattern.match(text):
            return text
    return None


def yaml_records(text: str, zone: str) -> set[tuple[str, str]]:
    """(absolute lower-case owner, TYPE) of every record set in an imported YAML zone."""
    doc = yaml.safe_load(text)
    found = set()
    for owner, sets in (doc.get("records") or {}).items():
        name = str(owner).lower()
        if name == "@":
            name = zone + "."
        elif not name.endswith("."):
            name = f"{name}.{zone}."
        for each in sets:
            found.add((name, str(each["type"]).upper()))
    return found


# --- the questions --------------------------------------------------------------------


def original_zone() -> dns.zone.Zone:
    """The fixture as dnspython reads it: a third reading, independent of Knot and policydns."""
    with contextlib.chdir(FIXTURES):  # dnspython opens $INCLUDE files relative to the cwd
        return dns.zone.from_file(
            ORIGINAL.name, origin=ORIGIN, relativize=False, allow_include=True
        )


PROBES = [
    ("nope.example.test.", "A"),  # NXDOMAIN
    ("nope.corp.example.test.", "AAAA"),  # NXDOMAIN below the second $ORIGIN
    ("a.b.example.test.", "A"),  # NXDOMAIN: a\.b is one label
    ("b.example.test.", "A"),  # NXDOMAIN: a\.b is no empty non-terminal either
    ("_tcp.example.test.", "SRV"),  # NODATA: an empty non-terminal
    ("rev.example.test.", "PTR"),
    ("_tcp.web.example.test.", "TLSA"),
    ("wild.example.test.", "A"),  # NODATA: the wildcard's parent
    ("host.wild.example.test.", "A"),  # the wildcard
    ("host.wild.example.test.", "AAAA"),  # NODATA through the wildcard
    ("a.host.wild.example.test.", "A"),
    ("x.deleg.example.test.", "A"),  # a referral
    ("WWW.Example.TEST.", "A"),  # letter case; the CNAME is followed
    ("api.example.test.", "AAAA"),  # a CNAME from the included file
    ("APPLE.example.test.", "A"),
]


def question_list(zone: dns.zone.Zone) -> list[Query]:
    """Every (owner, type) of the file, the owner with A, AAAA, TXT and an unused type
    (NODATA mostly), and the PROBES."""
    pairs: list[tuple[dns.name.Name, int]] = []
    for name, node in zone.nodes.items():
        for rdataset in node:
            pairs.append((name, rdataset.rdtype))
        for qtype in (1, 28, 16, 65534):
            pairs.append((name, qtype))
    pairs += [(dns.name.from_text(n), dns.rdatatype.from_text(t)) for n, t in PROBES]
    unique = list(dict.fromkeys(pairs))
    return [
        Query(i, name, qtype, 1232, False, False, False, False, False)
        for i, (name, qtype) in enumerate(unique)
    ]


def _strings(digestable: bytes) -> bytes:
    """The character-strings of a TXT RDATA, joined."""
    out, at = b"", 0
    while at < len(digestable):
        size = digestable[at]
        out += digestable[at + 1 : at + 1 + size]
        at += 1 + size
    return out


def join_multi_string(reply: Reply) -> Reply:
    """The reply with the multi-string TXT's strings joined (the import re-splits them)."""

    def fix(keys: frozenset[RRsetKey]) -> frozenset[RRsetKey]:
        return frozenset(
            (k[0], k[1], k[2], k[3], tuple(sorted(_strings(r) for r in k[4])))
            if k[0] == MULTI_STRING_OWNER and k[1] in (dns.rdatatype.TXT, dns.rdatatype.SPF)
            else k
            for k in keys
        )

    return replace(
        reply, answer=fix(reply.answer), authority=fix(reply.authority),
        additional=fix(reply.additional),
    )  # fmt: skip


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zone() -> dns.zone.Zone:
    return original_zone()


@pytest.fixture(scope="module")
def queries(zone: dns.zone.Zone) -> list[Query]:
    return question_list(zone)


def serve_with_knot(base: Path, files: dict[str, str]) -> Knot:
    """knotd serving example.test from FILES (name -> text) written to BASE/master."""
    master = base / "master"
    master.mkdir(parents=True)
    for name, text in files.items():
        (master / name).write_text(text)
    return start_knot(base, master, [ZONE])


@pytest.fixture(scope="module")
def knot_original(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Knot]:
    if KNOTD is None:
        pytest.skip("knotd (Debian package knot) is not installed")
    files = {p.name: p.read_text() for p in (ORIGINAL, INCLUDED)}
    server = serve_with_knot(tmp_path_factory.mktemp("knot-original"), files)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Path]:
    """`policydns import bind` of the original; its stdout written to DIR/example.test.yaml."""
    run = policydns("import", "bind", str(ORIGINAL), "--zone", ZONE)
    out = tmp_path_factory.mktemp("imported") / "example.test.yaml"
    out.write_text(run.stdout)
    return run, out


def imported_ok(imported: tuple[Run, Path]) -> Path:
    run, path = imported
    assert run.returncode == 0, run.describe()
    return path


def ask_all(port: int, queries: list[Query]) -> dict[int, bytes | None]:
    client = Client("127.0.0.1", port)
    try:
        return client.ask_all(queries)
    finally:
        client.close()


# --- the original: checkers and Knot -----------------------------------------------------


@needs_named_checkzone
@needs_kzonecheck
def test_checkers_accept_the_original() -> None:
    check_zone(ORIGINAL)


@needs_knotd
def test_knot_serves_the_original(knot_original: Knot, zone: dns.zone.Zone, queries) -> None:
    """Knot reads the fixture as dnspython does: every RRset of the file is answered with
    exactly its records (a referral at and below the cut, but for the parent's DS)."""
    cut = dns.name.from_text("deleg.example.test.")
    replies = ask_all(knot_original.port, queries)
    failures = []
    for q in queries:
        reply = parse(replies[q.index])
        rdataset = zone.get_rdataset(q.qname, q.qtype)
        if rdataset is None or q.qtype in (dns.rdatatype.CNAME, 65534):
            continue
        if q.qname.is_subdomain(cut) and not (q.qname == cut and q.qtype == dns.rdatatype.DS):
            if not (reply.rcode == "NOERROR" and "AA" not in reply.flags and reply.authority):
                failures.append(f"{q.describe()}: not a referral:\n{reply.text()}")
            continue
        want = (
            q.qname.to_text().lower(), q.qtype, dns.rdataclass.IN, rdataset.ttl,
            tuple(sorted(rd.to_digestable() for rd in rdataset)),
        )  # fmt: skip
        if reply.rcode != "NOERROR" or "AA" not in reply.flags or want not in reply.answer:
            failures.append(f"{q.describe()}: want {rdataset.to_text()}, got:\n{reply.text()}")
    assert not failures, "\n".join(failures)


# --- 1. import -------------------------------------------------------------------------


def test_import_converts_and_checks(imported: tuple[Run, Path]) -> None:
    """The import exits 0, its YAML loads, and the re-split TXT is noted with its line."""
    run, _ = imported
    path = imported_ok(imported)
    check = policydns("check", "--zones", str(path))
    assert check.returncode == 0, check.describe() + f"\n--- {path}:\n{path.read_text()}"
    line = line_of(ORIGINAL, r"^multi\s")
    note = problem_line(run.stderr, "import bind", ORIGINAL, line)
    assert note is not None and "TXT" in note, (
        f"no note naming {ORIGINAL.name}:{line} (the multi-string TXT):\n{run.stderr}"
    )
    records = yaml_records(run.stdout, ZONE)
    for owner, rtype in [
        ("multi.example.test.", "TXT"),
        ("app.example.test.", "A"),  # from the $INCLUDEd file
        ("intranet.corp.example.test.", "A"),  # after the second $ORIGIN
    ]:
        assert (owner, rtype) in records, f"{owner} {rtype} not imported:\n{run.stdout}"


def test_import_lists_what_it_cannot_convert() -> None:
    """Every unsupported record is on stderr with its file and line, and not in the YAML."""
    run = policydns("import", "bind", str(UNSUPPORTED), "--zone", "unsupported.test")
    assert run.returncode == 0, run.describe()
    missing = []
    for pattern in (r"\sLOC\s", r"\sHINFO\s", r"\sCH\s", r"^www\.example\.org\."):
        line = line_of(UNSUPPORTED, pattern)
        if problem_line(run.stderr, "import bind", UNSUPPORTED, line) is None:
            missing.append(f"{UNSUPPORTED.name}:{line} ({pattern})")
    assert not missing, f"not listed on stderr: {missing}\n{run.describe()}"
    records = yaml_records(run.stdout, "unsupported.test")
    dropped = {("here.unsupported.test.", "LOC"), ("box.unsupported.test.", "HINFO")}
    dropped |= {r for r in records if r[0].startswith(("version.", "www.example.org"))}
    assert not records & dropped, f"imported anyway: {records & dropped}\n{run.stdout}"
    for kept in (("here.unsupported.test.", "A"), ("after.unsupported.test.", "A")):
        assert kept in records, f"{kept} not imported:\n{run.describe()}"


# --- 2. policydns serving the import answers as Knot serving the original ----------------


@needs_knotd
def test_import_answers_as_knot(knot_original: Knot, imported, start_server, queries) -> None:
    path = imported_ok(imported)
    ours_server = start_server("--zones", str(path), "--listen", "127.0.0.1:0", "--no-http")
    ours_all = ask_all(ours_server.port, queries)
    knot_client = Client("127.0.0.1", knot_original.port)
    fired: Counter = Counter()
    failures = []
    try:
        for q in queries:
            want = expected(q, knot_client.ask(q), knot_client.ask, [ORIGIN], fired)
            want = join_multi_string(want)
            ours = join_multi_string(parse(ours_all[q.index]))
            diffs = differences(q, ours, want, fired)
            if diffs:
                failures.append(
                    f"{q.describe()}\n  differs in: {', '.join(diffs)}\n"
                    f"--- policydns:\n{ours.text()}\n--- knot:\n{want.text()}\n"
                )
    finally:
        knot_client.close()
    assert not failures, (
        f"{len(failures)} of {len(queries)} answers differ (accepted differences used: "
        f"{dict(fired)}); the import:\n{path.read_text()}\n\n" + "\n".join(failures[:20])
    )


# --- 3. export of the import: checkers, and Knot serving it ------------------------------


@needs_named_checkzone
@needs_kzonecheck
def test_export_of_the_import_is_accepted(imported, tmp_path: Path) -> None:
    path = imported_ok(imported)
    run = policydns("export", "bind", ZONE, "--zones", str(path.parent))
    assert run.returncode == 0, run.describe()
    out = tmp_path / f"{ZONE}.zone"
    out.write_text(run.stdout)
    check_zone(out)


@needs_knotd
def test_knot_serving_the_export_answers_as_the_original(
    knot_original: Knot, imported, tmp_path: Path, queries
) -> None:
    path = imported_ok(imported)
    run = policydns("export", "bind", ZONE, "--zones", str(path.parent))
    assert run.returncode == 0, run.describe()
    knot_export = serve_with_knot(tmp_path, {f"{ZONE}.zone": run.stdout})
    try:
        exported_all = ask_all(knot_export.port, queries)
    finally:
        knot_export.stop()
    original_all = ask_all(knot_original.port, queries)
    failures = []
    for q in queries:
        original = join_multi_string(parse(original_all[q.index]))
        exported = join_multi_string(parse(exported_all[q.index]))
        parts = ("rcode", "flags", "question", "opt", "answer", "authority", "additional")
        diffs = [p for p in parts if getattr(original, p) != getattr(exported, p)]
        if original.error or exported.error:
            diffs.append("reply")
        if diffs:
            failures.append(
                f"{q.describe()}\n  differs in: {', '.join(diffs)}\n"
                f"--- knot serving the export:\n{exported.text()}\n"
                f"--- knot serving the original:\n{original.text()}\n"
            )
    assert not failures, (
        f"{len(failures)} of {len(queries)} answers differ; the export:\n{run.stdout}\n\n"
        + "\n".join(failures[:20])
    )


# --- 4. a zone with routing policies: those are listed, the rest exported ----------------


@needs_named_checkzone
@needs_kzonecheck
def test_export_lists_policy_records(tmp_path: Path) -> None:
    run = policydns("export", "bind", "policy.test", "--zones", str(POLICY))
    assert run.returncode == 0, run.describe()
    text = POLICY.read_text().splitlines()
    listed = [i for i, line in enumerate(text, 1) if line.endswith("# policy")]
    assert len(listed) == 3
    missing = []
    for line in listed:
        found = problem_line(run.stderr, "export bind", POLICY, line)
        if found is None or not re.search(r"\bA: ", found):
            missing.append(f"{POLICY.name}:{line} ({text[line - 1].strip()})")
    assert not missing, f"not listed on stderr: {missing}\n{run.describe()}"
    out = tmp_path / "policy.test.zone"
    out.write_text(run.stdout)
    check_zone(out, "policy.test")
    exported = dns.zone.from_text(run.stdout, origin="policy.test.", relativize=False)
    present = {
        (name.to_text().lower(), dns.rdatatype.to_text(rds.rdtype))
        for name, node in exported.nodes.items()
        for rds in node
    }
    for policy_set in (("policy.test.", "A"), ("www.policy.test.", "A")):
        assert policy_set not in present, f"{policy_set} exported:\n{run.stdout}"
    for static in (
        ("policy.test.", "MX"), ("mail.policy.test.", "A"), ("web.policy.test.", "A"),
        ("www.policy.test.", "TXT"), ("policy.test.", "SOA"), ("policy.test.", "NS"),
    ):  # fmt: skip
        assert static in present, f"{static} not exported:\n{run.stdout}"
    serial = exported.find_rdataset("policy.test.", "SOA")[0].serial
    assert serial == 2026120202, f"the export's SOA serial is {serial}, not the zone's"
