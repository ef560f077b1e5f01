"""The audit log: every read of personal data by staff or a department system, written before the read is made
(if the entry cannot be written, the read does not happen), and ``GET /audit`` for auditors. There is no route
that changes or removes an entry, and the table refuses updates and deletes (see ``gateway.tables``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_fixed

from civic.app import ServiceDep, SessionDep
from civic.auth import Principal, Role
from civic.problems import Problem
from gateway.callers import caller
from gateway.tables import AuditEntry

PURPOSE_HEADER = "x-purpose"
# Citizens reading their own records are not audited; everyone else reading through the gateway is.
AUDITED_ROLES = frozenset({Role.CASEWORKER, Role.AUDITOR, Role.OPERATOR, Role.DEPARTMENT})

router = APIRouter(tags=["audit"])


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


# On SQLite (one local gateway) the file's write lock may be held past the busy timeout by a consumer catching up
# on a backlog; the read waits and tries again rather than fail — and is never let through unaudited.
@retry(retry=retry_if_exception(_locked), stop=stop_after_attempt(3), wait=wait_fixed(0.2), reraise=True)
async def record_read(service: ServiceDep, request: Request, principal: Principal, target: str, path: str) -> None:
    purpose = request.headers.get(PURPOSE_HEADER)
    async with service.sessions() as session:
        session.add(AuditEntry(
            at=datetime.now(UTC), request_id=request.state.request_id, subject=principal.subject,
            role=principal.role.value, caller_domain=principal.domain, service=target, method=request.method,
            path=path, query=str(request.query_params)[:2000], purpose=purpose[:500] if purpose else None,
        ))  # fmt: skip
        await session.commit()


class AuditEntryPublic(BaseModel):
    id: int
    at: datetime
    request_id: str
    subject: str
    role: str
    caller_domain: str | None
    service: str
    method: str
    path: str
    query: str
    purpose: str | None


async def auditor(request: Request) -> Principal:
    principal = await caller(request)
    if principal.role is not Role.AUDITOR:
        raise Problem(403, "forbidden", "Not allowed", "The audit log is for auditors.")
    return principal


@router.get("/audit", response_model=list[AuditEntryPublic])
async def list_audit_entries(
    session: SessionDep,
    _: Annotated[Principal, Depends(auditor)],
    subject: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    path_contains: Annotated[str | None, Query(max_length=200)] = None,
    after_id: int = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntry]:
    """Entries in the order written; page with ``after_id`` (the last id of the previous page)."""
    query = select(AuditEntry).where(col(AuditEntry.id) > after_id)
    if subject:
        query = query.where(AuditEntry.subject == subject)
    if since:
        query = query.where(col(AuditEntry.at) >= _utc(since))
    if until:
        query = query.where(col(AuditEntry.at) < _utc(until))
    if path_contains:
        query = query.where(col(AuditEntry.path).contains(path_contains))
    return list((await session.exec(query.order_by(col(AuditEntry.id)).limit(limit))).all())


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
