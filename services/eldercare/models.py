"""Eldercare's tables. Amounts are integer fen; the API shows yuan (``schemas.py``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import Index, Table, UniqueConstraint, text
from sqlmodel import Field as Column

from civic.db import table_of
from civic.ids import new_id
from services.eldercare.tables import ElderTable


def now() -> datetime:
    return datetime.now(UTC)


class LivingSituation(StrEnum):
    ALONE = "alone"  # 独居
    EMPTY_NEST = "empty_nest"  # 空巢
    WITH_FAMILY = "with_family"
    UNKNOWN = "unknown"  # enrolled from another department's fact; a caseworker completes it


class Elder(ElderTable, table=True):
    __tablename__ = "elder"

    resident_id: str = Column(primary_key=True, max_length=18)
    born: date = Column(index=True)  # from the resident ID; kept as a column so the birthday job can query it
    region_code: str = Column(max_length=6, index=True)
    community: str = Column(default="", max_length=100)
    address: str = Column(default="", max_length=200)  # as shown: composed from the door plate when there is one
    # The door plate the elder lives at, by reference (place names' road code survives a rename); none when only
    # free text was given. ``road_name`` is the road's standard name as last heard, kept current by renames.
    road_code: str | None = Column(default=None, max_length=40, index=True)
    road_name: str = Column(default="", max_length=100)
    house_number: int | None = None
    house_suffix: str = Column(default="", max_length=10)
    address_detail: str = Column(default="", max_length=100)  # unit, floor, room: not part of the door plate
    living_situation: str = Column(default=LivingSituation.UNKNOWN, max_length=20)
    contact_phone: str = Column(default="", max_length=30)
    registered_at: datetime = Column(default_factory=now)
    registered_by: str = Column(max_length=100)
    died_on: date | None = None
    death_registration_id: str | None = Column(default=None, max_length=64)


class DeathRecord(ElderTable, table=True):
    """Every death the service heard of, known elder or not: nothing is granted to a dead person."""

    __tablename__ = "death_record"

    registration_id: str = Column(primary_key=True, max_length=64)
    resident_id: str = Column(max_length=18, index=True)
    date_of_death: date
    revoked_at: datetime | None = None


class ApprovalAnswer(ElderTable, table=True):
    """Eldercare's answer to each assistance approval (one per case): how many elders it enrolled, so that the
    same approval seen again is answered with the same count and nothing is granted twice."""

    __tablename__ = "approval_answer"

    case_id: str = Column(primary_key=True, max_length=64)
    household_id: str = Column(max_length=64)
    enrolled: int
    answered_at: datetime = Column(default_factory=now)


class Assessment(ElderTable, table=True):
    __tablename__ = "assessment"

    id: str = Column(default_factory=new_id, primary_key=True)
    resident_id: str = Column(max_length=18, index=True)
    assessor: str = Column(max_length=100)
    assessed_on: date
    scores: str  # JSON {item: score}, as entered
    findings: str  # JSON of rules.Findings
    self_care: int
    basic_motor: int
    mental_state: int
    perception_social: int
    total: int
    level: str = Column(max_length=20)
    reasons: str  # JSON list of the reasons for the level
    reassess_by: date
    recorded_by: str = Column(max_length=100)
    recorded_at: datetime = Column(default_factory=now)


class AllowanceStatus(StrEnum):
    ACTIVE = "active"
    STOPPED = "stopped"  # by a registered death (undone if the death is revoked)
    ENDED = "ended"  # by the end of its cause (an assistance benefit terminated)


class Allowance(ElderTable, table=True):
    """One allowance of one person. Unique per person and kind: an allowance is never granted twice, and a
    person re-entitled later gets the same row back."""

    __tablename__ = "allowance"
    __table_args__ = (UniqueConstraint("resident_id", "kind"),)

    id: str = Column(default_factory=new_id, primary_key=True)
    resident_id: str = Column(max_length=18, index=True)
    kind: str = Column(max_length=30)
    region_code: str = Column(max_length=6)
    status: str = Column(default=AllowanceStatus.ACTIVE, max_length=20)
    granted_from: date
    stopped_from: date | None = None
    stop_reason: str | None = Column(default=None, max_length=500)
    cause: str = Column(default="", max_length=200)  # what entitled: "age 80 on …", "assistance case …"
    stopped_by_death: str | None = Column(default=None, max_length=64, index=True)
    granted_at: datetime = Column(default_factory=now)


class AllowancePayment(ElderTable, table=True):
    """One month of one allowance, paid once: the unique key is the guarantee, not the code."""

    __tablename__ = "allowance_payment"
    __table_args__ = (UniqueConstraint("allowance_id", "month"),)

    id: int | None = Column(default=None, primary_key=True)
    allowance_id: str = Column(foreign_key="allowance.id", index=True)
    month: date
    amount_fen: int
    kind: str = Column(max_length=20)  # regular | back_pay
    paid_at: datetime = Column(default_factory=now)


class AllowancePaymentRun(ElderTable, table=True):
    """The months a payment run has covered: a revoked death is paid back up to the last of them."""

    __tablename__ = "allowance_payment_run"

    month: date = Column(primary_key=True)
    ran_at: datetime = Column(default_factory=now)


class AgeAllowanceRun(ElderTable, table=True):
    """Each run of the daily birthday job, for the record (the job itself is safe to run any number of times)."""

    __tablename__ = "age_allowance_run"

    id: int | None = Column(default=None, primary_key=True)
    on: date
    granted: int
    ran_at: datetime = Column(default_factory=now)
    ran_by: str = Column(max_length=100)


class Institution(ElderTable, table=True):
    __tablename__ = "institution"

    id: str = Column(default_factory=new_id, primary_key=True)
    name: str = Column(max_length=100)
    region_code: str = Column(max_length=6, index=True)
    ownership: str = Column(max_length=20)  # public | private
    star_rating: int = 0
    created_at: datetime = Column(default_factory=now)


class Bed(ElderTable, table=True):
    __tablename__ = "bed"
    __table_args__ = (UniqueConstraint("institution_id", "label"),)

    id: str = Column(default_factory=new_id, primary_key=True)
    institution_id: str = Column(foreign_key="institution.id", index=True)
    label: str = Column(max_length=30)
    kind: str = Column(max_length=20)
    # unique: one person in one bed at a time; the admission claims the bed with a conditional UPDATE
    occupant: str | None = Column(default=None, max_length=18, unique=True)


class AdmissionStatus(StrEnum):
    RESIDENT = "resident"
    DISCHARGED = "discharged"
    ENDED_BY_DEATH = "ended_by_death"  # undone if the death is revoked and the bed is still free


class Admission(ElderTable, table=True):
    __tablename__ = "admission"

    id: str = Column(default_factory=new_id, primary_key=True)
    resident_id: str = Column(max_length=18, index=True)
    institution_id: str = Column(foreign_key="institution.id", index=True)
    bed_id: str = Column(foreign_key="bed.id")
    bed_kind: str = Column(max_length=20)
    admitted_on: date
    concentrated_support: bool = False  # 特困 elder in concentrated support (集中供养)
    status: str = Column(default=AdmissionStatus.RESIDENT, max_length=20)
    discharged_on: date | None = None
    discharge_reason: str | None = Column(default=None, max_length=500)
    ended_by_death: str | None = Column(default=None, max_length=64, index=True)


class HomeServiceKind(StrEnum):
    HOME_CARE_BED = "home_care_bed"  # 家庭养老床位
    DAY_CARE = "day_care"
    MEAL_ASSISTANCE = "meal_assistance"  # 助餐
    VISITS = "visits"  # 探访 of elders living alone / empty-nest


class ServiceStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"
    CANCELLED_BY_DEATH = "cancelled_by_death"


class HomeService(ElderTable, table=True):
    __tablename__ = "home_service"
    # One running service of each kind per elder, even when two enrolments race (a partial unique index).
    __table_args__ = (
        Index("uq_home_service_running", "resident_id", "kind", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
    )  # fmt: skip

    id: str = Column(default_factory=new_id, primary_key=True)
    resident_id: str = Column(max_length=18, index=True)
    kind: str = Column(max_length=30)
    provider: str = Column(default="", max_length=100)
    started_on: date
    ended_on: date | None = None
    status: str = Column(default=ServiceStatus.ACTIVE, max_length=30)
    cancelled_by_death: str | None = Column(default=None, max_length=64, index=True)


class AllowanceRate(ElderTable, table=True):
    __tablename__ = "allowance_rate"
    __table_args__ = (UniqueConstraint("region_code", "allowance", "min_age", "effective_from"),)

    id: int | None = Column(default=None, primary_key=True)
    region_code: str = Column(max_length=6)
    allowance: str = Column(max_length=30)
    min_age: int
    effective_from: date
    monthly_fen: int
    source: str = Column(default="", max_length=300)


class PolicyParameter(ElderTable, table=True):
    __tablename__ = "policy_parameter"
    __table_args__ = (UniqueConstraint("region_code", "name", "effective_from"),)

    id: int | None = Column(default=None, primary_key=True)
    region_code: str = Column(max_length=6)
    name: str = Column(max_length=60)
    effective_from: date
    value: str = Column(max_length=200)
    source: str = Column(default="", max_length=300)


TABLES: list[Table] = [
    table_of(m)
    for m in (
        Elder,
        DeathRecord,
        ApprovalAnswer,
        Assessment,
        Allowance,
        AllowancePayment,
        AllowancePaymentRun,
        AgeAllowanceRun,
        Institution,
        Bed,
        Admission,
        HomeService,
        AllowanceRate,
        PolicyParameter,
    )
]
