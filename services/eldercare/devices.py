"""Routes: the registry of monitoring devices (智能监测设备). A caseworker registers a device for an elder, moves it
to another elder (the history is kept: a late alarm is resolved against the day it was raised) and retires it when
it is collected. Citizens see the devices installed for themselves."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Principal, Role, caseworker_of
from civic.clock import Today
from civic.db import table_of
from civic.outbox import Outbox
from civic.problems import Conflict, NotFound, Problem
from contracts.eldercare import DeviceInstalled, DeviceRetired
from services.eldercare import grants, rules
from services.eldercare.access import DOMAIN, check_may_read, shown_id
from services.eldercare.device_models import DeviceInstallation, MonitoringDevice
from services.eldercare.device_schemas import DeviceCreate, DeviceMove, DevicePublic, DeviceRetire, InstallationPublic
from services.eldercare.models import Elder
from services.eldercare.rules import DeviceStatus

router = APIRouter(tags=["monitoring devices"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]


async def history_of(session: AsyncSession, device_id: str) -> list[DeviceInstallation]:
    rows = await session.exec(select(DeviceInstallation).where(DeviceInstallation.device_id == device_id)
                              .order_by(col(DeviceInstallation.seq)))  # fmt: skip
    return list(rows.all())


def device_public(device: MonitoringDevice, history: list[DeviceInstallation], who: Principal) -> DevicePublic:
    """Someone who is not eldercare's caseworker sees only the spans at their own home (a citizen's view of a
    device that once was at a neighbour's tells nothing of the neighbour)."""
    current = history[-1]
    shown = [h for h in history if who.is_citizen(h.resident_id)] if who.role is Role.CITIZEN else history
    return DevicePublic(
        device_id=device.device_id, kind=device.kind, status=device.status,
        resident_id=shown_id(device.resident_id, who), installed_on=current.installed_on,
        community=current.community, address=current.address, retired_on=device.retired_on,
        retire_reason=device.retire_reason,
        history=[InstallationPublic(resident_id=shown_id(h.resident_id, who), installed_on=h.installed_on,
                                    removed_on=h.removed_on, ended_by=h.ended_by, region_code=h.region_code,
                                    community=h.community, address=h.address) for h in shown],
    )  # fmt: skip


async def living_elder(session: AsyncSession, resident_id: str) -> Elder:
    """The elder a device is installed for: known to eldercare (so an alarm reaches a community) and alive."""
    elder = await session.get(Elder, resident_id)
    if elder is None:
        raise Problem(422, "elder-not-registered", "The elder is not registered with eldercare",
                      "register the elder first: an alarm must reach the elder's community", field="resident_id")  # fmt: skip
    if elder.died_on is not None or await grants.is_dead(session, resident_id):
        raise Conflict("deceased", "This person's death is registered", field="resident_id")
    return elder


def installation(device_id: str, seq: int, elder: Elder, on: date, body: DeviceCreate | DeviceMove,
                 who: Principal) -> DeviceInstallation:  # fmt: skip
    return DeviceInstallation(device_id=device_id, seq=seq, resident_id=elder.resident_id, installed_on=on,
                              region_code=elder.region_code, community=body.community or elder.community,
                              address=body.address or elder.address, recorded_by=who.subject)  # fmt: skip


async def announce_installed(outbox: Outbox, session: AsyncSession, device: MonitoringDevice,
                             span: DeviceInstallation) -> None:  # fmt: skip
    await outbox.add(session, DeviceInstalled(
        resident_id=span.resident_id, device_id=device.device_id, kind=device.kind, installed_on=span.installed_on,
        region_code=span.region_code, community=span.community,
    ))  # fmt: skip


@router.post("/devices", status_code=status.HTTP_201_CREATED)
async def register_device(
    body: DeviceCreate, session: SessionDep, outbox: OutboxDep, who: Caseworker, today: Today
) -> DevicePublic:
    """A device installed in an elder's home. Its id is the platform's and is never given to a second device,
    not even after the first is retired (old alarms and tasks name it)."""
    if body.installed_on > today:
        raise Problem(422, "date-in-future", "Not recorded ahead of time", field="installed_on")
    elder = await living_elder(session, body.resident_id)
    if await session.get(MonitoringDevice, body.device_id) is not None:
        raise Conflict("device-already-registered", "A device with this id is registered", field="device_id")
    device = MonitoringDevice(device_id=body.device_id, kind=body.kind, resident_id=elder.resident_id,
                              registered_by=who.subject)  # fmt: skip
    span = installation(body.device_id, 1, elder, body.installed_on, body, who)
    session.add(device)
    await session.flush()  # the device row before its installation (the foreign key)
    session.add(span)
    await announce_installed(outbox, session, device, span)
    try:
        await session.commit()
    except IntegrityError as exc:  # the same device registered twice at once
        await session.rollback()
        raise Conflict("device-already-registered", "A device with this id is registered", field="device_id") from exc
    return device_public(device, [span], who)


async def present(
    session: AsyncSession, device_id: str, read_at: str
) -> tuple[MonitoringDevice, list[DeviceInstallation]]:
    """The device to change, still where the caseworker read it (``read_at``, the elder it was installed for): a
    move or retirement someone else made meanwhile is refused, not overwritten, whether the two requests overlap in
    time or not."""
    device = await session.get(MonitoringDevice, device_id)
    if device is None:
        raise NotFound("Device")
    if device.status == DeviceStatus.RETIRED:
        raise Conflict("device-retired", "The device is retired", f"retired on {device.retired_on}",
                       field="device_id")  # fmt: skip
    if device.resident_id != read_at:
        raise Conflict("device-changed", "The device was changed meanwhile",
                       "it is no longer installed for that elder; read it again", field="from_resident_id")  # fmt: skip
    return device, await history_of(session, device_id)


