"""Run by the official infernet-client 1.4 (in its own virtualenv) against our node; prints what it got as JSON.

Usage: python official_client.py NODE_URL
"""

import asyncio
import json
import sys

from infernet_client.error import APIError
from infernet_client.node import NodeClient

TGI = "tgi_client_inference_service"
HF = "hf_inference_client_service"
PROMPT = "Is the sky blue during a clear day?"


async def main(url: str) -> None:
    client = NodeClient(url)
    out = {}
    out["health"] = await client.health()
    out["info"] = await client.get_info(timeout=10)
    out["resources"] = await client.get_resources(timeout=10)
    out["model_support"] = await client.check_model_support("acme/unknown-model", timeout=10)
    job_id = await client.request_job({"containers": [TGI], "data": {"text": PROMPT}})
    out["job_id"] = job_id
    out["result"] = await client.get_job_result_sync(job_id, retries=20)
    out["batch"] = await client.request_jobs(
        [
            {"containers": [HF], "data": {"task_id": 2, "text": "Alice went to Paris."}},
            {"containers": ["no_such_container"], "data": {}},
        ]
    )
    await asyncio.sleep(1)
    out["batch_results"] = await client.get_job_results([out["batch"][0]["id"]], intermediate=True)
    out["ids"] = await client.get_jobs()
    out["pending_ids"] = await client.get_jobs(pending=True)
    chunks = []
    async for chunk in client.request_stream({"containers": [TGI], "data": {"text": PROMPT}}):
        chunks.append(chunk if isinstance(chunk, str) else chunk.decode())
    out["stream"] = chunks
    try:
        await client.request_job({"containers": ["no_such_container"], "data": {}})
    except APIError as error:
        out["error"] = {"status": error.status_code, "message": error.message, "params": error.params}
    await client.record_status("recorded-by-client", "success", {"containers": [TGI], "data": {}})
    out["recorded"] = await client.get_job_results(["recorded-by-client"])
    print(json.dumps(out))


asyncio.run(main(sys.argv[1]))
