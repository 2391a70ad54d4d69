"""One verified TLS context per process, for every httpx client the kit makes.

httpx builds its default context anew for each client it creates (certifi's CA bundle parsed again: 40-55 ms of
CPU on the 2-core test machine), and `httpx.get()` creates a client per call, even for an `http://` URL. A
readiness poll every 50 ms thus kept a core busy while the process it waited for was starting: in one profiled
run of the test suite, a quarter of all CPU went to building these contexts. This is httpx's own default
(`httpx.create_ssl_context()`: `SSL_CERT_FILE`, `SSL_CERT_DIR`, else certifi), built once; an `SSLContext` may be
shared by any number of clients. Pass it as `verify=tls_context()`.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verified context, built on first use (so a process that never calls out pays nothing)."""
    return httpx.create_ssl_context()
