"""Settings from the environment (prefix ``CIVIC_``), each with a safe local default."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# A development key is fine on a laptop; production must set CIVIC_PSEUDONYM_KEY, or the pseudonyms
# used as Kafka keys could be reversed by anyone who can guess resident IDs.
DEV_PSEUDONYM_KEY = "civic-local-development-key-not-for-production"
# Signs the identity the gateway forwards to the services. Production sets CIVIC_INTERNAL_KEY to a secret
# shared by the gateway and the services only.
DEV_INTERNAL_KEY = "civic-local-internal-identity-key-not-for-production"


# The five domain services and where `civic up` runs them locally (gateway on BASE_PORT, then these in order).
DOMAINS = ("assistance", "eldercare", "marriage", "funeral", "placenames")
BASE_PORT = 8000


def local_service_urls(base_port: int = BASE_PORT) -> dict[str, str]:
    return {d: f"http://127.0.0.1:{base_port + 1 + i}" for i, d in enumerate(DOMAINS)}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CIVIC_", extra="ignore")

    service_name: str = "civic"
    environment: str = Field("local", description="local | test | production")
    data_dir: Path = Path(".data")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy async URL; default is a SQLite file <data_dir>/<service>.db. May hold {service} "
        "(the service's name) and {instance} (a short hash of the data directory), so that one URL serves "
        "several services, or several systems on one PostgreSQL server, each with a database of its own",
    )
    migrate_on_start: bool | None = Field(
        None,
        description="upgrade the schema at start-up; by default only for SQLite files (local use). For "
        "PostgreSQL the migration is a deployment step (`civic db upgrade`), and a service whose database is "
        "behind refuses to start",
    )
    create_database: bool = Field(
        False, description="create the PostgreSQL database if it does not exist (local use and tests)"
    )

    kafka_bootstrap: str = "127.0.0.1:19092"
    # How the apps authenticate to Kafka: nothing on a laptop; SCRAM over TLS against a cluster whose ACLs let each
    # app write only its own topic (deploy/k8s/overlays/prod: Strimzi KafkaUsers).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_ca_file: Path | None = Field(None, description="the CA that signed the brokers' certificates (PEM)")
    # Partitions per topic on the embedded broker that `civic up` starts (production's topics are the operator's:
    # deploy/). One: locally each group has one consumer, so more partitions bought no parallelism, only fetch
    # work — every consumer names each partition of its topics in a fetch some 20 times a second, and with six
    # the idle system spent 0.9 of a core on it (broker 0.67), against 0.34 with one.
    kafka_partitions: int = 1
    # Small group timeouts so that a restarted consumer rejoins in seconds; production may raise them.
    kafka_session_timeout_ms: int = 6000
    kafka_heartbeat_interval_ms: int = 500
    kafka_rebalance_timeout_ms: int = 3000
    kafka_request_timeout_ms: int = 10000
    # How long the broker may hold a fetch waiting for data. The embedded broker (Tansu) answers a waiting fetch
    # late rather than when data arrives, so locally this bounds the latency a hop adds; Apache Kafka answers at
    # once, and the deployments (deploy/, docker-compose.yml) set 500 ms.
    kafka_fetch_max_wait_ms: int = 50

    pseudonym_key: SecretStr = SecretStr(DEV_PSEUDONYM_KEY)
    internal_key: SecretStr = SecretStr(DEV_INTERNAL_KEY)

    # Processes a service's batch job may run side by side, each working a disjoint range of rows (PostgreSQL only;
    # the assistance recalculation): the job's Python is one core's work. 1 where the service has one core.
    batch_workers: int = Field(1, ge=1, le=16)
    relay_batch_size: int = 500
    relay_idle_poll_s: float = 0.5
    relay_retry_max_s: float = 5.0
    relay_standby_poll_s: float = 2.0  # how often a standby relay (another replica leads) tries to take over

    consumer_max_attempts: int = 4
    consumer_backoff_initial_s: float = 0.05
    consumer_backoff_max_s: float = 2.0
    consumer_batch_size: int = 500
    consumer_transaction_size: int = 100  # events handled in one transaction (a batch may take several)
    # Offsets are committed once this long has passed since the last commit, or when no event is waiting. Every
    # handled event is in the inbox already, so a crash before the commit only delivers the events again.
    consumer_commit_interval_s: float = 1.0
    # The synchronous baseline of bench.journeys: services apply events when an orchestrator calls them
    # (``civic.steps``) instead of consuming them. Never in production: a caller could make a service apply any event.
    consumers_enabled: bool = True
    synchronous_steps: bool = False

    service_urls: dict[str, str] = Field(
        default_factory=local_service_urls, description="gateway routing: domain -> base URL (JSON in env)"
    )
    gateway_timeout_s: float = 15.0

    # Bearer tokens at the gateway: an OIDC provider's JWKS in production; or, only when explicitly enabled,
    # the development issuer whose key lives in the data directory (`civic up` enables it; `civic token` signs).
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str = "civic"
    dev_issuer: bool = False

    # Local and test systems only: a file holding a number of days by which the services' calendar runs ahead of
    # the real date (``civic.clock``), so that an end-to-end test passes a 30-day period on `civic up`.
    clock_offset_file: Path | None = None

    max_body_bytes: int = 64 * 1024
    log_level: str = "INFO"
    log_json: bool = True
    otel_exporter: str = Field("none", description="none | console | otlp")
    otel_endpoint: str | None = None

    def refuse_development_secrets(self) -> None:
        """In production the development keys would make pseudonyms reversible and identities forgeable."""
        if self.environment != "production":
            return
        weak = [name for name, value, dev in (
            ("CIVIC_PSEUDONYM_KEY", self.pseudonym_key, DEV_PSEUDONYM_KEY),
            ("CIVIC_INTERNAL_KEY", self.internal_key, DEV_INTERNAL_KEY),
        ) if value.get_secret_value() == dev or len(value.get_secret_value()) < 32]  # fmt: skip
        if weak:
            raise RuntimeError(f"production needs strong secrets (32+ characters) in {', '.join(weak)}")
        if not self.database_url:
            raise RuntimeError("production needs CIVIC_DATABASE_URL (a PostgreSQL URL): the SQLite default is local")
        if self.synchronous_steps:
            raise RuntimeError("CIVIC_SYNCHRONOUS_STEPS lets a caller make a service apply any event: bench only")
        if self.clock_offset_file is not None:
            raise RuntimeError("CIVIC_CLOCK_OFFSET_FILE moves the services' calendar: it is for local and test systems")

    def kafka_options(self) -> dict[str, Any]:
        """What every Kafka client of the app is given: where the brokers are and how to authenticate."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.kafka_bootstrap,
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_security_protocol.startswith("SASL"):
            missing = [name for name, value in (("CIVIC_KAFKA_USERNAME", self.kafka_username),
                                                ("CIVIC_KAFKA_PASSWORD", self.kafka_password)) if not value]  # fmt: skip
            if missing:
                raise RuntimeError(f"CIVIC_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                                   f"{' and '.join(missing)}")  # fmt: skip
            assert self.kafka_password is not None
            options |= {
                "sasl_mechanism": self.kafka_sasl_mechanism,
                "sasl_plain_username": self.kafka_username,
                "sasl_plain_password": self.kafka_password.get_secret_value(),
            }
        if self.kafka_security_protocol.endswith("SSL"):
            from aiokafka.helpers import create_ssl_context

            cafile = str(self.kafka_ca_file) if self.kafka_ca_file else None
            options["ssl_context"] = create_ssl_context(cafile=cafile)
        return options

    def resolved_database_url(self) -> str:
        if self.database_url:
            instance = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:10]
            return self.database_url.replace("{service}", self.service_name.replace("-", "_")).replace(
                "{instance}", instance
            )
        return f"sqlite+aiosqlite:///{self.data_dir / (self.service_name + '.db')}"

    def migrates_on_start(self) -> bool:
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return self.resolved_database_url().startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