def check_change(
    current: DeviceInstallation, on: date, today: date, field: str, new_resident: str | None = None
) -> None:
    try:
        rules.check_device_change(rules.Installation(current.resident_id, current.installed_on, None), on,
                                  today, new_resident)  # fmt: skip
    except rules.DeviceChangeError as exc:
        kind = "same-elder" if new_resident == current.resident_id else "date-out-of-range"
        raise Problem(422, kind, "The device cannot be changed so", str(exc),
                      field="resident_id" if kind == "same-elder" else field) from exc  # fmt: skip


async def claim(session: AsyncSession, device: MonitoringDevice, **values: object) -> None:
    """Move the device on from the installation it was read at, unless it was retired: of two changes made at the
    same moment from the same reading, the first to write wins."""
    devices = table_of(MonitoringDevice)
    moved = await session.exec(update(devices).where(devices.c.device_id == device.device_id,
                                                     devices.c.installations == device.installations,
                                                     devices.c.status != DeviceStatus.RETIRED).values(**values))  # fmt: skip
    if moved.rowcount != 1:
        await session.rollback()
        raise Conflict("device-changed", "The device was changed meanwhile", "read it again", field="device_id")


@router.post("/devices/{device_id}/move")
async def move_device(
    device_id: str, body: DeviceMove, session: SessionDep, outbox: OutboxDep, who: Caseworker, today: Today
) -> DevicePublic:
    """The device now serves another elder (from ``moved_on``, that whole day included); the span at the first
    elder's is kept."""
    device, history = await present(session, device_id, body.from_resident_id)
    current = history[-1]
    check_change(current, body.moved_on, today, "moved_on", body.resident_id)
    elder = await living_elder(session, body.resident_id)
    seq = device.installations + 1
    await claim(session, device, installations=seq, resident_id=elder.resident_id, status=DeviceStatus.INSTALLED,
                removal_due_by_death=None)  # fmt: skip
    current.removed_on, current.ended_by = body.moved_on, "moved"
    span = installation(device_id, seq, elder, body.moved_on, body, who)
    session.add_all([current, span])
    await announce_installed(outbox, session, device, span)
    await session.commit()
    await session.refresh(device)
    return device_public(device, [*history, span], who)


@router.post("/devices/{device_id}/retire")
async def retire_device(
    device_id: str, body: DeviceRetire, session: SessionDep, outbox: OutboxDep, who: Caseworker, today: Today
) -> DevicePublic:
    """The device was collected (or broke): from ``retired_on`` it belongs to nobody, and its alarms are refused."""
    device, history = await present(session, device_id, body.from_resident_id)
    current = history[-1]
    check_change(current, body.retired_on, today, "retired_on")
    await claim(session, device, status=DeviceStatus.RETIRED, retired_on=body.retired_on, retire_reason=body.reason,
                removal_due_by_death=None)  # fmt: skip
    current.removed_on, current.ended_by = body.retired_on, "retired"
    session.add(current)
    await outbox.add(session, DeviceRetired(resident_id=current.resident_id, device_id=device_id, kind=device.kind,
                                            retired_on=body.retired_on, reason=body.reason))  # fmt: skip
    await session.commit()
    await session.refresh(device)
    return device_public(device, history, who)


@router.get("/devices")
async def devices(
    session: SessionDep, who: Caseworker, status: DeviceStatus | None = None, community: str | None = None
) -> list[DevicePublic]:
    """The registry, by status (``removal_due``: devices in the homes of elders who died, to collect or give on)."""
    query = select(MonitoringDevice).order_by(col(MonitoringDevice.device_id))
    if status is not None:
        query = query.where(MonitoringDevice.status == status)
    listed = (await session.exec(query)).all()
    histories: dict[str, list[DeviceInstallation]] = {d.device_id: [] for d in listed}
    spans = await session.exec(select(DeviceInstallation).where(col(DeviceInstallation.device_id).in_(histories))
                               .order_by(col(DeviceInstallation.device_id), col(DeviceInstallation.seq)))  # fmt: skip
    for span in spans.all():
        histories[span.device_id].append(span)
    return [device_public(d, histories[d.device_id], who) for d in listed
            if community is None or histories[d.device_id][-1].community == community]  # fmt: skip


@router.get("/devices/{device_id}")
async def read_device(device_id: str, session: SessionDep, who: CurrentUser) -> DevicePublic:
    """A citizen sees a device while it is installed for them; anyone else's is not found."""
    device = await session.get(MonitoringDevice, device_id)
    if device is None:
        raise NotFound("Device")
    check_may_read(device.resident_id, who, "Device")
    if who.is_citizen(device.resident_id) and device.status == DeviceStatus.RETIRED:
        raise NotFound("Device")
    return device_public(device, await history_of(session, device_id), who)


@router.get("/elders/{resident_id}/devices")
async def devices_of(resident_id: str, session: SessionDep, who: CurrentUser) -> list[DevicePublic]:
    """The devices installed for an elder now (retired ones and those moved on are in the registry's history)."""
    check_may_read(resident_id, who, "Elder")
    if await session.get(Elder, resident_id) is None:
        raise NotFound("Elder")
    rows = await session.exec(select(MonitoringDevice).where(MonitoringDevice.resident_id == resident_id,
                                                             MonitoringDevice.status != DeviceStatus.RETIRED)
                              .order_by(col(MonitoringDevice.device_id)))  # fmt: skip
    return [device_public(d, await history_of(session, d.device_id), who) for d in rows.all()]
