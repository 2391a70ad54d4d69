"""A service sends nothing to the Hugging Face Hub of its own accord: huggingface_hub's telemetry (which fetches a
list of "AI agents" from the Hub in each process that sends a request) is off unless the user turns it on. The
Hub is a local recorder here (`HF_ENDPOINT`), so what the service asks of it is seen, never sent out."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from infernet_kit.testing.service_fixtures import DevBackendHandle, run_service

from .helpers import post


class _Recorder(http.server.ThreadingHTTPServer):
    """A stand-in Hub that answers 404 to everything and remembers each path asked for."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.paths.append(self.path)
                self.send_error(404)

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def hub() -> Iterator[_Recorder]:
    recorder = _Recorder()
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    yield recorder
    recorder.shutdown()
    recorder.server_close()


@pytest.mark.parametrize(("telemetry", "asked"), [(None, []), ("0", ["/api/agent-harnesses"])])
def test_a_service_asks_the_hub_nothing_unless_telemetry_is_on(
    dev_backend: DevBackendHandle, hub: _Recorder, tmp_path: Path, telemetry: str | None, asked: list[str]
) -> None:
    env = {
        "TGI_INF_WORKFLOW_POSITIONAL_ARGS": f'["{dev_backend.url}", 10]',
        "HF_ENDPOINT": f"http://127.0.0.1:{hub.server_address[1]}",
        "HF_HOME": str(tmp_path / "hf-home"),  # no cached list from an earlier run
    }
    if telemetry is not None:
        env["HF_HUB_DISABLE_TELEMETRY"] = telemetry
    with run_service("tgi", env, tmp_path, workers=1) as service:
        answer = post(service.url, {"source": 1, "destination": 1, "data": {"text": "hi"}})
        assert answer.status_code == 200, answer.text
    assert hub.paths == asked
