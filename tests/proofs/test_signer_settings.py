"""The signing example service's configuration: its key comes from the environment, and a bad one is named by the
variable, never echoed."""

from __future__ import annotations

import pytest
from eth_account import Account

from infernet_kit.config import ConfigError
from infernet_kit.protocol import signer
from infernet_kit.services.signer import SignerService, load_signer_settings

BACKEND = "http://127.0.0.1:9"  # never called: only the settings are read


def test_the_key_is_required_and_never_echoed() -> None:
    env = signer.dev_env(BACKEND)
    del env[signer.SIGNER_KEY_ENV]
    with pytest.raises(ConfigError, match=f"environment variable {signer.SIGNER_KEY_ENV}: must be 32 bytes of hex"):
        load_signer_settings(env)
    secret = "ab" * 31 + "zz"
    with pytest.raises(ConfigError) as caught:
        load_signer_settings({**env, signer.SIGNER_KEY_ENV: secret})
    assert secret not in str(caught.value)


def test_the_service_signs_as_the_keys_address_and_describes_no_secret() -> None:
    settings = load_signer_settings(signer.dev_env(BACKEND))
    service = SignerService(settings)
    assert service.signer == Account.from_key(signer.DEV_SIGNER_KEY).address
    assert service.proofs_message is None
    description = service.describe() + repr(settings)
    assert signer.DEV_SIGNER_KEY.removeprefix("0x") not in description
    assert service.signer in description
