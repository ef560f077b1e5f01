"""The gateway's own tables (besides the journey tracker's): idempotency keys, the audit log, and the requests
each client made per time window across all replicas (shared rate limits)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, BigInteger, Column, LargeBinary, Table, event
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class GatewayBase(SQLModel, registry=registry()):
    pass


class IdempotencyRecord(GatewayBase, table=True):
    """A POST claimed under a key: pending until the service answered, then the stored answer."""

    __tablename__ = "idempotency_key"

    owner: str = Field(primary_key=True, max_length=200)  # the caller's role and subject: keys are per caller
    key: str = Field(primary_key=True, max_length=255)
    fingerprint: str = Field(max_length=64)  # SHA-256 of method, path, query and body
    created_at: datetime
    status: int | None = None  # None while the first request is still with the service
    headers: str | None = None  # JSON of the stored response's headers
    body: bytes | None = Field(default=None, sa_column=Column(LargeBinary))


class AuditEntry(GatewayBase, table=True):
    """Who read personal data, when, which record and why. Rows are only ever inserted."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    request_id: str = Field(max_length=64)
    subject: str = Field(index=True, max_length=200)
    role: str = Field(max_length=20)
    caller_domain: str | None = Field(default=None, max_length=40)
    service: str = Field(max_length=40)
    method: str = Field(max_length=10)
    path: str = Field(max_length=2000)  # the record read (auditors may see resident IDs in it)
    query: str = Field(default="", max_length=2000)
    purpose: str | None = Field(default=None, max_length=500)  # the X-Purpose header, if the caller gave one


class RateLimitWindow(GatewayBase, table=True):
    """How many requests the replicas together accepted from one client in one time window (gateway.ratelimit_shared).
    Each replica adds its own counts now and then; rows of past windows are deleted."""

    __tablename__ = "rate_limit_window"

    client: str = Field(primary_key=True, max_length=300)  # "role:subject", or "ip:address" without a valid token
    window_start_ms: int = Field(primary_key=True, index=True, sa_type=BigInteger)  # Unix time, milliseconds
    count: int


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


# Append-only in the database too, not just in the API: an UPDATE or DELETE of the audit log fails (SQLite) or
# does nothing (PostgreSQL rules), whoever issues it through the application's connection.
_audit = _table(AuditEntry)
for _verb in ("UPDATE", "DELETE"):
    event.listen(_audit, "after_create", DDL(  # type: ignore[no-untyped-call]
        f"CREATE TRIGGER audit_entry_no_{_verb.lower()} BEFORE {_verb} ON audit_entry "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
    ).execute_if(dialect="sqlite"))  # fmt: skip
    event.listen(_audit, "after_create", DDL(  # type: ignore[no-untyped-call]
        f"CREATE RULE audit_entry_no_{_verb.lower()} AS ON {_verb} TO audit_entry DO INSTEAD NOTHING"
    ).execute_if(dialect="postgresql"))  # fmt: skip

TABLES = [_table(IdempotencyRecord), _audit, _table(RateLimitWindow)]
