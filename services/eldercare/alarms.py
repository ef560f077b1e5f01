"""Routes: alarms from monitoring devices (智能监测: falls, SOS buttons, smoke, gas …) and the follow-up tasks they
open for the elder's community. The alarm id is unique: a platform that resends an alarm (it did not hear our
answer) gets the task the first one opened, never a second task."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import SessionDep
from civic.auth import Principal, Role, caseworker_of, require
from civic.clock import china_date_of
from civic.db import table_of
from civic.problems import Conflict, NotFound, Problem
from services.eldercare import rules
from services.eldercare.access import DOMAIN, shown_id
from services.eldercare.community_models import FollowUpTask, TaskStatus
from services.eldercare.community_schemas import AlarmRaised, TaskClose, TaskPublic
from services.eldercare.device_models import MonitoringDevice
from services.eldercare.devices import history_of
from services.eldercare.models import Elder, now

router = APIRouter(tags=["alarms and follow-up tasks"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]
# The monitoring platform calls as a department's system; a caseworker may enter an alarm phoned in (12349).
AlarmSender = Annotated[Principal, Depends(require(Role.DEPARTMENT, Role.CASEWORKER, domain=DOMAIN))]


def task_public(t: FollowUpTask, who: Principal) -> TaskPublic:
    return TaskPublic(
        id=t.id, alarm_id=t.alarm_id, device_id=t.device_id or None, resident_id=shown_id(t.resident_id, who),
        alarm=t.alarm, raised_at=t.raised_at, detail=t.detail, region_code=t.region_code, community=t.community,
        elder_deceased=t.elder_deceased, status=t.status, opened_at=t.opened_at, acknowledged_at=t.acknowledged_at,
        acknowledged_by=t.acknowledged_by, closed_at=t.closed_at, closed_by=t.closed_by, outcome=t.outcome,
    )  # fmt: skip


async def task_of_alarm(session: AsyncSession, alarm_id: str) -> FollowUpTask | None:
    return (await session.exec(select(FollowUpTask).where(FollowUpTask.alarm_id == alarm_id))).first()


@dataclass(frozen=True)
class Whose:
    """Whom an alarm concerns, and where someone has to go."""

    resident_id: str
    device_id: str
    region_code: str
    community: str


def one_source(body: AlarmRaised) -> None:
    if body.device_id is None and body.resident_id is None:
        raise Problem(422, "device-or-resident", "Name the device or the resident",
                      "an alarm names the device that raised it (or, phoned in, the resident)", field="device_id")  # fmt: skip
    if body.device_id is not None and body.resident_id is not None:
        raise Problem(422, "device-or-resident", "Name the device or the resident, not both",
                      "the registry says whose home a device is in: drop resident_id", field="resident_id")  # fmt: skip


async def whose_device(session: AsyncSession, device_id: str, raised_at: datetime) -> Whose:
    """The elder the device was installed for on the alarm's day (in the elders' calendar): a late alarm goes to
    the home the device was in when it rang, not where it is now. A device never registered, not installed yet
    or retired by then: refused, nothing written (the platform has a device eldercare does not watch)."""
    if await session.get(MonitoringDevice, device_id) is None:
        raise Problem(422, "device-unknown", "No such device in the registry",
                      "a caseworker must register the device for the elder it watches", field="device_id")  # fmt: skip
    history = await history_of(session, device_id)
    spans = [rules.Installation(h.resident_id, h.installed_on, h.removed_on) for h in history]
    try:
        span = rules.installation_on(spans, china_date_of(raised_at))
    except rules.DeviceNotInstalled as exc:
        kind = "device-retired" if exc.retired else "device-not-installed"
        raise Problem(422, kind, "The device watched nobody when the alarm was raised", str(exc),
                      field="device_id") from exc  # fmt: skip
    placed = history[spans.index(span)]
    return Whose(placed.resident_id, device_id, placed.region_code, placed.community)


@router.post("/alarms", status_code=status.HTTP_201_CREATED)
async def raise_alarm(body: AlarmRaised, response: Response, session: SessionDep, who: AlarmSender) -> TaskPublic:
    """An alarm opens a follow-up task for the elder's community (201); the same alarm again answers with the task
    it opened (200), even if the device has been moved or retired since.

    An alarm from a device whose elder has died is still taken, and the task says ``elder_deceased``: the device
    hangs in a home where a spouse or a relative may still live (a smoke or gas alarm there is a fire all the
    same), and it is a caseworker, not the platform, who can tell a false alarm from a real one and who must have
    the device collected. Refusing it would tell nobody. An alarm named by resident about someone eldercare does
    not know yet is taken too: no alarm is dropped."""
    one_source(body)
    known = await task_of_alarm(session, body.alarm_id)
    if known is None:
        if body.device_id is not None:
            whose = await whose_device(session, body.device_id, body.raised_at)
            elder = await session.get(Elder, whose.resident_id)
        else:
            assert body.resident_id is not None
            elder = await session.get(Elder, body.resident_id)
            whose = Whose(body.resident_id, "", elder.region_code if elder else "", elder.community if elder else "")
        deceased = elder is not None and elder.died_on is not None
        task = FollowUpTask(alarm_id=body.alarm_id, device_id=whose.device_id, resident_id=whose.resident_id,
                            alarm=body.alarm, raised_at=body.raised_at, detail=body.detail,
                            region_code=whose.region_code, community=whose.community, elder_deceased=deceased,
                            reported_by=who.subject)  # fmt: skip
        session.add(task)
        try:
            await session.commit()
            return task_public(task, who)
        except IntegrityError:  # the same alarm, sent twice at once: the other request opened the task
            await session.rollback()
            known = await task_of_alarm(session, body.alarm_id)
            assert known is not None
    response.status_code = status.HTTP_200_OK
    return task_public(known, who)


@router.get("/tasks")
async def follow_up_tasks(
    session: SessionDep, who: Caseworker, status: TaskStatus | None = None, community: str | None = None,
    region_code: str | None = None,
) -> list[TaskPublic]:  # fmt: skip
    """The community's follow-up tasks, oldest alarm first; by status (open ones are what needs doing)."""
    query = select(FollowUpTask).order_by(col(FollowUpTask.raised_at), col(FollowUpTask.opened_at))
    if status is not None:
        query = query.where(FollowUpTask.status == status)
    if community is not None:
        query = query.where(FollowUpTask.community == community)
    if region_code is not None:
        query = query.where(FollowUpTask.region_code == region_code)
    return [task_public(t, who) for t in (await session.exec(query)).all()]


