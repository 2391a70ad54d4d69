"""The one registry of services: the CLI, the node's container launcher, the dev stack, the fixtures and the
client all look services up here.

Adding a service is one module (its wire facts and a `SERVICE = ServiceEntry(...)`) plus one entry: in
`BUILTIN` for the kit's own, or, for a service defined elsewhere, its module named in `$INFERNET_KIT_SERVICES`
(comma-separated module names). The variable is inherited by every process the kit starts, so a node's
`infernet-kit serve <kind>` children and the services' workers see the same registry.
"""

from __future__ import annotations

import importlib
import os

from infernet_kit.protocol import hf, signer, tgi
from infernet_kit.protocol.service import ServiceEntry

PLUGINS_ENV = "INFERNET_KIT_SERVICES"
BUILTIN: tuple[ServiceEntry, ...] = (tgi.SERVICE, hf.SERVICE, signer.SERVICE)


class UnknownService(LookupError):
    """A kind no registered service has."""


def _plugins() -> list[ServiceEntry]:
    names = [name.strip() for name in os.environ.get(PLUGINS_ENV, "").split(",") if name.strip()]
    entries = []
    for name in names:
        try:
            entry = importlib.import_module(name).SERVICE
        except (ImportError, AttributeError) as exc:
            raise UnknownService(f"{PLUGINS_ENV}: {name!r} is not a module with a SERVICE entry: {exc}") from exc
        if not isinstance(entry, ServiceEntry):
            raise UnknownService(f"{PLUGINS_ENV}: {name}.SERVICE is a {type(entry).__name__}, not a ServiceEntry")
        entries.append(entry)
    return entries


def services() -> dict[str, ServiceEntry]:
    """Every registered service by kind: the kit's own first, then the plugins in the order named."""
    registered: dict[str, ServiceEntry] = {}
    for entry in (*BUILTIN, *_plugins()):
        if entry.kind in registered:
            raise UnknownService(f"{PLUGINS_ENV}: service kind {entry.kind!r} is registered twice")
        registered[entry.kind] = entry
    return registered


def service(kind: str) -> ServiceEntry:
    """The service of `kind`; `UnknownService` listing the known kinds otherwise."""
    registered = services()
    if kind not in registered:
        raise UnknownService(f"unknown service kind {kind!r}; known: {', '.join(registered)}")
    return registered[kind]
