"""The zones and handlers the properties run against, loaded the way the server loads them.

tests/fixtures/zones (copies of the examples) plus one generated zone, prop.test, with a
record set of every supported type, a weighted group and a multivalue group. Handlers are
built fresh per use so that caches and memos never carry over between what a property
compares.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from healthcheck.view import AllHealthy
from resolver.query.chaos import Chaos
from resolver.query.engine import Resolver
from resolver.query.handler import Handler
from resolver.query.location import Locator
from resolver.query.reuse import Reuse
from resolver.zones.check import known_regions, load_zone_set
from resolver.zones.model import ZoneSet
from tests.dnshelp import write_settled
from tests.serverproc import ZONES

SCALE = float(os.environ.get("PROPERTY_SCALE", "1"))

PROP_ZONE = """\
zone: prop.test
ttl: 600
ns: [ns1.prop.test.]
records:
  "@":
    - {type: MX, values: ["10 mx", "20 mx.example.net."]}
    - {type: TXT, values: ["apex text", "second \\"quoted\\" string"]}
    - {type: SPF, values: ["v=spf1 -all"]}
    - {type: CAA, values: ['0 issue "ca.example"', '128 tbs "x;y=z"']}
    - {type: HTTPS, values: ["1 . port=8443 alpn=h3,h2 ipv6hint=2001:db8::1 ipv4hint=192.0.2.7"]}
  ns1: [{type: A, values: [192.0.2.1]}]
  mx: [{type: A, values: [192.0.2.2]}, {type: AAAA, values: ["2001:db8::2"]}]
  _sip._tcp: [{type: SRV, values: ["10 20 5060 sip", "20 0 5061 sip.example.net."]}]
  sip:
    - {type: A, values: [192.0.2.3]}
    - type: NAPTR
      values:
        - '100 10 "S" "SIP+D2T" "" _sip._tcp'
        - '200 5 "U" "E2U+sip" "!^.*$!sip:x@prop.test!" .'
  ssh: [{type: SSHFP, values: ["1 1 0123456789abcdef0123456789abcdef01234567"]}]
  _25._tcp.mx:
    - type: TLSA
      values: ["3 1 1 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"]
  _dns: [{type: SVCB, values: ["1 dns.prop.test. mandatory=alpn alpn=dot key65000=abc port=853"]}]
  alias-svc: [{type: SVCB, values: ["0 _dns.prop.test."]}]
  dns: [{type: A, values: [192.0.2.4]}]
  4.2.0.192.in-addr: [{type: PTR, values: [dns.prop.test.]}]
  child:
    - {type: NS, values: [ns.child.prop.test.]}
    - {type: DS, values: ["1 8 2 aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899"]}
  ns.child: [{type: A, values: [192.0.2.5]}]
  www: [{type: CNAME, values: [dns]}]
  "*.wild": [{type: A, values: [192.0.2.6]}, {type: HTTPS, values: ["2 . alpn=h2"]}]
  weighted:
    - {type: A, set_id: one, weight: 3, values: [192.0.2.11]}
    - {type: A, set_id: two, weight: 1, values: [192.0.2.12]}
  multi:
    - {type: A, set_id: a, multivalue: true, values: [192.0.2.21]}
    - {type: A, set_id: b, multivalue: true, values: [192.0.2.22]}
    - {type: A, set_id: c, multivalue: true, values: [192.0.2.23]}
"""

# Names whose answers are random draws (weighted, multivalue), under any type or case.
RANDOM_NAMES = {
    "weighted.prop.test.",
    "multi.prop.test.",
    "www.steer.example.",
    "pool.steer.example.",
    "app.steer.example.",
    "app-us.steer.example.",
    "app-eu.steer.example.",
}


def load(zone_dir: Path) -> ZoneSet:
    """The fixture zones plus prop.test, through the server's own loader and checks."""
    write_settled(zone_dir / "prop.test.yaml", PROP_ZONE)
    return load_zone_set([str(ZONES), str(zone_dir)], regions=known_regions())


class World:
    """The loaded zones; short repr, since hypothesis prints every argument of a failure."""

    def __init__(self, zone_set: ZoneSet) -> None:
        self.zone_set = zone_set

    def __repr__(self) -> str:
        return "World(fixture zones + prop.test)"

    def handler(self, seed: int = 1) -> Handler:
        return make_handler(self.zone_set, seed)


def make_handler(zone_set: ZoneSet, seed: int = 1) -> Handler:
    """A fresh handler (empty cache and memo) as assemble.build_handler builds one."""
    handler = Handler(
        Resolver(zone_set),
        AllHealthy(),
        Chaos("policydns-test", "test-id"),
        Locator({}, {}),
        True,
        None,
        False,
        Reuse(100000),
    )
    handler.rng = random.Random(seed)
    return handler


class ErrorLog(logging.Handler):
    """Collects error records of the policydns loggers (the internal-error path logs one)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def error_log() -> Iterator[ErrorLog]:
    logger = logging.getLogger("policydns")
    collect, propagate = ErrorLog(), logger.propagate
    logger.addHandler(collect)
    logger.propagate = False
    try:
        yield collect
    finally:
        logger.removeHandler(collect)
        logger.propagate = propagate
