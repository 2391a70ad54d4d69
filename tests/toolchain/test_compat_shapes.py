"""The library internals `infernet_kit.compat` leans on are still there, in the shape it expects.

Each check names what changed, so an upgrade that breaks a shortcut fails here, not as a slow service or a
confusing error deep in a request.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import importlib.util
import inspect
import subprocess
import sys
import textwrap

import aiohttp
import httpx2
from huggingface_hub import AsyncInferenceClient

from infernet_kit.compat.aiohttp_pool import open_connections
from infernet_kit.compat.deferred_bls import CURVE_ORDER, SERVED
from infernet_kit.compat.hf_transport import LEAN_POST_KEYWORDS, LeanAsyncClient, read_response
from infernet_kit.http_client import Answer


def test_huggingface_hub_still_has_its_private_response_hook() -> None:
    module = importlib.import_module("huggingface_hub.utils._http")
    hook = getattr(module, "async_hf_response_event_hook", None)
    assert hook is not None, "huggingface_hub.utils._http.async_hf_response_event_hook is gone: update compat"
    assert inspect.iscoroutinefunction(hook), "async_hf_response_event_hook is no longer a coroutine function"
    assert list(inspect.signature(hook).parameters) == ["response"], (
        f"async_hf_response_event_hook now takes {inspect.signature(hook)}: update compat/hf_transport.py"
    )


def test_httpx2_post_still_takes_the_keywords_the_lean_path_handles() -> None:
    parameters = inspect.signature(httpx2.AsyncClient.post).parameters
    assert list(parameters)[:2] == ["self", "url"], f"httpx2.AsyncClient.post is now {list(parameters)}"
    missing = LEAN_POST_KEYWORDS - set(parameters)
    assert not missing, f"httpx2.AsyncClient.post lost {sorted(missing)}: LeanAsyncClient.post overrides it"
    override = inspect.signature(LeanAsyncClient.post).parameters
    assert list(override)[:2] == ["self", "url"], "LeanAsyncClient.post no longer matches post(url, ...)"


def test_a_response_read_by_the_lean_client_reads_as_one_httpx_read() -> None:
    """`read_response` sets httpx2's private `_content`: the response must read, decode and raise as one httpx
    built from the same bytes (the lean client decoded the body: its content-encoding must not apply again)."""
    request = httpx2.Request("POST", "http://backend/generate")
    body = '{"error":"busy é"}'.encode()
    headers = {"content-type": "application/json", "x-error-message": "busy"}
    built = read_response(Answer(503, {**headers, "content-encoding": "gzip"}, body), request)
    reference = httpx2.Response(503, headers=headers, content=body, request=request)
    assert (built.content, built.text, built.json()) == (reference.content, reference.text, reference.json())
    assert (built.headers.get("x-error-message"), "content-encoding" in built.headers) == ("busy", False)
    assert (built.is_closed, built.request.url) == (True, reference.request.url)
    for response in (built, reference):
        try:
            response.raise_for_status()
        except httpx2.HTTPStatusError as error:
            assert "503" in str(error) and error.response is response
        else:
            raise AssertionError("raise_for_status let a 503 through")


def test_the_inference_client_posts_only_what_the_lean_path_handles() -> None:
    """The inference client's non-streaming call is `client.post(url, <keywords>)`: every keyword it passes is
    one the lean path understands (any other would silently take the slow path)."""
    source = textwrap.dedent(inspect.getsource(AsyncInferenceClient._inner_post))
    posts = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "post"
    ]
    assert posts, "AsyncInferenceClient._inner_post no longer calls client.post: update compat/hf_transport.py"
    for call in posts:
        keywords = {keyword.arg for keyword in call.keywords}
        assert len(call.args) == 1, "the inference client now passes more than the URL positionally to post"
        assert keywords <= LEAN_POST_KEYWORDS, (
            f"the inference client now posts {sorted(keywords - LEAN_POST_KEYWORDS)} too: extend LeanAsyncClient"
        )


def test_aiohttp_connector_still_exposes_its_pool() -> None:
    async def check() -> None:
        connector = aiohttp.TCPConnector(limit=4)
        try:
            conns = getattr(connector, "_conns", None)
            acquired = getattr(connector, "_acquired", None)
            assert isinstance(conns, dict), f"aiohttp connector._conns is now {type(conns)}: update aiohttp_pool"
            assert acquired is not None and hasattr(acquired, "__len__"), "aiohttp connector._acquired is gone"
            assert open_connections(connector) == 0
        finally:
            await connector.close()

    asyncio.run(check())


def test_eth_keyfile_still_imports_only_what_deferred_bls_serves() -> None:
    """eth_keyfile reads from py_ecc's BLS modules exactly the names the stand-ins serve, with the same values."""
    import eth_keyfile.keyfile

    tree = ast.parse(inspect.getsource(eth_keyfile.keyfile))
    imported = {
        node.module: tuple(alias.name for alias in node.names)
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module in SERVED
    }
    served = {module: tuple(names) for module, names in SERVED.items()}
    assert imported == served, f"eth_keyfile now imports {imported} from py_ecc: update compat/deferred_bls.py"
    assert importlib.import_module("py_ecc.bls12_381").curve_order == CURVE_ORDER


