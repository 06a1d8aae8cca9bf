"""The HTTP listener's config keys (SPEC 3): http_token_file and http_allowed_hosts.

The token may live in its own file (or a systemd credential) so that the config file can
stay world-readable; every way that file can be wrong is an error at the key's line.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from resolver.config import load_config
from resolver.errors import LoadError, LoadFailed

TOKEN = "0123456789abcdef-token"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policydns.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def errors_of(path: Path) -> list[LoadError]:
    with pytest.raises(LoadFailed) as info:
        load_config(str(path))
    return info.value.errors


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


def test_token_file_absolute(tmp_path: Path):
    secret = tmp_path / "secret"
    secret.write_text(f"\n  {TOKEN}\t\n")
    config = load_config(str(write(tmp_path, f"ecs: true\nhttp_token_file: {secret}\n")))
    assert config.http_token == TOKEN


def test_token_file_relative_to_the_config_without_credentials(tmp_path: Path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "http-token").write_text(TOKEN)
    path = tmp_path / "etc" / "policydns.yaml"
    path.write_text("http_token_file: http-token\n")
    assert load_config(str(path)).http_token == TOKEN


def test_token_file_relative_to_credentials_directory(tmp_path: Path, monkeypatch):
    (tmp_path / "http-token").write_text("not-this-one-0123456789")
    credentials = tmp_path / "run-credentials"
    credentials.mkdir()
    (credentials / "http-token").write_text(TOKEN)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    config = load_config(str(write(tmp_path, "http_token_file: http-token\n")))
    assert config.http_token == TOKEN


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(None, "cannot read", id="missing"),
        pytest.param("short-token\n", "at least 16", id="too-short"),
        pytest.param("   \n", "at least 16", id="empty"),
        pytest.param("0123456789abcdef 0123456789abcdef\n", "without spaces", id="two-words"),
        pytest.param(b"\xff\xfe0123456789abcdef", "utf-8", id="binary"),
        pytest.param("x" * 5000, "too long", id="huge"),
    ],
)
def test_bad_token_file_is_an_error_at_its_line(tmp_path: Path, content, reason: str):
    secret = tmp_path / "secret"
    if isinstance(content, bytes):
        secret.write_bytes(content)
    elif content is not None:
        secret.write_text(content)
    path = write(tmp_path, f"ecs: true\nhttp_token_file: {secret}\n")
    (error,) = errors_of(path)
    assert (error.file, error.line, error.what) == (str(path), 2, "http_token_file")
    assert reason.lower() in error.reason.lower(), error
    assert TOKEN not in str(error)


def test_unreadable_token_file_directory(tmp_path: Path):
    path = write(tmp_path, f"http_token_file: {tmp_path}\n")
    (error,) = errors_of(path)
    assert error.line == 1 and "cannot read" in error.reason


def test_token_and_token_file_are_exclusive(tmp_path: Path):
    secret = tmp_path / "secret"
    secret.write_text(TOKEN)
    path = write(tmp_path, f"http_token: {TOKEN}\nhttp_token_file: {secret}\n")
    (error,) = errors_of(path)
    assert (error.line, error.what) == (2, "http_token_file")
    assert "not both" in error.reason


def test_allowed_hosts_normalized(tmp_path: Path):
    path = write(tmp_path, 'http_allowed_hosts: [DNS.Lab.Test., "::1", "[fe80::1]", 10.0.0.5]\n')
    config = load_config(str(path))
    assert config.http_allowed_hosts == ("dns.lab.test", "[::1]", "[fe80::1]", "10.0.0.5")


@pytest.mark.parametrize(
    "value",
    ['"dns.lab.test:8053"', '"http://dns.lab.test"', '"*.lab.test"', '""', "5", '"a b"'],
)
def test_bad_allowed_host_is_an_error(tmp_path: Path, value: str):
    path = write(tmp_path, f"ecs: true\nhttp_allowed_hosts: [{value}]\n")
    (error,) = errors_of(path)
    assert (error.line, error.what) == (2, "http_allowed_hosts")


def test_allowed_hosts_default_empty(tmp_path: Path):
    assert load_config(str(write(tmp_path, "ecs: true\n"))).http_allowed_hosts == ()
