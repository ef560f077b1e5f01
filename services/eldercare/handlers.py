"""What eldercare does when other departments publish facts. One function per event type.

Each is idempotent beyond the runner's inbox: the same death registered twice (two event ids), a revocation of a
death never seen or already revoked, an approval seen again, change nothing the second time.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.bus import HandlerContext, Handlers
from civic.db import table_of
from civic.money import from_fen
from contracts.assistance import BenefitApproved, BenefitReinstated, BenefitTerminated
from contracts.eldercare import (
    CareOfDeceasedEnded,
    CareOfDeceasedRestored,
    EldersAddressesUpdated,
    HouseholdEldersEnrolled,
)
from contracts.funeral import DeathRegistered, DeathRevoked
from contracts.placenames import DoorPlateChanged, RoadRenamed
from services.eldercare import grants, rules
from services.eldercare.device_models import MonitoringDevice
from services.eldercare.models import (
    Admission,
    AdmissionStatus,
    Allowance,
    AllowanceStatus,
    ApprovalAnswer,
    Bed,
    DeathRecord,
    Elder,
    HomeService,
    ServiceStatus,
)
from services.eldercare.policy_store import current_policy
from services.eldercare.rules import DeviceStatus

ACTOR = "eldercare (automatic)"


async def end_care_of_deceased(event: DeathRegistered, ctx: HandlerContext) -> None:
    """Allowances stop from the next month, the bed is released, home services are cancelled; one fact says what
    was done (also when nothing was)."""
    session = ctx.session
    if await session.get(DeathRecord, event.registration_id) is not None:
        return
    session.add(DeathRecord(registration_id=event.registration_id, resident_id=event.resident_id,
                            date_of_death=event.date_of_death))  # fmt: skip
    stopped_from = rules.allowance_stops_after_death(event.date_of_death)
    reason = f"death registered ({event.registration_id})"
    policy = await current_policy(session)
    elder = await session.get(Elder, event.resident_id)
    ended, released, services = [], None, []
    if elder is not None and elder.died_on is None:
        elder.died_on, elder.death_registration_id = event.date_of_death, event.registration_id
        session.add(elder)
        active = await session.exec(select(Allowance).where(Allowance.resident_id == event.resident_id,
                                                            Allowance.status == AllowanceStatus.ACTIVE))  # fmt: skip
        for allowance in active.all():
            ended.append(grants.ended(allowance, elder.born, max(allowance.granted_from, stopped_from), policy))
            await grants.stop(session, ctx.outbox, allowance, max(allowance.granted_from, stopped_from), reason,
                              AllowanceStatus.STOPPED, event.registration_id)  # fmt: skip
        released = (await session.exec(select(Admission).where(Admission.resident_id == event.resident_id,
                                                               Admission.status == AdmissionStatus.RESIDENT))).first()  # fmt: skip
        if released is not None:
            released.status, released.discharged_on = AdmissionStatus.ENDED_BY_DEATH, event.date_of_death
            released.discharge_reason, released.ended_by_death = reason, event.registration_id
            session.add(released)
            await session.exec(update(table_of(Bed)).where(table_of(Bed).c.id == released.bed_id).values(occupant=None))
        running = await session.exec(select(HomeService).where(HomeService.resident_id == event.resident_id,
                                                               HomeService.status == ServiceStatus.ACTIVE))  # fmt: skip
        for service in running.all():
            service.status, service.ended_on = ServiceStatus.CANCELLED_BY_DEATH, event.date_of_death
            service.cancelled_by_death = event.registration_id
            session.add(service)
            services.append(service.id)
        await mark_devices_of_deceased(session, event.resident_id, event.registration_id)
    await ctx.publish(CareOfDeceasedEnded(
        resident_id=event.resident_id, death_registration_id=event.registration_id, stopped_from=stopped_from,
        allowances=ended, released_admission_id=released.id if released else None,
        released_bed_id=released.bed_id if released else None, cancelled_services=services,
    ))  # fmt: skip


async def restore_care_of_revoked_death(event: DeathRevoked, ctx: HandlerContext) -> None:
    """Compensation: allowances paid again with back-pay for every month a payment run passed them by, services
    resumed, and the bed given back if it is still free."""
    session = ctx.session
    record = await session.get(DeathRecord, event.registration_id)
    if record is None or record.revoked_at is not None:
        return
    record.revoked_at = datetime.now(UTC)
    session.add(record)
    policy = await current_policy(session)
    elder = await session.get(Elder, event.resident_id)
    restored, months, back_pay, admission_id, bed_restored, services = [], set(), 0, None, False, []
    if elder is not None and elder.death_registration_id == event.registration_id:
        elder.died_on = elder.death_registration_id = None
        session.add(elder)
        last_run = await grants.last_run_month(session)
        stopped = await session.exec(select(Allowance).where(Allowance.stopped_by_death == event.registration_id))
        for allowance in stopped.all():
            since = allowance.stopped_from or allowance.granted_from
            restored.append(grants.ended(allowance, elder.born, since, policy))
            allowance.status, allowance.stopped_from, allowance.stop_reason = AllowanceStatus.ACTIVE, None, None
            allowance.stopped_by_death = None
            session.add(allowance)
            owed = rules.months_from(since, rules.first_day_of_next_month(last_run)) if last_run else []
            paid = await grants.pay(session, allowance, elder.born, owed, "back_pay", policy)
            months |= set(paid)
            back_pay += sum(paid.values())
        admission = (
            await session.exec(select(Admission).where(Admission.ended_by_death == event.registration_id))
        ).first()
        if admission is not None:
            admission_id = admission.id
            bed = table_of(Bed)
            taken = await session.exec(update(bed).where(bed.c.id == admission.bed_id, bed.c.occupant.is_(None))
                                       .values(occupant=admission.resident_id))  # fmt: skip
            bed_restored = taken.rowcount == 1
            if bed_restored:
                admission.status, admission.discharged_on, admission.discharge_reason = (
                    AdmissionStatus.RESIDENT,
                    None,
                    None,
                )
                admission.ended_by_death = None
                session.add(admission)
        cancelled = await session.exec(
            select(HomeService).where(HomeService.cancelled_by_death == event.registration_id)
        )
        for service in cancelled.all():
            service.status, service.ended_on, service.cancelled_by_death = ServiceStatus.ACTIVE, None, None
            session.add(service)
            services.append(service.id)
        await unmark_devices_of_revoked_death(session, event.registration_id)
    await ctx.publish(CareOfDeceasedRestored(
        resident_id=event.resident_id, death_registration_id=event.registration_id, allowances=restored,
        back_pay=from_fen(back_pay), back_pay_months=sorted(months), restored_admission_id=admission_id,
        bed_restored=bed_restored, restored_services=services,
    ))  # fmt: skip


async def mark_devices_of_deceased(session: AsyncSession, resident_id: str, registration_id: str) -> None:
    """The deceased's monitoring devices become due for removal, not retired: they are still on the walls, and a
    smoke or gas detector keeps protecting whoever lives there (its alarms are still taken, flagged), until a
    caseworker has them collected (retire) or gives them to a surviving elder of the household (move)."""
    devices = table_of(MonitoringDevice)
    await session.exec(update(devices).where(devices.c.resident_id == resident_id,
                                             devices.c.status == DeviceStatus.INSTALLED)
                       .values(status=DeviceStatus.REMOVAL_DUE, removal_due_by_death=registration_id))  # fmt: skip


async def unmark_devices_of_revoked_death(session: AsyncSession, registration_id: str) -> None:
    """Only what the death marked and nobody has changed since goes back: a device collected or given to someone
    else meanwhile stays where the caseworker put it (moving or retiring clears the mark)."""
    devices = table_of(MonitoringDevice)
    await session.exec(update(devices).where(devices.c.removal_due_by_death == registration_id,
                                             devices.c.status == DeviceStatus.REMOVAL_DUE)
                       .values(status=DeviceStatus.INSTALLED, removal_due_by_death=None))  # fmt: skip


def _case_cause(case_id: str) -> str:
    return f"assistance case {case_id}"


async def enrol_difficult_elderly(event: BenefitApproved, ctx: HandlerContext) -> None:
    """救助一件事: the elderly members of an approved household get the difficult-elderly subsidy, per policy; and
    eldercare answers every approval with how many it enrolled (0 too), so the journey can complete. The same
    approval seen again (another event id) grants nothing and is answered with the first answer's count."""
    session = ctx.session
    answered = await session.get(ApprovalAnswer, event.case_id)
    enrolled = 0 if answered is None else answered.enrolled
    if answered is None:
        policy = await current_policy(session)
        on = event.effective_from
        qualifying = policy.parameter("difficult_elderly_benefits", event.region_code, on).split()
        min_age = min(r.min_age for r in policy.rates if r.allowance == rules.AllowanceKind.DIFFICULT_ELDERLY)
        members = [(rid, rules.birth_date_of(rid)) for rid in dict.fromkeys(event.members)]
        for rid in rules.difficult_elderly_members(members, event.benefit, qualifying, min_age, on):
            elder = await grants.elder_with(session, rid, event.region_code, ACTOR, ctx.outbox)
            granted = await grants.grant(session, ctx.outbox, elder, rules.AllowanceKind.DIFFICULT_ELDERLY,
                                         rules.first_of_month(on), _case_cause(event.case_id), policy)  # fmt: skip
            enrolled += granted is not None
        session.add(ApprovalAnswer(case_id=event.case_id, household_id=event.household_id, enrolled=enrolled))
    await ctx.publish(HouseholdEldersEnrolled(
        resident_id=event.resident_id, case_id=event.case_id, benefit=event.benefit, household_id=event.household_id,
        enrolled=enrolled, effective_from=event.effective_from, repeated=answered is not None,
    ))  # fmt: skip


