"""The node's config.json (PROTOCOL.md section 3.1), validated at start so a bad key stops the node with its name."""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from infernet_kit.config import ConfigError, load_json_file
from infernet_kit.node.chain.config import ChainConfig

DEFAULT_PORT = 4000
DEFAULT_CONTAINER_TIMEOUT = 180.0
DEFAULT_MAX_CONTAINERS_PER_JOB = 16
# Environment variables whose values are credentials (HF_INF_TOKEN, TGI_INF_TOKEN, API keys, passwords).
_SECRET_NAME = re.compile(r"TOKEN|KEY|SECRET|PASS|AUTH|CREDENTIAL|BEARER", re.IGNORECASE)


class _Section(BaseModel):
    """Config sections ignore keys of the reference node that this node has no use for (docker, redis, gpu...)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def _addresses(values: list[str]) -> list[str]:
    from eth_utils.address import is_address, to_checksum_address  # here: only a config with addresses needs it

    for value in values:
        if not is_address(value):
            raise ValueError(f"{value!r} is not an Ethereum address")
    return [to_checksum_address(value) for value in values]


class ContainerConfig(_Section):
    """One entry of `containers`: an inference service the node forwards jobs to."""

    id: str = Field(min_length=1)
    image: str = ""
    url: str | None = None
    bearer: str | None = Field(default=None, repr=False)
    external: bool = True
    port: int | None = Field(default=None, ge=1, le=65535)
    allowed_addresses: list[str] = Field(default_factory=list)
    allowed_delegate_addresses: list[str] = Field(default_factory=list)
    allowed_ips: list[str] = Field(default_factory=list)
    command: str | list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict, repr=False)
    description: str = ""
    generates_proofs: bool = False
    accepted_payments: dict[str, int] = Field(default_factory=dict)
    # Not in the reference: how long one call to this container may take before the job fails.
    timeout: float = Field(default=DEFAULT_CONTAINER_TIMEOUT, gt=0)

    @field_validator("id")
    @classmethod
    def _no_comma(cls, value: str) -> str:
        # Container ids are comma-joined into the on-chain containerId; a comma inside one would be ambiguous.
        if "," in value or value != value.strip():
            raise ValueError("must not contain commas or surrounding spaces")
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("allowed_ips")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not an IP address or CIDR range") from exc
        return values

    @field_validator("allowed_addresses", "allowed_delegate_addresses")
    @classmethod
    def _checksummed(cls, values: list[str]) -> list[str]:
        return _addresses(values)

    @field_validator("accepted_payments")
    @classmethod
    def _payments(cls, values: dict[str, int]) -> dict[str, int]:
        from eth_utils.address import is_address, to_checksum_address

        checked: dict[str, int] = {}
        for token, minimum in values.items():
            if not is_address(token):
                raise ValueError(f"token {token!r} is not an Ethereum address")
            if minimum < 0:
                raise ValueError(f"minimum for {token} must not be negative")
            checked[to_checksum_address(token)] = minimum
        return checked

    @field_validator("env", mode="before")
    @classmethod
    def _env_strings(cls, values: Any) -> Any:
        # The reference accepts numbers as env values; the process environment only holds strings.
        if isinstance(values, dict):
            return {key: value if isinstance(value, str) else _json_text(value) for key, value in values.items()}
        return values

    @model_validator(mode="after")
    def _reachable(self) -> ContainerConfig:
        if self.url is None and self.port is None:
            raise ValueError("needs a `url` or a `port`")
        if self.command is not None and self.port is None:
            raise ValueError("a container with a `command` needs a `port` to serve on")
        return self

    @property
    def service_url(self) -> str:
        """Where the node reaches this container: `url`, else the local port."""
        return self.url if self.url is not None else f"http://127.0.0.1:{self.port}"

    @property
    def command_args(self) -> list[str]:
        if self.command is None:
            return []
        return list(self.command) if isinstance(self.command, list) else shlex.split(self.command)

    def allows_ip(self, address: str) -> bool:
        """True when `address` (a real peer address) is inside `allowed_ips`; an empty list allows all."""
        if not self.allowed_ips:
            return True
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
            peer = peer.ipv4_mapped
        return any(peer in ipaddress.ip_network(cidr, strict=False) for cidr in self.allowed_ips)


def _json_text(value: Any) -> str:
    return json.dumps(value)


class RateLimitConfig(_Section):
    """At most `num_requests` per client address every `period` seconds."""

    num_requests: int = Field(default=60, ge=1)
    period: float = Field(default=60.0, gt=0)


class ServerConfig(_Section):
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    # Not in the reference: the address to listen on.
    host: str = "0.0.0.0"
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    # Not in the reference: the largest request body accepted, in bytes (413 beyond).
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Not in the reference: the most jobs one `POST /api/jobs/batch` may hold (413 beyond).
    max_batch_jobs: int = Field(default=100, ge=1)
    # Not in the reference: the longest chain of containers one job may name (400 beyond).
    max_containers_per_job: int = Field(default=DEFAULT_MAX_CONTAINERS_PER_JOB, ge=1)


class JobStoreConfig(_Section):
    """Not in the reference: where off-chain job records live. Without `dsn`, in SQLite in the data directory;
    with a PostgreSQL `dsn`, in that database, which several REST replicas of one node may share."""

    dsn: str | None = Field(default=None, repr=False)
    # Names this replica's rows, so a restart fails only its own interrupted jobs (default "<hostname>:<port>").
    replica: str = ""
    # Seconds PostgreSQL may take to answer one call before it counts as unavailable (503 for new jobs).
    timeout: float = Field(default=10.0, gt=0, le=300)

    @field_validator("dsn")
    @classmethod
    def _postgres(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a PostgreSQL URL: postgresql://user[:password]@host[:port]/database")
        return value

    @property
    def password(self) -> str | None:
        return urlsplit(self.dsn).password if self.dsn else None


class LogConfig(_Section):
    """The reference node v1.4's `"log": {"path": ...}` (older configs say `log_path`)."""

    path: str | None = None


