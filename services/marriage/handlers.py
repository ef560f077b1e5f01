"""What marriage registration does when funeral administration publishes a death or revokes one.

Idempotent beyond the runner's inbox: each death registration is noted once (``DeathNotice``), so a second
delivery or a second revocation changes nothing; nobody is ever both married and widowed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from civic.bus import HandlerContext, Handlers
from contracts.funeral import DeathRegistered, DeathRevoked
from contracts.marriage import DeceasedHadNoSpouse, SpouseWidowed, WidowhoodNotReversed, WidowhoodReversed
from services.marriage import records
from services.marriage.models import CurrentSpouse, DeathNotice, Marriage
from services.marriage.rules import MaritalStatus


async def record_spouse_as_widowed(event: DeathRegistered, ctx: HandlerContext) -> None:
    """The marriage ends with the death (no divorce): the surviving spouse is widowed (丧偶) from that date."""
    session = ctx.session
    if await session.get(DeathNotice, event.registration_id) is not None:
        return
    current = await session.get(CurrentSpouse, event.resident_id)
    marriage = await session.get(Marriage, current.marriage_id) if current else None
    if marriage is None:
        session.add(
            DeathNotice(
                death_registration_id=event.registration_id,
                deceased_resident_id=event.resident_id,
                date_of_death=event.date_of_death,
                outcome="no-spouse",
            )
        )
        await ctx.publish(
            DeceasedHadNoSpouse(resident_id=event.resident_id, death_registration_id=event.registration_id)
        )
        return
    survivor = marriage.other_party(event.resident_id)
    marriage.status, marriage.ended_on = "widowed", event.date_of_death
    marriage.ended_by, marriage.deceased_resident_id = event.registration_id, event.resident_id
    session.add(marriage)
    for party in marriage.parties():
        row = await session.get(CurrentSpouse, party)
        if row is not None:
            await session.delete(row)
    divorce = await records.pending_divorce(session, marriage.id)
    if divorce is not None:  # a death ends the marriage; the divorce application has nothing left to dissolve
        divorce.status, divorce.pending_marriage_id = "ended-by-death", None
        divorce.closed_on = event.date_of_death
        session.add(divorce)
    session.add(
        DeathNotice(
            death_registration_id=event.registration_id,
            deceased_resident_id=event.resident_id,
            date_of_death=event.date_of_death,
            outcome="widowed",
            marriage_id=marriage.id,
            survivor_resident_id=survivor,
        )
    )
    await ctx.publish(
        SpouseWidowed(
            resident_id=survivor,
            deceased_resident_id=event.resident_id,
            death_registration_id=event.registration_id,
            widowed_on=event.date_of_death,
        ),
        records.status_changed(
            survivor,
            MaritalStatus.WIDOWED,
            MaritalStatus.MARRIED,
            event.date_of_death,
            marriage,
            DeathRegistered.type_name,
        ),
    )


async def restore_marriage_of_revoked_death(event: DeathRevoked, ctx: HandlerContext) -> None:
    """Compensation: the death was registered in error, so the marriage never ended; the survivor is married
    again, as before. Unless the survivor has married someone else meanwhile: then a caseworker must decide."""
    session = ctx.session
    notice = await session.get(DeathNotice, event.registration_id)
    if notice is None or notice.revoked_at is not None:
        return
    notice.revoked_at = datetime.now(UTC)
    session.add(notice)
    if notice.outcome != "widowed" or notice.marriage_id is None or notice.survivor_resident_id is None:
        notice.revocation_outcome = "nothing"
        return
    marriage = await session.get(Marriage, notice.marriage_id)
    assert marriage is not None
    survivor = notice.survivor_resident_id
    if marriage.status != "widowed" or marriage.ended_by != event.registration_id:
        notice.revocation_outcome = "marriage-changed-since"
        return
    if await session.get(CurrentSpouse, survivor) is not None:
        notice.revocation_outcome = "survivor-remarried"
        await ctx.publish(
            WidowhoodNotReversed(
                resident_id=survivor,
                deceased_resident_id=notice.deceased_resident_id,
                death_registration_id=event.registration_id,
                reason="the surviving spouse has married again since the death was registered",
            )
        )
        return
    marriage.status, marriage.ended_on, marriage.ended_by, marriage.deceased_resident_id = "married", None, None, None
    session.add(marriage)
    session.add_all([CurrentSpouse(resident_id=p, marriage_id=marriage.id) for p in marriage.parties()])
    notice.revocation_outcome = "restored"
    await ctx.publish(
        WidowhoodReversed(
            resident_id=survivor,
            deceased_resident_id=notice.deceased_resident_id,
            death_registration_id=event.registration_id,
        ),
        records.status_changed(
            survivor,
            MaritalStatus.MARRIED,
            MaritalStatus.WIDOWED,
            marriage.registered_on,
            marriage,
            DeathRevoked.type_name,
        ),
    )


HANDLERS: Handlers = {
    DeathRegistered: [record_spouse_as_widowed],
    DeathRevoked: [restore_marriage_of_revoked_death],
}
