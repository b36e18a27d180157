"""First contact with the Hub: downloads through the real huggingface_hub code from a local stand-in
Hub, and every way the network can fail (refused, stalled, no DNS, proxy, HTTP 5xx, rate limit)
ending as one line with the next step, after a single request (no retries)."""

from __future__ import annotations

import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hubserver import FakeHub
from typer.testing import CliRunner

from aikd_cli.cli.app import app
from aikd_cli.errors import WeightsError
from aikd_cli.models import hub, registry
from aikd_cli.models.loading import load_network, resolve_weights

runner = CliRunner()


@pytest.fixture
def online(monkeypatch, hf_cache):
    """Let huggingface_hub use the network (the suite runs with HF_HUB_OFFLINE=1) into a fresh cache, with a 1 s
    timeout; returns a function that points it at an endpoint. huggingface_hub's once-per-process
    look-up of agent names is answered in advance so that it sends nothing anywhere (it goes to the
    endpoint fixed at import, which HF_ENDPOINT set later does not change)."""
    from huggingface_hub import constants
    from huggingface_hub.utils import _http

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("AIKD_HUB_TIMEOUT", "1")
    try:
        from huggingface_hub.utils import _detect_agent

        monkeypatch.setattr(_detect_agent, "_registry", {"harnesses": {}, "standardEnvVars": []})
    except (ImportError, AttributeError):
        pass

    def point(endpoint: str) -> None:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        _http.close_session()  # a new client picks up proxy variables

    yield point
    _http.close_session()


class _Answer(BaseHTTPRequestHandler):
    status = 503

    def log_message(self, *args) -> None:
        pass

    def _reply(self) -> None:
        self.server.seen.append((self.command, self.path))  # type: ignore[attr-defined]
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = _reply


