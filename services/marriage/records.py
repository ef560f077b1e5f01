"""The register's shared operations: a person's marital status, issuing certificates, status-change events.

Used by the routes and by the reactions to deaths, always inside the caller's transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.auth import Principal, Role
from civic.problems import NotFound
from contracts.marriage import MaritalStatusChanged
from services.marriage import rules
from services.marriage.models import Certificate, CurrentSpouse, Divorce, Marriage
from services.marriage.rules import MaritalStatus
from services.marriage.schemas import DOMAIN


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StatusView:
    status: MaritalStatus
    since: date | None
    marriage: Marriage | None


async def marriages_of(session: AsyncSession, resident_id: str) -> list[Marriage]:
    rows = await session.exec(
        select(Marriage)
        .where(or_(Marriage.resident_id == resident_id, Marriage.spouse_resident_id == resident_id))
        .order_by(col(Marriage.registered_on), col(Marriage.registered_at))
    )
    return list(rows.all())


async def status_of(session: AsyncSession, resident_id: str) -> StatusView:
    """From this register alone: married if a current marriage exists, else how the latest valid one ended.
    A revoked registration is void and does not count."""
    current = await session.get(CurrentSpouse, resident_id)
    if current is not None:
        marriage = await session.get(Marriage, current.marriage_id)
        assert marriage is not None
        return StatusView(MaritalStatus.MARRIED, marriage.registered_on, marriage)
    ended = [m for m in await marriages_of(session, resident_id) if m.status in ("divorced", "widowed")]
    if not ended:
        return StatusView(MaritalStatus.UNMARRIED, None, None)
    latest = max(ended, key=lambda m: (m.ended_on or m.registered_on, m.registered_at))
    if latest.status == "divorced":
        return StatusView(MaritalStatus.DIVORCED, latest.ended_on, latest)
    if latest.deceased_resident_id == resident_id:
        return StatusView(MaritalStatus.DECEASED, latest.ended_on, latest)
    return StatusView(MaritalStatus.WIDOWED, latest.ended_on, latest)


async def pending_divorce(session: AsyncSession, marriage_id: str) -> Divorce | None:
    rows = await session.exec(select(Divorce).where(Divorce.pending_marriage_id == marriage_id))
    return rows.first()


def status_changed(
    resident_id: str, status: MaritalStatus, previous: MaritalStatus, since: date, marriage: Marriage, cause: str
) -> MaritalStatusChanged:
    return MaritalStatusChanged(
        resident_id=resident_id,
        status=status,
        previous_status=previous,
        since=since,
        marriage_registration_id=marriage.id,
        cause=cause,
    )


def new_certificate(
    kind: str,
    marriage: Marriage,
    holder: str,
    office_code: str,
    on: date,
    divorce_id: str | None = None,
    reissue: bool = False,
) -> Certificate:
    number = rules.certificate_number(kind, office_code, on.year, uuid.uuid4().hex[:10])
    return Certificate(
        number=number,
        kind=kind,
        marriage_id=marriage.id,
        divorce_id=divorce_id,
        holder_resident_id=holder,
        office_code=office_code,
        issued_on=on,
        reissue=reissue,
    )


async def certificates_of(session: AsyncSession, marriage_id: str) -> list[Certificate]:
    rows = await session.exec(
        select(Certificate)
        .where(Certificate.marriage_id == marriage_id)
        .order_by(col(Certificate.issued_on), col(Certificate.number))
    )
    return list(rows.all())


def may_see_marriage(viewer: Principal, marriage: Marriage) -> bool:
    return (
        viewer.is_caseworker_of(DOMAIN)
        or viewer.role is Role.AUDITOR
        or any(viewer.is_citizen(p) for p in marriage.parties())
    )


async def visible_marriage(session: AsyncSession, marriage_id: str, viewer: Principal) -> Marriage:
    marriage = await session.get(Marriage, marriage_id)
    if marriage is None or not may_see_marriage(viewer, marriage):
        raise NotFound("marriage registration")
    return marriage
