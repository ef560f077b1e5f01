"""Funeral homes (殡仪馆): cremation and farewell-hall slots, bookings that never double-book a slot, cremation
records and ashes storage (骨灰寄存).

A slot is booked by inserting a booking whose ``active_slot_id`` is unique: of two requests racing for the last
free slot, the database lets exactly one insert through and the other is told the slot is taken. No read decides.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Role
from civic.clock import CHINA as ZONE
from civic.clock import Today
from civic.outbox import Outbox
from civic.problems import Conflict, NotFound, Problem
from contracts.funeral import CremationDone
from services.funeral import cemeteries, rules
from services.funeral.access import (
    Caseworker,
    FamilyOrCaseworker,
    in_journey,
    registration_for_family_action,
    sees_everything,
    visible_registration,
)
from services.funeral.models import Booking, Cremation, DeathRegistration, FuneralHome, ServiceSlot
from services.funeral.schemas import (
    BookingCancellation,
    BookingCreate,
    BookingPublic,
    CremationCreate,
    CremationPublic,
    FuneralHomeCreate,
    FuneralHomePublic,
    SlotCreate,
    SlotPublic,
)

router = APIRouter(tags=["funeral homes and cremation"])


async def home_or_404(session: AsyncSession, home_id: str) -> FuneralHome:
    home = await session.get(FuneralHome, home_id)
    if home is None:
        raise NotFound("funeral home")
    return home


@router.post("/funeral-homes", status_code=status.HTTP_201_CREATED)
async def add_funeral_home(body: FuneralHomeCreate, session: SessionDep, user: Caseworker) -> FuneralHomePublic:
    home = FuneralHome(name=body.name, region_code=body.region_code)
    session.add(home)
    await session.commit()
    return FuneralHomePublic.of(home)


@router.get("/funeral-homes/{home_id}")
async def read_funeral_home(home_id: str, session: SessionDep, user: CurrentUser) -> FuneralHomePublic:
    return FuneralHomePublic.of(await home_or_404(session, home_id))


@router.post("/funeral-homes/{home_id}/slots", status_code=status.HTTP_201_CREATED)
async def add_slot(home_id: str, body: SlotCreate, session: SessionDep, user: Caseworker) -> SlotPublic:
    await home_or_404(session, home_id)
    if body.starts_at.tzinfo is None:
        raise Problem(422, "time-zone-required", "Give the time with its offset", "e.g. 2026-11-03T08:00:00+08:00",
                      field="starts_at")  # fmt: skip
    slot = ServiceSlot(funeral_home_id=home_id, kind=body.kind, resource=body.resource,
                       starts_at=body.starts_at.astimezone(UTC))  # fmt: skip
    session.add(slot)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("slot-exists", "This furnace or hall already has a slot at that time",
                       field="starts_at") from exc  # fmt: skip
    return SlotPublic.of(slot, free=True)


@router.get("/funeral-homes/{home_id}/slots")
async def list_slots(
    home_id: str,
    session: SessionDep,
    user: CurrentUser,
    day: Annotated[date, Query(description="the local day (China Standard Time)")],
    kind: Annotated[str, Query(pattern=r"^(cremation|farewell_hall)$")] = "cremation",
    free_only: bool = False,
) -> list[SlotPublic]:
    """The slots of one day, and whether each is free (what a family sees when choosing a time)."""
    await home_or_404(session, home_id)
    start = datetime.combine(day, time(0), ZONE).astimezone(UTC)
    slots = (
        await session.exec(
            select(ServiceSlot)
            .where(ServiceSlot.funeral_home_id == home_id, ServiceSlot.kind == kind)
            .where(col(ServiceSlot.starts_at) >= start, col(ServiceSlot.starts_at) < start + timedelta(days=1))
            .order_by(col(ServiceSlot.starts_at), col(ServiceSlot.resource))
        )
    ).all()
    taken = set(
        (
            await session.exec(
                select(Booking.active_slot_id).where(col(Booking.active_slot_id).in_([s.id for s in slots]))
            )
        ).all()
    )
    shown = [SlotPublic.of(s, free=s.id not in taken) for s in slots]
    return [s for s in shown if s.free] if free_only else shown


@router.post("/bookings", status_code=status.HTTP_201_CREATED)
async def book_slot(body: BookingCreate, session: SessionDep, user: FamilyOrCaseworker) -> BookingPublic:
    """Book a cremation or farewell-hall slot for a registered death. Exactly one of two racing requests for one
    slot wins; the other gets 409 ``slot-taken``."""
    reg = await registration_for_family_action(session, body.death_registration_id, user)
    slot = await session.get(ServiceSlot, body.slot_id)
    if slot is None:
        raise Problem(422, "unknown-slot", "No such slot", field="slot_id")
    booking = Booking(
        slot_id=slot.id,
        active_slot_id=slot.id,
        active_death_kind=f"{reg.id}:{slot.kind}",
        registration_id=reg.id,
        kind=slot.kind,
        booked_by=user.subject,
    )
    session.add(booking)
    slot_id, kind = slot.id, slot.kind  # the objects expire on a rollback
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        # Which constraint refused it: the slot (someone else's booking) or the deceased (already booked).
        if (await session.exec(select(Booking.id).where(Booking.active_slot_id == slot_id))).first() is not None:
            raise Conflict("slot-taken", "This slot is already booked", "choose another slot",
                           field="slot_id") from exc  # fmt: skip
        raise Conflict("already-booked", f"This death already has a {kind} booking",
                       "cancel it first to book another slot", field="death_registration_id") from exc  # fmt: skip
    return BookingPublic.of(booking)


async def visible_booking(session: AsyncSession, booking_id: str, user: CurrentUser) -> Booking:
    booking = await session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("booking")
    await visible_registration(session, booking.registration_id, user)  # 404 for someone else's
    return booking


@router.get("/bookings/{booking_id}")
async def read_booking(booking_id: str, session: SessionDep, user: CurrentUser) -> BookingPublic:
    return BookingPublic.of(await visible_booking(session, booking_id, user))


@router.post("/bookings/{booking_id}/cancellation")
async def cancel_booking(
    booking_id: str, body: BookingCancellation, session: SessionDep, user: FamilyOrCaseworker
) -> BookingPublic:
    booking = await visible_booking(session, booking_id, user)
    if booking.status != "booked":
        raise Conflict("booking-not-open", f"The booking is {booking.status}")
    release(booking, body.reason)
    session.add(booking)
    await session.commit()
    return BookingPublic.of(booking)


def release(booking: Booking, reason: str) -> None:
    booking.status, booking.active_slot_id, booking.active_death_kind = "cancelled", None, None
    booking.cancelled_at, booking.cancellation_reason = datetime.now(UTC), reason[:500]


@router.post("/cremations", status_code=status.HTTP_201_CREATED)
async def record_cremation(
    body: CremationCreate, session: SessionDep, outbox: OutboxDep, today: Today, user: Caseworker
) -> CremationPublic:
    """The funeral home records a cremation done; ashes collected, stored (with the niche and until when), or
    not kept. One cremation per registered death."""
    reg = await registration_for_family_action(session, body.death_registration_id, user)
    await home_or_404(session, body.funeral_home_id)
    if body.cremated_at.tzinfo is None:
        raise Problem(422, "time-zone-required", "Give the time with its offset", field="cremated_at")
    cremated_on = body.cremated_at.astimezone(ZONE).date()
    try:
        rules.check_cremation(cremated_on, reg.date_of_death, today)
        if body.ashes == "stored" and (body.storage_location is None or body.stored_until is None):
            raise rules.RuleBroken("storage-required", "storage_location",
                                   "stored ashes need the niche (storage_location) and the date until (stored_until)")  # fmt: skip
        if body.ashes != "stored" and (body.storage_location or body.stored_until):
            raise rules.RuleBroken("storage-not-applicable", "storage_location", "only stored ashes have a niche")
    except rules.RuleBroken as exc:
        raise Problem(422, exc.kind, "The cremation record is refused", exc.detail, field=exc.field) from exc
    booking = None
    if body.booking_id is not None:
        booking = await session.get(Booking, body.booking_id)
        if booking is None or booking.registration_id != reg.id or booking.status != "booked":
            raise Problem(422, "unknown-booking", "No open booking of this death with that id", field="booking_id")
    if (await session.exec(select(Cremation.id).where(Cremation.registration_id == reg.id))).first() is not None:
        raise Conflict("already-cremated", "A cremation is already recorded for this death",
                       field="death_registration_id")  # fmt: skip
    cremation = Cremation(
        registration_id=reg.id,
        resident_id=reg.resident_id,
        funeral_home_id=body.funeral_home_id,
        booking_id=body.booking_id,
        certificate_number=body.certificate_number,
        cremated_at=body.cremated_at.astimezone(UTC),
        ashes=body.ashes,
        storage_location=body.storage_location,
        stored_until=body.stored_until,
        recorded_by=user.subject,
    )
    session.add(cremation)
    if booking is not None:
        booking.status, booking.active_death_kind = "used", None
        session.add(booking)  # the slot stays taken: it was used
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("duplicate-cremation", "This death or certificate number is already recorded",
                       field="certificate_number") from exc  # fmt: skip
    with in_journey(reg.journey_id):
        await outbox.add(
            session,
            CremationDone(resident_id=reg.resident_id, death_registration_id=reg.id, cremation_id=cremation.id,
                          funeral_home_id=cremation.funeral_home_id, certificate_number=cremation.certificate_number,
                          cremated_at=cremation.cremated_at, ashes=cremation.ashes),
        )  # fmt: skip
    await session.commit()
    return CremationPublic.of(cremation)


@router.get("/cremations/{cremation_id}")
async def read_cremation(cremation_id: str, session: SessionDep, user: CurrentUser) -> CremationPublic:
    cremation = await session.get(Cremation, cremation_id)
    if cremation is None:
        raise NotFound("cremation")
    if not sees_everything(user):
        if user.role is not Role.CITIZEN:
            raise NotFound("cremation")
        await visible_registration(session, cremation.registration_id, user)
    return CremationPublic.of(cremation)


async def undo_for_revoked_death(session: AsyncSession, outbox: Outbox, reg: DeathRegistration, reason: str) -> None:
    """A death registered in error: its open bookings are cancelled (the slots free again) and its grave released.
    A cremation already done is a fact and stays recorded."""
    open_bookings = await session.exec(
        select(Booking).where(Booking.registration_id == reg.id, Booking.status == "booked")
    )
    for booking in open_bookings.all():
        release(booking, reason)
        session.add(booking)
    await cemeteries.release_for_revoked_death(session, outbox, reg, reason)
