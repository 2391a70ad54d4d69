"""The live dashboard in a real headless browser (Debian's chromium driven by Playwright), and the event feed
it reads (`GET /api/events`) over real HTTP: a real node on the session anvil, the real TGI service in front of
the dev backend.

The page is opened before the request is sent, so what it shows came live over the event stream. What it shows
at the end, passed or failed, is written to `.kit/dashboard-test.png` (the path is printed);
`make dashboard-screenshot` writes `docs/dashboard.png`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from eth_abi.abi import encode
from playwright.sync_api import Browser, Page, expect, sync_playwright

from infernet_kit.chain.accounts import USER, dev_account
from infernet_kit.chain.deploy import Deployment
from infernet_kit.chain.transactions import connect
from infernet_kit.chain.watch import wait_for_fulfillments
from infernet_kit.devstack import fake_models
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.node.events import MAX_READERS
from infernet_kit.paths import state_dir
from infernet_kit.polling import wait_until
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.chain_node_fixtures import ChainNode, ChainNodeFactory, request_compute
from infernet_kit.testing.node_fixtures import NodeLauncher, node_container, wait_for_job

TGI = "tgi_client_inference_service"
PROMPT = "Is the sky blue during a clear day?"
WAIT_MS = 20_000  # for what the page shows (a loaded machine is slow to start a browser)
SCREENSHOT = "dashboard-test.png"  # in the state dir (`.kit/`, which git ignores)
SCREENSHOT_ENV = "INFERNET_KIT_DASHBOARD_PNG"  # also write the screenshot there (`make dashboard-screenshot`)


@pytest.fixture(scope="module")
def node(node_launcher: NodeLauncher, anvil: Anvil, infernet_deployment: Deployment, tgi_service: str) -> ChainNode:
    start = ChainNodeFactory(node_launcher, anvil, infernet_deployment)
    return start(containers=[node_container(TGI, tgi_service)], server={"rate_limit": {"num_requests": 100_000}})


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian's chromium is not installed: run `make setup`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page; what it shows at the end, passed or failed, is written to `.kit/dashboard-test.png`."""
    context = browser.new_context(viewport={"width": 1500, "height": 900})
    opened = context.new_page()
    yield opened
    shot = state_dir() / SCREENSHOT
    opened.screenshot(path=str(shot), full_page=True)
    print(f"dashboard screenshot: {shot}")
    context.close()


