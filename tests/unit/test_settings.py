"""The typed Settings: production refuses missing or placeholder secrets, development does not (settings.py)."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from pydantic import ValidationError

from civicpass.settings import Settings

REAL_PII_KEYS = "k2024:" + base64.b64encode(bytes(range(32))).decode()
# Every secret setting production checks; found from the model so a newly added secret is covered too.
SECRET_FIELDS = [
    name for name, field in Settings.model_fields.items() if "SecretStr" in str(field.annotation)
]
REAL_KEYS = {
    name: REAL_PII_KEYS
    if name == "pii_keys"
    else base64.b64encode(bytes(range(i * 32 + 40, i * 32 + 72))).decode()
    for i, name in enumerate(SECRET_FIELDS)
}


@pytest.fixture(autouse=True)
def _no_civicpass_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("CIVICPASS_"):
            monkeypatch.delenv(name)


def _production(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"environment": "production", **REAL_KEYS}
    values.update(overrides)
    return Settings(**values)


def test_the_pii_keyring_and_the_blind_index_key_are_secret_settings() -> None:
    assert {"pii_keys", "blind_index_key"} <= set(SECRET_FIELDS)


def test_production_with_real_keys_is_accepted() -> None:
    settings = _production()
    assert settings.environment == "production"
    assert settings.pii_keys is not None
    assert settings.pii_keys.get_secret_value() == REAL_PII_KEYS


@pytest.mark.parametrize("name", SECRET_FIELDS)
def test_production_refuses_a_missing_key(name: str) -> None:
    with pytest.raises(ValidationError, match=f"CIVICPASS_{name.upper()} must be set in production"):
        _production(**{name: None})


@pytest.mark.parametrize("name", SECRET_FIELDS)
@pytest.mark.parametrize(
    "value",
    [
        "changeme-changeme-changeme-changeme",
        "k1:CHANGE-ME-CHANGE-ME-CHANGE-ME-CHANGE-ME",
        "this-is-a-placeholder-key-of-enough-length",
        "my-super-secret-key-that-is-long-enough",
        "k1:example-example-example-example-example",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "TODO-generate-a-real-key-before-release",
        "password-password-password-password",
        "",
        "k1:c2hvcnQ=",  # too short to hold a 32-byte key
    ],
)
def test_production_refuses_a_placeholder_or_short_key(name: str, value: str) -> None:
    with pytest.raises(
        ValidationError,
        match=f"CIVICPASS_{name.upper()} looks like a placeholder or is not a base64 32-byte random key",
    ):
        _production(**{name: value})


def test_development_accepts_no_keys_at_all() -> None:
    settings = Settings(environment="development")
    assert all(getattr(settings, name) is None for name in SECRET_FIELDS)


def test_development_is_the_default_and_accepts_placeholder_keys() -> None:
    settings = Settings(pii_keys="changeme", blind_index_key="dev")
    assert settings.environment == "development"


def test_an_unknown_environment_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(environment="staging")


def test_secrets_do_not_appear_in_the_settings_repr() -> None:
    shown = repr(_production())
    assert all(REAL_KEYS[name] not in shown for name in SECRET_FIELDS)


def test_production_is_also_enforced_when_it_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CIVICPASS_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="must be set in production"):
        Settings()


def test_production_accepts_a_random_key_whose_base64_happens_to_contain_a_placeholder_word() -> None:
    key = base64.b64encode(b"\x0d\xeb\xdf" + bytes(range(29))).decode()
    assert key.startswith("Devf")
    _production(blind_index_key=key)
