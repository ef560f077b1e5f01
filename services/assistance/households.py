"""Households: members (with their relation to the applicant), incomes, deductions and assets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Principal, Role
from civic.money import to_fen
from civic.outbox import Outbox
from civic.problems import Conflict, NotFound, Problem
from contracts.assistance import HouseholdCompositionChanged
from services.assistance.addresses import address_of, set_address
from services.assistance.models import (
    DeathRecord,
    Household,
    HouseholdAsset,
    HouseholdDeduction,
    HouseholdIncome,
    HouseholdMember,
    HouseholdReview,
)
from services.assistance.schemas import (
    DOMAIN,
    AddressIn,
    AssetIn,
    HouseholdCreate,
    HouseholdPublic,
    MemberIn,
    MoneyIn,
)

router = APIRouter(prefix="/households", tags=["households"])


async def members(session: AsyncSession, household_id: str) -> list[HouseholdMember]:
    rows = await session.exec(
        select(HouseholdMember).where(HouseholdMember.household_id == household_id).order_by(col(HouseholdMember.id))
    )
    return list(rows.all())


async def public(session: AsyncSession, household: Household, viewer: Principal) -> HouseholdPublic:
    return HouseholdPublic.of(household, await members(session, household.id), viewer,
                              await address_of(session, household.id))  # fmt: skip


async def visible_household(session: AsyncSession, household_id: str, viewer: Principal) -> Household:
    """The household if the viewer may see it: assistance caseworkers and auditors, or one of its members."""
    household = await session.get(Household, household_id)
    if household is None:
        raise NotFound("household")
    if viewer.is_caseworker_of(DOMAIN) or viewer.role is Role.AUDITOR:
        return household
    if any(viewer.is_citizen(m.resident_id) for m in await members(session, household_id)):
        return household
    raise NotFound("household")


async def refuse_unfit_members(session: AsyncSession, ids: Sequence[str], field: str) -> None:
    """A person is in one household at a time, and the dead are not added to any."""
    taken = await session.exec(select(HouseholdMember.resident_id).where(col(HouseholdMember.resident_id).in_(ids)))
    taken_ids = set(taken.all())
    dead = await session.exec(
        select(DeathRecord.resident_id).where(
            col(DeathRecord.resident_id).in_(ids), col(DeathRecord.revoked_at).is_(None)
        )
    )
    dead_ids = set(dead.all())
    if len(set(ids)) != len(ids):
        raise Conflict("member-twice", "A person is listed twice", "each member appears once", field=field)
    for i, rid in enumerate(ids):
        where = field.replace("[]", f"[{i}]")
        if rid in taken_ids:
            raise Conflict("member-in-another-household", "The person is already a member of a household",
                           "a person belongs to one household at a time", field=where)  # fmt: skip
        if rid in dead_ids:
            raise Conflict("deceased", "The person's death is registered", "benefits are not granted to the dead",
                           field=where)  # fmt: skip


def refuse_strangers(body_ids: set[str], money: Sequence[MoneyIn | AssetIn], field: str) -> None:
    for i, item in enumerate(money):
        if item.resident_id not in body_ids:
            raise Problem(422, "not-a-member", "Not a member of the household",
                          "they belong to members", field=f"{field}[{i}].resident_id")  # fmt: skip


def add_money(session: AsyncSession, household_id: str, body: HouseholdCreate) -> None:
    for i in body.incomes:
        session.add(HouseholdIncome(household_id=household_id, resident_id=i.resident_id, kind=i.kind,
                                    monthly_fen=to_fen(i.monthly_amount)))  # fmt: skip
    for d in body.deductions:
        session.add(HouseholdDeduction(household_id=household_id, resident_id=d.resident_id, kind=d.kind,
                                       monthly_fen=to_fen(d.monthly_amount)))  # fmt: skip
    for a in body.assets:
        session.add(HouseholdAsset(household_id=household_id, resident_id=a.resident_id, kind=a.kind,
                                   value_fen=to_fen(a.value)))  # fmt: skip


async def composition_changed(
    session: AsyncSession, outbox: Outbox, household: Household, change: str, member: str
) -> None:
    living = [m.resident_id for m in await members(session, household.id) if m.died_on is None]
    await outbox.add(
        session,
        HouseholdCompositionChanged(resident_id=household.applicant_resident_id, household_id=household.id,
                                    change=change, member=member, members=living),
    )  # fmt: skip


@router.post("", status_code=status.HTTP_201_CREATED)
async def register_household(
    body: HouseholdCreate, session: SessionDep, outbox: OutboxDep, user: CurrentUser
) -> HouseholdPublic:
    """A citizen registers their own household (they are its first member); a caseworker registers any."""
    ids = [m.resident_id for m in body.members]
    if not user.is_caseworker_of(DOMAIN) and not user.is_citizen(ids[0]):
        raise Problem(403, "forbidden", "Not allowed", "A citizen registers their own household: list yourself first.",
                      field="members[0].resident_id")  # fmt: skip
    await refuse_unfit_members(session, ids, "members[].resident_id")
    for name, items in (("incomes", body.incomes), ("deductions", body.deductions), ("assets", body.assets)):
        refuse_strangers(set(ids), items, name)
    household = Household(region_code=body.region_code, area=body.area, applicant_resident_id=ids[0])
    session.add(household)
    await session.flush()
    for m in body.members:
        session.add(HouseholdMember(household_id=household.id, **m.model_dump()))
    add_money(session, household.id, body)
    if body.address is not None:
        await set_address(session, household.id, body.address, user.subject)
    await session.flush()
    for rid in ids:
        await composition_changed(session, outbox, household, "joined", rid)
    await session.commit()
    return await public(session, household, user)


@router.get("/{household_id}")
async def read_household(household_id: str, session: SessionDep, user: CurrentUser) -> HouseholdPublic:
    household = await visible_household(session, household_id, user)
    return await public(session, household, user)


@router.put("/{household_id}/address")
async def change_address(household_id: str, body: AddressIn, session: SessionDep, user: CurrentUser) -> HouseholdPublic:
    """A member or a caseworker records where the household lives (a move, or an address not given before)."""
    household = await visible_household(session, household_id, user)
    await set_address(session, household.id, body, user.subject)
    await session.commit()
    return await public(session, household, user)


@router.post("/{household_id}/members", status_code=status.HTTP_201_CREATED)
async def add_member(
    household_id: str, body: MemberIn, session: SessionDep, outbox: OutboxDep, user: CurrentUser
) -> HouseholdPublic:
    household = await visible_household(session, household_id, user)
    await refuse_unfit_members(session, [body.resident_id], "resident_id")
    session.add(HouseholdMember(household_id=household.id, **body.model_dump()))
    await session.flush()
    await composition_changed(session, outbox, household, "joined", body.resident_id)
    await session.commit()
    return await public(session, household, user)


@router.delete("/{household_id}/members/{resident_id}")
async def remove_member(
    household_id: str, resident_id: str, session: SessionDep, outbox: OutboxDep, user: CurrentUser
) -> HouseholdPublic:
    household = await visible_household(session, household_id, user)
    member = next((m for m in await members(session, household.id) if m.resident_id == resident_id), None)
    if member is None:
        raise NotFound("member")
    if resident_id == household.applicant_resident_id:
        raise Conflict("applicant", "The applicant cannot leave", "register the household anew", field="resident_id")
    for table in (HouseholdIncome, HouseholdDeduction, HouseholdAsset):
        rows = await session.exec(select(table).where(table.household_id == household.id,
                                                      table.resident_id == resident_id))  # fmt: skip
        for row in rows.all():
            await session.delete(row)
    await session.delete(member)
    await session.flush()
    await composition_changed(session, outbox, household, "left", resident_id)
    await session.commit()
    return await public(session, household, user)


class ReviewPublic(BaseModel):
    cause: str
    reason: str
    opened_at: datetime


@router.get("/{household_id}/reviews")
async def read_reviews(household_id: str, session: SessionDep, user: CurrentUser) -> list[ReviewPublic]:
    """Re-checks opened because of events elsewhere (a member married or divorced)."""
    household = await visible_household(session, household_id, user)
    rows = await session.exec(select(HouseholdReview).where(HouseholdReview.household_id == household.id))
    return [ReviewPublic(cause=r.cause, reason=r.reason, opened_at=r.opened_at) for r in rows.all()]