def events(url: str) -> list[tuple[str, Any]]:
    """The (event, data) pairs of `GET /api/events?follow=false`: the snapshot only."""
    response = httpx_calls.get(f"{url}/api/events", params={"follow": "false"}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    pairs = []
    for block in response.text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in fields:
            pairs.append((fields["event"], json.loads(fields["data"])))
    return pairs


def test_page_shows_a_callback_request_live(node: ChainNode, page: Page, infernet_deployment: Deployment) -> None:
    page.goto(f"{node.url}/dashboard")
    # The snapshot came: the page follows the feed before the request is sent.
    expect(page.locator("#live")).to_have_text("live", timeout=WAIT_MS)

    user = connect(node.chain.url, dev_account(USER).key.to_0x_hex())
    coordinator = infernet_deployment.contract(user, "EIP712Coordinator")
    consumer = infernet_deployment.contract(user, "TGICallbackConsumer")
    sub_id, block = request_compute(coordinator, consumer.functions.chatWithLLM(encode(["string"], [PROMPT])))
    [fulfilled] = wait_for_fulfillments(coordinator, sub_id, from_block=block)
    tx = fulfilled["transactionHash"].to_0x_hex()
    answer = fake_models.generate(PROMPT)
    assert fulfilled["args"]["node"] == node.address

    row = page.locator(f'#subscriptions tr[data-sub="{sub_id}"]')
    expect(row).to_contain_text(re.compile("tracked|finished"), timeout=WAIT_MS)
    expect(row.locator(".answer")).to_have_text(answer)
    expect(row.locator(".deliveries")).to_have_text("this node: 1 · redundancy 1")  # from the chain's logs
    delivery = page.locator(f'#transactions tr[data-tx="{tx}"]')
    expect(delivery).to_contain_text("delivered")
    expect(delivery).to_contain_text(f"input: {PROMPT}")
    gas = int(node.chain.w3.eth.get_transaction_receipt(tx)["gasUsed"])
    expect(delivery).to_contain_text(f"{gas:,}")
    [created] = [e for e in coordinator.events.SubscriptionCreated().get_logs(from_block=block) if e.args.id == sub_id]
    request = created["transactionHash"].to_0x_hex()
    expect(delivery.locator(".request")).to_have_attribute("title", request)  # the request that led to it
    callback = page.locator('#path li[data-step="callback"]')
    expect(callback).to_contain_text(f"answer: {answer}")
    expect(callback).to_contain_text(f"block {fulfilled['blockNumber']}")
    expect(page.locator('#path li[data-step="backend"]')).to_contain_text(f"ms (for {TGI})")

    # An off-chain job appears live too, with its input and decoded output, and becomes the path drawn...
    job = {"containers": [TGI], "data": {"text": "Why is the sea salty?"}}
    job_id = httpx_calls.post(f"{node.url}/api/jobs", json=job, timeout=10).json()["id"]
    job_row = page.locator(f'#jobs tr[data-job="{job_id}"]')
    expect(job_row).to_contain_text("success")
    expect(job_row).to_contain_text(fake_models.generate("Why is the sea salty?"))
    expect(page.locator('#path li[data-step="result"]')).to_contain_text("success")
    expect(page.locator('#path li[data-step="backend"]')).to_contain_text("tgi generate: ")  # from Server-Timing
    # ...until the subscription is clicked: its path again.
    row.click()
    expect(callback).to_contain_text(f"answer: {answer}")

    # A subscription this node does not serve (it runs no HF container) is listed with the reason.
    hf = infernet_deployment.contract(user, "HFCallbackConsumer")
    skipped, _ = request_compute(
        coordinator, hf.functions.requestTask(encode(["uint8", "string", "string"], [1, "", "hi"]))
    )
    expect(page.locator("#problems")).to_contain_text(f"subscription {skipped} skipped: container id not served")

    if target := os.environ.get(SCREENSHOT_ENV):
        page.screenshot(path=target, full_page=True)


def test_snapshot_tells_jobs_and_subscriptions(node: ChainNode) -> None:
    job_id = httpx_calls.post(
        f"{node.url}/api/jobs", json={"containers": [TGI], "data": {"text": PROMPT}}, timeout=10
    ).json()["id"]
    assert wait_for_job(node.url, job_id)["status"] == "success"

    [(name, snapshot)] = events(node.url)
    assert name == "snapshot"
    assert snapshot["node"] == node.address
    jobs = [event["data"] for event in snapshot["events"] if event["kind"] == "job" and event["data"]["id"] == job_id]
    assert [job["status"] for job in jobs] == ["running", "success"]
    assert jobs[0]["input"] == {"text": PROMPT}
    assert jobs[1]["result"]["output"] == {"output": fake_models.generate(PROMPT)}
    # The service's Server-Timing header named its backend call, which the node passes on.
    ((call,),) = [job["calls"] for job in jobs[1:]]
    assert call["container"] == TGI and call["ms"] > 0
    ((backend,),) = [call["backend"]]
    assert backend["what"] == "tgi generate" and 0 < backend["ms"] <= call["ms"]


def test_unread_streams_are_bounded_and_cleaned_up(node: ChainNode) -> None:
    """Readers that never read hold no job back; past `MAX_READERS` a reader is refused (503); a reader that
    went away frees its place."""
    with httpx.Client(timeout=10) as client:
        streams, refused = [], None
        for _ in range(MAX_READERS + 1):
            response = client.send(client.build_request("GET", f"{node.url}/api/events"), stream=True)
            if response.status_code != 200:
                refused = response
                break
            streams.append(response)
        assert refused is not None and refused.status_code == 503, "no reader was refused"
        assert json.loads(refused.read())["params"] == {"limit": MAX_READERS}
        assert len(streams) <= MAX_READERS

        job_id = client.post(f"{node.url}/api/jobs", json={"containers": [TGI], "data": {"text": "busy?"}}).json()["id"]
        assert wait_for_job(node.url, job_id)["status"] == "success"

        for stream in streams:
            stream.close()

        def admitted() -> bool:
            return client.get(f"{node.url}/api/events", params={"follow": "false"}).status_code == 200

        wait_until(admitted, timeout=10, what="a new event reader once the others left")


def test_a_stopping_node_ends_its_streams(node: ChainNode) -> None:
    """An open stream ends cleanly when the node stops, instead of holding the shutdown until the server cuts it.
    Last in this file: it stops the module's node (a node of its own would cost seconds to start)."""
    with httpx.Client(timeout=10) as client, client.stream("GET", f"{node.url}/api/events") as stream:
        lines = stream.iter_lines()
        assert next(lines) == "retry: 1000"
        node.node.stop()  # SIGTERM, as Ctrl-C
        rest = list(lines)  # a stream cut off by the server instead would raise here
    assert rest[1].startswith("event: snapshot")
    log = node.log_text()
    assert "node stopped" in log, log
    assert "graceful shutdown exceeded" not in log and "Traceback" not in log
