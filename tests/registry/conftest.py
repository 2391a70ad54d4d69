"""Registers the test-only `reverse` service for this folder, in this process and every process it starts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from infernet_kit.protocol.registry import PLUGINS_ENV

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def reverse_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`$INFERNET_KIT_SERVICES=reverse_service`, importable here and, by `PYTHONPATH`, in children."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv(PLUGINS_ENV, "reverse_service")
    yield
