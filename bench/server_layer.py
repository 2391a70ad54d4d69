"""EXPERIMENT (issue 15): the HTTP server layer alone, one trivial ASGI app (a 41-byte JSON answer) served four ways,
each in its own process on uvloop, measured in alternating rounds by the same load generator:

  raw      a bare asyncio protocol writing a fixed answer per request: the floor (syscalls and the loop);
  uvicorn  the kit's server: uvicorn with `http_protocol.CoalescingHttpProtocol`;
  granian  granian's embedded server (`granian.server.embed`) inside the process's own uvloop loop, on a
           pre-bound dual-stack socket, as the node would run it;
  gstd     granian standing alone (`granian --interface asginl --loop uvloop --runtime-mode st`, one worker).

Prints requests/s at 64 in flight, the server's CPU per request (its process tree, /proc), and p50 one at a time.
Run: .venv/bin/python bench/server_layer.py [raw uvicorn granian gstd]
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import uvloop

sys.path.insert(0, str(Path(__file__).parent))
import node as bench
from infernet_kit.processes import free_port

BODY = b'{"id":"0123456789abcdef0123456789abcdef"}'
ROUNDS = 6


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-length", str(len(BODY)).encode()), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


def _socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", port))
    return sock


async def serve_raw(port: int) -> None:
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\ncontent-type: application/json\r\n\r\n%s" % (len(BODY), BODY)

    class Raw(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport, self.buffer = cast(asyncio.Transport, transport), b""
            transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                length = 0
                for line in self.buffer[:end].split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if len(self.buffer) < end + 4 + length:
                    return
                self.buffer = self.buffer[end + 4 + length :]
                self.transport.write(answer)

    sock = _socket(port)
    sock.listen(4096)
    server = await asyncio.get_running_loop().create_server(Raw, sock=sock)
    await server.serve_forever()


async def serve_uvicorn(port: int) -> None:
    import uvicorn

    from infernet_kit.http_protocol import CoalescingHttpProtocol

    config = uvicorn.Config(
        app, http=CoalescingHttpProtocol, loop="none", lifespan="off", access_log=False, log_config=None, backlog=4096
    )
    await uvicorn.Server(config).serve(sockets=[_socket(port)])


async def serve_granian(port: int) -> None:
    from granian._granian import SocketHolder
    from granian.constants import HTTPModes, Interfaces
    from granian.server.embed import Server

    sock = _socket(port)
    sock.listen(4096)

    class PreBound(Server):
        def _init_shared_socket(self) -> None:
            state: Any = self  # granian's private socket slots (its stub gives SocketHolder no arguments)
            holder: Any = SocketHolder
            state._ssp, state._shd, state._sfd = None, holder(sock.fileno(), False, 4096), sock.fileno()

    options: dict[str, Any] = {"backlog": 4096, "log_enabled": False, "websockets": False, "http": HTTPModes.http1}
    server = PreBound(app, interface=Interfaces.ASGINL, **options)
    await server.serve()


def serve_gstd(port: int) -> None:
    granian = str(Path(sys.executable).parent / "granian")
    options = ["--interface", "asginl", "--loop", "uvloop", "--workers", "1", "--runtime-mode", "st", "--no-ws"]
    options += ["--http", "1", "--host", "127.0.0.1", "--port", str(port), "--backlog", "4096"]
    os.execv(
        granian,
        [granian, *options, "--log-level", "warning", "--working-dir", str(Path(__file__).parent), "server_layer:app"],
    )


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def server_cpu(pid: int) -> float:
    return sum(bench.process_cpu_seconds(p) for p in bench.process_tree(pid))


async def load(servers: list[tuple[str, int, int]]) -> None:
    call = bench.direct_call(b"{}")
    for _, port, _ in servers:
        await bench.measure("warm-up", port, call, count=2000, concurrency=64)
    totals = {name: [0.0, 0, 0.0] for name, _, _ in servers}
    for _ in range(ROUNDS):
        for name, port, pid in servers:
            before = server_cpu(pid)
            figure = await bench.measure(name, port, call, count=10_000, concurrency=64)
            totals[name][0] += server_cpu(pid) - before
            totals[name][1] += figure.count
            totals[name][2] += figure.seconds
    latencies: dict[str, list[float]] = {name: [] for name, _, _ in servers}
    for _ in range(5):
        for name, port, _ in servers:
            latencies[name] += (await bench.measure(name, port, call, count=1000, concurrency=1)).latencies
    for name, (cpu, count, seconds) in totals.items():
        print(
            f"{name:<8} c=64 {count / seconds:8.0f}/s  server CPU {cpu / count * 1000:.3f} ms/request  "
            f"c=1 p50 {statistics.median(latencies[name]) * 1000:.3f} ms"
        )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1].startswith("serve-"):
        kind, port = sys.argv[1].removeprefix("serve-"), int(sys.argv[2])
        if kind == "gstd":
            serve_gstd(port)
        uvloop.run({"raw": serve_raw, "uvicorn": serve_uvicorn, "granian": serve_granian}[kind](port))
        return
    kinds = sys.argv[1:] or ["raw", "uvicorn", "granian", "gstd"]
    print(f"load average {Path('/proc/loadavg').read_text().strip()}")
    processes, servers = [], []
    for kind in kinds:
        port = free_port()
        process = subprocess.Popen([sys.executable, __file__, f"serve-{kind}", str(port)])
        processes.append(process)
        servers.append((kind, port, process.pid))
    try:
        for _, port, _ in servers:
            deadline = time.monotonic() + 20
            while not _listening(port) and time.monotonic() < deadline:
                time.sleep(0.1)
        uvloop.run(load(servers))
    finally:
        for process in processes:
            process.terminate()
            process.wait()
    print(f"load average {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
