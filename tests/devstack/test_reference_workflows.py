"""Ritual's own client code works unmodified on the dev backend: infernet-ml 2.0's `TGIClientInferenceWorkflow`
(text-generation 0.7, which always asks for `details`) and `HFInferenceClientWorkflow` (huggingface_hub 0.25: a
bare `{"inputs"}` for token classification and summarization, `GET /api/tasks` for default models), run in the
official-client virtualenv `make setup` builds, with every answer compared to the fake models'."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from infernet_kit.devstack import fake_models
from infernet_kit.paths import project_root
from infernet_kit.protocol import hf
from infernet_kit.testing.service_fixtures import DevBackendHandle

SCRIPT = Path(__file__).with_name("reference_workflows.py")
PROMPT = "Is the sky blue during a clear day?"
TEXT = "Alice met Bob in Paris. the weather was fine and everyone was happy about it all day long"


def _compat_python() -> Path:
    venv = project_root() / ".venv-compat" / "infernet-client-1.4"
    assert (venv / ".kit-installed").exists(), f"{venv} is missing: run `make setup`"
    return venv / "bin" / "python"


def test_infernet_ml_workflows_run_unmodified_on_the_dev_backend(dev_backend: DevBackendHandle) -> None:
    dev_backend.reset()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"HF_ENDPOINT": dev_backend.url, "HF_INFERENCE_ENDPOINT": dev_backend.url, "HF_HUB_OFFLINE": "0"}
    result = subprocess.run(
        [str(_compat_python()), str(SCRIPT), dev_backend.url], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])

    assert out["tgi"] == fake_models.generate(PROMPT, 30)
    assert out["tgi_stream"] == fake_models.generate(PROMPT, 30)
    default = hf.DEFAULT_MODELS
    assert out["text_generation"] == fake_models.generate(PROMPT, 20, default["text_generation"])
    assert out["text_classification"] == fake_models.classify(TEXT)
    for name in ("token_classification", "token_classification_by_model"):
        assert out[name] == fake_models.token_classify(TEXT), name
    for name in ("summarization", "summarization_by_model"):
        assert out[name] == fake_models.summarize(TEXT), name
    # TGI: the setup call, the answer and the stream all post to the server URL. HF: the requests naming no
    # model went to the default model the backend's `GET /api/tasks` gave.
    assert dev_backend.http.get(f"{dev_backend.url}/_control/stats").json()["by_path"] == {
        "/": 3,
        f"/models/{default['text_generation']}": 1,
        f"/models/{default['text_classification']}": 1,
        f"/models/{default['token_classification']}": 2,
        f"/models/{default['summarization']}": 2,
    }