async def end_difficult_elderly(event: BenefitTerminated, ctx: HandlerContext) -> None:
    """The household's benefit ended: the subsidy it gave ends too (months already begun are paid)."""
    session = ctx.session
    rows = await session.exec(select(Allowance).where(
        col(Allowance.resident_id).in_(event.members), Allowance.kind == rules.AllowanceKind.DIFFICULT_ELDERLY,
        Allowance.cause == _case_cause(event.case_id), Allowance.status == AllowanceStatus.ACTIVE,
    ))  # fmt: skip
    start = event.effective_from
    stopped_from = start if start.day == 1 else rules.first_day_of_next_month(start)
    for allowance in rows.all():
        await grants.stop(session, ctx.outbox, allowance, max(stopped_from, allowance.granted_from),
                          f"assistance case {event.case_id} terminated: {event.reason}", AllowanceStatus.ENDED)  # fmt: skip


async def restore_difficult_elderly(event: BenefitReinstated, ctx: HandlerContext) -> None:
    """The household's benefit is paid again (a termination undone, a death registered in error): the subsidy it
    had ended comes back. When the benefit never lapsed for a whole month the subsidy keeps its start, and the next
    payment run pays the months missed as back-pay; after a real gap it starts again from the reinstatement."""
    session = ctx.session
    rows = await session.exec(select(Allowance).where(
        col(Allowance.resident_id).in_(event.members), Allowance.kind == rules.AllowanceKind.DIFFICULT_ELDERLY,
        Allowance.cause == _case_cause(event.case_id), Allowance.status == AllowanceStatus.ENDED,
    ))  # fmt: skip
    ended = rows.all()
    if not ended:
        return
    policy = await current_policy(session)
    start = rules.first_of_month(event.reinstated_from)
    for allowance in ended:
        elder = await session.get(Elder, allowance.resident_id)
        if elder is None:
            continue
        lapsed = allowance.stopped_from is not None and start > allowance.stopped_from
        await grants.grant(session, ctx.outbox, elder, rules.AllowanceKind.DIFFICULT_ELDERLY,
                           start if lapsed else allowance.granted_from, _case_cause(event.case_id), policy)  # fmt: skip


