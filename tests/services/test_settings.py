"""Configuration from the environment: the seeds' env blocks verbatim, and clear errors naming the variable."""

from __future__ import annotations

import pytest

from infernet_kit.config import ConfigError
from infernet_kit.protocol.hf import HUB_ENDPOINT as HF_HUB_ENDPOINT
from infernet_kit.services.retry import RetryParams
from infernet_kit.services.server import BindError, parse_bind
from infernet_kit.services.settings import load_hf_settings, load_tgi_settings

# Seed 000's container "env", exactly as the seed writes it (values are JSON strings).
SEED_000_ENV = {
    "TGI_INF_TOKEN": "YOUR_TOKEN_HERE",
    "TGI_INF_WORKFLOW_POSITIONAL_ARGS": '["http://FILL_HOSTNAME_HERE", 30]',
    "TGI_INF_WORKFLOW_KW_ARGS": '{"retry_params": {"tries": 3, "delay": 1, "backoff": 2, "max_delay": 10, "jitter": [0.5, 1.5]}, "max_new_tokens": 30, "temperature": 0.01}',  # noqa: E501
}
# Seed 002's.
SEED_002_ENV = {
    "TGI_INF_WORKFLOW_POSITIONAL_ARGS": '["http://FILL_HOSTNAME_HERE", 30]',
    "TGI_INF_WORKFLOW_KW_ARGS": "{}",
    "TGI_REQUEST_TRIES": "3",
    "TGI_REQUEST_DELAY": "3",
    "TGI_REQUEST_MAX_DELAY": "10",
    "TGI_REQUEST_BACKOFF": "2",
    "TGI_REQUEST_JITTER": "[0.5, 1.5]",
}
SEED_001_ENV = {"HF_INF_TOKEN": "YOUR_TOKEN_HERE"}


def test_seed_000_env_loads() -> None:
    settings = load_tgi_settings(SEED_000_ENV)
    assert settings.server_url == "http://FILL_HOSTNAME_HERE"
    assert settings.timeout == 30
    assert settings.token == "YOUR_TOKEN_HERE"
    assert settings.generation.kwargs() == {"max_new_tokens": 30, "temperature": 0.01}
    assert settings.retry == RetryParams(tries=3, delay=1, backoff=2, max_delay=10, jitter=(0.5, 1.5))


def test_seed_002_env_loads() -> None:
    settings = load_tgi_settings(SEED_002_ENV)
    assert settings.token is None
    assert settings.generation.kwargs() == {}
    assert settings.retry == RetryParams(tries=3, delay=3, backoff=2, max_delay=10, jitter=(0.5, 1.5))


def test_seed_001_env_loads() -> None:
    settings = load_hf_settings(SEED_001_ENV)
    assert settings.token == "YOUR_TOKEN_HERE"
    assert settings.endpoint == HF_HUB_ENDPOINT


def test_request_env_overrides_retry_params_field_by_field() -> None:
    env = {**SEED_000_ENV, "TGI_REQUEST_TRIES": "5", "TGI_REQUEST_JITTER": "0.25"}
    retry = load_tgi_settings(env).retry
    assert (retry.tries, retry.delay, retry.max_delay, retry.jitter) == (5, 1, 10, 0.25)


def test_headers_and_cookies() -> None:
    env = {"TGI_INF_WORKFLOW_POSITIONAL_ARGS": '["https://tgi.example/", 5, {"X-Team": "a"}, {"session": "s"}]'}
    settings = load_tgi_settings(env)
    assert (settings.server_url, settings.headers, settings.cookies) == (
        "https://tgi.example",
        {"X-Team": "a"},
        {"session": "s"},
    )


