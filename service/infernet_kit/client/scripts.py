"""The bodies of scripts/request_callback.py, create_delegated_subscription.py and request_hf.py.

Each takes the RPC URL, keys and addresses from flags or the environment and defaults to the local
stack: anvil's development accounts and the addresses in deployments/<chain id>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from infernet_kit.client.cli import COORDINATOR_ENV, NODE_URL_ENV, PRIVATE_KEY_ENV, RPC_URL_ENV
from infernet_kit.protocol import tgi
from infernet_kit.protocol.defaults import DEFAULT_NODE_URL, DEFAULT_RPC_URL

SEED_PROMPT = "Is the sky blue during a clear day?"


def _parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--rpc-url",
        "--rpc_url",
        default=os.environ.get(RPC_URL_ENV) or DEFAULT_RPC_URL,
        help=f"JSON-RPC URL (env {RPC_URL_ENV}; default %(default)s)",
    )
    parser.add_argument(
        "--deployments-dir",
        default=os.environ.get("INFERNET_DEPLOYMENTS_DIR"),
        help="folder with <chain id>.json (env INFERNET_DEPLOYMENTS_DIR; default: the checkout's deployments/)",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the delivery")
    parser.add_argument(
        "--node",
        action="append",
        help=f"node to ask why when no delivery comes (repeatable; env {NODE_URL_ENV}; default {DEFAULT_NODE_URL})",
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    return parser


def _key(flag_value: str | None, default_account: int) -> str:
    """A private key from the flag, else the environment, else anvil's development account."""
    from infernet_kit.chain.accounts import dev_key
    from infernet_kit.client.cli import UserError, checked_private_key

    if flag_value:
        return checked_private_key(flag_value, "--private-key")
    if value := os.environ.get(PRIVATE_KEY_ENV):
        return checked_private_key(value, f"environment variable {PRIVATE_KEY_ENV}")
    if flag_value == "":
        raise UserError("empty private key")
    return dev_key(default_account)


