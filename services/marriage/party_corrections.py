"""Correcting a party's resident ID (历史婚姻数据更正 of the ID itself): the registration was recorded with a
mistyped ID. The corrected ID must pass what the registration would have checked for it — a valid ID, not the
other party, of legal age on the registration date, no other marriage in the register while this one lasted and,
for a current marriage, not married now (the same ``current_spouse`` key as registration, so a registration
racing for the same person loses to one of the two, never both win). Then the record, its certificates and its
current-spouse key move from the mistyped ID to the corrected one in one transaction, with the old value kept in
the correction history, and each ID whose marital status changed is announced.

What stays as it was: the IDs in events published before (they are history), a divorce application's
``withdrawn_by`` (what was recorded then), and electronic certificates signed before (they now disagree with the
register, as after any correction; a reissue gives a new one). The corrected ID's sex is not compared with the
mistyped one's: registration does not check the parties' sexes either, only the legal age for each one's sex.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.auth import Principal
from civic.outbox import Outbox
from civic.problems import Conflict, Problem
from contracts.marriage import RecordCorrected, RegistrationPartyCorrected
from services.marriage import records, rules
from services.marriage.models import Certificate, Correction, CurrentSpouse, DeathNotice, Marriage
from services.marriage.policy_store import current_policy
from services.marriage.schemas import CorrectionPublic

CORRECTABLE_STATUSES = ("married", "divorced", "widowed")


def refused(exc: rules.RuleBroken) -> Problem:
    if exc.kind == "already-married":
        return Conflict(exc.kind, "Already married", exc.detail, field=exc.field)
    return Problem(422, exc.kind, "The correction is refused", exc.detail, field=exc.field)


def changed_meanwhile() -> Conflict:
    return Conflict(
        "record-changed-meanwhile",
        "The record changed while the correction was made",
        "read it again and repeat the correction if it is still needed",
        field="field",
    )


def married_meanwhile() -> Conflict:
    """A registration for the corrected ID committed while the correction was being made."""
    return Conflict(
        "already-married", "Already married", "the corrected ID's person married meanwhile", field="new_value"
    )


async def check_correctable(session: AsyncSession, marriage: Marriage, old: str) -> None:
    if marriage.status not in CORRECTABLE_STATUSES:
        raise Conflict(
            "registration-not-correctable",
            "This registration's parties cannot be corrected",
            f"its status is {marriage.status}: a revoked registration is void",
            field="field",
        )
    if marriage.deceased_resident_id == old:
        raise Conflict(
            "deceased-party",
            "The marriage ended with this party's registered death",
            "the death was registered under this ID; correct it with funeral administration first",
            field="field",
        )


async def check_alive_then_and_now(session: AsyncSession, marriage: Marriage, new: str) -> None:
    rows = await session.exec(
        select(DeathNotice).where(DeathNotice.deceased_resident_id == new, col(DeathNotice.revoked_at).is_(None))
    )
    death = rows.first()
    if death is not None and (marriage.status == "married" or death.date_of_death < marriage.registered_on):
        raise Conflict(
            "party-deceased",
            "A death is registered for the corrected ID",
            "the register cannot keep a deceased person married, nor marry them after their death",
            field="new_value",
        )


async def other_marriages(session: AsyncSession, new: str, marriage: Marriage) -> list[rules.Span]:
    return [
        rules.Span(m.registered_on, m.ended_on)
        for m in await records.marriages_of(session, new)
        if m.id != marriage.id and m.status != "revoked"
    ]


def standing(view: records.StatusView) -> tuple[str, str | None]:
    return view.status, view.marriage.id if view.marriage else None


async def correct_party_id(
    session: AsyncSession,
    outbox: Outbox,
    marriage: Marriage,
    field: str,
    value: str,
    reason: str,
    today: date,
    user: Principal,
) -> CorrectionPublic:
    old: str = getattr(marriage, field)
    other = marriage.other_party(old)
    await check_correctable(session, marriage, old)
    try:
        policy = await current_policy(session)
        new = rules.corrected_party_id(value, old, other, marriage.registered_on, today, policy, marriage.office_code)
        rules.check_no_other_marriage(
            rules.Span(marriage.registered_on, marriage.ended_on), await other_marriages(session, new, marriage)
        )
    except rules.NoPolicy as exc:
        raise Problem(
            422,
            "no-legal-age-for-date",
            "The legal age on the registration date is not in the policy data",
            str(exc),
            field="new_value",
        ) from exc
    except rules.RuleBroken as exc:
        raise refused(exc) from exc
    await check_alive_then_and_now(session, marriage, new)
    current = marriage.status == "married"
    if current and await session.get(CurrentSpouse, new) is not None:
        raise Conflict(
            "already-married",
            "Already married",
            "the corrected ID's person is married now according to the register (Civil Code art. 1042: no bigamy)",
            field="new_value",
        )
    before = {p: await records.status_of(session, p) for p in (old, new)}

    changed = await session.exec(
        update(Marriage)
        .where(col(Marriage.id) == marriage.id, getattr(Marriage, field) == old)
        .values({field: new})
        .execution_options(synchronize_session="fetch")
    )
    if changed.rowcount != 1:
        await session.rollback()
        raise changed_meanwhile()
    if current:
        gone = await session.exec(
            delete(CurrentSpouse).where(
                col(CurrentSpouse.resident_id) == old, col(CurrentSpouse.marriage_id) == marriage.id
            )
        )
        if gone.rowcount != 1:  # ended or corrected by someone else since it was read
            await session.rollback()
            raise changed_meanwhile()
        session.add(CurrentSpouse(resident_id=new, marriage_id=marriage.id))
        try:
            await session.flush()  # now, not by the autoflush of the next statement, outside this handler
        except IntegrityError as exc:  # a registration for the corrected ID committed since we looked
            await session.rollback()
            raise married_meanwhile() from exc
    await session.exec(
        update(Certificate)
        .where(col(Certificate.marriage_id) == marriage.id, col(Certificate.holder_resident_id) == old)
        .values(holder_resident_id=new)
        .execution_options(synchronize_session="fetch")
    )
    correction = Correction(
        marriage_id=marriage.id, field=field, old_value=old, new_value=new, reason=reason, corrected_by=user.subject
    )
    session.add(correction)
    try:
        await session.flush()
    except IntegrityError as exc:  # a registration for the corrected ID committed since we looked
        await session.rollback()
        raise married_meanwhile() from exc
    after = {p: await records.status_of(session, p) for p in (old, new)}
    cause = RegistrationPartyCorrected.type_name
    changes = [
        records.status_changed(
            p, after[p].status, before[p].status, after[p].since or today, after[p].marriage or marriage, cause
        )
        for p in (old, new)
        if standing(after[p]) != standing(before[p])
    ]
    await outbox.add(
        session,
        RegistrationPartyCorrected(
            resident_id=new,
            previous_resident_id=old,
            spouse_resident_id=other,
            marriage_registration_id=marriage.id,
            marriage_status=marriage.status,
            registered_on=marriage.registered_on,
            corrected_on=today,
        ),
        RecordCorrected(
            resident_id=marriage.resident_id, marriage_registration_id=marriage.id, field=field, corrected_on=today
        ),
        *changes,
    )
    try:
        await session.commit()
    except IntegrityError as exc:  # the racing registration committed between our flush and our commit
        await session.rollback()
        raise married_meanwhile() from exc
    return CorrectionPublic.of(correction, user)