@pytest.mark.parametrize(
    ("env", "variable", "fragment"),
    [
        ({}, "TGI_INF_WORKFLOW_POSITIONAL_ARGS", "server URL missing"),
        ({"TGI_INF_WORKFLOW_POSITIONAL_ARGS": "[]"}, "TGI_INF_WORKFLOW_POSITIONAL_ARGS", "server URL missing"),
        ({"TGI_INF_WORKFLOW_POSITIONAL_ARGS": '["http://x", 30'}, "TGI_INF_WORKFLOW_POSITIONAL_ARGS", "invalid JSON"),
        ({"TGI_INF_WORKFLOW_POSITIONAL_ARGS": "[30, 30]"}, "TGI_INF_WORKFLOW_POSITIONAL_ARGS", "URL"),
        ({"TGI_INF_WORKFLOW_POSITIONAL_ARGS": '["http://x", "thirty"]'}, "TGI_INF_WORKFLOW_POSITIONAL_ARGS", "timeout"),
        (
            {"TGI_INF_WORKFLOW_POSITIONAL_ARGS": '["http://x", 30, ["h"]]'},
            "TGI_INF_WORKFLOW_POSITIONAL_ARGS",
            "headers",
        ),
        ({"TGI_INF_WORKFLOW_KW_ARGS": "{max_new_tokens: 3}"}, "TGI_INF_WORKFLOW_KW_ARGS", "invalid JSON"),
        ({"TGI_INF_WORKFLOW_KW_ARGS": "[1]"}, "TGI_INF_WORKFLOW_KW_ARGS", "JSON object"),
        ({"TGI_INF_WORKFLOW_KW_ARGS": '{"max_new_tokens": "30"}'}, "TGI_INF_WORKFLOW_KW_ARGS", "max_new_tokens"),
        ({"TGI_INF_WORKFLOW_KW_ARGS": '{"max_new_tokenz": 30}'}, "TGI_INF_WORKFLOW_KW_ARGS", "max_new_tokenz"),
        ({"TGI_INF_WORKFLOW_KW_ARGS": '{"retry_params": {"tries": 0}}'}, "TGI_INF_WORKFLOW_KW_ARGS", "tries"),
        ({"TGI_INF_WORKFLOW_KW_ARGS": '{"retry_params": {"jitter": [2, 1]}}'}, "TGI_INF_WORKFLOW_KW_ARGS", "jitter"),
        ({"TGI_REQUEST_TRIES": "three"}, "TGI_REQUEST_TRIES", "invalid JSON"),
        ({"TGI_REQUEST_DELAY": '"soon"'}, "TGI_REQUEST_DELAY", "delay"),
        ({"SERVICE_MAX_BODY_BYTES": "12"}, "SERVICE_MAX_BODY_BYTES", ">= 1024"),
        ({"SERVICE_MAX_CONNECTIONS": "0"}, "SERVICE_MAX_CONNECTIONS", ">= 1"),
        ({"SERVICE_MAX_CONNECTIONS": "2.5"}, "SERVICE_MAX_CONNECTIONS", "integer"),
    ],
)
def test_bad_tgi_config_names_the_variable(env: dict[str, str], variable: str, fragment: str) -> None:
    base = {"TGI_INF_WORKFLOW_POSITIONAL_ARGS": '["http://x", 30]'}
    with pytest.raises(ConfigError) as error:
        load_tgi_settings({**base, **env} if env else {})
    assert variable in str(error.value)
    assert fragment in str(error.value)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"HF_INF_ENDPOINT": "localhost:8080"}, "HF_INF_ENDPOINT"),
        ({"HF_INF_TIMEOUT": "-1"}, "HF_INF_TIMEOUT"),
        ({"HF_INF_RETRY_PARAMS": '{"tries": "x"}'}, "HF_INF_RETRY_PARAMS"),
        ({"HF_INF_RETRY_PARAMS": '{"retries": 3}'}, "HF_INF_RETRY_PARAMS"),
        ({"HF_INF_DEFAULT_MODELS": '{"translation": "t5-small"}'}, "HF_INF_DEFAULT_MODELS"),
        ({"SERVICE_MAX_CONNECTIONS": "true"}, "SERVICE_MAX_CONNECTIONS"),
    ],
)
def test_bad_hf_config_names_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_hf_settings(env)


def test_both_services_read_the_connection_limit_alike() -> None:
    tgi_env = {"TGI_INF_WORKFLOW_POSITIONAL_ARGS": '["http://x", 30]'}
    assert load_tgi_settings(tgi_env).max_connections == load_hf_settings({}).max_connections == 512
    limit = {"SERVICE_MAX_CONNECTIONS": "8"}
    assert load_tgi_settings({**tgi_env, **limit}).max_connections == load_hf_settings(limit).max_connections == 8


def test_retry_delays_follow_the_protocol() -> None:
    assert RetryParams(tries=5, delay=1, backoff=2, jitter=0).delays() == [1, 2, 4, 8]
    assert RetryParams(tries=5, delay=1, backoff=2, jitter=0.5, max_delay=4).delays() == [1, 2.5, 4, 4]
    assert RetryParams(tries=1).delays() == []
    waits = RetryParams(tries=3, delay=3, backoff=2, jitter=(0.5, 1.5)).delays()
    assert waits[0] == 3 and 6.5 <= waits[1] <= 7.5


def test_bind_values() -> None:
    assert (parse_bind("0.0.0.0:3000").host, parse_bind("0.0.0.0:3000").port) == ("0.0.0.0", 3000)
    assert parse_bind("").port == 3000  # seed 002 prints `--bind=` with its address lost
    assert parse_bind("[::1]:8080").host == "::1"
    for bad in ("3000", "host:http", "host:70000"):
        with pytest.raises(BindError):
            parse_bind(bad)
