"""API bodies of home and community services: visits, alarms and their follow-up tasks, the time bank."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from civic.identity import ResidentId
from services.eldercare.schemas import Request

QUARTER_HOUR = 0.25  # exact in binary, so the check is exact


class VisitCreate(Request):
    visited_on: date
    visitor: str = Field(min_length=1, max_length=100, description="who visited: a social worker, a volunteer …")
    outcome: Literal["well", "needs_help", "not_home"]
    note: str = Field(default="", max_length=500)


class VisitPublic(BaseModel):
    id: str
    resident_id: str
    visited_on: date
    visitor: str
    outcome: str
    note: str


class OverdueVisit(BaseModel):
    resident_id: str
    community: str
    living_situation: str
    address: str
    last_visited_on: date | None
    due_on: date
    days_overdue: int


class AlarmRaised(Request):
    """An alarm. The monitoring platform names the device (it does not know who lives where: the registry does); a
    caseworker entering an alarm phoned in (12349) names the resident. Exactly one of the two. ``alarm_id`` is the
    sender's own id for the alarm, so a resend is recognised."""

    alarm_id: str = Field(min_length=1, max_length=64)
    device_id: str | None = Field(default=None, min_length=1, max_length=64, description="a registered device")
    resident_id: ResidentId | None = Field(default=None, description="when no device raised it (a phone call)")
    alarm: Literal["fall", "sos", "smoke", "gas", "water", "inactivity", "vital_signs"]
    raised_at: AwareDatetime
    detail: str = Field(default="", max_length=500)


class TaskClose(Request):
    outcome: str = Field(min_length=1, max_length=500, description="what was found and done")


class TaskPublic(BaseModel):
    id: str
    alarm_id: str
    device_id: str | None = Field(description="the device that raised it; null for an alarm phoned in")
    resident_id: str
    alarm: str
    raised_at: datetime
    detail: str
    region_code: str
    community: str
    elder_deceased: bool = Field(description="the elder's death was registered when the alarm came")
    status: str
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    outcome: str | None


class HoursEarned(Request):
    hours: Decimal = Field(gt=0, le=24, multiple_of=QUARTER_HOUR, description="in quarter hours, at most a day")
    service: str = Field(min_length=1, max_length=200, description="what the volunteer did, for whom")
    on: date


class HoursSpent(Request):
    hours: Decimal = Field(gt=0, le=1000, multiple_of=QUARTER_HOUR, description="in quarter hours")
    service: str = Field(min_length=1, max_length=200, description="the service the hours paid for")
    on: date


class LedgerEntryPublic(BaseModel):
    seq: int
    kind: str
    hours: Decimal
    balance_after: Decimal
    service: str
    on: date
    recorded_by: str


class TimeBankPublic(BaseModel):
    resident_id: str
    balance: Decimal = Field(description="hours")
    entries: list[LedgerEntryPublic]
