"""Environment configuration of the TGI and HF services, read once at start; errors name the variable at fault.

The seeds' `env` blocks work verbatim (values are JSON, read with `infernet_kit.config.env_json`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infernet_kit.config import ConfigError, env_json
from infernet_kit.protocol import hf, tgi
from infernet_kit.services.errors import describe_validation
from infernet_kit.services.generation import GenerationParams
from infernet_kit.services.retry import RetryParams

MAX_BODY_ENV = "SERVICE_MAX_BODY_BYTES"
DEFAULT_MAX_BODY = 1024 * 1024
# The most backend calls a worker has in flight at once, through either of its clients (the lean one for JSON
# POSTs to an `http://` backend, aiohttp for `https://` and streams): one bound both take a place in.
MAX_CONNECTIONS_ENV = "SERVICE_MAX_CONNECTIONS"
DEFAULT_MAX_CONNECTIONS = 512

DEFAULT_TIMEOUT = 30.0


class TGISettings(BaseModel):
    """The TGI client service's configuration."""

    model_config = ConfigDict(frozen=True)

    server_url: str
    timeout: float | None = DEFAULT_TIMEOUT
    headers: dict[str, str] = Field(default_factory=dict)
    cookies: dict[str, str] = Field(default_factory=dict)
    token: str | None = None
    generation: GenerationParams = Field(default_factory=GenerationParams)
    retry: RetryParams = Field(default_factory=RetryParams)
    max_body_bytes: int = DEFAULT_MAX_BODY
    max_connections: int = DEFAULT_MAX_CONNECTIONS


class HFSettings(BaseModel):
    """The HF inference client service's configuration."""

    model_config = ConfigDict(frozen=True)

    endpoint: str = hf.HUB_ENDPOINT
    token: str | None = None
    timeout: float | None = DEFAULT_TIMEOUT
    retry: RetryParams = Field(default_factory=RetryParams)
    default_models: dict[str, str] = Field(default_factory=dict)
    max_body_bytes: int = DEFAULT_MAX_BODY
    max_connections: int = DEFAULT_MAX_CONNECTIONS


def _env(environ: Mapping[str, str] | None) -> dict[str, str]:
    return dict(os.environ if environ is None else environ)


def _validated(model: type[BaseModel], value: Any, source: str) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation(exc)}") from exc


def _url(value: Any, source: str) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ConfigError(f"{source}: the server URL must be an http:// or https:// URL, got {value!r}")
    return value.rstrip("/")


def _timeout(value: Any, source: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{source}: the timeout must be a positive number of seconds, got {value!r}")
    return float(value)


def _string_map(value: Any, source: str, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"{source}: {what} must be an object of strings, got {value!r}")
    return dict(value)


def _token(env: Mapping[str, str], name: str) -> str | None:
    token = env.get(name, "").strip()
    return token or None


def _env_int(env: Mapping[str, str], name: str, default: int, least: int) -> int:
    value = env_json(name, default, environ=dict(env))
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"environment variable {name}: must be an integer >= {least}, got {value!r}")
    return value


def _limits(env: Mapping[str, str]) -> dict[str, int]:
    """What both services read alike: the largest request body and the bound on backend calls in flight."""
    return {
        "max_body_bytes": _env_int(env, MAX_BODY_ENV, DEFAULT_MAX_BODY, 1024),
        "max_connections": _env_int(env, MAX_CONNECTIONS_ENV, DEFAULT_MAX_CONNECTIONS, 1),
    }


def load_tgi_settings(environ: Mapping[str, str] | None = None) -> TGISettings:
    """Read `TGI_INF_*` and `TGI_REQUEST_*`; raise `ConfigError` naming the variable at fault."""
    env = _env(environ)
    source = f"environment variable {tgi.POSITIONAL_ENV}"
    positional = env_json(tgi.POSITIONAL_ENV, None, environ=env)
    if not isinstance(positional, list) or not positional:
        raise ConfigError(
            f"{source}: must be a JSON list [server_url, timeout, headers?, cookies?] (server URL missing)"
        )
    if len(positional) > 4:
        raise ConfigError(f"{source}: takes at most 4 items [server_url, timeout, headers, cookies]")
    server_url = _url(positional[0], source)
    timeout = _timeout(positional[1], source) if len(positional) > 1 else DEFAULT_TIMEOUT
    headers = _string_map(positional[2] if len(positional) > 2 else None, source, "headers (item 3)")
    cookies = _string_map(positional[3] if len(positional) > 3 else None, source, "cookies (item 4)")

    kw_source = f"environment variable {tgi.KW_ENV}"
    kwargs = env_json(tgi.KW_ENV, {}, environ=env)
    if not isinstance(kwargs, dict):
        raise ConfigError(f"{kw_source}: must be a JSON object of generation parameters, got {kwargs!r}")
    kwargs = dict(kwargs)
    retry_values = kwargs.pop("retry_params", None) or {}
    if not isinstance(retry_values, dict):
        raise ConfigError(f"{kw_source}: retry_params must be an object, got {retry_values!r}")
    generation = _validated(GenerationParams, kwargs, kw_source)
    retry = _validated(RetryParams, retry_values, f"{kw_source} (retry_params)")
    for field, name in tgi.RETRY_ENV.items():
        value = env_json(name, None, environ=env)
        if value is not None:
            retry = _validated(RetryParams, {**retry.model_dump(), field: value}, f"environment variable {name}")
    return TGISettings(
        server_url=server_url,
        timeout=timeout,
        headers=headers,
        cookies=cookies,
        token=_token(env, tgi.TOKEN_ENV),
        generation=generation,
        retry=retry,
        **_limits(env),
    )


def load_hf_settings(environ: Mapping[str, str] | None = None) -> HFSettings:
    """Read `HF_INF_*`; raise `ConfigError` naming the variable at fault."""
    env = _env(environ)
    endpoint = hf.HUB_ENDPOINT
    if env.get(hf.ENDPOINT_ENV, "").strip():
        endpoint = _url(env[hf.ENDPOINT_ENV].strip(), f"environment variable {hf.ENDPOINT_ENV}")
    timeout = _timeout(env_json(hf.TIMEOUT_ENV, DEFAULT_TIMEOUT, environ=env), f"environment variable {hf.TIMEOUT_ENV}")
    retry_values = env_json(hf.RETRY_ENV, {}, environ=env)
    retry = _validated(RetryParams, retry_values, f"environment variable {hf.RETRY_ENV}")
    models_source = f"environment variable {hf.MODELS_ENV}"
    models = _string_map(env_json(hf.MODELS_ENV, None, environ=env), models_source, "default models")
    unknown = sorted(set(models) - set(hf.TASK_NAMES.values()))
    if unknown:
        raise ConfigError(f"{models_source}: unknown task(s) {unknown}; known: {sorted(hf.TASK_NAMES.values())}")
    return HFSettings(
        endpoint=endpoint,
        token=_token(env, hf.TOKEN_ENV),
        timeout=timeout,
        retry=retry,
        default_models=models,
        **_limits(env),
    )
