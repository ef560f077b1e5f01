"""Funeral administration's tables. Amounts are integer fen; the API shows yuan (``schemas.py``).

Several rules are made true by the database rather than by a read before a write, so that they hold for
requests that race: a column named ``active_*`` is set while a record is in force and NULL after, and is unique.
One registered death per person, one funeral benefit and one eco-burial subsidy per deceased, one booking per slot,
one grave per plot and per deceased: the second insert fails, whatever the first one read.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Table, UniqueConstraint
from sqlmodel import Field as Column

from civic.db import table_of
from civic.ids import new_id
from services.funeral.tables import FuneralTable


def now() -> datetime:
    return datetime.now(UTC)


class DeathRegistration(FuneralTable, table=True):
    """A registered death (死亡登记). Revoked if registered in error; the person may be registered again later."""

    __tablename__ = "death_registration"

    id: str = Column(default_factory=new_id, primary_key=True)
    resident_id: str = Column(index=True, max_length=18)
    # The person's resident ID while the registration stands, NULL once revoked: one registered death per person.
    active_resident_id: str | None = Column(default=None, max_length=18, unique=True)
    name: str | None = Column(default=None, max_length=50)
    date_of_death: date
    place_of_death: str | None = Column(default=None, max_length=200)
    region_code: str = Column(max_length=6, index=True)
    source: str = Column(max_length=20)
    medical_certificate_number: str | None = Column(default=None, max_length=40)
    reporter_name: str = Column(max_length=50)
    reporter_relation: str = Column(max_length=20)
    reporter_subject: str = Column(max_length=64, index=True)  # who reported: a citizen's ID or a staff account
    status: str = Column(default="registered", max_length=20)  # registered | revoked
    needs_review: bool = Column(default=False, index=True)  # a later report disagreed: a caseworker must look
    journey_id: str = Column(max_length=64)
    registered_at: datetime = Column(default_factory=now)
    revoked_at: datetime | None = None
    revoked_by: str | None = Column(default=None, max_length=64)
    revocation_reason: str | None = Column(default=None, max_length=500)


class DeathReport(FuneralTable, table=True):
    """Every report of a death, including those recognised as the same death or flagged as disagreeing."""

    __tablename__ = "death_report"

    id: str = Column(default_factory=new_id, primary_key=True)
    registration_id: str = Column(foreign_key="death_registration.id", index=True)
    outcome: str = Column(max_length=20)  # registered | same-death | conflicting
    differences: str = Column(default="", max_length=200)  # fields that disagree with the registration
    source: str = Column(max_length=20)
    date_of_death: date
    place_of_death: str | None = Column(default=None, max_length=200)
    medical_certificate_number: str | None = Column(default=None, max_length=40)
    reporter_name: str = Column(max_length=50)
    reporter_relation: str = Column(max_length=20)
    reporter_subject: str = Column(max_length=64, index=True)
    reported_at: datetime = Column(default_factory=now)
    resolved_at: datetime | None = None
    resolved_by: str | None = Column(default=None, max_length=64)
    resolution: str | None = Column(default=None, max_length=500)


class PolicyParameter(FuneralTable, table=True):
    __tablename__ = "policy_parameter"
    __table_args__ = (UniqueConstraint("region_code", "name", "effective_from"),)

    id: int | None = Column(default=None, primary_key=True)
    region_code: str = Column(max_length=6)
    name: str = Column(max_length=60)
    effective_from: date
    value_fen: int
    source: str = Column(default="", max_length=300)


class DifficultyRecord(FuneralTable, table=True):
    """Funeral's own projection of assistance's benefit events: who was in difficulty, from when, until when.

    One row per (case, member). Kept as intervals rather than a flag so that the answer for a date of death does
    not depend on the order in which a death and a termination arrive.
    """

    __tablename__ = "difficulty_record"
    __table_args__ = (UniqueConstraint("case_id", "resident_id"),)

    id: int | None = Column(default=None, primary_key=True)
    case_id: str = Column(max_length=64)
    resident_id: str = Column(max_length=18, index=True)
    benefit: str = Column(max_length=40)
    household_id: str = Column(max_length=64)
    effective_from: date
    ended_from: date | None = None
    updated_by_event: str = Column(max_length=64)


class FuneralBenefit(FuneralTable, table=True):
    """The basic funeral service benefit (惠民殡葬) decided for one registered death."""

    __tablename__ = "funeral_benefit"

    id: str = Column(default_factory=new_id, primary_key=True)
    registration_id: str = Column(foreign_key="death_registration.id", index=True)
    resident_id: str = Column(max_length=18, index=True)
    active_resident_id: str | None = Column(default=None, max_length=18, unique=True)  # once per deceased
    kind: str = Column(max_length=30)  # free_basic_services | standard
    amount_fen: int
    in_kind: bool
    region_code: str = Column(max_length=6)
    basis: str = Column(max_length=500)
    payee_name: str | None = Column(default=None, max_length=50)
    payee_relation: str | None = Column(default=None, max_length=20)
    payee_resident_id: str | None = Column(default=None, max_length=18)
    status: str = Column(default="granted", max_length=20)  # granted | cancelled
    granted_on: date
    granted_at: datetime = Column(default_factory=now)
    cancelled_at: datetime | None = None
    cancellation_reason: str | None = Column(default=None, max_length=500)


class EcoBurialSubsidy(FuneralTable, table=True):
    """节地生态安葬奖补 for one deceased: the burial type, the amount in force, and the family member paid."""

    __tablename__ = "eco_burial_subsidy"

    id: str = Column(default_factory=new_id, primary_key=True)
    registration_id: str = Column(foreign_key="death_registration.id", index=True)
    resident_id: str = Column(max_length=18, index=True)
    active_resident_id: str | None = Column(default=None, max_length=18, unique=True)  # once per deceased
    burial_type: str = Column(max_length=20)
    burial_date: date
    amount_fen: int
    region_code: str = Column(max_length=6)
    basis: str = Column(max_length=300)
    payee_name: str = Column(max_length=50)
    payee_relation: str = Column(max_length=20)
    payee_resident_id: str = Column(max_length=18)
    status: str = Column(default="granted", max_length=20)  # granted | cancelled
    granted_by: str = Column(max_length=64)
    granted_at: datetime = Column(default_factory=now)
    cancelled_at: datetime | None = None
    cancellation_reason: str | None = Column(default=None, max_length=500)


class FuneralHome(FuneralTable, table=True):
    __tablename__ = "funeral_home"

    id: str = Column(default_factory=new_id, primary_key=True)
    name: str = Column(max_length=100)
    region_code: str = Column(max_length=6, index=True)
    created_at: datetime = Column(default_factory=now)


class ServiceSlot(FuneralTable, table=True):
    """A bookable time at a funeral home: a cremation furnace or a farewell hall (告别厅) at a given start."""

    __tablename__ = "service_slot"
    __table_args__ = (UniqueConstraint("funeral_home_id", "kind", "resource", "starts_at"),)

    id: str = Column(default_factory=new_id, primary_key=True)
    funeral_home_id: str = Column(foreign_key="funeral_home.id", index=True)
    kind: str = Column(max_length=20)  # cremation | farewell_hall
    resource: str = Column(max_length=50)  # furnace or hall name
    starts_at: datetime = Column(index=True)


class Booking(FuneralTable, table=True):
    __tablename__ = "booking"

    id: str = Column(default_factory=new_id, primary_key=True)
    slot_id: str = Column(foreign_key="service_slot.id", index=True)
    # The slot while the booking stands, NULL once cancelled: never two bookings of one slot, even racing.
    active_slot_id: str | None = Column(default=None, max_length=36, unique=True)
    # "<registration id>:<kind>" while it stands: one cremation (and one farewell) booking per deceased.
    active_death_kind: str | None = Column(default=None, max_length=80, unique=True)
    registration_id: str = Column(foreign_key="death_registration.id", index=True)
    kind: str = Column(max_length=20)
    status: str = Column(default="booked", max_length=20)  # booked | used | cancelled
    booked_by: str = Column(max_length=64)
    booked_at: datetime = Column(default_factory=now)
    cancelled_at: datetime | None = None
    cancellation_reason: str | None = Column(default=None, max_length=500)


class Cremation(FuneralTable, table=True):
    """A cremation done (火化), and where the ashes went: collected by the family, stored, or not kept."""

    __tablename__ = "cremation"

    id: str = Column(default_factory=new_id, primary_key=True)
    registration_id: str = Column(foreign_key="death_registration.id", unique=True)
    resident_id: str = Column(max_length=18, index=True)
    funeral_home_id: str = Column(foreign_key="funeral_home.id", index=True)
    booking_id: str | None = Column(default=None, max_length=36)
    certificate_number: str = Column(max_length=40, unique=True)  # 火化证明
    cremated_at: datetime
    ashes: str = Column(max_length=20)  # collected | stored | not_kept
    storage_location: str | None = Column(default=None, max_length=100)  # 骨灰寄存 niche
    stored_until: date | None = None
    recorded_by: str = Column(max_length=64)
    recorded_at: datetime = Column(default_factory=now)


class Cemetery(FuneralTable, table=True):
    __tablename__ = "cemetery"

    id: str = Column(default_factory=new_id, primary_key=True)
    code: str = Column(max_length=12, unique=True)
    name: str = Column(max_length=100)
    region_code: str = Column(max_length=6, index=True)
    public: bool = True  # 公益性公墓
    created_at: datetime = Column(default_factory=now)


class Plot(FuneralTable, table=True):
    """A grave plot. ``code`` is its one code (一墓一码), unique across all cemeteries."""

    __tablename__ = "plot"
    __table_args__ = (UniqueConstraint("cemetery_id", "section", "row", "number"),)

    id: str = Column(default_factory=new_id, primary_key=True)
    code: str = Column(max_length=40, unique=True)
    cemetery_id: str = Column(foreign_key="cemetery.id", index=True)
    section: str = Column(max_length=10)
    row: int
    number: int
    plot_type: str = Column(max_length=20)  # traditional | tree | lawn | wall | flower
    status: str = Column(default="available", max_length=20)  # available | assigned


class PlotAssignment(FuneralTable, table=True):
    """A plot assigned to a deceased (墓位安葬), and the family member who holds it."""

    __tablename__ = "plot_assignment"

    id: str = Column(default_factory=new_id, primary_key=True)
    plot_id: str = Column(foreign_key="plot.id", index=True)
    active_plot_id: str | None = Column(default=None, max_length=36, unique=True)  # a plot is never sold twice
    registration_id: str = Column(foreign_key="death_registration.id", index=True)
    active_registration_id: str | None = Column(default=None, max_length=36, unique=True)  # one grave per death
    resident_id: str = Column(max_length=18, index=True)
    holder_name: str = Column(max_length=50)
    holder_relation: str = Column(max_length=20)
    holder_resident_id: str = Column(max_length=18)
    eco_certificate_number: str | None = Column(default=None, max_length=40, unique=True)  # 生态葬证书
    status: str = Column(default="assigned", max_length=20)  # assigned | released
    assigned_by: str = Column(max_length=64)
    assigned_at: datetime = Column(default_factory=now)
    released_at: datetime | None = None
    release_reason: str | None = Column(default=None, max_length=500)


def _tables() -> list[Table]:
    return [
        table_of(m)
        for m in (
            DeathRegistration,
            DeathReport,
            PolicyParameter,
            DifficultyRecord,
            FuneralBenefit,
            EcoBurialSubsidy,
            FuneralHome,
            ServiceSlot,
            Booking,
            Cremation,
            Cemetery,
            Plot,
            PlotAssignment,
        )
    ]


TABLES = _tables()
