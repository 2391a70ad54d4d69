"""The services' error model: every failure becomes `{"code", "name", "description"}` with a matching status."""

from __future__ import annotations

from pydantic import ValidationError

from infernet_kit.protocol import ServiceError


class ServiceFailure(Exception):
    """A request the service answers with an error; `description` says what is wrong, for the caller."""

    def __init__(self, status: int, name: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.name = name
        self.description = description

    def body(self) -> ServiceError:
        return ServiceError(code=str(self.status), name=self.name, description=self.description)


def bad_request(description: str, name: str = "InvalidRequest") -> ServiceFailure:
    """400: the caller sent something the service cannot use."""
    return ServiceFailure(400, name, description)


def describe_validation(exc: ValidationError, *, prefix: str = "") -> str:
    """A pydantic error as one line: `field: problem; other.field: problem`."""
    parts = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in error["loc"])
        where = f"{prefix}{location}" if location else prefix.rstrip(".") or "value"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
