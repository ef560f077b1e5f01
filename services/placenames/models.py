"""Place names' tables. Standard names are public; only door-plate certificates name a person."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Index, Table, UniqueConstraint
from sqlmodel import Field

from civic.ids import new_id
from services.placenames.tables import PlaceTable


def _now() -> datetime:
    return datetime.now(UTC)


class PolicyParameter(PlaceTable, table=True):
    """A policy figure (notice days, expert opinions needed) for a region from a date; loaded from the fixture."""

    __tablename__ = "policy_parameter"

    id: int | None = Field(default=None, primary_key=True)
    region_code: str = Field(max_length=6)
    name: str = Field(max_length=60)
    effective_from: date
    value: int
    source: str = Field(max_length=300)


class Division(PlaceTable, table=True):
    """One version of an administrative division: what it was called and where it sat, from one date until the
    next adjustment touched it. History is never overwritten; a version is closed by setting ``valid_until``."""

    __tablename__ = "division"
    __table_args__ = (UniqueConstraint("code", "valid_from"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, max_length=12)
    name: str = Field(max_length=60)
    level: str = Field(max_length=12)
    parent_code: str | None = Field(default=None, index=True, max_length=12)
    valid_from: date
    valid_until: date | None = None
    adjustment_id: str | None = Field(default=None, max_length=36)
    source: str = Field(default="", max_length=300)


class DivisionAdjustment(PlaceTable, table=True):
    """A recorded adjustment (区划调整): its kind, date and the approving document."""

    __tablename__ = "division_adjustment"

    id: str = Field(default_factory=new_id, primary_key=True)
    kind: str = Field(max_length=20)
    effective_on: date
    note: str | None = Field(default=None, max_length=500)
    recorded_by: str = Field(max_length=100)
    recorded_at: datetime = Field(default_factory=_now)


class Place(PlaceTable, table=True):
    """A named place and its standard name. ``name_in_use`` is the name's key while the name is standard and NULL
    otherwise: the unique constraint on (region, name_in_use) is what keeps two standard names from being alike in
    one division, even for two publications racing each other."""

    __tablename__ = "place"
    __table_args__ = (
        UniqueConstraint("region_code", "name_in_use"),
        Index("ix_place_search", "status", "kind", "division_code"),
    )

    code: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=20)
    region_code: str = Field(max_length=6, index=True)
    division_code: str = Field(max_length=12, index=True)
    name: str = Field(max_length=60, index=True)
    name_in_use: str | None = Field(default=None, max_length=60)
    pinyin: str = Field(max_length=200)
    pinyin_key: str = Field(max_length=200, index=True)  # syllables joined, lower case: "xinhualu"
    initials: str = Field(max_length=60, index=True)  # "xhl"
    origin: str = Field(default="", max_length=500)  # 含义、来历
    status: str = Field(default="proposed", max_length=20)  # proposed | standard | cancelled | rejected
    standard_since: date | None = None
    cancelled_on: date | None = None


class PlaceSearchGram(PlaceTable, table=True):
    """One character, or two neighbouring characters, of a place's name (``rules.search_grams``): the index that
    finds a name by any part of it without reading every name, which is all ``LIKE '%…%'`` can do."""

    __tablename__ = "place_search_gram"

    gram: str = Field(primary_key=True, max_length=2)
    place_code: str = Field(primary_key=True, max_length=40, index=True)


class PlaceNameHistory(PlaceTable, table=True):
    """Every name a place has borne and when: renames keep the old name here."""

    __tablename__ = "place_name_history"

    id: int | None = Field(default=None, primary_key=True)
    place_code: str = Field(index=True, max_length=40)
    name: str = Field(max_length=60)
    valid_from: date
    valid_until: date | None = None
    case_id: str = Field(max_length=36)


class NamingCase(PlaceTable, table=True):
    """One run of the naming workflow: naming, renaming or cancelling one place."""

    __tablename__ = "naming_case"
    # Set to the place's code while the case is open, NULL after: one open case per place, even when racing.
    __table_args__ = (UniqueConstraint("open_for"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    action: str = Field(max_length=10)
    place_code: str = Field(index=True, max_length=40)
    open_for: str | None = Field(default=None, max_length=40)
    kind: str = Field(max_length=20)
    region_code: str = Field(max_length=6, index=True)
    division_code: str = Field(max_length=12)
    proposed_name: str | None = Field(default=None, max_length=60)
    proposed_key: str | None = Field(default=None, max_length=60, index=True)
    pinyin: str | None = Field(default=None, max_length=200)
    origin: str = Field(default="", max_length=500)
    reason: str = Field(default="", max_length=1000)
    proposed_by: str = Field(max_length=100)
    proposed_on: date
    status: str = Field(default="proposed", max_length=20, index=True)
    notice_from: date | None = None
    notice_until: date | None = None
    decision: str | None = Field(default=None, max_length=10)  # approved | rejected
    reasons: str | None = Field(default=None, max_length=2000)
    decided_on: date | None = None
    decided_by: str | None = Field(default=None, max_length=100)
    effective_on: date | None = None


class ExpertOpinion(PlaceTable, table=True):
    __tablename__ = "expert_opinion"

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True, max_length=36)
    expert: str = Field(max_length=100)
    supports: bool
    opinion: str = Field(max_length=2000)
    recorded_on: date
    recorded_by: str = Field(max_length=100)


class Objection(PlaceTable, table=True):
    """An objection received during the public notice. Who objected is kept for the office, not published."""

    __tablename__ = "objection"

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True, max_length=36)
    objector: str = Field(max_length=100)
    text: str = Field(max_length=2000)
    received_on: date


class ProtectedName(PlaceTable, table=True):
    """The historical place-name protection list (历史地名保护名录)."""

    __tablename__ = "protected_name"
    __table_args__ = (UniqueConstraint("region_code", "name_key"),)

    id: int | None = Field(default=None, primary_key=True)
    region_code: str = Field(max_length=6)
    name: str = Field(max_length=60)
    name_key: str = Field(max_length=60)
    place_code: str | None = Field(default=None, max_length=40, index=True)
    history: str = Field(max_length=2000)
    listed_on: date
    listed_by: str = Field(max_length=100)


class DoorPlate(PlaceTable, table=True):
    """A house number on a road. The unique constraint is what makes a number impossible to give twice."""

    __tablename__ = "door_plate"
    __table_args__ = (UniqueConstraint("road_code", "number", "suffix"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    road_code: str = Field(index=True, max_length=40)
    number: int
    suffix: str = Field(default="", max_length=10)
    side: str = Field(max_length=4)
    smart_code: str = Field(unique=True, max_length=20)
    building: str = Field(default="", max_length=100)
    assigned_on: date
    assigned_by: str = Field(max_length=100)


class DoorPlateChange(PlaceTable, table=True):
    """A plate's former number, kept when it is changed: who, when, why."""

    __tablename__ = "door_plate_change"

    id: int | None = Field(default=None, primary_key=True)
    plate_id: str = Field(index=True, max_length=40)
    old_number: int
    old_suffix: str = Field(default="", max_length=10)
    number: int
    suffix: str = Field(default="", max_length=10)
    reason: str = Field(max_length=500)
    changed_on: date
    changed_by: str = Field(max_length=100)


