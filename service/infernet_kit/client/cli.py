"""Client verbs of the `infernet-kit` CLI, mirroring the official `infernet-client` (job, results, sub, ...);
`infernet-client` is the same verbs alone.

Every failure a user can cause prints one line on stderr saying what is wrong and exits with code 1;
set INFERNET_KIT_DEBUG=1 to get the traceback of an unexpected error instead. Environment variables carry
the official client's names, one per setting, in every command and script: SERVER_URL, RPC_URL,
PRIVATE_KEY, ADDRESS (the coordinator), FACTORY_ADDRESS.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TextIO, TypeVar

import typer

from infernet_kit.protocol.defaults import DEFAULT_NODE_URL, DEFAULT_RPC_URL, ZERO_ADDRESS

if TYPE_CHECKING:
    from infernet_kit.client.chain_utils import Subscription

T = TypeVar("T")
P = ParamSpec("P")

NODE_URL_ENV = "SERVER_URL"
RPC_URL_ENV = "RPC_URL"
PRIVATE_KEY_ENV = "PRIVATE_KEY"
COORDINATOR_ENV = "ADDRESS"

UrlOption = Annotated[
    str,
    typer.Option("--url", envvar=NODE_URL_ENV, help=f"URL of the Infernet node (env {NODE_URL_ENV})."),
]
OutputOption = Annotated[
    str, typer.Option("--output", "-o", help="File to write the result to; '-' for stdout.", show_default=True)
]
InputOption = Annotated[str, typer.Option("--input", "-i", help="JSON file with the input data; '-' for stdin.")]
RpcUrlOption = Annotated[
    str,
    typer.Option("--rpc-url", "--rpc_url", envvar=RPC_URL_ENV, help=f"JSON-RPC URL of the chain (env {RPC_URL_ENV})."),
]
PrivateKeyOption = Annotated[
    str,
    typer.Option(
        "--private-key",
        "-pk",
        envvar=PRIVATE_KEY_ENV,
        help=f"Private key of the sender (env {PRIVATE_KEY_ENV}).",
        show_default=False,
    ),
]
WalletOption = Annotated[str, typer.Option("--wallet", "-w", help="Address of the Infernet payment wallet.")]
TokenOption = Annotated[str, typer.Option("--token", "-t", help="Token address; the zero address (default) means ETH.")]
AmountOption = Annotated[
    str, typer.Option("--amount", "-a", help="Amount in wei, or a number and a unit: '1 ether', '100 gwei'.")
]


class UserError(Exception):
    """A problem the user can fix; the CLI prints its message as the one error line."""


def fail(message: str) -> NoReturn:
    """Print the one error line (first line of `message`) and exit 1."""
    line = " ".join(message.split("\n", 1)[0].split()) or "failed"
    typer.echo(f"Error: {line}", err=True)
    raise typer.Exit(1)


def one_line_errors(command: Callable[P, None]) -> Callable[P, None]:
    """Wrap a command so every known failure becomes one `Error: …` line on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        from infernet_kit.client.errors import APIError, NodeUnreachableError, RpcUnreachableError
        from infernet_kit.config import ConfigError

        try:
            command(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except (UserError, ConfigError, RpcUnreachableError) as exc:
            fail(str(exc))
        except NodeUnreachableError as exc:
            fail(f"{exc} (is the node running? set --url or {NODE_URL_ENV})")
        except APIError as exc:
            fail(describe_api_error(exc))
        except TimeoutError as exc:
            fail(str(exc) or "timed out")
        except KeyboardInterrupt:
            typer.echo("Interrupted.", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:
            # Only a command that sent a transaction has loaded the module (importing it costs web3).
            transactions = sys.modules.get("infernet_kit.chain.transactions")
            if transactions is not None and isinstance(exc, transactions.TransactionReverted):
                fail(str(exc))
            if os.environ.get("INFERNET_KIT_DEBUG"):
                raise
            fail(f"unexpected {type(exc).__name__}: {exc} (set INFERNET_KIT_DEBUG=1 for the traceback)")

    return wrapper


def run(work: Awaitable[T]) -> T:
    """Run one coroutine to completion (the CLI is synchronous at its edges)."""
    return asyncio.run(_awaited(work))


def with_node(url: str, call: Callable[[Any], Awaitable[T]]) -> T:
    """Run `call(client)` with a `NodeClient` for `url` that is closed afterwards."""
    from infernet_kit.client.node import NodeClient

    async def work() -> T:
        async with NodeClient(url) as client:
            return await call(client)

    return run(work())


async def _awaited(work: Awaitable[T]) -> T:
    return await work


def describe_api_error(exc: Any) -> str:
    """`node rejected the request (400): Container not supported (container=foo)`."""
    details = ", ".join(f"{key}={value}" for key, value in exc.params.items())
    return f"node rejected the request ({exc.status_code}): {exc.message}" + (f" ({details})" if details else "")


def read_json(path: str, what: str) -> Any:
    """A JSON file (or '-' for stdin), tolerating `//` comments and trailing commas as the seeds print them."""
    from infernet_kit.config import load_json_file, parse_json

    if path == "-":
        return parse_json(sys.stdin.read(), source=f"{what} (stdin)")
    return load_json_file(path, what=what)


def read_object(path: str, what: str) -> dict[str, Any]:
    value = read_json(path, what)
    if not isinstance(value, dict):
        raise UserError(f"{what} {path} must hold a JSON object, not {type(value).__name__}")
    return value


def read_key_file(path: str) -> str:
    """A private key from a file; errors never include the file's content."""
    try:
        with open(path, encoding="utf-8") as handle:
            key = handle.read().strip()
    except FileNotFoundError:
        raise UserError(f"key file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read key file {path}: {getattr(exc, 'strerror', None) or 'not text'}") from None
    return checked_private_key(key, f"key file {path}")


def checked_private_key(key: str, source: str) -> str:
    """The key as 0x-hex if it is a valid secp256k1 private key; the error never echoes it."""
    from eth_account import Account

    candidate = key.strip()
    if not candidate.startswith("0x"):
        candidate = "0x" + candidate
    try:
        Account.from_key(candidate)
    except Exception:
        raise UserError(f"{source} does not hold a valid private key (expected 32 bytes of hex)") from None
    return candidate


def write_output(result: Any, output: str) -> None:
    """A string as is, anything else as indented JSON; to stdout or to the file `output`."""
    text = result if isinstance(result, str) else json.dumps(result, indent=2)
    if output == "-":
        typer.echo(text)
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    except OSError as exc:
        raise UserError(f"cannot write output file {output}: {exc.strerror}") from None


def split_containers(containers: str) -> list[str]:
    names = [name.strip() for name in containers.split(",") if name.strip()]
    if not names:
        raise UserError("no containers given: pass -c <container>[,<container>...]")
    return names


def checksum(address: str, what: str) -> str:
    from eth_utils.address import to_checksum_address

    try:
        return str(to_checksum_address(address))
    except (ValueError, TypeError):
        raise UserError(f"{what} is not an address: {address!r}") from None


# -- node verbs ----------------------------------------------------------------------------------------------------


def health(url: UrlOption = DEFAULT_NODE_URL) -> None:
    """Health check of the node: prints healthy, or unhealthy (exit 1) with the reason on stderr."""
    from infernet_kit.client.errors import APIError, NodeUnreachableError

    try:
        healthy = with_node(url, lambda client: client.health())
    except (NodeUnreachableError, APIError) as exc:
        typer.echo("unhealthy")
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo("healthy" if healthy else "unhealthy")
    if not healthy:
        raise typer.Exit(1)


def info(url: UrlOption = DEFAULT_NODE_URL, output: OutputOption = "-") -> None:
    """Node information: containers, pending jobs, chain settings."""
    write_output(with_node(url, lambda client: client.get_info()), output)


def resources(
    url: UrlOption = DEFAULT_NODE_URL,
    output: OutputOption = "-",
    node: Annotated[str | None, typer.Option("--node", "-n", help="Node URL (same as --url).")] = None,
    model_id: Annotated[
        str | None, typer.Option("--model-id", "-m", help="Only ask which containers support this model.")
    ] = None,
) -> None:
    """Resources of each container on the node."""
    write_output(with_node(node or url, lambda client: client.get_resources(model_id)), output)


def check_model(
    model_id: Annotated[str, typer.Option("--model-id", "-m", help="Model id to check support for.")],
    url: UrlOption = DEFAULT_NODE_URL,
    output: OutputOption = "-",
) -> None:
    """Which containers on the node support a model."""
    write_output(with_node(url, lambda client: client.check_model_support(model_id)), output)


def job(
    containers: Annotated[str, typer.Option("--containers", "-c", help="Comma-separated container ids.")],
    input: InputOption = "-",
    url: UrlOption = DEFAULT_NODE_URL,
    output: OutputOption = "-",
    sync: Annotated[bool, typer.Option("--sync", help="Wait for the job and print its output.")] = False,
    retries: Annotated[
        int,
        typer.Option(
            "--retries", help="With --sync: wait up to this many seconds (the official client's retries, 1 s apart)."
        ),
    ] = 5,
    requires_proof: Annotated[bool, typer.Option("--requires-proof", help="Ask the container for a proof.")] = False,
) -> None:
    """Request a job: prints the job id, or with --sync the job's output."""
    names = split_containers(containers)
    data = read_object(input, "input file")
    from infernet_kit.client.node import NodeClient

    async def work() -> Any:
        request = {"containers": names, "data": data, "requires_proof": requires_proof}
        async with NodeClient(url) as client:
            if not sync:
                return await client.request_job(request)
            # One exchange on this kit's node (a waiting POST); a POST and reads on others.
            result = await client.run_job(request, wait=float(max(retries, 1)))
            outcome: dict[str, Any] = dict(result["result"] or {})
            if result["status"] == "failed":
                raise UserError(f"job {result['id']} failed: {outcome.get('error', 'no error message')}")
            return outcome.get("output")

    write_output(run(work()), output)


def stream(
    container: Annotated[str, typer.Option("--container", "-c", help="Container id to stream from.")],
    input: InputOption = "-",
    url: UrlOption = DEFAULT_NODE_URL,
    output: OutputOption = "-",
) -> None:
    """Request a streamed job: prints the job id, then the output as it arrives."""
    from infernet_kit.client.node import NodeClient

    data = read_object(input, "input file")

    async def work(sink: TextIO) -> None:
        async with NodeClient(url) as client:
            first = True
            async for chunk in client.request_stream({"containers": [container], "data": data}):
                text = chunk.decode("utf-8", errors="replace") if isinstance(chunk, bytes) else chunk
                if first:
                    typer.echo(f"Job ID: {text}")
                    first = False
                    continue
                sink.write(text)
                sink.flush()
        sink.write("\n")

    if output == "-":
        run(work(sys.stdout))
        return
    try:
        handle = open(output, "w", encoding="utf-8")  # noqa: SIM115 - closed below, opened before the loop
    except OSError as exc:
        raise UserError(f"cannot write output file {output}: {exc.strerror}") from None
    with handle:
        run(work(handle))


def results(
    id: Annotated[list[str], typer.Option("--id", help="A job id (repeatable).")],
    url: UrlOption = DEFAULT_NODE_URL,
    output: OutputOption = "-",
    intermediate: Annotated[bool, typer.Option("--intermediate", help="Include intermediate results.")] = False,
) -> None:
    """Fetch job results; ids the node does not know are named on stderr (exit 1)."""
    found = with_node(url, lambda client: client.get_job_results(id, intermediate))
    write_output(found, output)
    known = {result["id"] for result in found}
    unknown = [job_id for job_id in dict.fromkeys(id) if job_id not in known]
    if unknown:
        fail(f"unknown job id(s) on {url}: {', '.join(unknown)}")


def ids(
    url: UrlOption = DEFAULT_NODE_URL,
    output: OutputOption = "-",
    status: Annotated[str, typer.Option("--status", help="pending, completed or all.")] = "all",
) -> None:
    """Job ids of this client."""
    choices = {"pending": True, "completed": False, "all": None}
    if status.lower() not in choices:
        fail(f"--status must be pending, completed or all, not {status!r}")
    write_output(with_node(url, lambda client: client.get_jobs(choices[status.lower()])), output)


def sub(
    address: Annotated[
        str,
        typer.Option(
            "--address", envvar=COORDINATOR_ENV, help=f"Coordinator contract address (env {COORDINATOR_ENV})."
        ),
    ],
    expiry: Annotated[int, typer.Option("--expiry", help="Signature expiry, a UNIX timestamp.")],
    params: Annotated[str, typer.Option("--params", help="Subscription parameters (JSON; comments allowed).")],
    key: Annotated[
        str | None, typer.Option("--key", help=f"File holding the signer's private key (or env {PRIVATE_KEY_ENV}).")
    ] = None,
    input: InputOption = "-",
    rpc_url: RpcUrlOption = DEFAULT_RPC_URL,
    url: Annotated[
        list[str] | None,
        typer.Option(
            "--url",
            envvar=NODE_URL_ENV,
            help="A node to send the signed subscription to (repeatable: a redundancy of N needs N nodes); "
            f"default: every node of a running `infernet-kit up`, else {DEFAULT_NODE_URL} (env {NODE_URL_ENV}).",
            show_default=False,
        ),
    ] = None,
    nonce: Annotated[int, typer.Option("--nonce", help="Signer nonce of the subscription.")] = 0,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the subscription's deliveries and print each one decoded.")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds --wait waits for all deliveries.")] = 60,
) -> None:
    """Request a delegated subscription: results are delivered on chain to the owner contract.

    `"active_at": 0` means instantly active: the current chain time is signed instead (and printed).
    """
    private_key = _signer_key(key)
    sub_params = read_object(params, "params file")
    data = read_object(input, "input file")
    coordinator = checksum(address, "--address")
    nodes = url or _stack_node_urls() or [DEFAULT_NODE_URL]
    from infernet_kit.client.onchain import subscription_from_params

    subscription = subscription_from_params(sub_params, params)

    async def work() -> tuple[Subscription, int | None, int]:
        from dataclasses import replace

        from infernet_kit.client.chain_utils import RPC
        from infernet_kit.client.onchain import (
            chain_time,
            existing_delegated_subscription,
            submit_delegated_subscription,
        )

        nonlocal subscription
        async with RPC(rpc_url) as rpc:
            start_block = int(await rpc.reachable(rpc.web3.eth.block_number))
            if subscription.active_at == 0:
                subscription = replace(subscription, active_at=await chain_time(rpc))
                typer.echo(f"active_at 0 (instantly active): signing the current chain time {subscription.active_at}")
            if existing := await existing_delegated_subscription(rpc, coordinator, subscription.owner, nonce):
                raise UserError(
                    f"owner {subscription.owner} nonce {nonce} already exists as subscription {existing}; "
                    "this input was not used (pass a new --nonce)"
                )
            subscription_id = await submit_delegated_subscription(
                nodes, rpc, coordinator, subscription,
                private_key=private_key, data=data, nonce=nonce, expiry=expiry, wait=timeout if wait else 0,
                on_refused=lambda node, exc: typer.echo(f"Warning: {node} did not take it: {exc}", err=True),
            )  # fmt: skip
            return subscription, subscription_id, start_block

    subscription, subscription_id, start_block = run(work())
    typer.echo("Success: Subscription created.")
    if subscription_id is None:
        return
    typer.echo(f"Subscription id: {subscription_id}")
    _print_deliveries(rpc_url, coordinator, subscription, subscription_id, data, start_block, timeout, nodes)


def _stack_node_urls() -> list[str]:
    """The node URLs a running `infernet-kit up` recorded in its state directory (none if no stack is up)."""
    from infernet_kit.config import ConfigError, load_json_file
    from infernet_kit.paths import stack_file

    path = stack_file()
    if not path.is_file():
        return []
    try:
        stack = load_json_file(str(path), what="stack file")
        return [str(node["url"]) for node in stack["nodes"]]
    except (ConfigError, KeyError, TypeError):
        return []


def _print_deliveries(
    rpc_url: str,
    coordinator: str,
    subscription: Subscription,
    subscription_id: int,
    data: Any,
    start_block: int,
    timeout: float,
    nodes: list[str],
) -> None:
    """Print each delivery of the subscription as it lands, until one per node of its redundancy came for each
    interval still open at its creation, or `timeout`; then, if some are missing, what each of `nodes` (those it
    was sent to) says about it, and exit 1."""
    from infernet_kit.chain.transactions import connect
    from infernet_kit.chain.watch import why_no_callback
    from infernet_kit.client.onchain import Delivery, coordinator_at, decode_answer, deliverable_intervals, deliveries
    from infernet_kit.client.wallet import reachable
    from infernet_kit.polling import WaitTimeout, wait_until

    printed: list[Delivery] = []
    with reachable(rpc_url):
        w3 = connect(rpc_url)
        contract = coordinator_at(w3, coordinator)
        intervals = deliverable_intervals(w3, contract, subscription_id, from_block=start_block)
        if not intervals:
            typer.echo(f"Error: subscription {subscription_id} was created after its last interval", err=True)
            raise typer.Exit(1)
        if intervals.start > 1:
            typer.echo(f"Intervals 1 to {intervals.start - 1} closed before subscription {subscription_id} existed")
        expected = len(intervals) * int(subscription.redundancy)

        def arrived() -> bool:
            found = deliveries(
                w3,
                contract,
                subscription_id,
                from_block=start_block,
                decode=lambda raw: decode_answer(list(subscription.containers), data, raw),
            )
            for delivery in found[len(printed) :]:
                printed.append(delivery)
                typer.echo(
                    f"Delivery {len(printed)}/{expected}: interval {delivery.interval} node {delivery.node} "
                    f"tx {delivery.tx}: {json.dumps(delivery.output)}"
                )
            return len(printed) >= expected

        try:
            wait_until(arrived, timeout=timeout, interval=0.25, what=f"subscription {subscription_id}'s deliveries")
        except WaitTimeout:
            typer.echo(
                f"Error: subscription {subscription_id}: {len(printed)} of {expected} deliveries after {timeout:g}s",
                err=True,
            )
            for reason in why_no_callback(nodes, subscription_id):
                typer.echo(f"  {reason}", err=True)
            raise typer.Exit(1) from None


def _signer_key(key_file: str | None) -> str:
    if key_file is not None:
        return read_key_file(key_file)
    if from_env := os.environ.get(PRIVATE_KEY_ENV):
        return checked_private_key(from_env, f"environment variable {PRIVATE_KEY_ENV}")
    raise UserError(f"no signer key: pass --key key-file.txt or set {PRIVATE_KEY_ENV}")


# -- payment wallet verbs -------------------------------------------------------------------------------------------


def _amount(amount: str) -> int:
    from infernet_kit.client.wallet import parse_amount

    try:
        return parse_amount(amount)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _wallet_args(private_key: str, wallet_address: str, token: str, amount: str) -> tuple[str, str, str, int]:
    """The checked (key, wallet, token, wei) of a wallet verb; errors name the flag, never the key."""
    key = checked_private_key(private_key, "--private-key")
    return key, checksum(wallet_address, "--wallet"), checksum(token, "--token"), _amount(amount)


def create_wallet(
    private_key: PrivateKeyOption,
    rpc_url: RpcUrlOption = DEFAULT_RPC_URL,
    factory: Annotated[
        str | None,
        typer.Option(
            "--factory",
            envvar="FACTORY_ADDRESS",
            help="WalletFactory address (env FACTORY_ADDRESS); default: from deployments/<chain id>.json.",
        ),
    ] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="Owner of the new wallet; default: the key's account.")
    ] = None,
) -> None:
    """Create an Infernet payment wallet with the WalletFactory."""
    from infernet_kit.client import wallet

    key = checked_private_key(private_key, "--private-key")
    factory_address = checksum(factory, "--factory") if factory else _deployed(rpc_url, "wallet_factory")
    result = wallet.create_wallet(rpc_url, key, factory_address, checksum(owner, "--owner") if owner else None)
    typer.echo(f"Success: wallet created.\n\tAddress: {result.wallet}\n\tOwner: {result.owner}\n\ttx: {result.tx_hash}")


