"""Fixtures for the service part of the local stack."""

from __future__ import annotations

__all__: list[str] = []
