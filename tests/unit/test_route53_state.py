"""The state directory: file names no zone can abuse, atomic writes that leave no
temporary files, and a start that survives a crash between two of a change's files."""

from __future__ import annotations

import json
from pathlib import Path

from resolver.assemble import load_all
from resolver.config import Config
from resolver.route53.settings import Route53Settings
from resolver.route53.store import FileStore, file_name

HC = "5b2829f6-1537-4280-8a35-2a5c70f6088f"


def test_file_names_stay_inside_the_directory() -> None:
    assert file_name("Example.COM.") == "example.com.yaml"
    assert file_name("a/b.test.") == "a%2Fb.test.yaml"
    assert file_name("..") == "root.yaml"
    assert file_name(".hidden.test.")[0] != "."
    assert "/" not in file_name("../../etc/passwd.")


def test_writes_are_whole_and_leave_no_temporary_file(tmp_path: Path) -> None:
    store = FileStore(str(tmp_path / "state"))
    path = Path(store.write_zone("w.test.", "zone: w.test\nrecords: {}\n"))
    store.write_zone("w.test.", "zone: w.test\nttl: 60\nrecords: {}\n")
    assert path.read_text() == "zone: w.test\nttl: 60\nrecords: {}\n"
    store.write_resources({"health_checks": {}})
    assert json.loads((tmp_path / "state" / "resources.json").read_text()) == {"health_checks": {}}
    leftovers = [p.name for p in (tmp_path / "state").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    (tmp_path / "state" / "zones" / ".w.test.yaml.123.tmp").write_text("half a zo")
    FileStore(str(tmp_path / "state"))  # a start removes what a crash left
    assert not (tmp_path / "state" / "zones" / ".w.test.yaml.123.tmp").exists()
    store.delete_zone("w.test.")
    assert not path.exists()


def test_the_definitions_win_over_a_stale_copy_in_an_api_zone_file(tmp_path: Path) -> None:
    """UpdateHealthCheck writes resources.json, then each zone file with a copy: a crash in
    between leaves an old copy, which the next start replaces instead of failing."""
    state = tmp_path / "state"
    store = FileStore(str(state))
    config_now = {"Type": "TCP", "IPAddress": "127.0.0.1", "Port": 81, "RequestInterval": 30}
    store.write_resources(
        {
            "health_checks": {
                HC: {
                    "CallerReference": "r",
                    "HealthCheckVersion": 2,
                    "HealthCheckConfig": config_now,
                }
            }
        }
    )
    store.write_zone(
        "w.test.",
        "zone: w.test\nhealth_checks:\n"
        f'  "{HC}": {{"type": "tcp", "target": "127.0.0.1", "port": 80}}\n'
        "records:\n"
        f'  "www": [{{"type": "A", "values": ["192.0.2.1"], "health_check": "{HC}"}}]\n',
    )
    config = Config(zones=(), route53=Route53Settings(str(state), {"AKID": "x" * 20}))
    loaded = load_all(config)
    assert loaded.zone_set.health_checks[HC].port == 81
