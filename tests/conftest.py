"""The kit's own tests use the same pytest plugin users get (registered through the pytest11 entry point).

Fixtures shared across the test folders live here, once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infernet_kit.testing.service_fixtures import DevBackendHandle


@pytest.fixture
def backend(dev_backend: DevBackendHandle) -> Iterator[DevBackendHandle]:
    """The session's dev backend with no faults and zeroed counters, cleaned again afterwards."""
    dev_backend.reset()
    yield dev_backend
    dev_backend.reset()
