"""Statistics the annual reports give (e.g. Shengzhou 2021: 3,048 marriages of which 215 remarriages, 1,001
divorces, 1,032 couples' marriage certificates and 207 divorce certificates reissued), per period and office.

Each act counts in the period and at the office where it was done, as the register recorded it on the registry's
calendar (China Standard Time): a marriage on its registration date, a divorce on the day it was registered, a
reissue on the day of the reissue, a revocation on its day. A registration revoked later still counts as a
marriage of its own period (it was registered then) and as a revocation of the revocation's period: a closed
period's figures never change afterwards, and the reports can net them out. The database groups by office and
day; the periods are made from the days here (``rules.tally``), the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, case, func
from sqlalchemy.orm import Mapped
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import SessionDep
from civic.auth import Principal, Role, require
from civic.clock import CHINA as REGISTRY_ZONE
from civic.problems import Problem
from services.marriage import rules
from services.marriage.models import Certificate, Divorce, Marriage
from services.marriage.schemas import DOMAIN, OFFICE_PATTERN

router = APIRouter(tags=["statistics"])
Reader = Annotated[Principal, Depends(require(Role.CASEWORKER, Role.AUDITOR, domain=DOMAIN))]


class Figures(BaseModel):
    office_code: str | None = Field(description="the office, when grouped by office")
    period: str | None = Field(description="2026-06, 2026-Q2 or 2026, when grouped by a period")
    marriages: int = Field(description="marriage registrations (对), remarriages included")
    remarriages: int = Field(description="复婚: registrations of two people divorced from each other before")
    divorces: int = Field(description="divorce registrations (对)")
    marriage_certificate_reissues: int = Field(description="marriage certificates reissued (人次)")
    marriage_certificate_reissue_couples: int = Field(description="couples with a marriage certificate reissued (对)")
    divorce_certificate_reissues: int = Field(description="divorce certificates reissued (人次)")
    revocations: int = Field(description="registrations revoked (非真实身份登记撤销)")


class Statistics(BaseModel):
    first_day: date
    last_day: date
    time_zone: str = Field(description="the calendar of every date counted")
    group_by: list[str]
    office_code: str | None = Field(description="the one office counted, if the query named one")
    groups: list[Figures] = Field(description="one per group that has any act; groups with none are left out")
    total: Figures


async def acts_between(session: AsyncSession, first: date, last: date, office: str | None) -> list[rules.Act]:
    acts: list[rules.Act] = []

    def at(column: Mapped[str]) -> list[ColumnElement[bool]]:
        return [] if office is None else [column == office]

    day = col(Marriage.registered_on)
    marriages = await session.exec(
        select(
            col(Marriage.office_code),
            day,
            func.count(),
            func.sum(case((col(Marriage.remarriage), 1), else_=0)),
        )
        .where(day >= first, day <= last, *at(col(Marriage.office_code)))
        .group_by(col(Marriage.office_code), day)
    )
    for office_code, on, count, remarriages in marriages.all():
        acts.append(rules.Act("marriages", on, office_code, int(count)))
        if remarriages:
            acts.append(rules.Act("remarriages", on, office_code, int(remarriages)))

    closed = col(Divorce.closed_on)
    divorces = await session.exec(
        select(col(Divorce.office_code), closed, func.count())
        .where(Divorce.status == "registered", closed >= first, closed <= last, *at(col(Divorce.office_code)))
        .group_by(col(Divorce.office_code), closed)
    )
    acts.extend(
        rules.Act("divorces", on, office_code, int(count))
        for office_code, on, count in divorces.all()
        if on is not None
    )

    issued = col(Certificate.issued_on)
    reissues = await session.exec(
        select(col(Certificate.kind), col(Certificate.office_code), issued, col(Certificate.marriage_id)).where(
            col(Certificate.reissue), issued >= first, issued <= last, *at(col(Certificate.office_code))
        )
    )
    acts.extend(
        rules.Act(f"{kind}_certificate_reissues", on, office_code, couple=marriage_id)
        for kind, office_code, on, marriage_id in reissues.all()
    )

    revoked = col(Marriage.revoked_on)
    revocations = await session.exec(
        select(col(Marriage.office_code), revoked, func.count())
        .where(revoked >= first, revoked <= last, *at(col(Marriage.office_code)))
        .group_by(col(Marriage.office_code), revoked)
    )
    acts.extend(
        rules.Act("revocations", on, office_code, int(count))
        for office_code, on, count in revocations.all()
        if on is not None
    )
    return acts


def figures(key: rules.GroupKey, counts: dict[str, int] | None) -> Figures:
    values = counts or dict.fromkeys(rules.MEASURES, 0)
    return Figures(office_code=key[0], period=key[1], **values)


@router.get("/statistics")
async def read_statistics(
    session: SessionDep,
    _: Reader,
    first: Annotated[date, Query(alias="from", description="the first day counted (registry calendar)")],
    last: Annotated[date, Query(alias="to", description="the last day counted, included")],
    group_by: Annotated[
        str, Query(max_length=40, description="office, month, quarter, year; e.g. office,month")
    ] = "office",
    office_code: Annotated[str | None, Query(pattern=OFFICE_PATTERN, description="count one office only")] = None,
) -> Statistics:
    """Marriages, remarriages, divorces, reissues and revocations per period and office, for marriage
    caseworkers and auditors. No personal data: counts only."""
    try:
        rules.check_statistics_range(first, last)
        grouping = rules.parse_group_by(group_by)
    except rules.RuleBroken as exc:
        raise Problem(422, exc.kind, "The statistics query is not valid", exc.detail, field=exc.field) from exc
    acts = await acts_between(session, first, last, office_code)
    groups = rules.tally(acts, grouping)
    total = rules.tally(acts, ())
    return Statistics(
        first_day=first,
        last_day=last,
        time_zone=REGISTRY_ZONE.key,
        group_by=list(grouping),
        office_code=office_code,
        groups=[figures(key, counts) for key, counts in groups.items()],
        total=figures((None, None), total.get((None, None))),
    )
