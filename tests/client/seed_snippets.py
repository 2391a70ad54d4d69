"""The seeds' usage examples, copied word for word from /work/shared/seeds, and a runner for them.

The only edits the tests make are the ones a user makes: the node's and chain's URLs and the placeholders
(`0x...`) the seeds leave for the user to fill in.
"""

from __future__ import annotations

from infernet_kit.testing.snippets import run_python_snippet

__all__ = ["adapt", "run_python_snippet"]

TGI_OFFCHAIN_PYTHON = """\
from infernet_client.node import NodeClient

client = NodeClient("http://127.0.0.1:4000")
job_id = await client.request_job(
    "tgi_client_inference_service",
    {
        "text": "Is the sky blue during a clear day?",
    },
)

result: str = (await client.get_job_result_sync(job_id))["result"]["output"]
"""

HF_OFFCHAIN_PYTHON = """\
from infernet_client.node import NodeClient

client = NodeClient("http://127.0.0.1:4000")
job_id = await client.request_job(
    "hf_inference_client_service",
    {
        # HFTaskId.TEXT_GENERATION
        "task_id": 1,
        "prompt": "Is the sky ",
        "model": "Qwen/Qwen2.5-72B-Instruct", # optional
    },
)

# result should be "4"
result: str = (await client.get_job_result_sync(job_id))["result"]["output"]
"""

TGI_OFFCHAIN_CURL = """\
curl -X POST http://127.0.0.1:4000/api/jobs \\
    -H "Content-Type: application/json" \\
    -d '{"containers": ["tgi_client_inference_service"], "data": {"text": "Is the sky blue during a clear day?"}}'
"""

HF_OFFCHAIN_CURL = """\
curl -X POST http://127.0.0.1:4000/api/jobs \\
    -H "Content-Type: application/json" \\
    -d '{"containers": ["hf_inference_client_service"], "data": {"task_id": 1, "prompt": "Is the sky blue during a clear day?", "model": "Qwen/Qwen2.5-72B-Instruct"}}'
"""  # noqa: E501

CLI_JOB = "infernet-client job -c {container} -i input.json --sync"
CLI_SUB = (
    "infernet-client sub --rpc_url http://some-rpc-url.com --address 0x.. --expiry 1713376164 --key key-file.txt "
    "--params params.json --input input.json"
)

TGI_INPUT_JSON = """\
{
    "text": "Is the sky blue during a clear day?"
}
"""

HF_INPUT_JSON = """\
{
    "task_id": 1,
    "prompt": "Is the sky blue during a clear day?",
    "model": "Qwen/Qwen2.5-72B-Instruct"
}
"""

# Seed 001's delegated input.json, odd indentation and trailing comma included.
HF_DELEGATED_INPUT_JSON = """\
{
"task_id": 1,
    "prompt": "Is the sky blue during a clear day?",
}
"""

PARAMS_JSON = """\
{
    "owner": "0x00Bd138aBD7....................", // Subscription Owner
    "active_at": 0, // Instantly active
    "period": 3, // 3 seconds between intervals
    "frequency": 2, // Process 2 times
    "redundancy": 2, // 2 nodes respond each time
    "containers": ["tgi_client_inference_service"], // comma-separated list of containers
    "lazy": false,
    "verifier": "0x0000000000000000000000000000000000000000",
    "payment_amount": 0,
    "payment_token": "0x0000000000000000000000000000000000000000",
    "wallet": "0x0000000000000000000000000000000000000000",
}
"""

# As printed, except the comma the seed forgot after `rpc=RPC("http://127.0.0.1:8545")`.
TGI_DELEGATED_PYTHON = """\
from infernet_client.node import NodeClient
from infernet_client.chain_utils import Subscription, RPC

sub = Subscription(
    owner="0x...",
    active_at=int(time()),
    period=0,
    frequency=1,
    redundancy=1,
    containers=["tgi_client_inference_service"],
    lazy=False,
    verifier=ZERO_ADDRESS,
    payment_amount=0,
    payment_token=ZERO_ADDRESS,
    wallet=ZERO_ADDRESS,
)

client = NodeClient("http://127.0.0.1:4000")
nonce = random.randint(0, 2**32 - 1)
await client.request_delegated_subscription(
    sub=sub,
    rpc=RPC("http://127.0.0.1:8545"),
    coordinator_address=global_config.coordinator_address,
    expiry=int(time() + 10),
    nonce=nonce,
    private_key="0x...",
    data={
        "text": "Is the sky blue during a clear day?"
    },
)
"""


def adapt(text: str, replacements: dict[str, str]) -> str:
    """The snippet with the user's values in place of the seed's placeholders (the import path and the
    `infernet-client` command are the seeds' own: the kit provides both)."""
    for old, new in replacements.items():
        assert old in text, f"{old!r} is not in the snippet"
        text = text.replace(old, new)
    return text
