"""`infernet-kit status`, `trace` and `logs`: the data of `client.observe`, read from the stack `up` recorded,
drawn with rich."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from infernet_kit.client.observe import (
    Endpoints,
    LogLine,
    StackStatus,
    Trace,
    component_name,
    log_files,
    matches,
    parse_log,
    read_logs,
)
from infernet_kit.devstack.stack import StackInfo
from infernet_kit.paths import stack_file, state_dir

COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan", "bright_magenta")
GWEI = 10**9


class NoStack(Exception):
    """No stack is recorded in the state dir."""


def stack_endpoints() -> Endpoints:
    """Where the stack `infernet-kit up` recorded lives."""
    path = stack_file()
    if not path.is_file():
        raise NoStack(f"no stack is up (no {path}): start one with `infernet-kit up`")
    info = StackInfo.model_validate_json(path.read_text())
    return Endpoints(
        rpc_url=info.rpc_url,
        coordinator=info.deployment.coordinator,
        nodes=[node.url for node in info.nodes],
        services=info.services,
        backend_url=info.backend_url,
        log_dir=state_dir() / "up",
    )


def _short(value: str | None, keep: int = 10) -> str:
    if not value:
        return "-"
    return value if len(value) <= 2 * keep else f"{value[:keep]}…{value[-4:]}"


def _health(ok: bool) -> Text:
    return Text("up", style="green") if ok else Text("DOWN", style="bold red")


def status_view(status: StackStatus) -> Group:
    """The stack table, the subscriptions table and the off-chain job counts."""
    head = f"block {status.head}" if status.head is not None else "unreachable"
    stack = Table(title=f"stack (chain {status.chain_id}, {head})", title_justify="left")
    for column in ("component", "url", "state", "detail"):
        stack.add_column(column)
    for component in status.components:
        stack.add_row(component.name, component.url, _health(component.healthy), component.detail or "")
    for node in status.nodes:
        detail = node.error or (
            f"{_short(node.address)} judged {node.judged_block} pending {node.pending_offchain} off / "
            f"{node.pending_onchain} on"
        )
        stack.add_row("node", node.url, _health(node.healthy), detail)
    subs = Table(title="subscriptions (newest last)", title_justify="left")
    for column in ("id", "owner", "containers", "interval", "deliveries/redundancy", "last tx", "gas", "last problem"):
        subs.add_column(column)
    for row in status.subscriptions:
        per_node = ", ".join(f"{_short(node, 6)}:{count}" for node, count in row.deliveries.items()) or "0"
        interval = "cancelled" if row.cancelled else f"{min(row.interval, row.frequency)}/{row.frequency}"
        subs.add_row(
            str(row.id),
            _short(row.owner),
            ",".join(row.containers or ["?"]),
            interval,
            f"{per_node} (r={row.redundancy})",
            _short(row.last_tx),
            str(row.last_gas or "-"),
            row.last_problem or "",
        )
    jobs = ", ".join(f"{name} {count}" for name, count in sorted(status.jobs.items())) or "none"
    parts: list[Table | Text] = [stack, subs, Text(f"off-chain jobs (this client's): {jobs}")]
    parts.extend(Text(f"error: {error}", style="red") for error in status.errors)
    return Group(*parts)


_LOG_PREFIX = re.compile(r"^(INFO|DEBUG) \S+?:? ")


def trace_view(trace: Trace) -> Group:
    """The request's story, one entry per step in time order (details indented below it, never cut), then the
    deliveries' total cost."""
    palette = Palette()
    parts: list[Text] = []
    if (sub := trace.subscription) is not None:
        parts.append(
            Text(
                f"subscription {sub.id}: owner {sub.owner}, containers {','.join(sub.containers or ['?'])}, "
                f"frequency {sub.frequency}, period {sub.period}s, redundancy {sub.redundancy}",
                style="bold",
            )
        )
    for step in trace.steps:
        line = Text(step.time.astimezone().strftime("%H:%M:%S.%f")[:-3] if step.time else " " * 12, style="dim")
        line.append(f"  {step.actor:<8} ", style=palette(step.actor))
        line.append(f"{_short(step.who)}  ")
        line.append(_LOG_PREFIX.sub("", step.what))
        parts.append(line)
        details = [
            f"tx {step.tx_hash}" if step.tx_hash else "",
            f"block {step.block}" if step.block is not None else "",
            f"gas {step.gas_used:,}" if step.gas_used is not None else "",
            f"fee {step.fee_wei / GWEI:,.0f} gwei" if step.fee_wei else "",
        ]
        if any(details):
            parts.append(Text(" " * 16 + "  ".join(d for d in details if d)))
        if step.data is not None:
            parts.append(Text(" " * 16 + f"→ {step.data!r}", style="green"))
    if trace.deliveries:
        total_gas = sum(d.gas_used for d in trace.deliveries)
        total_fee = sum(d.fee_wei for d in trace.deliveries)
        parts.append(
            Text(f"{len(trace.deliveries)} delivery(ies): {total_gas:,} gas, {total_fee / GWEI:,.0f} gwei in fees")
        )
    return Group(*parts)


class Palette:
    """One colour per component, stable within a run."""

    def __init__(self) -> None:
        self._colours: dict[str, str] = {}

    def __call__(self, component: str) -> str:
        if component not in self._colours:
            self._colours[component] = COLOURS[len(self._colours) % len(COLOURS)]
        return self._colours[component]


def log_text(line: LogLine, palette: Palette) -> Text:
    text = Text(line.time.astimezone().strftime("%H:%M:%S.%f")[:-3] + " ", style="dim")
    text.append(f"{line.component:<8} ", style=palette(line.component))
    text.append(line.text)
    return text


def follow(log_dir: Path, *, subscription: int | None, job: str | None, interval: float = 0.5) -> Iterator[LogLine]:
    """New lines as components write them (each file read from where it was last left), until interrupted."""
    offsets = {path: path.stat().st_size for path in log_files(log_dir)}
    while True:
        fresh: list[LogLine] = []
        for path in log_files(log_dir):
            offset = offsets.get(path, 0)
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for the next round
            offsets[path] = offset + len(complete)
            lines = parse_log(component_name(path), complete.decode("utf-8", errors="replace").splitlines())
            fresh.extend(line for line in lines if matches(line, subscription=subscription, job=job))
        yield from sorted(fresh, key=lambda line: line.time)
        time.sleep(interval)


def print_logs(console: Console, log_dir: Path, *, subscription: int | None, job: str | None, follow_new: bool) -> None:
    palette = Palette()
    for line in read_logs(log_dir, subscription=subscription, job=job):
        console.print(log_text(line, palette), highlight=False, soft_wrap=True)
    if follow_new:
        console.file.flush()
        for line in follow(log_dir, subscription=subscription, job=job):
            console.print(log_text(line, palette), highlight=False, soft_wrap=True)
            console.file.flush()  # a pipe (`| grep`) sees each line as it comes
