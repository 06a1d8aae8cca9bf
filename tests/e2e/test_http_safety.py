"""The HTTP API against web pages: DNS rebinding, cross-site requests, the token (SPEC 3, 9).

The API listens on loopback, which every browser on the machine can reach. A web page can
make the browser POST a form there (cross-site request forgery), and a name of the
attacker's that resolves to 127.0.0.1 lets its scripts read the answers (DNS rebinding).
Each test starts the real `policydns serve` and speaks HTTP with forged Host, Origin,
Sec-Fetch-Site and Content-Type headers, as such a browser would send them.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.dnshelp import wait_until
from tests.serverproc import HTTP_RE, ServerProcess

pytestmark = pytest.mark.timeout(60)

TOKEN = "file-token-0123456789abcdef"
OWN = object()  # the Host header a plain client sends: the listener's ADDR:PORT

ZONE = """\
zone: safe.test
ttl: 60
records:
  www: [{type: A, values: [192.0.2.1]}]
"""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        assert self.headers.get("Content-Type", "").startswith("application/json"), self.headers
        return json.loads(self.body)


@dataclass
class Api:
    """The server under test and its HTTP listener address."""

    srv: ServerProcess
    host: str
    port: int

    def call(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        host: object = OWN,
        body: bytes | None = None,
    ) -> Reply:
        """One request with exactly these headers (Host forged, or left out with None)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            if host is OWN:
                conn.putheader("Host", f"{self.host}:{self.port}")
            elif host is not None:
                conn.putheader("Host", str(host))
            for key, value in (headers or {}).items():
                conn.putheader(key, value)
            conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders(body)
            resp = conn.getresponse()
            return Reply(resp.status, dict(resp.headers), resp.read())
        finally:
            conn.close()

    def reloads(self) -> int:
        return len(re.findall(r"reloaded safe\.test", self.srv.log()))


@pytest.fixture
def api(start_server, tmp_path: Path):
    """Start the server with a config (text appended to the zones line); return an Api."""

    def go(config: str = "", http: str = "127.0.0.1:0") -> Api:
        zone = tmp_path / "safe.yaml"
        zone.write_text(ZONE)
        path = tmp_path / "policydns.yaml"
        path.write_text(f"zones: [{zone}]\n{config}")
        srv = start_server("--config", str(path), "--listen", "127.0.0.1:0", "--http", http)
        found = wait_until(lambda: HTTP_RE.search(srv.log()), "the `http api on` log line")
        return Api(srv, found.group(1).strip("[]"), int(found.group(2)))

    return go


def raw_http10(api: Api, request: bytes) -> int:
    """Send request bytes as they are (HTTP/1.0, no Host); return the status code."""
    with socket.create_connection((api.host, api.port), timeout=15) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


# -- 14: cross-site state changes --------------------------------------------------------------

CROSS_SITE = [
    pytest.param({"Origin": "http://evil.example"}, id="foreign-origin"),
    pytest.param({"Origin": "null"}, id="opaque-origin"),
    pytest.param({"Origin": "https://127.0.0.1"}, id="other-scheme"),
    pytest.param({"Origin": "http://127.0.0.1:1"}, id="other-port-same-host"),
    pytest.param({"Origin": "http://localhost"}, id="localhost-other-port"),
    pytest.param({"Sec-Fetch-Site": "cross-site"}, id="sec-fetch-cross-site"),
    pytest.param({"Sec-Fetch-Site": "same-site"}, id="sec-fetch-same-site"),
    pytest.param({"Content-Type": "application/x-www-form-urlencoded"}, id="form-urlencoded"),
    pytest.param({"Content-Type": "multipart/form-data; boundary=x"}, id="form-multipart"),
    pytest.param({"Content-Type": "text/plain;charset=UTF-8"}, id="text-plain"),
    pytest.param({"Content-Type": "Text/Plain"}, id="text-plain-mixed-case"),
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_reload_refuses_what_a_cross_site_page_can_send(api, headers: dict[str, str]):
    """Without a token (the default), a page must not be able to make a browser reload."""
    run = api()
    body = b"a=1" if "Content-Type" in headers else None
    reply = run.call("POST", "/api/v1/reload", headers, body=body)
    assert reply.status == 403, (reply.status, reply.body)
    assert "error" in reply.json()
    assert run.reloads() == 0, "a refused request must not reload"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="curl-no-body"),
        pytest.param({"Content-Type": "application/json"}, id="json"),
        pytest.param({"Origin": "same"}, id="same-origin-page"),
        pytest.param({"Sec-Fetch-Site": "same-origin"}, id="sec-fetch-same-origin"),
        pytest.param({"Sec-Fetch-Site": "none"}, id="sec-fetch-none"),
    ],
)
def test_reload_accepts_same_origin_and_plain_clients(api, headers: dict[str, str]):
    run = api()
    if headers.get("Origin") == "same":
        headers = {"Origin": f"http://{run.host}:{run.port}"}
    body = b"{}" if headers.get("Content-Type") == "application/json" else None
    reply = run.call("POST", "/api/v1/reload", headers, body=body)
    assert reply.status == 200, (reply.status, reply.body)
    assert reply.json()["status"] == "ok"
    wait_until(lambda: run.reloads() == 1, "the reload log line")


def test_origin_must_match_the_host_the_request_names(api):
    """A page served as http://localhost:PORT may post to localhost:PORT, not to 127.0.0.1."""
    run = api()
    origin = {"Origin": f"http://localhost:{run.port}"}
    assert run.call("POST", "/api/v1/reload", origin, host=f"localhost:{run.port}").status == 200
    assert run.call("POST", "/api/v1/reload", origin).status == 403


