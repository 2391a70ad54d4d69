"""What the registry knows about one service: its wire names and where its implementation lives."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def resolve(dotted: str) -> Any:
    """The object a `module:name` path names, imported on first use (so `protocol/` imports no implementation)."""
    module, _, name = dotted.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class ServiceEntry:
    """One service: `infernet-kit serve <kind>` runs `app`; nodes and consumers call it `container_id`."""

    kind: str
    container_id: str
    description: str
    # `module:function` ASGI app factory, built by each worker (`uvicorn --factory`).
    app: str
    # `module:function` reading the service's environment, raising `ConfigError` naming the variable at fault;
    # run before any worker starts, so a bad configuration is one line, not N crashed workers.
    settings: str | None
    # Environment serving this kind against the dev backend (or a server speaking its upstream API) at a URL.
    dev_env: Callable[[str], dict[str, str]]
    # Words in a container's image or id that mean this kind, besides the kind itself as a prefix.
    image_words: tuple[str, ...] = ()
    # Whether it answers `requires_proof` with a proof (a node declares it `generates_proofs: true`).
    generates_proofs: bool = False

    def names(self, text: str) -> bool:
        """Whether an image name or container id (lower case) stands for this service."""
        return text.startswith(self.kind) or any(word in text for word in self.image_words)

    def check_settings(self) -> None:
        """Read the environment as the workers will; `ConfigError` if it is wrong."""
        if self.settings is not None:
            resolve(self.settings)()
