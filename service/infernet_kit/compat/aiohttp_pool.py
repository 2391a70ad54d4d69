"""How many connections an aiohttp connector holds open: aiohttp has no public count, so this reads its
private `_conns` (idle, per host key) and `_acquired` (in use). Used by tests and diagnostics only."""

from __future__ import annotations

import aiohttp


def open_connections(connector: aiohttp.BaseConnector) -> int:
    """Connections `connector` holds open, idle or in use."""
    idle = sum(len(entries) for entries in connector._conns.values())
    return idle + len(connector._acquired)