# -- 15: Host header (DNS rebinding) -----------------------------------------------------------

ENDPOINTS = [
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/zones"),
    ("GET", "/api/v1/health-checks"),
    ("GET", "/api/v1/explain?name=www.safe.test"),
    ("GET", "/"),
    ("GET", "/no/such/path"),
    ("POST", "/api/v1/reload"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_foreign_host_is_misdirected_on_every_endpoint(api, method: str, path: str):
    run = api()
    for host in ("evil.example", f"evil.example:{run.port}", f"127.0.0.1.evil.example:{run.port}"):
        reply = run.call(method, path, host=host)
        assert reply.status == 421, (host, reply.status, reply.body)
        assert "http_allowed_hosts" in reply.json()["error"]
    assert run.reloads() == 0


def test_missing_host_is_refused(api):
    """HTTP/1.0 may leave Host out; we refuse it (421). aiohttp answers 400 for HTTP/1.1."""
    run = api()
    assert run.call("GET", "/healthz", host=None).status in (400, 421)
    request = b"GET /api/v1/zones HTTP/1.0\r\n\r\n"
    assert raw_http10(run, request) == 421
    assert raw_http10(run, b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n") == 200


@pytest.mark.parametrize(
    "host",
    ["OWN", "127.0.0.1", "localhost", "LOCALHOST:PORT", "localhost.:PORT", "[::1]:PORT"],
)
def test_loopback_names_are_accepted(api, host: str):
    run = api()
    value = OWN if host == "OWN" else host.replace("PORT", str(run.port))
    reply = run.call("GET", "/api/v1/zones", host=value)
    assert reply.status == 200, (value, reply.status, reply.body)
    assert [z["name"] for z in json.loads(reply.body)] == ["safe.test"]


def test_the_listen_address_is_accepted_and_no_other(api):
    run = api(http="127.0.0.2:0")
    assert run.host == "127.0.0.2"
    assert run.call("GET", "/healthz").status == 200
    assert run.call("GET", "/healthz", host="127.0.0.2").status == 200
    assert run.call("GET", "/healthz", host=f"127.0.0.3:{run.port}").status == 421


def test_http_allowed_hosts_and_reload(api, tmp_path: Path):
    run = api("http_allowed_hosts: [dns.lab.test]\n")
    assert run.call("GET", "/healthz", host=f"dns.lab.test:{run.port}").status == 200
    assert run.call("GET", "/healthz", host="DNS.Lab.Test").status == 200
    assert run.call("GET", "/healthz", host="other.lab.test").status == 421

    config = tmp_path / "policydns.yaml"
    config.write_text(config.read_text().replace("dns.lab.test", "other.lab.test"))
    assert run.call("POST", "/api/v1/reload").status == 200
    assert run.call("GET", "/healthz", host="other.lab.test").status == 200
    assert run.call("GET", "/healthz", host="dns.lab.test").status == 421


# -- 16: the token from a file or a systemd credential ------------------------------------------


def test_token_file_as_a_systemd_credential(api, tmp_path: Path, monkeypatch):
    """`http_token_file: NAME` is $CREDENTIALS_DIRECTORY/NAME under LoadCredential=."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "http-token").write_text(f"  {TOKEN}\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    run = api("http_token_file: http-token\n")

    assert run.call("POST", "/api/v1/reload").status == 401
    wrong = {"Authorization": f"Bearer {TOKEN[:-1]}x"}
    assert run.call("POST", "/api/v1/reload", wrong).status == 401
    right = {"Authorization": f"Bearer {TOKEN}"}
    assert run.call("POST", "/api/v1/reload", right).status == 200
    assert run.call("GET", "/api/v1/zones").status == 200, "reading needs no token"

    # A reload reads the file again: a rotated token takes over at once.
    (credentials / "http-token").write_text("rotated-token-0123456789\n")
    assert run.call("POST", "/api/v1/reload", right).status == 200
    assert run.call("POST", "/api/v1/reload", right).status == 401
    rotated = {"Authorization": "Bearer rotated-token-0123456789"}
    assert run.call("POST", "/api/v1/reload", rotated).status == 200


def test_token_file_next_to_the_config(api, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    (tmp_path / "token").write_text(TOKEN)
    run = api("http_token_file: token\n")
    assert run.call("POST", "/api/v1/reload").status == 401
    assert run.call("POST", "/api/v1/reload", {"Authorization": f"Bearer {TOKEN}"}).status == 200


@pytest.mark.parametrize(("method", "path"), [("PUT", "/api/v1/reload"), ("DELETE", "/x")])
def test_token_guards_every_state_changing_request(api, method: str, path: str):
    """Not only the reload route: any method but GET/HEAD/OPTIONS needs the token."""
    run = api(f"http_token: {TOKEN}\n")
    reply = run.call(method, path)
    assert reply.status == 401, (reply.status, reply.body)
    assert reply.headers.get("WWW-Authenticate", "").lower().startswith("bearer")
    assert run.call(method, path, {"Authorization": f"Bearer {TOKEN}"}).status in (404, 405)


def test_cross_site_is_refused_even_with_the_token(api):
    run = api(f"http_token: {TOKEN}\n")
    headers = {"Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example"}
    assert run.call("POST", "/api/v1/reload", headers).status == 403
    assert run.reloads() == 0