def _run(
    body: Callable[[argparse.Namespace], dict[str, Any]], parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> int:
    """Run a script body; print its result, or one `Error:` line and exit 1."""
    from infernet_kit.chain.deploy import DeploymentInUse
    from infernet_kit.chain.transactions import TransactionReverted
    from infernet_kit.chain.watch import CallbackTimeout
    from infernet_kit.client.cli import UserError, describe_api_error
    from infernet_kit.client.errors import APIError, NodeUnreachableError, RpcUnreachableError
    from infernet_kit.config import ConfigError

    args = parser.parse_args(argv)
    try:
        result = body(args)
    except (
        UserError,
        ConfigError,
        RpcUnreachableError,
        NodeUnreachableError,
        TransactionReverted,
        DeploymentInUse,
    ) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except APIError as exc:
        print(f"Error: {describe_api_error(exc)}", file=sys.stderr)
        return 1
    except CallbackTimeout as exc:
        nodes = args.node or [os.environ.get(NODE_URL_ENV) or DEFAULT_NODE_URL]
        explained = exc.explained(nodes)
        print(f"Error: {explained.summary}", file=sys.stderr)
        for reason in explained.reasons:
            print(f"  {reason}", file=sys.stderr)
        return 1
    except TimeoutError as exc:
        print(f"Error: {exc} (is a node serving this chain?)", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value if isinstance(value, str | int) else json.dumps(value)}")
    return 0


def _w3_and_deployment(rpc_url: str, private_key: str, directory: str | None) -> tuple[Any, Any]:
    from infernet_kit.chain.transactions import connect
    from infernet_kit.client.onchain import local_deployment
    from infernet_kit.client.wallet import reachable

    deployment = local_deployment(rpc_url, directory)
    with reachable(rpc_url):
        return connect(rpc_url, private_key), deployment


def request_callback(argv: Sequence[str] | None = None) -> int:
    """scripts/request_callback.py: the seed's chatWithLLM round trip."""
    parser = _parser(
        "Call TGICallbackConsumer.chatWithLLM with the seed's encoded input, wait for the node's callback, "
        "print the decoded answer, the subscription id and both transaction hashes."
    )
    parser.add_argument("--prompt", default=SEED_PROMPT, help="prompt (default: the seed's)")
    parser.add_argument(
        "--consumer",
        default=os.environ.get("CONSUMER_ADDRESS"),
        help="consumer address (env CONSUMER_ADDRESS; default: deployed TGICallbackConsumer)",
    )
    parser.add_argument("--private-key", default=None, help="caller's key (env PRIVATE_KEY; default: anvil account #0)")

    def body(args: argparse.Namespace) -> dict[str, Any]:
        from infernet_kit.chain.accounts import USER
        from infernet_kit.client.onchain import request_tgi_callback
        from infernet_kit.client.wallet import reachable

        w3, deployment = _w3_and_deployment(args.rpc_url, _key(args.private_key, USER), args.deployments_dir)
        with reachable(args.rpc_url):
            result = request_tgi_callback(w3, deployment, args.prompt, consumer=args.consumer, timeout=args.timeout)
        return {
            "answer": result.output,
            "subscription_id": result.subscription_id,
            "request_tx": result.request_tx,
            "delivery_tx": result.delivery_tx,
            "delivery_gas": result.delivery_gas,
            "node": result.node,
        }

    return _run(body, parser, argv)


def request_hf(argv: Sequence[str] | None = None) -> int:
    """scripts/request_hf.py: each HF task on chain through HFCallbackConsumer, decoded."""
    from infernet_kit.protocol.hf import HFTaskId

    tasks = {task.name.lower(): task for task in HFTaskId if task is not HFTaskId.UNSET}
    parser = _parser("Run Hugging Face tasks on chain through HFCallbackConsumer and print each decoded answer.")
    parser.add_argument(
        "--task", action="append", choices=sorted(tasks), help="task to run (repeatable; default: all four)"
    )
    parser.add_argument("--prompt", default=None, help="prompt/text for every task (default: one per task)")
    parser.add_argument("--model", default="", help="model id ('' = the service's default model)")
    parser.add_argument(
        "--consumer",
        default=os.environ.get("CONSUMER_ADDRESS"),
        help="consumer address (env CONSUMER_ADDRESS; default: deployed HFCallbackConsumer)",
    )
    parser.add_argument("--private-key", default=None, help="caller's key (env PRIVATE_KEY; default: anvil account #0)")
    defaults = {
        HFTaskId.TEXT_GENERATION: SEED_PROMPT,
        HFTaskId.TEXT_CLASSIFICATION: "I love this kit, it works offline!",
        HFTaskId.TOKEN_CLASSIFICATION: "My name is Sarah and I live in London.",
        HFTaskId.SUMMARIZATION: "The tower is 324 metres tall, about the same height as an 81-storey building, "
        "and the tallest structure in Paris. Its base is square, measuring 125 metres on each side.",
    }

    def body(args: argparse.Namespace) -> dict[str, Any]:
        from infernet_kit.chain.accounts import USER
        from infernet_kit.client.onchain import request_hf_callback
        from infernet_kit.client.wallet import reachable

        w3, deployment = _w3_and_deployment(args.rpc_url, _key(args.private_key, USER), args.deployments_dir)
        selected = [tasks[name] for name in args.task] if args.task else list(defaults)
        answers: dict[str, Any] = {}
        with reachable(args.rpc_url):
            for task in selected:
                result = request_hf_callback(
                    w3,
                    deployment,
                    task,
                    args.prompt or defaults[task],
                    model=args.model,
                    consumer=args.consumer,
                    timeout=args.timeout,
                )
                answers[task.name.lower()] = {
                    "output": result.output,
                    "subscription_id": result.subscription_id,
                    "request_tx": result.request_tx,
                    "delivery_tx": result.delivery_tx,
                    "delivery_gas": result.delivery_gas,
                }
        return answers

    return _run(body, parser, argv)


def create_delegated_subscription(argv: Sequence[str] | None = None) -> int:
    """scripts/create_delegated_subscription.py: the seeds' delegated flow."""
    parser = _parser(
        "Sign a delegated subscription for a Delegator consumer (EIP-712), send it to the node, and print the "
        "subscription id once the coordinator has created it (and, with --wait-delivery, the delivered answer)."
    )
    parser.add_argument(
        "--url",
        default=os.environ.get(NODE_URL_ENV) or DEFAULT_NODE_URL,
        help=f"node URL (env {NODE_URL_ENV}; default %(default)s)",
    )
    parser.add_argument(
        "--owner",
        default=os.environ.get("OWNER_ADDRESS"),
        help="subscription owner, a Delegator contract (env OWNER_ADDRESS; default: deployed DelegateConsumer)",
    )
    parser.add_argument(
        "--coordinator",
        default=os.environ.get(COORDINATOR_ENV),
        help=f"coordinator (env {COORDINATOR_ENV}; default: from the deployment)",
    )
    parser.add_argument(
        "--private-key",
        default=None,
        help=f"the owner's signer key (env {PRIVATE_KEY_ENV}; default: anvil account #2, the deployer)",
    )
    parser.add_argument("--containers", default=tgi.CONTAINER_ID, help="comma-separated container ids")
    parser.add_argument("--input", default=json.dumps({"text": SEED_PROMPT}), help="job input as JSON text")
    parser.add_argument("--nonce", type=int, default=None, help="signer nonce (default: random, as the seeds do)")
    parser.add_argument(
        "--wait-delivery", action="store_true", help="also wait for the delivery and decode a TGI answer"
    )

    def body(args: argparse.Namespace) -> dict[str, Any]:
        from infernet_kit.chain.accounts import DEPLOYER
        from infernet_kit.client.chain_utils import RPC
        from infernet_kit.client.cli import UserError, checksum
        from infernet_kit.client.onchain import (
            await_callback,
            create_delegated_subscription,
            local_deployment,
        )
        from infernet_kit.config import parse_json

        key = _key(args.private_key, DEPLOYER)
        data = parse_json(args.input, source="--input")
        if not isinstance(data, dict):
            raise UserError("--input must be a JSON object")
        deployment = None if args.owner and args.coordinator else local_deployment(args.rpc_url, args.deployments_dir)
        owner = checksum(args.owner, "--owner") if args.owner else deployment.consumers["DelegateConsumer"]  # type: ignore[union-attr]
        coordinator = checksum(args.coordinator, "--coordinator") if args.coordinator else deployment.coordinator  # type: ignore[union-attr]

        async def create() -> tuple[int, Any]:
            async with RPC(args.rpc_url) as rpc:
                start = await rpc.reachable(rpc.web3.eth.block_number)
                created = await create_delegated_subscription(
                    args.url, rpc, coordinator, owner=owner, private_key=key,
                    containers=[c.strip() for c in args.containers.split(",") if c.strip()],
                    data=data, nonce=args.nonce, wait=args.timeout,
                )  # fmt: skip
                return int(start), created

        start_block, created = asyncio.run(create())
        result: dict[str, Any] = {
            "subscription_id": created.subscription_id,
            "owner": created.owner,
            "nonce": created.nonce,
        }
        if args.wait_delivery:
            from infernet_kit.chain.transactions import connect
            from infernet_kit.client.onchain import coordinator_at, gas_used
            from infernet_kit.client.wallet import reachable

            with reachable(args.rpc_url):
                w3 = connect(args.rpc_url)
                contract = coordinator_at(w3, coordinator)
                delivery_tx, node, raw = await_callback(
                    w3, contract, created.subscription_id, from_block=start_block, timeout=args.timeout
                )
                gas = gas_used(w3, delivery_tx)
            result.update(delivery_tx=delivery_tx, delivery_gas=gas, node=node, answer=tgi.decode_output(raw))
        return result

    return _run(body, parser, argv)


def deploy(argv: Sequence[str] | None = None) -> int:
    """scripts/deploy.py: the Infernet core and the example consumers, as scripts/Deploy.s.sol deploys them."""
    from pathlib import Path

    from infernet_kit.chain.accounts import DEPLOYER

    parser = _parser("Deploy the Infernet core and the example consumers; writes deployments/<chain id>.json.")
    parser.add_argument(
        "--private-key", help="the deployer's key (env PRIVATE_KEY; default anvil account #2, as the reference)"
    )
    parser.add_argument("--no-examples", action="store_true", help="deploy the core only")
    parser.add_argument(
        "--force", action="store_true", help="replace deployments/<chain id>.json even when a running stack uses it"
    )

    def body(args: argparse.Namespace) -> dict[str, Any]:
        from eth_account import Account

        from infernet_kit.chain.deploy import deploy as deploy_contracts
        from infernet_kit.chain.deploy import ensure_replaceable
        from infernet_kit.chain.transactions import connect
        from infernet_kit.client.wallet import reachable

        deployer = Account.from_key(_key(args.private_key, DEPLOYER))
        directory = Path(args.deployments_dir) if args.deployments_dir else None
        with reachable(args.rpc_url):
            w3 = connect(args.rpc_url)
            ensure_replaceable(w3.eth.chain_id, directory, force=args.force)
            deployment = deploy_contracts(w3, deployer, examples=not args.no_examples)
        path = deployment.save(directory)
        addresses = deployment.model_dump(by_alias=True, exclude={"consumers", "chain_id", "deployer"})
        return {**addresses, **deployment.consumers, "written": str(path)}

    return _run(body, parser, argv)