async def update_addresses_on_renamed_road(event: RoadRenamed, ctx: HandlerContext) -> None:
    """Address change: every elder living on the road shows its new name; eldercare says so once per rename, with
    how many addresses changed (0 when no elder lives there, or a copy of a rename already applied)."""
    on_road = await ctx.session.exec(select(Elder).where(Elder.road_code == event.road_code))
    updated = 0
    for elder in on_road.all():
        if elder.road_name == event.new_name or elder.house_number is None:
            continue
        elder.road_name = event.new_name
        elder.address = rules.address_text(event.new_name, elder.house_number, elder.house_suffix,
                                           elder.address_detail)  # fmt: skip
        ctx.session.add(elder)
        updated += 1
    await ctx.publish(EldersAddressesUpdated(road_code=event.road_code, new_name=event.new_name,
                                             elders_updated=updated))  # fmt: skip


async def follow_renumbered_plate(event: DoorPlateChanged, ctx: HandlerContext) -> None:
    """A house number changed: the elders at the old number live at the new one (same plate, same home). A copy of
    the change finds nobody left at the old number and changes nothing."""
    at_old = await ctx.session.exec(select(Elder).where(Elder.road_code == event.road_code,
                                                        Elder.house_number == event.old_number,
                                                        Elder.house_suffix == event.old_suffix))  # fmt: skip
    for elder in at_old.all():
        elder.house_number, elder.house_suffix = event.number, event.suffix
        elder.address = rules.address_text(elder.road_name, event.number, event.suffix, elder.address_detail)
        ctx.session.add(elder)


HANDLERS: Handlers = {
    DeathRegistered: [end_care_of_deceased],
    DeathRevoked: [restore_care_of_revoked_death],
    BenefitApproved: [enrol_difficult_elderly],
    BenefitTerminated: [end_difficult_elderly],
    BenefitReinstated: [restore_difficult_elderly],
    RoadRenamed: [update_addresses_on_renamed_road],
    DoorPlateChanged: [follow_renumbered_plate],
}
