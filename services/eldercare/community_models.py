"""Eldercare's tables for home and community services: visits to elders living alone, alarms from monitoring devices
and the follow-up tasks they open, and the time bank (时间银行). Home services themselves (home care beds, day care,
meal assistance) live in ``models.HomeService``, which the reactions to a death already know."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Table, UniqueConstraint, false
from sqlmodel import Field as Column

from civic.db import table_of
from civic.ids import new_id
from services.eldercare.models import now
from services.eldercare.tables import ElderTable


class Visit(ElderTable, table=True):
    """A visit (探访) to an elder; the last one decides when the next is due (``rules.visit_due``)."""

    __tablename__ = "visit"

    id: str = Column(default_factory=new_id, primary_key=True)
    resident_id: str = Column(max_length=18, index=True)
    visited_on: date = Column(index=True)
    visitor: str = Column(max_length=100)
    outcome: str = Column(max_length=20)  # well | needs_help | not_home
    note: str = Column(default="", max_length=500)
    recorded_by: str = Column(max_length=100)
    recorded_at: datetime = Column(default_factory=now)


class TaskStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"  # someone in the community has taken it on
    CLOSED = "closed"


class FollowUpTask(ElderTable, table=True):
    """The community's task opened by one alarm of a monitoring device. The alarm id is unique: a device (or its
    platform) sending the same alarm again finds the task it opened, never a second one."""

    __tablename__ = "follow_up_task"

    id: str = Column(default_factory=new_id, primary_key=True)
    alarm_id: str = Column(max_length=64, unique=True)
    device_id: str = Column(max_length=64)  # "" for an alarm phoned in (12349) about a person, with no device
    resident_id: str = Column(max_length=18, index=True)
    alarm: str = Column(max_length=20)  # fall | sos | smoke | gas | water | inactivity | vital_signs
    raised_at: datetime
    detail: str = Column(default="", max_length=500)
    region_code: str = Column(default="", max_length=6, index=True)
    community: str = Column(default="", max_length=100, index=True)
    status: str = Column(default=TaskStatus.OPEN, max_length=20, index=True)
    opened_at: datetime = Column(default_factory=now)
    reported_by: str = Column(max_length=100)
    # The elder's death was registered when the alarm came: the task is still opened (see ``alarms.raise_alarm``)
    # and says so, because whoever goes there will not find the elder.
    elder_deceased: bool = Column(default=False, sa_column_kwargs={"server_default": false()})
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = Column(default=None, max_length=100)
    closed_at: datetime | None = None
    closed_by: str | None = Column(default=None, max_length=100)
    outcome: str | None = Column(default=None, max_length=500)


class TimeBankAccount(ElderTable, table=True):
    """A volunteer's time-bank account. ``balance_minutes`` is claimed with a conditional UPDATE (``balance >=
    spend``), so two spends racing for the same hours cannot both win; the CHECK is the last word."""

    __tablename__ = "time_bank_account"
    __table_args__ = (CheckConstraint("balance_minutes >= 0", name="time_bank_balance_never_negative"),)

    resident_id: str = Column(primary_key=True, max_length=18)
    balance_minutes: int = 0
    entries: int = 0  # the sequence number of the last ledger entry
    opened_at: datetime = Column(default_factory=now)


class TimeBankEntry(ElderTable, table=True):
    """One line of the append-only ledger: hours earned by volunteering or spent on services. Never updated nor
    deleted; the account's balance is the sum of its lines, and ``balance_after_minutes`` says so line by line."""

    __tablename__ = "time_bank_entry"
    __table_args__ = (UniqueConstraint("resident_id", "seq"),)

    id: str = Column(default_factory=new_id, primary_key=True)
    resident_id: str = Column(foreign_key="time_bank_account.resident_id", max_length=18, index=True)
    seq: int
    kind: str = Column(max_length=10)  # earned | spent
    minutes: int  # positive; ``kind`` gives the direction
    balance_after_minutes: int
    service: str = Column(max_length=200)
    on: date
    recorded_by: str = Column(max_length=100)
    recorded_at: datetime = Column(default_factory=now)


COMMUNITY_TABLES: list[Table] = [table_of(m) for m in (Visit, FollowUpTask, TimeBankAccount, TimeBankEntry)]
