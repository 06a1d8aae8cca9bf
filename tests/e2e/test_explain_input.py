"""Bad questions to `explain` (SPEC 2, 9): 400 from the API, exit 2 from the CLI, never a crash.

The type, name, client and subnet come straight from a URL or a command line; anything
DNS cannot carry must be refused with a message, not turned into a 500 and a traceback.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.serverproc import run_cli

pytestmark = pytest.mark.timeout(60)

ZONE = """\
zone: ask.test
ttl: 60
records:
  www: [{type: A, values: [192.0.2.1]}]
"""

# (query parameters, a word the message must contain)
BAD = [
    pytest.param({"type": "TYPE" + "9" * 5000}, "type", id="type-thousands-of-digits"),
    pytest.param({"type": "TYPE65536"}, "type", id="type-above-65535"),
    pytest.param({"type": "TYPE99999"}, "type", id="type-99999"),
    pytest.param({"type": "TYPE\u00b2"}, "type", id="type-unicode-digit"),
    pytest.param({"type": "TYPE-1"}, "type", id="type-negative"),
    pytest.param({"type": "garbage"}, "type", id="type-garbage"),
    pytest.param({"name": "a." * 130 + "ask.test"}, "name", id="name-over-255-octets"),
    pytest.param({"name": "x" * 64 + ".ask.test"}, "name", id="label-over-63"),
    pytest.param({"name": "x" * 3000}, "name", id="name-huge"),
    pytest.param({"name": "bad..ask.test"}, "name", id="empty-label"),
    pytest.param({"subnet": "10.0.0.0/33"}, "subnet", id="subnet-prefix-too-long"),
    pytest.param({"subnet": "nonsense"}, "subnet", id="subnet-garbage"),
    pytest.param({"subnet": "1" * 5000}, "subnet", id="subnet-huge"),
    pytest.param({"client": "10.0.0.1/24"}, "client", id="client-with-prefix"),
    pytest.param({"client": "nonsense"}, "client", id="client-garbage"),
]


@pytest.fixture(scope="module")
def zone_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("zones")
    (directory / "ask.yaml").write_text(ZONE)
    return directory


@pytest.fixture(scope="module")
def api(zone_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    from tests.serverproc import ServerProcess

    srv = ServerProcess(
        ["--zones", str(zone_dir), "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"]
    )
    srv.start(tmp_path_factory.mktemp("server") / "server.log")
    yield srv, f"http://127.0.0.1:{srv.http_port()}"
    srv.stop()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=15) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.mark.parametrize(("params", "word"), BAD)
def test_api_explain_bad_input_is_400(api, params: dict[str, str], word: str):
    srv, base = api
    query = {"name": "www.ask.test", **params}
    status, body = get(f"{base}/api/v1/explain?{urllib.parse.urlencode(query)}")
    assert status == 400, (status, body[:300])
    message = json.loads(body)["error"]
    assert word in message.lower(), message
    assert len(message) < 300, "the message must not echo a huge input back"
    assert "Traceback" not in srv.log()


def test_api_explain_generic_type_in_range_works(api):
    _, base = api
    status, body = get(f"{base}/api/v1/explain?name=www.ask.test&type=TYPE65535")
    assert status == 200, body
    assert json.loads(body)["rcode"] == "NOERROR"


@pytest.mark.parametrize(("params", "word"), BAD)
def test_cli_explain_bad_input_exits_2(zone_dir: Path, params: dict[str, str], word: str):
    args = [params.get("name", "www.ask.test"), params.get("type", "A")]
    for option in ("client", "subnet"):
        if option in params:
            args += [f"--{option}", params[option]]
    done = run_cli("explain", *args, "--zones", str(zone_dir), timeout=30)
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("policydns explain: "), done.stderr[:300]
    assert word in done.stderr.lower()
