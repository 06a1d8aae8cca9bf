"""The `policydns` command line (SPEC 2). Exit codes: 0 ok, 1 bad data, 2 bad usage."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from resolver import __version__
from resolver.config import Config, load_config
from resolver.errors import LoadFailed
from resolver.serve.listen import parse_address

if TYPE_CHECKING:
    from resolver.zones.model import Zone, ZoneSet

log = logging.getLogger("policydns")

EXIT_OK, EXIT_DATA, EXIT_USAGE = 0, 1, 2


def _address(text: str):
    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="policydns", description="Authoritative DNS with Route 53-style routing policies."
    )
    parser.add_argument("--version", action="version", version=f"policydns {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", metavar="FILE", help="server configuration file (YAML)")
        p.add_argument(
            "--zones",
            metavar="PATH",
            action="append",
            help="zone file or directory of *.yaml/*.yml; repeatable (default ./zones)",
        )

    serve = sub.add_parser("serve", help="serve the zones over UDP and TCP")
    common(serve)
    serve.add_argument(
        "--listen",
        metavar="ADDR:PORT",
        action="append",
        type=_address,
        help="UDP+TCP listen address; repeatable; IPv6 as [::1]:5353",
    )
    http = serve.add_mutually_exclusive_group()
    http.add_argument("--http", metavar="ADDR:PORT", type=_address, help="HTTP API address")
    http.add_argument("--no-http", action="store_true", help="no HTTP API listener")
    serve.add_argument("--geoip-db", metavar="FILE", help="MaxMind-format .mmdb database")
    serve.add_argument("--workers", metavar="N", type=int, help="processes sharing the ports")
    serve.add_argument(
        "--log-level",
        metavar="LEVEL",
        default="info",
        choices=["debug", "info", "warning", "error"],
        type=str.lower,
    )
    serve.add_argument("--log-queries", action="store_true", help="one log line per query")

    check = sub.add_parser("check", help="load and validate everything, open no socket")
    common(check)

    explain = sub.add_parser("explain", help="show how a question would be answered")
    explain.add_argument("name")
    explain.add_argument("type", nargs="?", default="A")
    explain.add_argument("--client", default="127.0.0.1")
    explain.add_argument("--subnet")
    explain.add_argument("--health", metavar="FILE.json", help='{"check-id": "unhealthy"}')
    explain.add_argument("--json", action="store_true", help="the decision path as JSON")
    explain.add_argument("--geoip-db", metavar="FILE", help="MaxMind-format .mmdb database")
    common(explain)

    imp = sub.add_parser("import", help="convert Route 53 JSON or a BIND zone file to YAML")
    imp.add_argument("format", choices=["route53", "bind"])
    imp.add_argument("file")
    imp.add_argument("--zone")
    imp.add_argument(
        "--health-checks", metavar="FILE.json", help="list-health-checks or get-health-check"
    )
    imp.add_argument(
        "--cidr-blocks",
        metavar="COLLECTION_ID=FILE.json",
        action="append",
        default=[],
        help="list-cidr-blocks output of one CIDR collection; repeatable",
    )

    exp = sub.add_parser("export", help="write a loaded zone as Route 53 JSON or a BIND file")
    exp.add_argument("format", choices=["route53", "bind"])
    exp.add_argument("zone")
    exp.add_argument(
        "--health-checks-out",
        metavar="FILE.json",
        help="also write the health checks the zone uses, as list-health-checks prints them",
    )
    common(exp)

    over = sub.add_parser("override", help="force a health check of the running server")
    over.add_argument("check_id", metavar="CHECK_ID")
    over.add_argument("state", choices=["healthy", "unhealthy", "none"])
    over.add_argument("--http", metavar="ADDR:PORT", type=_address, help="the server's HTTP API")
    over.add_argument("--token-file", metavar="FILE", help="file holding the API bearer token")
    over.add_argument("--config", metavar="FILE", help="config file (for its http address)")
    return parser


def _config(args: argparse.Namespace) -> Config:
    """The config file, then command-line flags over it."""
    config = load_config(args.config)
    overrides: dict = {}
    if args.zones:
        overrides["zones"] = tuple(args.zones)
    if getattr(args, "listen", None):
        overrides["listen"] = tuple(args.listen)
    if getattr(args, "no_http", False):
        overrides["http"] = None
    elif getattr(args, "http", None) is not None:
        overrides["http"] = args.http
    if getattr(args, "geoip_db", None):
        overrides["geoip_database"] = args.geoip_db
    if getattr(args, "workers", None) is not None:
        overrides["workers"] = args.workers
    return dataclasses.replace(config, **overrides)


def _print_errors(exc: LoadFailed) -> int:
    for error in exc.errors:
        print(error, file=sys.stderr)
    print(f"{len(exc.errors)} error(s)", file=sys.stderr)
    return EXIT_DATA


def cmd_check(args: argparse.Namespace) -> int:
    from resolver.assemble import load_all, summary_lines

    try:
        loaded = load_all(_config(args))
    except LoadFailed as exc:
        return _print_errors(exc)
    for warning in loaded.config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for line in summary_lines(loaded.zone_set):
        print(line)
    return EXIT_OK


def _config_logging_warnings(args: argparse.Namespace) -> Config:
    """The config for serve and each reload; keys that do nothing yet are logged."""
    config = _config(args)
    for warning in config.warnings:
        log.warning("%s", warning)
    return config


def cmd_serve(args: argparse.Namespace) -> int:
    from resolver.app import App, run_loop

    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = _config_logging_warnings(args)
    except LoadFailed as exc:
        return _print_errors(exc)
    if config.workers < 1:
        print("policydns: --workers must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        app = App(config, lambda: _config_logging_warnings(args), args.log_queries)
    except LoadFailed as exc:
        return _print_errors(exc)
    try:
        if config.workers > 1:
            app.start_workers(config.workers)
        run_loop(app.run())
    except (OSError, ValueError) as exc:  # a busy port, a bad inherited socket
        log.error("cannot serve: %s", exc)
        return EXIT_DATA
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from resolver.assemble import load_all
    from resolver.forward.settings import describe
    from resolver.query.explain import ExplainError, explain, health_file, to_text

    try:
        loaded = load_all(_config(args))
    except LoadFailed as exc:
        return _print_errors(exc)
    try:
        health = health_file(args.health) if args.health else None
        report = explain(
            loaded.zone_set,
            loaded.locator,
            args.name,
            args.type,
            args.client,
            args.subnet,
            health,
            loaded.config.ecs,
            partial(describe, loaded.config.forwarding),
        )
    except ExplainError as exc:
        print(f"policydns explain: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(to_text(report))
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    """`import`: the zone file on stdout, everything not converted on stderr."""
    return _import_bind(args) if args.format == "bind" else _import_route53(args)


def _import_bind(args: argparse.Namespace) -> int:
    """`import bind`: exit 0 when the rest converted, 1 when there is no zone to write."""
    from resolver.bindfile import convert, master
    from resolver.wire import names
    from resolver.zones.render import render_zone

    say = "policydns import bind"
    if args.health_checks or args.cidr_blocks:
        print(f"{say}: --health-checks and --cidr-blocks are for import route53", file=sys.stderr)
        return EXIT_USAGE
    zone: names.Name | None = None
    if args.zone:
        try:
            zone = names.from_text(args.zone.rstrip(".") + ".")
        except (names.NameError_, UnicodeError) as exc:
            print(f"{say}: --zone {args.zone!r}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    entries, problems = master.parse(args.file, zone or ())
    for problem in problems:
        print(f"{say}: {problem}", file=sys.stderr)
    if not entries:
        print(f"{say}: {args.file}: no records to import", file=sys.stderr)
        return EXIT_DATA
    if zone is None:
        soa = next((e for e in entries if e.rtype == "SOA"), None)
        if soa is None:
            print(
                f"{say}: {args.file}: no SOA record names the zone; give --zone NAME"
                " (names relative to no $ORIGIN are relative to it)",
                file=sys.stderr,
            )
            return EXIT_DATA
        zone = soa.owner
    doc, dropped, changed = convert.import_entries(entries, zone)
    for problem in [*dropped, *changed]:
        print(f"{say}: {problem}", file=sys.stderr)
    if problems or dropped:
        print(f"{say}: {len(problems) + len(dropped)} not imported", file=sys.stderr)
    sys.stdout.write(render_zone(doc, comment=f"imported from a master file: {args.file}"))
    return EXIT_OK


def _import_route53(args: argparse.Namespace) -> int:
    from resolver.route53 import convert
    from resolver.zones.render import render_zone

    if not args.zone:
        print("policydns import route53: --zone NAME is required", file=sys.stderr)
        return EXIT_USAGE
    blocks: dict[str, dict[str, list[str]]] = {}
    try:
        for item in args.cidr_blocks:
            collection_id, sep, path = item.partition("=")
            if not sep or not collection_id or not path:
                print(
                    f"policydns import route53: --cidr-blocks wants ID=FILE, not {item!r}",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            blocks[collection_id] = convert.read_blocks(path)
        rrsets = convert.read_rrsets(args.file)
        checks = None
        if args.health_checks:
            checks = convert.read_checks(args.health_checks)
    except convert.InputError as exc:
        print(f"policydns import route53: {exc}", file=sys.stderr)
        return EXIT_DATA
    doc, problems = convert.import_route53(rrsets, args.zone, checks, blocks)
    for problem in problems:
        print(f"policydns import route53: {problem}", file=sys.stderr)
    dropped = sum(1 for p in problems if p.dropped)
    if dropped:
        print(f"policydns import route53: {dropped} not imported", file=sys.stderr)
    sys.stdout.write(render_zone(doc, comment=f"imported from Route 53: {args.file}"))
    return EXIT_OK


def _loaded_zone(args: argparse.Namespace) -> tuple[ZoneSet, Zone] | int:
    """The loaded zone set and the zone `export` names, or the exit code."""
    from resolver.assemble import load_all
    from resolver.wire import names

    try:
        zone_set = load_all(_config(args)).zone_set
    except LoadFailed as exc:
        return _print_errors(exc)
    try:
        zone = zone_set.zones.get(names.from_text(args.zone.rstrip(".") + "."))
    except (names.NameError_, UnicodeError):
        zone = None
    if zone is None:
        print(f"policydns export {args.format}: no zone {args.zone} is loaded", file=sys.stderr)
        return EXIT_DATA
    return zone_set, zone


def cmd_export(args: argparse.Namespace) -> int:
    """`export`: one loaded zone on stdout, what the format cannot hold on stderr."""
    found = _loaded_zone(args)
    if isinstance(found, int):
        return found
    if args.format == "bind":
        return _export_bind(found[1])
    return _export_route53(args, *found)


def _export_bind(zone: Zone) -> int:
    """`export bind`: the static records as a master file; policy sets listed on stderr."""
    from resolver.bindfile import convert

    text, left_out, changed = convert.export_zone(zone, zone.file)
    for problem in [*left_out, *changed]:
        print(f"policydns export bind: {problem}", file=sys.stderr)
    if left_out:
        print(f"policydns export bind: {len(left_out)} record sets not exported", file=sys.stderr)
    sys.stdout.write(text)
    return EXIT_OK


def _export_route53(args: argparse.Namespace, zone_set: ZoneSet, zone: Zone) -> int:
    """`export route53`: list-resource-record-sets JSON of one loaded zone on stdout."""
    from resolver.route53 import convert
    from resolver.route53.mapping import Ids
    from resolver.zones.yamlsource import YamlSourceError, load

    docs = {}
    try:
        for each in zone_set.zones.values():
            with open(each.file, encoding="utf-8") as handle:
                docs[each.origin] = convert.plain(load(handle.read()))
    except (OSError, UnicodeDecodeError, YamlSourceError) as exc:
        print(f"policydns export route53: cannot read again: {exc}", file=sys.stderr)
        return EXIT_DATA
    ids = Ids.for_names(
        [z.name_text for z in zone_set.zones.values()], list(zone_set.cidr_collections)
    )
    rrsets, problems = convert.export_route53(docs[zone.origin], ids, serial=zone.soa.serial)
    for problem in problems:
        print(f"policydns export route53: {problem}", file=sys.stderr)
    if any(p.dropped for p in problems):
        return EXIT_DATA
    if args.health_checks_out:
        checks: dict = {}
        for doc in docs.values():
            checks.update(doc.get("health_checks") or {})
        wanted = [
            str(record["health_check"])
            for sets in (docs[zone.origin].get("records") or {}).values()
            for record in (sets if isinstance(sets, list) else [sets])
            if record.get("health_check") is not None
        ]
        listing = convert.export_health_checks(checks, wanted)
        try:
            with open(args.health_checks_out, "w", encoding="utf-8") as handle:
                json.dump(
                    {
                        "HealthChecks": listing,
                        "IsTruncated": False,
                        "Marker": "",
                        "MaxItems": str(max(1, len(listing))),
                    },
                    handle,
                    indent=2,
                )
                handle.write("\n")
        except OSError as exc:
            print(f"policydns export route53: {exc}", file=sys.stderr)
            return EXIT_DATA
    # One complete page, so the output is ListResourceRecordSets' own shape.
    page = {"ResourceRecordSets": rrsets, "IsTruncated": False, "MaxItems": str(len(rrsets))}
    json.dump(page, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


def cmd_override(args: argparse.Namespace) -> int:
    """PUT the override to the running server's API: 0 done, 1 refused or unknown id."""
    import urllib.error
    import urllib.parse
    import urllib.request

    address = args.http
    if address is None:
        try:
            address = load_config(args.config).http
        except LoadFailed as exc:
            return _print_errors(exc)
        if address is None:
            print(
                "policydns override: the config has no http listener; give --http", file=sys.stderr
            )
            return EXIT_USAGE
    headers = {"Content-Type": "application/json"}
    if args.token_file:
        try:
            with open(args.token_file, encoding="utf-8") as f:
                token = f.read(4096).strip()
        except (OSError, UnicodeDecodeError) as exc:
            print(f"policydns override: cannot read {args.token_file}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        headers["Authorization"] = f"Bearer {token}"
    check = urllib.parse.quote(args.check_id, safe="")
    url = f"http://{address}/api/v1/health-checks/{check}/override"
    body = json.dumps({"state": args.state}).encode()
    request = urllib.request.Request(url, body, headers, method="PUT")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            state = json.loads(resp.read(65536))
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read(65536)).get("error", exc.reason)
        except (ValueError, AttributeError):
            message = exc.reason
        print(f"policydns override: {exc.code}: {message}", file=sys.stderr)
        return EXIT_DATA
    except (OSError, ValueError) as exc:
        print(f"policydns override: cannot reach {url}: {exc}", file=sys.stderr)
        return EXIT_DATA
    print(f"{args.check_id}: override {args.state}; probed {state.get('status')}")
    return EXIT_OK


def cmd_unavailable(args: argparse.Namespace) -> int:
    what = " ".join(filter(None, [args.command, getattr(args, "format", None)]))
    print(f"policydns {what}: not available in this version yet", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {
        "serve": cmd_serve,
        "check": cmd_check,
        "explain": cmd_explain,
        "import": cmd_import,
        "export": cmd_export,
        "override": cmd_override,
    }
    return commands.get(args.command, cmd_unavailable)(args)


if __name__ == "__main__":
    sys.exit(main())
