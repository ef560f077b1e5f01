"""Settings: safe local defaults, and production refuses the development secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from civic.config import DEV_INTERNAL_KEY, DEV_PSEUDONYM_KEY, Settings

STRONG = "k" * 40


def test_local_defaults_need_no_configuration() -> None:
    settings = Settings(service_name="funeral")
    assert settings.resolved_database_url() == "sqlite+aiosqlite:///.data/funeral.db"
    settings.refuse_development_secrets()  # fine outside production


@pytest.mark.parametrize(
    ("pseudonym", "internal", "named"),
    [
        (DEV_PSEUDONYM_KEY, STRONG, "CIVIC_PSEUDONYM_KEY"),
        (STRONG, DEV_INTERNAL_KEY, "CIVIC_INTERNAL_KEY"),
        (STRONG, "short", "CIVIC_INTERNAL_KEY"),
    ],
)
def test_production_refuses_development_or_weak_secrets(pseudonym: str, internal: str, named: str) -> None:
    settings = Settings(environment="production", pseudonym_key=SecretStr(pseudonym), internal_key=SecretStr(internal))
    with pytest.raises(RuntimeError, match=named):
        settings.refuse_development_secrets()


def test_production_with_strong_secrets_starts() -> None:
    Settings(
        environment="production", pseudonym_key=SecretStr(STRONG), internal_key=SecretStr(STRONG + "x"),
        database_url="postgresql+asyncpg://civic@db/funeral",
    ).refuse_development_secrets()  # fmt: skip


def test_production_names_the_missing_database_url() -> None:
    settings = Settings(environment="production", pseudonym_key=SecretStr(STRONG), internal_key=SecretStr(STRONG))
    with pytest.raises(RuntimeError, match="CIVIC_DATABASE_URL"):
        settings.refuse_development_secrets()


def test_one_database_url_for_many_services_and_systems(tmp_path: Path) -> None:
    template = "postgresql+asyncpg://civic@db/{service}_{instance}"
    first = Settings(service_name="gateway-1a", data_dir=tmp_path / "a", database_url=template)
    second = Settings(service_name="gateway-1a", data_dir=tmp_path / "b", database_url=template)
    assert first.resolved_database_url().startswith("postgresql+asyncpg://civic@db/gateway_1a_")
    assert first.resolved_database_url() != second.resolved_database_url()
    assert not first.migrates_on_start(), "PostgreSQL is migrated by a deployment step"
    assert Settings(data_dir=tmp_path).migrates_on_start(), "a local SQLite file is upgraded at start"


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVIC_DATABASE_URL", "postgresql+asyncpg://u:p@db/assistance")
    monkeypatch.setenv("CIVIC_SERVICE_URLS", '{"funeral": "http://funeral:8000"}')
    settings = Settings()
    assert settings.resolved_database_url() == "postgresql+asyncpg://u:p@db/assistance"
    assert settings.service_urls == {"funeral": "http://funeral:8000"}


def test_kafka_clients_connect_in_plain_text_locally() -> None:
    assert Settings(kafka_bootstrap="k:9092").kafka_options() == {
        "bootstrap_servers": "k:9092", "security_protocol": "PLAINTEXT",
    }  # fmt: skip


def test_kafka_with_scram_over_tls_names_what_is_missing_and_builds_the_tls_context() -> None:
    with pytest.raises(RuntimeError, match="CIVIC_KAFKA_USERNAME and CIVIC_KAFKA_PASSWORD"):
        Settings(kafka_security_protocol="SASL_SSL").kafka_options()
    options = Settings(
        kafka_security_protocol="SASL_SSL", kafka_username="civic-funeral", kafka_password=SecretStr("pw")
    ).kafka_options()
    assert options["sasl_mechanism"] == "SCRAM-SHA-512" and options["sasl_plain_username"] == "civic-funeral"
    assert options["sasl_plain_password"] == "pw" and options["ssl_context"].check_hostname


def test_production_refuses_synchronous_steps() -> None:
    """The baseline bench's route would let a caller make a service apply any event."""
    settings = Settings(environment="production", pseudonym_key=SecretStr(STRONG), internal_key=SecretStr(STRONG + "x"),
                        database_url="postgresql+asyncpg://civic@db/civic", synchronous_steps=True)  # fmt: skip
    with pytest.raises(RuntimeError, match="CIVIC_SYNCHRONOUS_STEPS"):
        settings.refuse_development_secrets()