def approve(
    private_key: PrivateKeyOption,
    wallet_address: WalletOption,
    spender: Annotated[str, typer.Option("--spender", "-s", help="Address allowed to spend from the wallet.")],
    amount: AmountOption,
    token: TokenOption = ZERO_ADDRESS,
    rpc_url: RpcUrlOption = DEFAULT_RPC_URL,
) -> None:
    """Approve a spender (a consumer contract) to pay from the wallet."""
    from infernet_kit.client import wallet

    key, target, token_address, wei = _wallet_args(private_key, wallet_address, token, amount)
    result = wallet.approve(rpc_url, key, target, checksum(spender, "--spender"), token_address, wei)
    typer.echo(
        f"Success: approved spender: {spender} for\n\tamount: {amount}\n\ttoken: {token}\n\ttx: {result.tx_hash}"
    )


def _funds_verb(action: str, doc: str, message: str) -> Callable[..., None]:
    """A verb moving funds of a wallet with `client.wallet.<action>`; `message` formats its success."""

    def verb(
        private_key: PrivateKeyOption,
        wallet_address: WalletOption,
        amount: AmountOption,
        token: TokenOption = ZERO_ADDRESS,
        rpc_url: RpcUrlOption = DEFAULT_RPC_URL,
    ) -> None:
        from infernet_kit.client import wallet

        move = getattr(wallet, action)
        result = move(rpc_url, *_wallet_args(private_key, wallet_address, token, amount))
        typer.echo(message.format(amount=amount, token=token, wallet=wallet_address, tx=result.tx_hash))

    verb.__name__ = verb.__qualname__ = action
    verb.__doc__ = doc
    return verb


fund = _funds_verb(
    "fund",
    "Fund a wallet with ETH or tokens.",
    "Success: sent\n\tamount: {amount}\n\ttoken: {token}\n\tto wallet: {wallet}\n\ttx: {tx}",
)
withdraw = _funds_verb(
    "withdraw",
    "Withdraw unlocked funds from a wallet (owner only).",
    "Success: withdrawal of amount: {amount}\n\ttoken: {token}\n\ttx: {tx}",
)


def _deployed(rpc_url: str, role: str) -> str:
    """The address of a core contract from the local deployment file of the RPC's chain."""
    from infernet_kit.client.onchain import local_deployment

    return str(getattr(local_deployment(rpc_url), role))


def register(app: typer.Typer) -> None:
    """Add the client verbs to `app`."""
    for name, command in (
        ("health", health),
        ("info", info),
        ("resources", resources),
        ("check-model", check_model),
        ("job", job),
        ("stream", stream),
        ("results", results),
        ("ids", ids),
        ("sub", sub),
        ("create-wallet", create_wallet),
        ("approve", approve),
        ("fund", fund),
        ("withdraw", withdraw),
    ):
        app.command(name)(one_line_errors(command))
