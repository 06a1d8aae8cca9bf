"""The `route53:` config section: the API stays off without it, every secret comes
from its own file, and each mistake is an error at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver.config import load_config
from resolver.errors import LoadFailed

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "policydns.yaml"
    path.write_text(text)
    return str(path)


def test_absent_means_off(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "ecs: true\n")).route53 is None


def test_secrets_are_read_and_relative_names_resolve_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "k1.secret").write_text(SECRET + "\n")
    (tmp_path / "k2.secret").write_text("another-secret-0123456789")
    config = load_config(
        write(
            tmp_path,
            "route53:\n  state_dir: state\n  credentials:\n"
            "    AKIAEXAMPLEKEY: k1.secret\n"
            f"    AKIDSECOND000001: {tmp_path / 'k2.secret'}\n",
        )
    )
    assert config.route53 is not None
    assert config.route53.state_dir == str(tmp_path / "state")
    assert config.route53.secrets == {
        "AKIAEXAMPLEKEY": SECRET,
        "AKIDSECOND000001": "another-secret-0123456789",
    }
    assert SECRET not in repr(config)  # secrets never reach a log line through repr


@pytest.mark.parametrize(
    ("body", "line", "what", "reason"),
    [
        ("  credentials: {AKIAEXAMPLEKEY: k.secret}\n", 2, "route53.state_dir", "directory"),
        ("  state_dir: s\n", 2, "route53.credentials", "access key ids"),
        ("  state_dir: s\n  credentials: {}\n", 3, "route53.credentials", "access key ids"),
        (
            "  state_dir: s\n  credentials:\n    AKIAEXAMPLEKEY: missing.secret\n",
            4,
            "route53.credentials.AKIAEXAMPLEKEY",
            "cannot read",
        ),
        (
            "  state_dir: s\n  credentials:\n    AKIAEXAMPLEKEY: short.secret\n",
            4,
            "route53.credentials.AKIAEXAMPLEKEY",
            "at least 16",
        ),
        (
            "  state_dir: s\n  credentials:\n    'bad key!': k.secret\n",
            4,
            "route53.credentials.bad key!",
            "access key id",
        ),
        ("  state_dir: s\n  colour: red\n  credentials: {A: k.secret}\n", 3, "route53.colour", ""),
    ],
)
def test_errors_name_their_line(tmp_path: Path, body: str, line: int, what: str, reason: str):
    (tmp_path / "k.secret").write_text(SECRET)
    (tmp_path / "short.secret").write_text("short")
    with pytest.raises(LoadFailed) as info:
        load_config(write(tmp_path, "route53:\n" + body))
    found = [(e.line, e.what) for e in info.value.errors]
    assert (line, what) in found, info.value.errors
    assert any(reason in e.reason for e in info.value.errors)
