"""Social assistance's tables. Amounts are stored as integer fen; the API shows yuan (``schemas.py``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field as Column

from civic.db import table_of
from civic.ids import new_id
from services.assistance.policy_store import PolicyParameter
from services.assistance.tables import AssistanceTable


def now() -> datetime:
    return datetime.now(UTC)


class CaseStatus(StrEnum):
    ACTIVE = "active"
    GRACE = "grace"  # 渐退: income rose above the line; paid until grace_until, then terminated
    SUSPENDED = "suspended"
    STOPPED = "stopped"  # by a registered death (undone if the death is revoked)
    TERMINATED = "terminated"  # by a caseworker's decision, or the end of a grace period


PAYABLE = (CaseStatus.ACTIVE, CaseStatus.GRACE)
OPEN = (CaseStatus.ACTIVE, CaseStatus.GRACE, CaseStatus.SUSPENDED)


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    VERIFIED = "verified"  # household economic verification done (家庭经济状况核对)
    APPROVED = "approved"
    REJECTED = "rejected"


class Household(AssistanceTable, table=True):
    __tablename__ = "household"

    id: str = Column(default_factory=new_id, primary_key=True)
    region_code: str = Column(max_length=6)
    area: str = Column(max_length=5)
    applicant_resident_id: str = Column(max_length=18, index=True)
    created_at: datetime = Column(default_factory=now)


class HouseholdMember(AssistanceTable, table=True):
    __tablename__ = "household_member"

    id: int | None = Column(default=None, primary_key=True)
    household_id: str = Column(foreign_key="household.id", index=True)
    # unique: a person belongs to one household at a time, and the database says so too
    resident_id: str = Column(max_length=18, unique=True)
    relation: str = Column(max_length=20)
    work_capacity: bool = True
    legal_supporter: bool = True
    severe_disability: bool = False
    serious_illness: bool = False
    care_level: str | None = Column(default=None, max_length=20)
    died_on: date | None = None
    death_registration_id: str | None = Column(default=None, max_length=64)


class HouseholdIncome(AssistanceTable, table=True):
    __tablename__ = "household_income"

    id: int | None = Column(default=None, primary_key=True)
    household_id: str = Column(foreign_key="household.id", index=True)
    resident_id: str = Column(max_length=18)
    kind: str = Column(max_length=30)
    monthly_fen: int


class HouseholdDeduction(AssistanceTable, table=True):
    __tablename__ = "household_deduction"

    id: int | None = Column(default=None, primary_key=True)
    household_id: str = Column(foreign_key="household.id", index=True)
    resident_id: str = Column(max_length=18)
    kind: str = Column(max_length=30)
    monthly_fen: int


class HouseholdAsset(AssistanceTable, table=True):
    __tablename__ = "household_asset"

    id: int | None = Column(default=None, primary_key=True)
    household_id: str = Column(foreign_key="household.id", index=True)
    resident_id: str = Column(max_length=18)
    kind: str = Column(max_length=30)
    value_fen: int


class Application(AssistanceTable, table=True):
    __tablename__ = "benefit_application"

    id: str = Column(default_factory=new_id, primary_key=True)
    household_id: str = Column(foreign_key="household.id", index=True)
    benefit: str = Column(max_length=30)
    beneficiary_resident_id: str | None = Column(default=None, max_length=18)
    setting: str | None = Column(default=None, max_length=20)
    child_category: str | None = Column(default=None, max_length=30)
    status: str = Column(default=ApplicationStatus.SUBMITTED, max_length=20)
    submitted_by: str = Column(max_length=100)
    submitted_at: datetime = Column(default_factory=now)
    assessed_on: date | None = None
    eligible: bool | None = None
    assessed_amount_fen: int | None = None
    explanation: str = Column(default="[]")  # JSON list of the reasons, as shown to caseworker and citizen
    decided_by: str | None = Column(default=None, max_length=100)
    decision_reason: str | None = Column(default=None, max_length=500)
    case_id: str | None = Column(default=None, max_length=36)


class Case(AssistanceTable, table=True):
    """A benefit being paid (or that was): household benefits name the applicant, personal ones the beneficiary."""

    __tablename__ = "benefit_case"

    id: str = Column(default_factory=new_id, primary_key=True)
    benefit: str = Column(max_length=30)
    resident_id: str = Column(index=True, max_length=18)
    region_code: str = Column(max_length=6)
    household_id: str | None = Column(default=None, index=True, max_length=36)
    application_id: str | None = Column(default=None, max_length=36)
    setting: str | None = Column(default=None, max_length=20)
    child_category: str | None = Column(default=None, max_length=30)
    paid_from: date
    status: str = Column(default=CaseStatus.ACTIVE, max_length=20, index=True)
    suspended_from: date | None = None
    grace_until: date | None = None  # last month paid in 渐退
    stopped_from: date | None = None
    stop_reason: str | None = Column(default=None, max_length=200)
    stopped_by_death: str | None = Column(default=None, max_length=64)  # the death registration, for revocation
    opened_at: datetime = Column(default_factory=now)


class BenefitAmount(AssistanceTable, table=True):
    """The amount schedule of a case: a month pays the entry with the latest ``effective_from`` on or before it."""

    __tablename__ = "benefit_amount"

    # Keyed by case and date (migration 0010: a surrogate id was a second index entry for each of a
    # recalculation's million rows). No foreign key (migration 0007: it cost a query per row), like the history's.
    case_id: str = Column(primary_key=True)
    effective_from: date = Column(primary_key=True)
    amount_fen: int
    cause: str = Column(default="", max_length=100)  # a death registration id, a policy change, a review ...


class CaseChange(AssistanceTable, table=True):
    """The history a caseworker reads: every change to a case, who made it, from when, and why."""

    __tablename__ = "benefit_history"

    id: int | None = Column(default=None, primary_key=True)
    case_id: str = Column(index=True)  # no foreign key: see migration 0007
    at: datetime = Column(default_factory=now)
    kind: str = Column(max_length=30)
    effective_from: date | None = None
    amount_fen: int | None = None
    reason: str = Column(max_length=500)
    actor: str = Column(max_length=100)


class Payment(AssistanceTable, table=True):
    __tablename__ = "benefit_payment"
    # The guarantee that no month is paid twice lives in the database, not only in the run's logic.
    __table_args__ = (UniqueConstraint("case_id", "month", "kind"),)

    id: int | None = Column(default=None, primary_key=True)
    case_id: str = Column(foreign_key="benefit_case.id", index=True)
    month: date
    kind: str = Column(default="regular", max_length=20)  # regular | back_pay
    amount_fen: int
    issued_at: datetime = Column(default_factory=now)


class PaymentRun(AssistanceTable, table=True):
    """One monthly run; ``cursor`` is the last case id done, so an interrupted run resumes after it."""

    __tablename__ = "payment_run"

    month: date = Column(primary_key=True)
    started_at: datetime = Column(default_factory=now)
    finished_at: datetime | None = None
    cursor: str = Column(default="", max_length=36)
    payments: int = 0


class DeathRecord(AssistanceTable, table=True):
    """Deaths funeral registered, as far as assistance needs them (refusing benefits for the dead, revocation)."""

    __tablename__ = "death_record"

    registration_id: str = Column(primary_key=True, max_length=64)
    resident_id: str = Column(max_length=18, index=True)
    date_of_death: date
    revoked_at: datetime | None = None


class HouseholdReview(AssistanceTable, table=True):
    """A household to re-check because something outside changed it (a marriage, a divorce)."""

    __tablename__ = "household_review"
    __table_args__ = (UniqueConstraint("household_id", "cause"),)

    id: int | None = Column(default=None, primary_key=True)
    household_id: str = Column(foreign_key="household.id", index=True)
    cause: str = Column(max_length=100)
    reason: str = Column(max_length=500)
    opened_at: datetime = Column(default_factory=now)
    closed_at: datetime | None = None


class Visit(AssistanceTable, table=True):
    """探访关爱: a visit to someone in a key group."""

    __tablename__ = "care_visit"

    id: int | None = Column(default=None, primary_key=True)
    resident_id: str = Column(max_length=18, index=True)
    visited_on: date
    visitor: str = Column(max_length=100)
    notes: str = Column(default="", max_length=1000)


class RecalculationJob(AssistanceTable, table=True):
    """A batch recalculation after a new standard; ``cursor`` (the last household done) makes it resumable,
    amounts make it idempotent."""

    __tablename__ = "recalculation_job"

    id: str = Column(primary_key=True, max_length=80)  # region:effective_from, so a re-run finds its job
    region_code: str = Column(max_length=6)
    effective_from: date
    cursor: str = Column(default="", max_length=36)
    examined: int = 0
    changed: int = 0
    started_at: datetime = Column(default_factory=now)
    finished_at: datetime | None = None


class RecalculationShard(AssistanceTable, table=True):
    """One of the disjoint ranges of cases a large recalculation works in processes side by side (PostgreSQL):
    the cases of the households after ``after`` up to ``through`` ("": to the last), resumable by its own
    ``cursor`` (the last household done). The ranges
    are fixed when the job starts, so a resumed job works the same ranges whatever its settings are then."""

    __tablename__ = "recalculation_shard"

    job_id: str = Column(primary_key=True, max_length=80)
    shard: int = Column(primary_key=True)
    after: str = Column(default="", max_length=36)
    through: str = Column(default="", max_length=36)
    cursor: str = Column(default="", max_length=36)
    examined: int = 0
    changed: int = 0
    finished_at: datetime | None = None


class HouseholdAddress(AssistanceTable, table=True):
    """Where a household lives, held by reference to the door plate (road code, number, suffix) so that a road's
    rename can find it; ``road_name`` and ``text`` are what is shown, kept current by the renames."""

    __tablename__ = "household_address"

    household_id: str = Column(foreign_key="household.id", primary_key=True, max_length=36)
    road_code: str = Column(max_length=40, index=True)
    road_name: str = Column(max_length=100)
    number: int
    suffix: str = Column(default="", max_length=10)
    detail: str = Column(default="", max_length=100)  # unit, floor, room: not part of the door plate
    text: str = Column(max_length=250)
    updated_at: datetime = Column(default_factory=now)
    updated_by: str = Column(default="", max_length=200)  # a caseworker, a citizen, or the rename that changed it


class RoadRenameApplied(AssistanceTable, table=True):
    """Each road rename applied once: a second copy of the same rename (same road, name and date) changes and
    publishes nothing."""

    __tablename__ = "road_rename_applied"
    __table_args__ = (UniqueConstraint("road_code", "new_name", "effective_on"),)

    id: int | None = Column(default=None, primary_key=True)
    road_code: str = Column(max_length=40)
    new_name: str = Column(max_length=100)
    effective_on: date
    households_updated: int
    applied_at: datetime = Column(default_factory=now)


class HouseholdRecheck(AssistanceTable, table=True):
    """One re-check per marriage or divorce registration (``trigger:registration``), with its outcome."""

    __tablename__ = "household_recheck"

    id: str = Column(primary_key=True, max_length=200)
    households_rechecked: int
    benefits_changed: int
    checked_at: datetime = Column(default_factory=now)


class TemporaryGrant(AssistanceTable, table=True):
    """临时救助: an emergency advance (paperwork after) or an expenditure-type grant paid in stages."""

    __tablename__ = "temporary_grant"

    id: str = Column(default_factory=new_id, primary_key=True)
    kind: str = Column(max_length=20)
    resident_id: str = Column(max_length=18, index=True)
    household_id: str | None = Column(default=None, max_length=36)
    region_code: str = Column(max_length=6)
    area: str = Column(max_length=5)
    situation: str = Column(max_length=500)  # what happened: illness, disaster, accident, tuition ...
    amount_fen: int
    status: str = Column(default="open", max_length=20, index=True)  # open | completed | flagged | paid | cancelled
    granted_on: date
    granted_by: str = Column(max_length=100)
    explanation: str = Column(default="[]")
    paperwork_due: date | None = None
    paperwork_completed_on: date | None = None
    paperwork_note: str | None = Column(default=None, max_length=500)
    flagged_on: date | None = None


class TemporaryStage(AssistanceTable, table=True):
    """One payment of a grant; ``paid_on`` set once, so a re-run of the stage job pays nothing twice."""

    __tablename__ = "temporary_stage"
    __table_args__ = (UniqueConstraint("grant_id", "number"),)

    id: int | None = Column(default=None, primary_key=True)
    grant_id: str = Column(foreign_key="temporary_grant.id", index=True)
    number: int
    due_on: date = Column(index=True)
    amount_fen: int
    paid_on: date | None = None
    cancelled: bool = False


TABLES = [
    table_of(m)
    for m in (
        PolicyParameter,
        Household,
        HouseholdMember,
        HouseholdIncome,
        HouseholdDeduction,
        HouseholdAsset,
        Application,
        Case,
        BenefitAmount,
        CaseChange,
        Payment,
        PaymentRun,
        DeathRecord,
        HouseholdReview,
        Visit,
        RecalculationJob,
        RecalculationShard,
        HouseholdAddress,
        RoadRenameApplied,
        HouseholdRecheck,
        TemporaryGrant,
        TemporaryStage,
    )
]
