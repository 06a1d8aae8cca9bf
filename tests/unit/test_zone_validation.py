"""Zone-file validation (SPEC 4): every rule fails with its file, line, record and reason."""

from __future__ import annotations

import textwrap
from pathlib import Path
from random import Random

import dns.name
import dns.rdata
import pytest
import yaml
from dnslib import DNSBuffer

import policies
from policies.base import Client
from resolver.errors import LoadError, LoadFailed
from resolver.wire import names, rdata
from resolver.zones import graph as graph_
from resolver.zones import recordsets
from resolver.zones.check import load_zone_set

REPO = Path(__file__).resolve().parents[2]
ORIGIN = names.from_text("example.com.")


def zone(text: str) -> str:
    """Dedent a zone text so that its first line is line 1."""
    return textwrap.dedent(text).lstrip("\n")


def load_errors(directory: Path) -> list[LoadError]:
    """Load every zone in directory and return the errors it must fail with."""
    with pytest.raises(LoadFailed) as info:
        load_zone_set([str(directory)])
    assert info.value.errors, "LoadFailed without errors"
    return info.value.errors


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def matches(error: LoadError, file: Path, line, what, reason) -> bool:
    """True when error has the file, one of the lines, the record and the reason."""
    if error.file != str(file) or error.line not in _as_tuple(line):
        return False
    if what is None:
        what_ok = bool(error.what)
    else:
        what_ok = any(error.what == w or error.what.startswith(w + " ") for w in _as_tuple(what))
    reason_ok = any(r.lower() in error.reason.lower() for r in _as_tuple(reason))
    return what_ok and reason_ok


def assert_reported(errors: list[LoadError], file: Path, line, what, reason) -> None:
    """One of errors is at file:line, names the record and contains the reason."""
    assert any(matches(e, file, line, what, reason) for e in errors), (
        f"no error at {file.name}:{line} {what!r} containing {reason!r}; got:\n"
        + "\n".join(str(e) for e in errors)
    )