class PlateCertificate(PlaceTable, table=True):
    """A door-plate certificate (门牌证) issued to the owner of a plate."""

    __tablename__ = "plate_certificate"

    number: str = Field(primary_key=True, max_length=20)
    plate_id: str = Field(index=True, max_length=36)
    owner_resident_id: str = Field(index=True, max_length=18)
    owner_name: str = Field(max_length=50)
    issued_on: date
    issued_by: str = Field(max_length=100)


class PlateService(PlaceTable, table=True):
    """A public service registered at a door plate: what a smart door plate (智慧门牌) shows besides the address."""

    __tablename__ = "plate_service"

    id: int | None = Field(default=None, primary_key=True)
    plate_id: str = Field(index=True, max_length=36)
    name: str = Field(max_length=100)
    category: str = Field(max_length=40)
    phone: str | None = Field(default=None, max_length=30)
    hours: str | None = Field(default=None, max_length=100)


TABLES: list[Table] = [
    t.__table__  # type: ignore[union-attr]
    for t in (
        PolicyParameter,
        Division,
        DivisionAdjustment,
        Place,
        PlaceSearchGram,
        PlaceNameHistory,
        NamingCase,
        ExpertOpinion,
        Objection,
        ProtectedName,
        DoorPlate,
        DoorPlateChange,
        PlateCertificate,
        PlateService,
    )
]