class NodeConfig(_Section):
    """The whole config.json."""

    containers: list[ContainerConfig] = Field(default_factory=list)
    chain: ChainConfig = Field(default_factory=ChainConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    startup_wait: float = Field(default=1.0, ge=0)
    log_path: str | None = None
    log: LogConfig = Field(default_factory=LogConfig)
    # Not in the reference: where the job database and chain state live (the CLI's --data-dir wins).
    data_dir: str | None = None
    job_store: JobStoreConfig = Field(default_factory=JobStoreConfig)

    @model_validator(mode="after")
    def _unique_ids(self) -> NodeConfig:
        seen: set[str] = set()
        for index, container in enumerate(self.containers):
            if container.id in seen:
                raise ValueError(f"containers[{index}].id: duplicate container id {container.id!r}")
            seen.add(container.id)
        return self

    @property
    def log_file(self) -> str | None:
        """Where the node also writes its log: `log_path`, else `log.path` (None: stderr only)."""
        return self.log_path or self.log.path

    @property
    def replica(self) -> str:
        """This REST replica's name in a shared job store."""
        return self.job_store.replica or f"{socket.gethostname()}:{self.server.port}"

    def container(self, container_id: str) -> ContainerConfig | None:
        return next((c for c in self.containers if c.id == container_id), None)

    def secrets(self) -> list[str]:
        """Every secret value in the config (wallet key, bearer tokens, credential env values), for log masking."""
        found: list[str] = []
        if self.chain.wallet.private_key is not None:
            key = self.chain.wallet.private_key.get_secret_value()
            found.extend((key, key.removeprefix("0x")))
        for container in self.containers:
            if container.bearer:
                found.append(container.bearer)
            found.extend(value for key, value in container.env.items() if _SECRET_NAME.search(key))
        if self.job_store.password:
            found.append(self.job_store.password)
        # Very short values are not real credentials and masking them would garble every log line.
        return sorted({value for value in found if len(value) >= 4}, key=len, reverse=True)


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def describe_validation_error(error: ValidationError, *, source: str) -> str:
    """One line per problem naming the key; input values are left out because they may be secrets."""
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        key = _location(tuple(item["loc"]))
        message = str(item["msg"]).removeprefix("Value error, ")
        text = f"{key}: {message}" if key else message
        lines.append(f"{source}: {text}" if source else text)
    return "\n".join(lines)


def parse_config(raw: Any, *, source: str = "config") -> NodeConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a JSON object")
    try:
        return NodeConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source=source)) from None


def load_config(path: str | Path) -> NodeConfig:
    """Read and validate config.json; a `ConfigError` names the file and the key at fault."""
    return parse_config(load_json_file(path, what="node config"), source=str(path))