# (zone text, expected line(s), expected what (None: any), reason substring(s))
CASES = [
    # --- unknown keys -------------------------------------------------------------------
    pytest.param(
        """
        zone: example.com
        colour: blue
        records:
          www: [{type: A, values: [192.0.2.1]}]
        """,
        2,
        None,
        "colour",
        id="unknown-top-level-key",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www:
            - {type: A, values: [192.0.2.1], colour: red}
        """,
        4,
        "www.example.com. A",
        "colour",
        id="unknown-record-set-key",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www:
            - type: A
              values: [192.0.2.1]
              colour: red
        """,
        (4, 6),
        "www.example.com. A",
        "colour",
        id="unknown-record-set-key-block-style",
    ),
    pytest.param(
        """
        zone: example.com
        soa:
          serial: 1
          colour: red
        records:
          www: [{type: A, values: [192.0.2.1]}]
        """,
        4,
        "example.com. SOA",
        "colour",
        id="unknown-soa-key",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www: [{type: A, alias: {target: mail, colour: red}}]
          mail: [{type: A, values: [192.0.2.1]}]
        """,
        3,
        "www.example.com. A",
        "colour",
        id="unknown-alias-key",
    ),
    pytest.param(
        """
        zone: example.com
        health_checks:
          web: {type: http, target: 192.0.2.1, colour: red}
        records:
          www: [{type: A, values: [192.0.2.1], health_check: web}]
        """,
        3,
        "health check web",
        "colour",
        id="unknown-health-check-key",
    ),
    # --- YAML itself ----------------------------------------------------------------------
    pytest.param(
        """
        zone: example.com
        ttl: 300
        ttl: 600
        records:
          www: [{type: A, values: [192.0.2.1]}]
        """,
        3,
        None,
        "duplicate",
        id="duplicate-top-level-key",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www: [{type: A, values: [192.0.2.1]}]
          mail: [{type: A, values: [192.0.2.2]}]
          www: [{type: AAAA, values: ["2001:db8::1"]}]
        """,
        5,
        None,
        "duplicate",
        id="duplicate-owner-key",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www:
            - {type: A, values: [192.0.2.1], type: AAAA}
        """,
        4,
        None,
        "duplicate",
        id="duplicate-key-in-record-set",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www: [{type: A, values: [192.0.2.1]}]
          mail: @oops
        """,
        4,
        None,
        "yaml",
        id="yaml-syntax-error",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www: [{type: TXT, values: [yes]}]
        """,
        3,
        "www.example.com. TXT",
        "quote",
        id="yaml-boolean-value-must-be-quoted",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www: [{type: TXT, values: [1.5]}]
        """,
        3,
        "www.example.com. TXT",
        "quote",
        id="yaml-float-value-must-be-quoted",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www: [{type: TXT, values: [~]}]
        """,
        3,
        "www.example.com. TXT",
        "quote",
        id="yaml-null-value-must-be-quoted",
    ),
    # --- record sets of one name and type ---------------------------------------------------
    pytest.param(
        """
        zone: example.com
        records:
          www:
            - {type: A, set_id: a, values: [192.0.2.1]}
            - {type: A, set_id: b, values: [192.0.2.2]}
        """,
        5,
        "www.example.com. A",
        "one record set",
        id="simple-with-two-record-sets",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www:
            - {type: A, set_id: a, values: [192.0.2.1]}
            - {type: A, set_id: b, weight: 10, values: [192.0.2.2]}
        """,
        5,
        "www.example.com. A",
        "mix",
        id="mixed-routing-keys",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www:
            - {type: A, set_id: a, weight: 10, failover: PRIMARY, values: [192.0.2.1]}
        """,
        4,
        "www.example.com. A",
        "more than one routing key",
        id="two-routing-keys-in-one-set",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www:
            - {type: A, values: [192.0.2.1]}
            - {type: A, set_id: b, values: [192.0.2.2]}
        """,
        4,
        "www.example.com. A",
        "set_id",
        id="missing-set-id",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www:
            - {type: A, set_id: a, values: [192.0.2.1]}
            - {type: A, set_id: a, values: [192.0.2.2]}
        """,
        5,
        "www.example.com. A",
        "duplicate set_id",
        id="duplicate-set-id",
    ),
    # --- CNAME ------------------------------------------------------------------------------
    pytest.param(
        """
        zone: example.com
        records:
          www:
            - {type: CNAME, values: [web.example.org.]}
            - {type: A, values: [192.0.2.1]}
        """,
        (4, 5),
        "www.example.com.",
        "alone",
        id="cname-with-other-type",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www: [{type: CNAME, values: [web.example.org.]}]
          WWW.Example.COM.: [{type: TXT, values: ["x"]}]
        """,
        (3, 4),
        "www.example.com.",
        "alone",
        id="cname-with-other-type-spelled-differently",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          "@": [{type: CNAME, values: [www.example.org.]}]
        """,
        3,
        "example.com. CNAME",
        "apex",
        id="cname-at-apex",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www: [{type: CNAME, values: [a.example.org., b.example.org.]}]
        """,
        3,
        "www.example.com. CNAME",
        "one value",
        id="cname-two-values",
    ),
    # --- aliases ----------------------------------------------------------------------------
    pytest.param(
        """
        zone: example.com
        records:
          "@": [{type: A, alias: {target: www.example.org.}}]
        """,
        3,
        "example.com. A",
        "not in any loaded zone",
        id="alias-target-outside-loaded-zones",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www: [{type: AAAA, alias: {target: mail}}]
          mail: [{type: A, values: [192.0.2.1]}]
        """,
        3,
        "www.example.com. AAAA",
        "no AAAA records",
        id="alias-target-without-same-type",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www: [{type: A, alias: {target: nothere}}]
        """,
        3,
        "www.example.com. A",
        "no A records",
        id="alias-target-name-missing",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www: [{type: A, ttl: 60, alias: {target: mail}}]
          mail: [{type: A, values: [192.0.2.1]}]
        """,
        3,
        "www.example.com. A",
        "ttl",
        id="alias-with-ttl",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www: [{type: A, alias: {target: mail}, values: [192.0.2.2]}]
          mail: [{type: A, values: [192.0.2.1]}]
        """,
        3,
        "www.example.com. A",
        "exactly one",
        id="alias-and-values",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www: [{type: A, ttl: 60}]
        """,
        3,
        "www.example.com. A",
        "exactly one",
        id="neither-values-nor-alias",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www: [{type: A, value: 192.0.2.1, values: [192.0.2.2]}]
        """,
        3,
        "www.example.com. A",
        "exactly one",
        id="value-and-values",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          www: [{type: A, values: []}]
        """,
        3,
        "www.example.com. A",
        "empty",
        id="empty-values",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          a: [{type: A, alias: {target: b}}]
          b: [{type: A, alias: {target: a}}]
        """,
        (3, 4),
        ("a.example.com. A", "b.example.com. A"),
        "loop",
        id="alias-loop",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          a: [{type: A, alias: {target: a}}]
        """,
        3,
        "a.example.com. A",
        "loop",
        id="alias-self-loop",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          a: [{type: A, alias: {target: b}}]
          b: [{type: A, alias: {target: c}}]
          c: [{type: A, alias: {target: a}}]
        """,
        (3, 4, 5),
        ("a.example.com. A", "b.example.com. A", "c.example.com. A"),
        "loop",
        id="alias-loop-of-three",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          a: [{type: CNAME, values: [b]}]
          b: [{type: CNAME, values: [a.example.com.]}]
        """,
        (3, 4),
        ("a.example.com. CNAME", "b.example.com. CNAME"),
        "loop",
        id="cname-loop",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          a: [{type: CNAME, values: [A.Example.Com.]}]
        """,
        3,
        "a.example.com. CNAME",
        "loop",
        id="cname-self-loop-other-case",
    ),
    # --- values that do not parse -------------------------------------------------------------
    pytest.param(
        'zone: example.com\nrecords:\n  www: [{type: A, values: ["1.2.3"]}]\n',
        3,
        "www.example.com. A",
        "1.2.3",
        id="bad-A",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  www: [{type: A, values: ["999.1.1.1"]}]\n',
        3,
        "www.example.com. A",
        "999.1.1.1",
        id="bad-A-octet",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  www: [{type: AAAA, values: ["zz::1"]}]\n',
        3,
        "www.example.com. AAAA",
        "zz::1",
        id="bad-AAAA",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  www: [{type: AAAA, values: ["192.0.2.1"]}]\n',
        3,
        "www.example.com. AAAA",
        "192.0.2.1",
        id="bad-AAAA-ipv4",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  "@": [{type: MX, values: ["x mail"]}]\n',
        3,
        "example.com. MX",
        "x mail",
        id="bad-MX-preference",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  "@": [{type: MX, values: ["70000 mail"]}]\n',
        3,
        "example.com. MX",
        "70000",
        id="bad-MX-preference-too-large",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  _sip._udp: [{type: SRV, values: ["10 60 5060"]}]\n',
        3,
        "_sip._udp.example.com. SRV",
        "10 60 5060",
        id="bad-SRV-too-few-fields",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  _sip._udp: [{type: SRV, values: ["10 60 70000 sip"]}]\n',
        3,
        "_sip._udp.example.com. SRV",
        "70000",
        id="bad-SRV-port",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  "@": [{type: CAA, values: [\'0 bad-tag "x"\']}]\n',
        3,
        "example.com. CAA",
        "bad-tag",
        id="bad-CAA-tag",
    ),
    pytest.param(
        "zone: example.com\nrecords:\n  \"@\": [{type: CAA, values: ['0 issue']}]\n",
        3,
        "example.com. CAA",
        "0 issue",
        id="bad-CAA-missing-value",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  ssh: [{type: SSHFP, values: ["4 2 xyz"]}]\n',
        3,
        "ssh.example.com. SSHFP",
        "xyz",
        id="bad-SSHFP-not-hex",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  _443._tcp: [{type: TLSA, values: ["3 1 1 zz"]}]\n',
        3,
        "_443._tcp.example.com. TLSA",
        "zz",
        id="bad-TLSA-not-hex",
    ),
    pytest.param(
        zone("""
        zone: example.com
        records:
          sub: [{type: NS, values: [ns.example.net.]}, {type: DS, values: ["12345 13 2"]}]
        """),
        3,
        "sub.example.com. DS",
        "12345 13 2",
        id="bad-DS-too-few-fields",
    ),
    pytest.param(
        zone("""
        zone: example.com
        records:
          sub: [{type: NS, values: [ns.example.net.]}, {type: DS, values: ["12345 13 2 nothex"]}]
        """),
        3,
        "sub.example.com. DS",
        "nothex",
        id="bad-DS-digest",
    ),
    # Found by fuzz/zone_target.py: digests of the wrong length for their type loaded, and
    # then dnspython rejected every reply holding them.
    pytest.param(
        zone("""
        zone: example.com
        records:
          sub: [{type: NS, values: [ns.example.net.]}, {type: DS, values: ["12345 13 2 abcd"]}]
        """),
        3,
        "sub.example.com. DS",
        "DS digest of type 2 must be 32 bytes, not 2",
        id="bad-DS-digest-length",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  ssh: [{type: SSHFP, values: ["4 1 abcd"]}]\n',
        3,
        "ssh.example.com. SSHFP",
        "SSHFP fingerprint of type 1 must be 20 bytes, not 2",
        id="bad-SSHFP-fingerprint-length",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  _443._tcp: [{type: TLSA, values: ["3 1 2 abcd"]}]\n',
        3,
        "_443._tcp.example.com. TLSA",
        "TLSA certificate data of type 2 must be 64 bytes, not 2",
        id="bad-TLSA-data-length",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  "@": [{type: HTTPS, values: ["1 . foo=bar"]}]\n',
        3,
        "example.com. HTTPS",
        "foo",
        id="bad-HTTPS-unknown-param",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  "@": [{type: HTTPS, values: ["1 . port=443 port=8443"]}]\n',
        3,
        "example.com. HTTPS",
        "port",
        id="bad-HTTPS-duplicate-param",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  "@": [{type: HTTPS, values: ["1 . mandatory=port"]}]\n',
        3,
        "example.com. HTTPS",
        "mandatory",
        id="bad-HTTPS-mandatory-param-missing",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  "@": [{type: HTTPS, values: ["1 . key65536=x"]}]\n',
        3,
        "example.com. HTTPS",
        "key65536",
        id="bad-HTTPS-param-key-out-of-range",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  _svc: [{type: SVCB, values: ["1 svc port=http"]}]\n',
        3,
        "_svc.example.com. SVCB",
        "port",
        id="bad-SVCB-port",
    ),
    pytest.param(
        "zone: example.com\nrecords:\n"
        '  sip: [{type: NAPTR, values: [\'100 10 "S" "SIP+D2U" _sip._udp\']}]\n',
        3,
        "sip.example.com. NAPTR",
        "SIP+D2U",
        id="bad-NAPTR-field-count",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  "1": [{type: PTR, values: ["a..b"]}]\n',
        3,
        "1.example.com. PTR",
        "a..b",
        id="bad-PTR-name",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  sub: [{type: NS, values: ["a..b"]}]\n',
        3,
        "sub.example.com. NS",
        "a..b",
        id="bad-NS-name",
    ),
    # --- TTLs and types -----------------------------------------------------------------------
    pytest.param(
        "zone: example.com\nrecords:\n  www: [{type: A, ttl: -1, values: [192.0.2.1]}]\n",
        3,
        "www.example.com. A",
        "ttl",
        id="ttl-negative",
    ),
    pytest.param(
        "zone: example.com\nrecords:\n  www: [{type: A, ttl: 2147483648, values: [192.0.2.1]}]\n",
        3,
        "www.example.com. A",
        "ttl",
        id="ttl-too-large",
    ),
    pytest.param(
        "zone: example.com\nrecords:\n  www: [{type: A, ttl: 1.5, values: [192.0.2.1]}]\n",
        3,
        "www.example.com. A",
        "ttl",
        id="ttl-not-integer",
    ),
    pytest.param(
        "zone: example.com\nrecords:\n  www: [{type: A, ttl: soon, values: [192.0.2.1]}]\n",
        3,
        "www.example.com. A",
        "ttl",
        id="ttl-not-a-number",
    ),
    pytest.param(
        "zone: example.com\nttl: -1\nrecords:\n  www: [{type: A, values: [192.0.2.1]}]\n",
        2,
        None,
        "ttl",
        id="zone-ttl-negative",
    ),
    pytest.param(
        'zone: example.com\nrecords:\n  www: [{type: LOC, values: ["52 22 23 N 4 53 32 E 0m"]}]\n',
        3,
        "www.example.com. LOC",
        "LOC",
        id="unsupported-type-LOC",
    ),
    pytest.param(
        "zone: example.com\nrecords:\n  "
        '"@": [{type: SOA, values: ["ns1 hostmaster 1 7200 900 1209600 300"]}]\n',
        3,
        "example.com. SOA",
        "soa",
        id="unsupported-type-SOA",
    ),
    pytest.param(
        "zone: example.com\nrecords:\n  www: [{values: [192.0.2.1]}]\n",
        3,
        None,
        "type",
        id="missing-type",
    ),
    # --- health checks ------------------------------------------------------------------------
    pytest.param(
        """
        zone: example.com
        records:
          www: [{type: A, values: [192.0.2.1], health_check: nope}]
        """,
        3,
        "www.example.com. A",
        "nope",
        id="unknown-health-check-id",
    ),
    pytest.param(
        """
        zone: example.com
        health_checks:
          web: {type: http, target: 192.0.2.1}
          bad: {type: ftp, target: 192.0.2.1}
        records:
          www: [{type: A, values: [192.0.2.1], health_check: web}]
        """,
        4,
        "health check bad",
        "type",
        id="health-check-bad-type",
    ),
    pytest.param(
        """
        zone: example.com
        health_checks:
          web: {type: http, target: 192.0.2.1}
          bad: {type: tcp, target: 192.0.2.1, port: 70000}
        records:
          www: [{type: A, values: [192.0.2.1], health_check: web}]
        """,
        4,
        "health check bad",
        "port",
        id="health-check-bad-port",
    ),
    pytest.param(
        """
        zone: example.com
        health_checks:
          web: {type: http, target: 192.0.2.1}
          bad: {type: http, target: 192.0.2.1, interval: 0.05}
        records:
          www: [{type: A, values: [192.0.2.1], health_check: web}]
        """,
        4,
        "health check bad",
        "interval",
        id="health-check-interval-below-minimum",
    ),
    pytest.param(
        """
        zone: example.com
        health_checks:
          web: {type: http, target: 192.0.2.1}
          bad: {type: http, target: 192.0.2.1, failure_threshold: 0}
        records:
          www: [{type: A, values: [192.0.2.1], health_check: web}]
        """,
        4,
        "health check bad",
        "failure_threshold",
        id="health-check-failure-threshold-zero",
    ),
    pytest.param(
        """
        zone: example.com
        health_checks:
          web: {type: http, target: 192.0.2.1}
          any: {type: calculated, children: [web, nope]}
        records:
          www: [{type: A, values: [192.0.2.1], health_check: any}]
        """,
        4,
        "health check any",
        "nope",
        id="calculated-unknown-child",
    ),
    pytest.param(
        """
        zone: example.com
        health_checks:
          a: {type: calculated, children: [b]}
          b: {type: calculated, children: [a]}
        records:
          www: [{type: A, values: [192.0.2.1], health_check: a}]
        """,
        (3, 4),
        ("health check a", "health check b"),
        "cycle",
        id="calculated-cycle",
    ),
    pytest.param(
        """
        zone: example.com
        health_checks:
          web: {type: http, target: 192.0.2.1}
          any: {type: calculated, children: [web], healthy_threshold: 2}
        records:
          www: [{type: A, values: [192.0.2.1], health_check: any}]
        """,
        4,
        "health check any",
        "healthy_threshold",
        id="healthy-threshold-above-children",
    ),
    # --- names --------------------------------------------------------------------------------
    pytest.param(
        """
        zone: example.com
        records:
          www.example.org.: [{type: A, values: [192.0.2.1]}]
        """,
        3,
        "www.example.org.",
        "outside",
        id="name-outside-zone",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          wwwexample.com.: [{type: A, values: [192.0.2.1]}]
        """,
        3,
        "wwwexample.com.",
        "outside",
        id="name-outside-zone-shared-suffix",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          "a.*": [{type: A, values: [192.0.2.1]}]
        """,
        3,
        "a.*.example.com.",
        "leftmost",
        id="wildcard-not-leftmost",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          "a..b": [{type: A, values: [192.0.2.1]}]
        """,
        3,
        None,
        "empty label",
        id="bad-owner-name",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          "@": [{type: NS, values: [ns1.example.com.]}]
        """,
        3,
        "example.com. NS",
        "'ns'",
        id="apex-ns-in-records",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          sub: [{type: NS, values: [ns1.sub.example.com.]}]
          ns1.sub: [{type: A, values: [192.0.2.53]}]
          info.sub: [{type: TXT, values: ["hidden"]}]
        """,
        5,
        "info.sub.example.com. TXT",
        "delegation",
        id="data-below-delegation",
    ),
    pytest.param(
        """
        zone: example.com
        records:
          sub: [{type: NS, values: [ns1.sub.example.com.]}]
          ns1.sub: [{type: A, values: [192.0.2.53]}]
          deeper.sub: [{type: NS, values: [ns.example.net.]}]
        """,
        5,
        "deeper.sub.example.com. NS",
        "delegation",
        id="delegation-below-delegation",
    ),
    # --- SOA, ns, zone ------------------------------------------------------------------------
    pytest.param(
        """
        zone: example.com
        soa:
          serial: 4294967296
        records:
          www: [{type: A, values: [192.0.2.1]}]
        """,
        3,
        "example.com. SOA",
        "serial",
        id="soa-serial-too-large",
    ),
    pytest.param(
        """
        zone: example.com
        soa:
          serial: 1
          refresh: -1
        records:
          www: [{type: A, values: [192.0.2.1]}]
        """,
        4,
        "example.com. SOA",
        "refresh",
        id="soa-refresh-negative",
    ),
    pytest.param(
        """
        zone: example.com
        soa:
          minimum: often
        records:
          www: [{type: A, values: [192.0.2.1]}]
        """,
        3,
        "example.com. SOA",
        "minimum",
        id="soa-minimum-not-a-number",
    ),
    pytest.param(
        """
        zone: example.com
        soa:
          rname: "a..b"
        records:
          www: [{type: A, values: [192.0.2.1]}]
        """,
        3,
        "example.com. SOA",
        "rname",
        id="soa-rname-bad-name",
    ),
    pytest.param(
        """
        zone: example.com
        ns: []
        records:
          www: [{type: A, values: [192.0.2.1]}]
        """,
        2,
        "example.com. NS",
        "ns",
        id="ns-empty",
    ),
    pytest.param(
        """
        ttl: 300
        records:
          www: [{type: A, values: [192.0.2.1]}]
        """,
        1,
        None,
        "zone",
        id="zone-key-missing",
    ),
    pytest.param(
        """
        - zone: example.com
        """,
        1,
        None,
        "mapping",
        id="zone-file-not-a-mapping",
    ),
    # --- cidr_collections ---------------------------------------------------------------------
    pytest.param(
        """
        zone: example.com
        cidr_collections:
          offices:
            hq: [10.1.0.1/16]
        records:
          www: [{type: A, values: [192.0.2.1]}]
        """,
        4,
        None,
        "10.1.0.1/16",
        id="cidr-host-bits-set",
    ),
    pytest.param(
        """
        zone: example.com
        cidr_collections:
          offices:
            hq: [10.1.0.0/16]
            branch: [not-a-network]
        records:
          www: [{type: A, values: [192.0.2.1]}]
        """,
        5,
        None,
        "not-a-network",
        id="cidr-not-a-network",
    ),
    pytest.param(
        """
        zone: example.com
        cidr_collections:
          offices:
            hq: [2001:db8:1::1/48]
        records:
          www: [{type: A, values: [192.0.2.1]}]
        """,
        4,
        None,
        "2001:db8:1::1/48",
        id="cidr-ipv6-host-bits-set",
    ),
]


@pytest.mark.parametrize(("text", "line", "what", "reason"), CASES)
def test_rule_reports_file_line_and_reason(tmp_path: Path, text, line, what, reason):
    """A zone breaking one rule fails with that rule's file, line, record and reason."""
    path = tmp_path / "z.yaml"
    path.write_text(zone(text))
    errors = load_errors(tmp_path)
    assert_reported(errors, path, line, what, reason)
    for error in errors:
        assert str(error) == f"{error.file}:{error.line}: {error.what}: {error.reason}"


def test_error_line_numbers_are_one_based(tmp_path: Path):
    """An error on the first record set of a file counts lines from 1, not 0."""
    path = tmp_path / "z.yaml"
    path.write_text("zone: example.com\nrecords: {www: [{type: A, values: ['1.2.3']}]}\n")
    errors = load_errors(tmp_path)
    assert [e.line for e in errors] == [2]


def test_every_error_of_one_file_is_reported(tmp_path: Path):
    """Several independent mistakes in one file are all reported by one load."""
    path = tmp_path / "z.yaml"
    path.write_text(
        zone("""
        zone: example.com
        colour: blue
        records:
          a: [{type: A, values: ["1.2.3"]}]
          b: [{type: AAAA, ttl: -1, values: ["2001:db8::1"]}]
          c: [{type: A, values: [192.0.2.1], health_check: nope}]
          d: [{type: CNAME, values: [x.example.org.]}, {type: TXT, values: ["x"]}]
          e: [{type: A, alias: {target: nowhere}}]
          f: [{type: A, values: [192.0.2.6]}]
        """)
    )
    errors = load_errors(tmp_path)
    assert sorted(e.line for e in errors) == [2, 4, 5, 6, 7, 8], "\n".join(map(str, errors))
    assert all(e.file == str(path) for e in errors)


def test_every_error_of_every_file_is_reported(tmp_path: Path):
    """Mistakes in two zone files are all reported together, each with its own file."""
    first = tmp_path / "a.yaml"
    second = tmp_path / "b.yaml"
    first.write_text(
        zone("""
        zone: example.com
        records:
          a: [{type: A, values: ["1.2.3"]}]
          b: [{type: MX, values: ["x mail"]}]
        """)
    )
    second.write_text(
        zone("""
        zone: example.org
        records:
          "@": [{type: CNAME, values: [www.example.net.]}]
          c: [{type: A, values: [192.0.2.1], health_check: nope}]
        """)
    )
    errors = load_errors(tmp_path)
    found = sorted((Path(e.file).name, e.line) for e in errors)
    assert found == [("a.yaml", 3), ("a.yaml", 4), ("b.yaml", 3), ("b.yaml", 4)], "\n".join(
        map(str, errors)
    )


def test_same_zone_in_two_files(tmp_path: Path):
    """A zone defined by two files is an error that names the other file."""
    text = "# one of two\nzone: example.com\nrecords:\n  www: [{type: A, values: [192.0.2.1]}]\n"
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text.replace("# one of two", "# two of two"))
    errors = load_errors(tmp_path)
    assert len(errors) == 1, "\n".join(map(str, errors))
    (error,) = errors
    files = {str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")}
    assert error.file in files
    other = (files - {error.file}).pop()
    assert Path(other).name in error.reason
    assert error.line == 2, "the line of the 'zone' key"


def test_same_zone_spelled_differently_in_two_files(tmp_path: Path):
    """Zone names are case-insensitive and may end with a dot: still the same zone."""
    (tmp_path / "a.yaml").write_text("zone: example.com\n")
    (tmp_path / "b.yaml").write_text("zone: Example.COM.\n")
    errors = load_errors(tmp_path)
    assert len(errors) == 1
    assert "a.yaml" in errors[0].reason


def test_health_check_defined_differently_in_two_files(tmp_path: Path):
    """One check id with two different definitions in two files is an error."""
    (tmp_path / "a.yaml").write_text(
        "zone: example.com\nhealth_checks:\n  web: {type: http, target: 192.0.2.1}\n"
    )
    (tmp_path / "b.yaml").write_text(
        "zone: example.org\nhealth_checks:\n  web: {type: http, target: 192.0.2.2}\n"
    )
    errors = load_errors(tmp_path)
    assert len(errors) == 1
    assert errors[0].line == 3 and errors[0].what == "health check web"
    assert "a.yaml" in errors[0].reason


def test_cname_loop_across_zone_files(tmp_path: Path):
    """A CNAME chain that loops through two zone files is reported."""
    (tmp_path / "a.yaml").write_text(
        "zone: example.com\nrecords:\n  a: [{type: CNAME, values: [b.example.org.]}]\n"
    )
    (tmp_path / "b.yaml").write_text(
        "zone: example.org\nrecords:\n  b: [{type: CNAME, values: [a.example.com.]}]\n"
    )
    errors = load_errors(tmp_path)
    assert len(errors) == 1
    assert "loop" in errors[0].reason
    assert (Path(errors[0].file).name, errors[0].line) in {("a.yaml", 3), ("b.yaml", 3)}


def test_alias_loop_across_zone_files(tmp_path: Path):
    """An alias chain that loops through two zone files is reported."""
    (tmp_path / "a.yaml").write_text(
        "zone: example.com\nrecords:\n  a: [{type: A, alias: {target: b.example.org.}}]\n"
    )
    (tmp_path / "b.yaml").write_text(
        "zone: example.org\nrecords:\n  b: [{type: A, alias: {target: a.example.com.}}]\n"
    )
    errors = load_errors(tmp_path)
    assert len(errors) == 1
    assert "loop" in errors[0].reason


def test_yaml_merge_key_may_be_overridden(tmp_path: Path):
    """A key given beside a YAML merge (<<) overrides the merged one; it is no duplicate."""
    (tmp_path / "z.yaml").write_text(
        zone("""
        zone: example.com
        records:
          www: [&base {type: A, ttl: 60, values: [192.0.2.1]}]
          mail: [{<<: *base, values: [192.0.2.2]}]
        """)
    )
    zone_set = load_zone_set([str(tmp_path)])
    mail = zone_set.zones[ORIGIN].nodes[names.from_text("mail.example.com.")]
    (group,) = mail.values()
    assert group.sets[0].ttl == 60
    assert [str(rd) for rd in group.sets[0].rdata] == ["192.0.2.2"]


def test_octal_looking_owner_is_not_renamed(tmp_path: Path):
    """An owner written 010 is either refused or kept as 010, never turned into 8."""
    (tmp_path / "z.yaml").write_text(
        "zone: 2.0.192.in-addr.arpa\nrecords:\n  010: [{type: PTR, values: [h.example.com.]}]\n"
    )
    try:
        zone_set = load_zone_set([str(tmp_path)])
    except LoadFailed as exc:
        assert any(e.line == 3 for e in exc.errors)
        return
    (loaded,) = zone_set.zones.values()
    owners = {names.to_text(o) for o in loaded.nodes}
    assert "8.2.0.192.in-addr.arpa." not in owners


def test_missing_zone_path_is_an_error(tmp_path: Path):
    """A --zones path that does not exist is reported, not silently skipped."""
    with pytest.raises(LoadFailed) as info:
        load_zone_set([str(tmp_path / "nowhere")])
    assert "nowhere" in str(info.value)


def test_repository_zones_load_without_error():
    """The example zones in zones/ are valid."""
    files = sorted((REPO / "zones").glob("*.y*ml"))
    declared = {
        names.to_text(names.from_text(yaml.safe_load(f.read_text())["zone"] + ".")) for f in files
    }
    zone_set = load_zone_set([str(REPO / "zones")])
    loaded = {names.to_text(o) for o in zone_set.zones}
    assert loaded == declared
    assert {"example.com.", "example.org.", "example.net."} <= loaded


def test_valid_zone_using_every_permitted_feature_loads(tmp_path: Path):
    """Edge values that the rules allow load without error."""
    (tmp_path / "a.yaml").write_text(
        zone("""
        zone: Example.COM.
        ttl: 0
        soa: {serial: 4294967295, minimum: 0, mname: ns1, rname: hostmaster.example.com.}
        ns: [ns1, ns2.example.net.]
        health_checks:
          web: {type: https, target: www.example.com, interval: 0.1, failure_threshold: 1}
          any: {type: calculated, children: [web, db], healthy_threshold: 0}
        records:
          "@":
            - {type: A, alias: {target: www}}
            - {type: TXT, values: ["v=spf1 -all", 42]}
          ns1: {type: A, value: 192.0.2.1}
          www:
            - {type: A, ttl: 2147483647, values: [192.0.2.10], health_check: db}
            - {type: AAAA, values: ["2001:db8::10"], health_check: any}
          app: [{type: A, alias: {target: www.example.org., evaluate_target_health: true}}]
          blog: [{type: CNAME, value: docs}]
          docs: [{type: CNAME, value: www}]
          "*": [{type: TXT, values: ["wildcard"]}]
          "*.apps": [{type: A, values: [192.0.2.90]}]
          sub:
            - {type: NS, values: [ns1.sub]}
            - {type: DS, values: ["12345 13 1 0123456789abcdef0123 456789ABCDEF01234567"]}
          ns1.sub: [{type: A, values: [192.0.2.53]}, {type: AAAA, values: ["2001:db8::53"]}]
          deep.lab.empty: [{type: A, values: [192.0.2.7]}]
          single: [{type: A, set_id: only, values: [192.0.2.8]}]
        """)
    )
    (tmp_path / "b.yml").write_text(
        zone("""
        zone: example.org
        health_checks:
          db: {type: tcp, target: 192.0.2.20, port: 5432}
        records:
          www: [{type: A, values: [198.51.100.10]}]
        """)
    )
    zone_set = load_zone_set([str(tmp_path)])
    assert set(zone_set.zones) == {ORIGIN, names.from_text("example.org.")}


def test_zone_file_given_directly_loads(tmp_path: Path):
    """--zones accepts a single file as well as a directory."""
    path = tmp_path / "one.yaml"
    path.write_text("zone: example.com\nrecords:\n  www: [{type: A, values: [192.0.2.1]}]\n")
    (tmp_path / "ignored.txt").write_text("not a zone")
    zone_set = load_zone_set([str(path)])
    assert set(zone_set.zones) == {ORIGIN}


# --- rdata.parse against dnspython ---------------------------------------------------------

HEX32 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
# (type, our presentation text, dnspython's presentation text when it differs)
RDATA = [
    ("A", "192.0.2.1", None),
    ("AAAA", "2001:db8::1", None),
    ("AAAA", "::ffff:192.0.2.1", None),
    ("CNAME", "www.example.org.", None),
    ("CNAME", "www", None),
    ("NS", "ns1.example.net.", None),
    ("PTR", "host.example.net.", None),
    ("MX", "10 mail", None),
    ("MX", "0 .", None),
    ("TXT", "v=spf1 -all", '"v=spf1 -all"'),
    ("TXT", "a text value with spaces", '"a text value with spaces"'),
    ("TXT", "", '""'),
    ("SPF", "v=spf1 mx -all", '"v=spf1 mx -all"'),
    ("SRV", "10 60 5060 sip", None),
    ("SRV", "0 0 443 sip.example.net.", None),
    ("CAA", '0 issue "letsencrypt.org"', None),
    ("CAA", '128 iodef "mailto:security@example.com"', None),
    ("CAA", '0 issue "ca.example.net; account=123"', None),
    ("NAPTR", '100 10 "S" "SIP+D2U" "" _sip._udp', None),
    ("NAPTR", '100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .', None),
    ("SSHFP", f"4 2 {HEX32}", None),
    ("TLSA", f"3 1 1 {HEX32}", None),
    ("DS", "12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE3C8C8C2E2E2E2E2E2E2E2E2E", None),
    ("HTTPS", "1 . alpn=h2,h3 ipv4hint=192.0.2.80", None),
    ("HTTPS", "0 www.example.com.", None),
    ("HTTPS", "1 . alpn=h2 port=8443 ipv6hint=2001:db8::1", None),
    ("SVCB", "1 svc.example.com. alpn=h2 port=8443", None),
    ("SVCB", "1 svc mandatory=alpn alpn=h2", None),
]


def dnslib_wire(rd) -> bytes:
    buffer = DNSBuffer()
    rd.pack(buffer)
    return bytes(buffer.data)


@pytest.mark.parametrize(
    ("rtype", "text", "theirs"), [pytest.param(*row, id=f"{row[0]}-{row[1]}") for row in RDATA]
)
def test_rdata_parse_matches_dnspython(rtype, text, theirs):
    """A good value packs to the same wire bytes as dnspython makes from the same text."""
    ours = rdata.parse(rtype, text, ORIGIN)
    expected = dns.rdata.from_text(
        "IN",
        rtype,
        theirs if theirs is not None else text,
        origin=dns.name.from_text("example.com"),
        relativize=False,
    ).to_wire()
    assert dnslib_wire(ours) == expected


def test_txt_longer_than_255_bytes_is_split():
    """A 600-byte TXT value becomes strings of 255, 255 and 90 bytes, in order."""
    text = "".join(chr(ord("a") + i % 26) for i in range(600))
    rd = rdata.parse("TXT", text, ORIGIN)
    assert [len(s) for s in rd.data] == [255, 255, 90]
    assert b"".join(rd.data) == text.encode()
    wire = dnslib_wire(rd)
    assert wire == b"\xff" + text[:255].encode() + b"\xff" + text[255:510].encode() + b"Z" + (
        text[510:].encode()
    )


def test_txt_of_exactly_255_bytes_is_one_string():
    """A TXT value of exactly 255 bytes is not split."""
    rd = rdata.parse("TXT", "x" * 255, ORIGIN)
    assert [len(s) for s in rd.data] == [255]


def test_txt_keeps_quotes_and_backslashes_literally():
    """A TXT value is the text itself: quotes and backslashes are not presentation syntax."""
    rd = rdata.parse("TXT", 'say "hi" \\ bye', ORIGIN)
    assert rd.data == [b'say "hi" \\ bye']


def test_owner_keys_are_literal_text(tmp_path: Path) -> None:
    """Owner names YAML would read as booleans, floats or octal stay the text written."""
    (tmp_path / "z.yaml").write_text(
        "zone: example.com\nrecords:\n"
        "  on: [{type: A, values: [192.0.2.1]}]\n"
        "  1.10: [{type: A, values: [192.0.2.2]}]\n"
        "  010: [{type: A, values: [192.0.2.3]}]\n"
    )
    zone_set = load_zone_set([str(tmp_path)])
    owners = {names.to_text(n) for n in zone_set.zones[(b"example", b"com")].nodes}
    assert {"on.example.com.", "1.10.example.com.", "010.example.com."} <= owners


def test_record_sets_are_policy_candidates(tmp_path: Path) -> None:
    """A record set holds its routing key in `policy` and only the parsed parameters in
    `routing`, so its policy selects among a group's sets as they are."""
    (tmp_path / "z.yaml").write_text(
        "zone: example.com\nrecords:\n  www:\n"
        "    - {type: A, set_id: a, weight: 0, values: [192.0.2.1]}\n"
        "    - {type: A, set_id: b, weight: 7, values: [192.0.2.2]}\n"
        "  plain: [{type: A, values: [192.0.2.3]}]\n"
    )
    zone_set = load_zone_set([str(tmp_path)])
    group = zone_set.group(names.from_text("www.example.com."), 1)
    assert group is not None and group.policy == "weight"
    assert [(s.policy, s.set_id, s.routing) for s in group.sets] == [
        ("weight", "a", 0),
        ("weight", "b", 7),
    ]
    choice = policies.REGISTRY[group.policy].select(
        group.sets, Client(None, 0), lambda i: True, Random(1)
    )
    assert choice.chosen == (1,)
    plain = zone_set.group(names.from_text("plain.example.com."), 1)
    assert plain is not None and [s.policy for s in plain.sets] == ["simple"]


def test_routing_keys_are_the_registered_policies() -> None:
    """The loader accepts exactly the keys of the policy registry (simple has none)."""
    assert set(recordsets.ROUTING_KEYS) == set(policies.REGISTRY) - {"simple"}


def test_find_cycles_reports_each_closing_edge() -> None:
    """The one cycle finder: every edge back onto the walk's path closes one cycle."""
    graph = {"a": ["b"], "b": ["c", "a"], "c": ["b"], "d": ["d"], "e": []}
    assert graph_.find_cycles(graph, graph.__getitem__) == [
        ["b", "c", "b"],
        ["a", "b", "a"],
        ["d", "d"],
    ]