@pytest.fixture
def answering():
    """A local server that answers every request with one HTTP status."""
    servers = []

    def start(status: int) -> ThreadingHTTPServer:
        handler = type("Handler", (_Answer,), {"status": status})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.seen = []  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def stalling():
    """A local server that accepts connections and never answers; counts the connections."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", accepted
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    sock.close()


def _refused_endpoint() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    return f"http://127.0.0.1:{port}"


# ediffiqa-t: a pinned file (HEAD + download); ediffiqa-s: an unpinned file (repo listing first)
NAMES = ["ediffiqa-t", "ediffiqa-s"]


@pytest.mark.parametrize("name", NAMES)
def test_refused_connection_is_one_line(online, name):
    online(_refused_endpoint())
    with pytest.raises(WeightsError, match="cannot be reached: the connection was refused") as info:
        resolve_weights(name)
    assert "hf download" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_unresolvable_host_name_is_one_line(online, name):
    online("https://aikd-no-such-host.invalid")
    with pytest.raises(WeightsError, match="host name cannot be resolved"):
        resolve_weights(name)


@pytest.mark.parametrize("name", NAMES)
def test_stalled_server_times_out_once(online, stalling, name):
    endpoint, accepted = stalling
    online(endpoint)
    with pytest.raises(WeightsError, match="no answer within 1 s"):
        resolve_weights(name)
    assert len(accepted) == 1  # one request, no retries


@pytest.mark.parametrize("status,words", [(503, "answered HTTP 503"), (500, "answered HTTP 500"),
                                           (429, "rate-limiting this machine")])
@pytest.mark.parametrize("name", NAMES)
def test_server_errors_and_rate_limits_are_not_retried(online, answering, name, status, words):
    server = answering(status)
    online(f"http://127.0.0.1:{server.server_address[1]}")
    with pytest.raises(WeightsError, match=words) as info:
        resolve_weights(name)
    assert len(server.seen) == 1, server.seen
    if status == 429:
        assert "hf auth login" in str(info.value)


def test_failing_proxy_is_one_line(online, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", _refused_endpoint())
    monkeypatch.setenv("http_proxy", _refused_endpoint())
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    online("http://hub.example.org")
    with pytest.raises(WeightsError, match="cannot be reached: .*through the proxy http://127.0.0.1:"):
        resolve_weights("ediffiqa-t")


def test_first_command_without_network_explains_itself(online, tmp_path):
    """The README's first example with no network and HF_HUB_OFFLINE unset: exit 2, an error line
    and a hint line, no traceback."""
    online("https://aikd-no-such-host.invalid")
    (tmp_path / "photo.jpg").write_bytes(b"not decoded: the model is loaded first")
    result = runner.invoke(app, ["score", str(tmp_path / "photo.jpg"), "-o", str(tmp_path / "scores.csv")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    # every missing weights file of the command in one line, with the option that takes a local file
    assert lines[0].startswith("error: 2 weights this command needs are missing")
    assert "LSIbabnikz/eDifFIQA_L: not in the local Hugging Face cache" in lines[0]
    assert "ediffiqa-l (--model)" in lines[0] and "retinaface-mnet025 (--detector)" in lines[0]
    assert "host name cannot be resolved" in lines[0] and lines[-1].startswith("hint:")
    assert "Traceback" not in result.output and not (tmp_path / "scores.csv").exists()


def _test_spec(name: str, repo_id: str, data: bytes, **changes) -> registry.WeightsSpec:
    base = registry.get_spec("retinaface-mnet025")
    fields = dict(name=name, repo_id=repo_id, filename="w.pth", revision=None,
                  sha256=hashlib.sha256(data).hexdigest(), size=len(data), commercial=False,
                  license="CC-BY-NC-4.0")
    import dataclasses

    return dataclasses.replace(base, **{**fields, **changes})


@pytest.fixture
def fake_hub(online):
    with FakeHub() as fake:
        online(fake.endpoint)
        yield fake


def test_download_from_the_hub_verifies_and_notes_the_licence_once(fake_hub, retinaface_weights, caplog):
    data = retinaface_weights.read_bytes()
    commit = fake_hub.serve("someone/detector", {"w.pth": data})
    spec = registry.register(_test_spec("test-nc-detector", "someone/detector", data, revision=commit))
    try:
        with caplog.at_level("WARNING"):
            first = resolve_weights("test-nc-detector")
        notices = [r.getMessage() for r in caplog.records if "licence" in r.getMessage()]
        assert len(notices) == 1 and "non-commercial" in notices[0]
        assert load_network("test-nc-detector", expect="detection").config.arch == "retinaface-mnet025"
        caplog.clear()
        asked = len(fake_hub.requests)
        again = resolve_weights("test-nc-detector")
        assert again.path == first.path and not caplog.records
        assert len(fake_hub.requests) == asked  # pinned and cached: the Hub is not asked again
    finally:
        registry.unregister(spec.name)


def test_tampered_download_is_refused(fake_hub, retinaface_weights):
    data = retinaface_weights.read_bytes()
    fake_hub.serve("someone/tampered", {"w.pth": data[:-1] + bytes([data[-1] ^ 1])})
    spec = registry.register(_test_spec("test-tampered", "someone/tampered", data, revision="main"))
    try:
        with pytest.raises(WeightsError, match="checksum mismatch"):
            resolve_weights("test-tampered")
    finally:
        registry.unregister(spec.name)


def test_unpinned_repo_is_listed_with_one_request(fake_hub, tiny_quality_checkpoint):
    fake_hub.serve("someone/fiqa", {"README.md": b"# card", "weights/model.pth": tiny_quality_checkpoint.read_bytes()})
    loaded = load_network("hf://someone/fiqa", expect="quality")
    assert loaded.layout == "ediffiqa"
    listings = [path for method, path, _ in fake_hub.requests if path.startswith("/api/models/")]
    assert len(listings) == 1
    assert hub.list_files("someone/fiqa") == ["README.md", "weights/model.pth"]
