"""The process's one TLS context (infernet_kit.tls) is httpx's verified default, built once: sharing it must not
turn verification off for the `https://` nodes, RPCs and services a user points the kit at."""

from __future__ import annotations

import ssl

import httpx

from infernet_kit.tls import tls_context


def test_one_context_per_process_and_it_verifies() -> None:
    context = tls_context()
    assert context is tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    # The same CA bundle httpx loads for a client of its own.
    assert context.cert_store_stats()["x509_ca"] == httpx.create_ssl_context().cert_store_stats()["x509_ca"] > 0
