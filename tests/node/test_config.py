"""config.json loading: the seeds' entries load as written; bad keys are named, secrets never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from infernet_kit.config import ConfigError
from infernet_kit.node.config import load_config, parse_config

SEED_TGI = """{
    "log_path": "infernet_node.log",
    //...... contents abbreviated
    "containers": [
        {
            "id": "tgi_client_inference_service",
            "image": "ritualnetwork/tgi_client_inference_service:latest",
            "external": true,
            "port": "3000",
            "allowed_delegate_addresses": [],
            "allowed_addresses": [],
            "allowed_ips": [],
            "command": "--bind=0.0.0.0:3000 --workers=2",
            "env": {
                "TGI_INF_TOKEN": "YOUR_TOKEN_HERE",
                "TGI_INF_WORKFLOW_POSITIONAL_ARGS": "[\\"http://FILL_HOSTNAME_HERE\\", 30]",
                "TGI_INF_WORKFLOW_KW_ARGS": "{\\"max_new_tokens\\": 30, \\"temperature\\": 0.01}"
            }
        }
    ]
}"""


def test_seed_container_entry_loads_as_written(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(SEED_TGI)
    config = load_config(path)
    (container,) = config.containers
    assert container.port == 3000
    assert container.service_url == "http://127.0.0.1:3000"
    assert container.command_args == ["--bind=0.0.0.0:3000", "--workers=2"]
    assert container.external and not container.generates_proofs
    assert config.server.port == 4000
    assert not config.chain.enabled
    assert config.secrets() == ["YOUR_TOKEN_HERE"]
    assert "YOUR_TOKEN_HERE" not in repr(container)


def test_errors_name_each_key_and_hide_values() -> None:
    secret = "0x" + "ab" * 32
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "containers": [{"id": "a", "port": "x", "allowed_ips": ["10.0.0.300/8"]}, {"id": "b"}],
                "server": {"port": 70000, "rate_limit": {"num_requests": 0}},
                "chain": {"enabled": "maybe", "wallet": {"private_key": secret}},
            }
        )
    message = str(caught.value)
    for key in (
        "containers[0].port",
        "containers[0].allowed_ips",
        "containers[1]",
        "server.port",
        "server.rate_limit.num_requests",
        "chain.enabled",
    ):
        assert key in message
    assert secret not in message


def test_duplicate_ids_and_bad_addresses() -> None:
    with pytest.raises(ConfigError, match="duplicate container id 'a'"):
        parse_config({"containers": [{"id": "a", "port": 1}, {"id": "a", "port": 2}]})
    with pytest.raises(ConfigError, match=r"containers\[0\].allowed_addresses: '0x12' is not an Ethereum address"):
        parse_config({"containers": [{"id": "a", "port": 1, "allowed_addresses": ["0x12"]}]})


def test_allowed_ips_match_cidrs() -> None:
    config = parse_config({"containers": [{"id": "a", "port": 1, "allowed_ips": ["10.1.0.0/16", "127.0.0.1"]}]})
    container = config.containers[0]
    assert container.allows_ip("10.1.200.3")
    assert container.allows_ip("127.0.0.1")
    assert container.allows_ip("::ffff:127.0.0.1")
    assert not container.allows_ip("10.2.0.1")
    assert not container.allows_ip("not-an-ip")


def test_job_store_dsn_is_a_postgresql_url_and_its_password_a_secret() -> None:
    with pytest.raises(ConfigError, match=r"job_store.dsn: must be a PostgreSQL URL") as caught:
        parse_config({"job_store": {"dsn": "mysql://root:pw1234@db/jobs"}})
    assert "pw1234" not in str(caught.value)
    config = parse_config(
        {"job_store": {"dsn": "postgresql://infernet:s3cret-pw@db:5432/jobs"}, "server": {"port": 4001}}
    )
    assert config.secrets() == ["s3cret-pw"] and "s3cret-pw" not in repr(config)
    assert config.replica.endswith(":4001")
