"""The `chain` section of the node's config.json (PROTOCOL.md section 3.1), with the reference names."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from infernet_kit.chain.encoding import ZERO_ADDRESS


def derived_ws_url(rpc_url: str) -> str | None:
    """`ws://host:port/path` for `http://host:port/path` (anvil and most nodes serve both on one port)."""
    parts = urlsplit(rpc_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    return None if scheme is None else urlunsplit(parts._replace(scheme=scheme))


def _checksum(value: str) -> str:
    from eth_utils.address import is_address, to_checksum_address

    if not is_address(value):
        raise ValueError(f"not an Ethereum address: {value!r}")
    return to_checksum_address(value)


class WalletConfig(BaseModel):
    """The node's signing key and how it may spend gas. The key is a SecretStr: it never prints."""

    model_config = ConfigDict(extra="ignore")

    private_key: SecretStr | None = None
    max_gas_limit: int = Field(default=5_000_000, gt=21_000)
    payment_address: str | None = None
    allowed_sim_errors: list[str] = Field(default_factory=list)

    @field_validator("private_key")
    @classmethod
    def _key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value().strip().removeprefix("0x")
        if len(raw) != 64 or any(c not in "0123456789abcdefABCDEF" for c in raw):
            # Never echo the value: only its shape is wrong.
            raise ValueError("must be 32 bytes of hex (64 hex digits, optional 0x)")
        return SecretStr("0x" + raw.lower())

    @field_validator("payment_address")
    @classmethod
    def _payment_address(cls, value: str | None) -> str | None:
        return None if value in (None, "") else _checksum(value)

    @property
    def node_wallet(self) -> str:
        """The address paid for deliveries (`nodeWallet`); zero when none is configured."""
        return self.payment_address or ZERO_ADDRESS


class SnapshotSyncConfig(BaseModel):
    """How subscriptions are learned: `batch_size` per Reader call, `sleep` between batches,
    `sync_period` between looks at the chain head, from `starting_sub_id`."""

    model_config = ConfigDict(extra="ignore")

    sleep: float = Field(default=1.0, ge=0)
    batch_size: int = Field(default=500, ge=1, le=10_000)
    starting_sub_id: int = Field(default=0, ge=0, lt=2**32)
    sync_period: float = Field(default=0.5, gt=0)


class ChainConfig(BaseModel):
    """The node's chain settings; `enabled: false` (the default) leaves every other key optional."""

    model_config = ConfigDict(extra="ignore")

    enabled: bool = False
    rpc_url: str | None = None
    # Where to subscribe to new heads: None derives it from rpc_url (ws:// on the same host and port, as
    # anvil serves it); "" turns the subscription off (the head is then polled every sync_period).
    ws_url: str | None = None
    registry_address: str | None = None
    trail_head_blocks: int = Field(default=0, ge=0, le=1_000)
    wallet: WalletConfig = Field(default_factory=WalletConfig)
    snapshot_sync: SnapshotSyncConfig = Field(default_factory=SnapshotSyncConfig)

    @field_validator("registry_address")
    @classmethod
    def _registry(cls, value: str | None) -> str | None:
        return None if value in (None, "") else _checksum(value)

    @property
    def heads_url(self) -> str | None:
        """The WebSocket to learn new blocks from, or None to poll only."""
        if self.ws_url is not None:
            return self.ws_url or None
        return derived_ws_url(self.rpc_url) if self.rpc_url else None

    @model_validator(mode="after")
    def _required_when_enabled(self) -> ChainConfig:
        if self.enabled:
            missing = [
                name
                for name, value in (
                    ("rpc_url", self.rpc_url),
                    ("registry_address", self.registry_address),
                    ("wallet.private_key", self.wallet.private_key),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"enabled is true but {', '.join(missing)} missing")
        return self