@router.get("/tasks/{task_id}")
async def follow_up_task(task_id: str, session: SessionDep, who: Caseworker) -> TaskPublic:
    task = await session.get(FollowUpTask, task_id)
    if task is None:
        raise NotFound("Task")
    return task_public(task, who)


async def move_task(session: AsyncSession, task_id: str, action: str, **values: object) -> FollowUpTask:
    """Take ``action`` with a conditional UPDATE on the status, so two people acknowledging at once cannot both."""
    task = await session.get(FollowUpTask, task_id)
    if task is None:
        raise NotFound("Task")
    allowed, after = rules.TASK_ACTIONS[action]
    tasks = table_of(FollowUpTask)
    moved = await session.exec(update(tasks).where(tasks.c.id == task_id, tasks.c.status.in_(allowed))
                               .values(status=after, **values))  # fmt: skip
    if moved.rowcount != 1:
        await session.rollback()
        await session.refresh(task)
        try:
            rules.task_after(task.status, action)
            why = "the task changed meanwhile"
        except rules.TaskTransitionError as exc:
            why = str(exc)
        raise Conflict(f"task-{task.status}", "The task cannot be moved so", why, field="status")
    await session.commit()
    await session.refresh(task)
    return task


@router.post("/tasks/{task_id}/acknowledge")
async def acknowledge_task(task_id: str, session: SessionDep, who: Caseworker) -> TaskPublic:
    """Someone in the community has taken the task on."""
    task = await move_task(session, task_id, "acknowledge", acknowledged_at=now(), acknowledged_by=who.subject)
    return task_public(task, who)


@router.post("/tasks/{task_id}/close")
async def close_task(task_id: str, body: TaskClose, session: SessionDep, who: Caseworker) -> TaskPublic:
    """Done: what was found and done is recorded with it."""
    task = await move_task(session, task_id, "close", closed_at=now(), closed_by=who.subject, outcome=body.outcome)
    return task_public(task, who)
