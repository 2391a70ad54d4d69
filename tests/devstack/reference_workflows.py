"""Run by tests/devstack/test_reference_workflows.py in the official-client virtualenv (.venv-compat), never
imported by the kit: infernet-ml 2.0's TGI client and HF inference client workflows, what Ritual's reference
services call, unmodified against the dev backend. Usage: python reference_workflows.py BACKEND_URL; the HF
workflow reads HF_ENDPOINT and HF_INFERENCE_ENDPOINT (set to the backend by the test). Prints one JSON line."""

import json
import sys

from infernet_ml.utils.hf_types import (
    HFClassificationInferenceInput,
    HFSummarizationInferenceInput,
    HFTextGenerationInferenceInput,
    HFTokenClassificationInferenceInput,
)
from infernet_ml.workflows.inference.hf_inference_client_workflow import HFInferenceClientWorkflow
from infernet_ml.workflows.inference.tgi_client_inference_workflow import (
    TGIClientInferenceWorkflow,
    TgiInferenceRequest,
)

PROMPT = "Is the sky blue during a clear day?"
TEXT = "Alice met Bob in Paris. the weather was fine and everyone was happy about it all day long"


def main(backend: str) -> None:
    tgi = TGIClientInferenceWorkflow(backend, 30, max_new_tokens=30, temperature=0.01)
    tgi.setup()  # Ritual's service does this at start: one generate("hello"), which reads `details`
    request = TgiInferenceRequest(text=PROMPT)
    out = {
        "tgi": tgi.inference(request),
        "tgi_stream": "".join(event.token.text for event in tgi.stream(request)),
    }
    hf = HFInferenceClientWorkflow()
    hf.setup()
    inputs = {
        "text_generation": HFTextGenerationInferenceInput(prompt=PROMPT),
        "text_classification": HFClassificationInferenceInput(text=TEXT),
        "token_classification": HFTokenClassificationInferenceInput(text=TEXT),
        "summarization": HFSummarizationInferenceInput(text=TEXT),
        "token_classification_by_model": HFTokenClassificationInferenceInput(text=TEXT, model="dslim/bert-base-NER"),
        "summarization_by_model": HFSummarizationInferenceInput(text=TEXT, model="facebook/bart-large-cnn"),
    }
    for name, hf_input in inputs.items():
        output = hf.inference(hf_input)["output"]
        out[name] = output if isinstance(output, str) else _plain(output)
    print(json.dumps(out))


def _plain(output):
    """huggingface_hub's output dataclasses as JSON values, None fields left out."""
    if isinstance(output, list):
        return [_plain(item) for item in output]
    return {key: value for key, value in vars(output).items() if value is not None}


if __name__ == "__main__":
    main(sys.argv[1])
