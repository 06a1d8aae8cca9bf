"""`policydns import bind` / `export bind` exit codes and messages at the edges."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.serverproc import REPO, run_cli


def test_unreadable_file_exits_1_naming_it(tmp_path: Path) -> None:
    result = run_cli("import", "bind", str(tmp_path / "missing.zone"))
    assert result.returncode == 1
    assert f"{tmp_path / 'missing.zone'}:0: file: cannot read it" in result.stderr
    assert result.stdout == ""


def test_relative_names_without_origin_need_zone(tmp_path: Path) -> None:
    path = tmp_path / "r.zone"
    path.write_text("www 60 A 192.0.2.1\n")
    result = run_cli("import", "bind", str(path))
    assert result.returncode == 1
    assert f"{path}:1: www A: relative name and no $ORIGIN" in result.stderr
    result = run_cli("import", "bind", str(path), "--zone", "r.test")
    assert result.returncode == 0, result.stderr
    assert '"www":' in result.stdout and "192.0.2.1" in result.stdout


def test_route53_options_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.zone"
    path.write_text("$ORIGIN r.test.\nwww 60 A 192.0.2.1\n")
    result = run_cli("import", "bind", str(path), "--zone", "r.test", "--health-checks", "x.json")
    assert result.returncode == 2
    assert "--health-checks and --cidr-blocks are for import route53" in result.stderr


def test_export_of_an_unknown_zone_exits_1(tmp_path: Path) -> None:
    result = run_cli("export", "bind", "nowhere.test", "--zones", str(REPO / "zones"))
    assert result.returncode == 1
    assert "policydns export bind: no zone nowhere.test is loaded" in result.stderr


def test_import_reports_but_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "t.zone"
    path.write_text(
        "$ORIGIN t.test.\n@ 60 IN SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n"
        "x LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m\n"
    )
    result = run_cli("import", "bind", str(path))
    assert result.returncode == 0
    assert f"{path}:5: x.t.test. LOC: type LOC is not one the zone format holds" in result.stderr
    assert "1 not imported" in result.stderr
    out = tmp_path / "t.yaml"
    out.write_text(result.stdout)
    check = run_cli("check", "--zones", str(out))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "t.test" in check.stdout and "serial 1" in check.stdout


NAMED_CHECKZONE = shutil.which("named-checkzone") or "/usr/bin/named-checkzone"
KZONECHECK = shutil.which("kzonecheck") or "/usr/bin/kzonecheck"


@pytest.mark.skipif(
    not (os.path.exists(NAMED_CHECKZONE) and os.path.exists(KZONECHECK)),
    reason="named-checkzone (bind9-utils) or kzonecheck (knot-dnssecutils) is not installed;"
    " scripts/test.sh installs both",
)
@pytest.mark.parametrize("path", sorted((REPO / "zones").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_example_exports_to_a_file_both_checkers_accept(
    path: Path, tmp_path: Path
) -> None:
    zone = yaml.safe_load(path.read_text())["zone"]
    result = run_cli("export", "bind", zone, "--zones", str(REPO / "zones"))
    assert result.returncode == 0, result.stderr
    out = tmp_path / f"{zone}.zone"
    out.write_text(result.stdout)
    for cmd in ([NAMED_CHECKZONE, zone, str(out)], [KZONECHECK, "-o", zone, str(out)]):
        checked = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, f"{cmd[0]}:\n{checked.stdout}{checked.stderr}"


def test_a_name_server_without_an_address_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bare.test.yaml"
    path.write_text("zone: bare.test\nttl: 60\nrecords:\n  www: [{type: A, values: [192.0.2.1]}]\n")
    result = run_cli("export", "bind", "bare.test", "--zones", str(path))
    assert result.returncode == 0
    assert (
        f"{path}:1: bare.test. NS: no A or AAAA for the name server ns1.bare.test. is exported"
        in result.stderr
    )
