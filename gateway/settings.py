"""Settings only the gateway reads (prefix ``CIVIC_`` like the rest), each with a safe local default."""

from __future__ import annotations

from pydantic import Field, SecretStr

from civic.config import Settings

# Seals the department webhooks' HMAC secrets at rest (gateway.subscriptions.sealing). Production sets
# CIVIC_WEBHOOK_SECRET_KEY to a secret of its own, kept out of the database's reach.
DEV_WEBHOOK_SECRET_KEY = "civic-local-webhook-secret-key-not-for-production"


class GatewaySettings(Settings):
    service_name: str = "gateway"

    # Routing. Connecting is quick or the service is not there; reading may take as long as a request may.
    gateway_connect_timeout_s: float = 2.0
    gateway_read_retries: int = Field(2, description="extra attempts for GET/HEAD whose connection failed")
    gateway_retry_backoff_s: float = 0.05
    breaker_failure_threshold: int = Field(3, description="consecutive failures that open a service's circuit")
    breaker_open_s: float = Field(5.0, description="how long an open circuit refuses before one probe is let through")

    # Safety for clients.
    rate_limit_per_s: float = Field(50.0, description="sustained requests per second per client")
    rate_limit_burst: int = Field(200, description="requests a client may make at once")
    rate_limit_shared: bool | None = Field(
        None,
        description="count each client's requests across all replicas through the gateway's database "
        "(gateway.ratelimit_shared); off, every replica limits on its own (N replicas: N times the limit). "
        "Unset: on with PostgreSQL (replicas), off with SQLite (one local gateway, whose file's single write "
        "lock the audit log and the journey tracker need more)",
    )
    rate_limit_sync_s: float = Field(
        0.5, gt=0, description="how often a replica hands on its counts and takes the others' (the overshoot bound)"
    )
    cors_origins: list[str] = Field(default_factory=list, description="origins of the citizen web apps (JSON in env)")
    idempotency_wait_s: float = Field(20.0, description="how long a repeat waits for the first request's result")
    idempotency_ttl_s: float = Field(86_400.0, description="how long an Idempotency-Key is kept; older acts as new")
    idempotency_purge_every_s: float = Field(600.0, description="how often expired Idempotency-Keys are deleted")

    # Department subscriptions.
    webhook_timeout_s: float = 5.0
    webhook_allow_private_networks: bool = Field(
        False,
        description="let webhooks call loopback, private and link-local addresses: for local use (`civic up`) and "
        "tests only, whose receivers listen on 127.0.0.1. Off, a webhook URL must resolve to public addresses only, "
        "checked at registration and before each delivery (see gateway.subscriptions.targets)",
    )
    webhook_backoff_initial_s: float = 1.0
    webhook_backoff_max_s: float = 300.0
    webhook_max_attempts: int = Field(8, description="after this many failures a delivery is marked failed")
    webhook_secret_key: SecretStr = Field(
        SecretStr(DEV_WEBHOOK_SECRET_KEY), description="seals webhook secrets in the database (AES-GCM); 32+ characters"
    )
    delivery_poll_s: float = Field(0.25, description="how often idle delivery workers and SSE streams look for work")

    def shares_rate_limits(self) -> bool:
        """Whether rate limits are counted across replicas: as set, or else with PostgreSQL only."""
        if self.rate_limit_shared is not None:
            return self.rate_limit_shared
        return not self.resolved_database_url().startswith("sqlite")

    def refuse_development_secrets(self) -> None:
        super().refuse_development_secrets()
        if self.environment != "production":
            return
        key = self.webhook_secret_key.get_secret_value()
        if key == DEV_WEBHOOK_SECRET_KEY or len(key) < 32:
            raise RuntimeError("production needs a strong secret (32+ characters) in CIVIC_WEBHOOK_SECRET_KEY")
