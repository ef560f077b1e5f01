"""Marriage registration's tables. This register is the source of marital status: nobody else's data is read."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Table, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from civic.ids import new_id


def _now() -> datetime:
    return datetime.now(UTC)


class MarriageTable(SQLModel, registry=registry()):
    """The base of this service's tables: a MetaData of its own, so another service may reuse a table name."""


class Marriage(MarriageTable, table=True):
    """One marriage registration (结婚登记) and how it ended, if it did."""

    __tablename__ = "marriage"

    id: str = Field(default_factory=new_id, primary_key=True)
    resident_id: str = Field(index=True, max_length=18)
    name: str = Field(max_length=50)
    spouse_resident_id: str = Field(index=True, max_length=18)
    spouse_name: str = Field(max_length=50)
    registered_on: date
    office_code: str = Field(max_length=6, index=True)
    both_present: bool
    remarriage: bool = False  # 复婚: the same two people, divorced from each other before
    status: str = Field(default="married", max_length=20)  # married | divorced | widowed | revoked
    ended_on: date | None = None
    ended_by: str | None = Field(default=None, max_length=64)  # divorce id or death registration id
    deceased_resident_id: str | None = Field(default=None, max_length=18)
    registered_by: str = Field(max_length=100)
    registered_at: datetime = Field(default_factory=_now)
    revoked_reason: str | None = Field(default=None, max_length=500)
    revoked_by: str | None = Field(default=None, max_length=100)
    revoked_at: datetime | None = None
    revoked_on: date | None = None  # the registry's date of the revocation (statistics count by it)

    def parties(self) -> tuple[str, str]:
        return self.resident_id, self.spouse_resident_id

    def other_party(self, resident_id: str) -> str:
        return self.spouse_resident_id if resident_id == self.resident_id else self.resident_id


class CurrentSpouse(MarriageTable, table=True):
    """One row per person who is married right now. The primary key is what makes bigamy impossible, even for
    two registrations racing for the same person: the second insert fails, whatever the first one read."""

    __tablename__ = "current_spouse"

    resident_id: str = Field(primary_key=True, max_length=18)
    marriage_id: str = Field(index=True, max_length=36)


class Divorce(MarriageTable, table=True):
    """A divorce by agreement (协议离婚): the application, its deadlines as computed on the day it was received,
    and its outcome. Its id is the divorce registration's id once the certificate is issued."""

    __tablename__ = "divorce"
    __table_args__ = (UniqueConstraint("pending_marriage_id"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    marriage_id: str = Field(index=True, max_length=36)
    # Set while the application is pending, NULL after: at most one pending application per marriage.
    pending_marriage_id: str | None = Field(default=None, max_length=36)
    office_code: str = Field(max_length=6, index=True)
    applied_on: date
    last_day_to_withdraw: date
    first_day_for_certificate: date
    last_day_for_certificate: date
    status: str = Field(default="pending", max_length=20)  # pending | withdrawn | deemed-withdrawn | registered
    closed_on: date | None = None
    withdrawn_by: str | None = Field(default=None, max_length=18)
    recorded_by: str = Field(max_length=100)
    recorded_at: datetime = Field(default_factory=_now)


class Certificate(MarriageTable, table=True):
    """A marriage or divorce certificate held by one party. A reissue (补领) voids the number it replaces."""

    __tablename__ = "certificate"

    number: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=10)  # marriage | divorce
    marriage_id: str = Field(index=True, max_length=36)
    divorce_id: str | None = Field(default=None, max_length=36)
    holder_resident_id: str = Field(index=True, max_length=18)
    office_code: str = Field(max_length=6, index=True)
    issued_on: date
    reissue: bool = False
    status: str = Field(default="valid", max_length=10)  # valid | void
    voided_on: date | None = None
    replaced_by: str | None = Field(default=None, max_length=40)
    void_reason: str | None = Field(default=None, max_length=200)


class Correction(MarriageTable, table=True):
    """A correction of a historical record: what changed, from what, why, by whom and when."""

    __tablename__ = "record_correction"

    id: int | None = Field(default=None, primary_key=True)
    marriage_id: str = Field(index=True, max_length=36)
    field: str = Field(max_length=40)
    old_value: str = Field(max_length=200)
    new_value: str = Field(max_length=200)
    reason: str = Field(max_length=500)
    corrected_by: str = Field(max_length=100)
    corrected_at: datetime = Field(default_factory=_now)


class ArchiveQuery(MarriageTable, table=True):
    """One look into a person's records by staff (异地查档 from another office, or an auditor): who, from which
    office, why, and when. Citizens reading their own records are not logged here."""

    __tablename__ = "archive_query"

    id: int | None = Field(default=None, primary_key=True)
    resident_id: str = Field(index=True, max_length=18)  # whose records
    queried_by: str = Field(max_length=100)
    role: str = Field(max_length=20)
    office_code: str | None = Field(default=None, max_length=6)  # the office the query was made from
    reason: str = Field(max_length=500)
    records_found: int
    queried_at: datetime = Field(default_factory=_now)


class DeathNotice(MarriageTable, table=True):
    """A death registered by funeral administration, and what it did to this register (to undo it exactly)."""

    __tablename__ = "death_notice"

    death_registration_id: str = Field(primary_key=True, max_length=64)
    deceased_resident_id: str = Field(index=True, max_length=18)
    date_of_death: date
    outcome: str = Field(max_length=20)  # widowed | no-spouse
    marriage_id: str | None = Field(default=None, max_length=36)
    survivor_resident_id: str | None = Field(default=None, max_length=18)
    revoked_at: datetime | None = None
    revocation_outcome: str | None = Field(default=None, max_length=40)  # restored | survivor-remarried | nothing


class PolicyParameter(MarriageTable, table=True):
    __tablename__ = "policy_parameter"
    __table_args__ = (UniqueConstraint("region_code", "name", "effective_from"),)

    id: int | None = Field(default=None, primary_key=True)
    region_code: str = Field(max_length=6)
    name: str = Field(max_length=60)
    effective_from: date
    value: int
    source: str = Field(default="", max_length=300)


class HolidayCalendarDay(MarriageTable, table=True):
    """One day of the national holiday calendar (``policy/holidays.csv``): a holiday, or a weekend day worked."""

    __tablename__ = "holiday_calendar_day"

    day: date = Field(primary_key=True)
    kind: str = Field(max_length=10)  # holiday | workday
    name: str = Field(max_length=40)
    source: str = Field(default="", max_length=300)


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


TABLES = [
    _table(m)
    for m in (
        Marriage,
        CurrentSpouse,
        Divorce,
        Certificate,
        Correction,
        ArchiveQuery,
        DeathNotice,
        PolicyParameter,
        HolidayCalendarDay,
    )
]