BLS_CHECK = """
import sys
import infernet_kit, eth_account
import eth_keyfile.keyfile
loaded = sorted(name for name in ("py_ecc.bls", "py_ecc.bls12_381") if name in sys.modules)
key = b"\\x01" * 32
keyfile = eth_keyfile.create_keyfile_json(key, b"pw", version=4, iterations=2)
from py_ecc.bls import G2ProofOfPossession
assert keyfile["pubkey"] == G2ProofOfPossession.SkToPk(int.from_bytes(key, "big")).hex()
assert eth_keyfile.decode_keyfile_json(keyfile, b"pw") == key
print(loaded, type(sys.modules["py_ecc.bls"]).__name__, type(eth_keyfile.keyfile.bls).__name__)
"""


def test_importing_eth_account_leaves_bls_unloaded_until_a_bls_keystore_is_made() -> None:
    """In a fresh process: eth_account's import loads neither module and leaves no stand-in behind; a BLS keystore
    made afterwards has the public key py_ecc computes."""
    done = subprocess.run([sys.executable, "-c", BLS_CHECK], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "module", "_DeferredAttribute"], done.stdout


def test_httpx_still_imports_only_main_from_its_command_line_module() -> None:
    """httpx's `__init__` takes exactly `main` from `._main`: the one name deferred_httpx_cli's stand-in serves."""
    spec = importlib.util.find_spec("httpx")
    assert spec is not None and spec.origin is not None
    with open(spec.origin) as source:
        tree = ast.parse(source.read())
    imported = [
        tuple(alias.name for alias in node.names)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module == "_main"
    ]
    assert imported == [("main",)], f"httpx now imports {imported} from ._main: update compat/deferred_httpx_cli.py"


HTTPX_CLI_CHECK = """
import sys
import infernet_kit, httpx
loaded = sorted(name for name in ("httpx._main", "click", "rich", "pygments") if name in sys.modules)
sys.argv = ["httpx", "--help"]
try:
    httpx.main()
except SystemExit as exc:
    code = exc.code
print(loaded, code, type(sys.modules["httpx._main"].main).__name__)
"""


def test_importing_httpx_leaves_its_command_line_unloaded_until_it_runs() -> None:
    """In a fresh process: httpx's import loads neither its command line nor click, rich or pygments, and leaves
    no stand-in behind; `httpx.main` then runs the real command (its help, exit 0)."""
    done = subprocess.run([sys.executable, "-c", HTTPX_CLI_CHECK], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].split() == ["[]", "0", "Command"], done.stdout
    assert "Usage" in done.stdout and "httpx" in done.stdout
