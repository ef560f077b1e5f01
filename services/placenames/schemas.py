"""Request and response bodies. Requests forbid unknown fields; responses mask resident IDs for whoever may not
see them whole."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from civic.auth import Principal
from civic.identity import ResidentId, mask
from services.placenames.rules import Action, Kind, Level, Side
from services.placenames.search import MATCH_CAP

DOMAIN = "placenames"

DIVISION_CODE = r"^[0-9]{6}([0-9]{3}([0-9]{3})?)?$"  # county 6 digits, township 9, community 12


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


def shown(resident_id: str, user: Principal) -> str:
    """Whole for the owner and the place-name office; masked for anyone else."""
    return resident_id if user.is_citizen(resident_id) or user.is_caseworker_of(DOMAIN) else mask(resident_id)


# ---- divisions ----


class DivisionPublic(BaseModel):
    code: str
    name: str
    level: Level
    parent_code: str | None
    valid_from: date
    valid_until: date | None


class DivisionNode(DivisionPublic):
    children: list[DivisionNode] = []


class NewDivision(Request):
    code: str = Field(pattern=DIVISION_CODE)
    name: str = Field(min_length=1, max_length=60)
    level: Level
    parent_code: str | None = Field(default=None, pattern=DIVISION_CODE)


class AdjustmentCreate(Request):
    """An adjustment: ``ends`` stop on ``effective_on``; ``versions`` are new divisions or the new name/parent of
    existing ones. A merge ends the merged divisions and moves their children to the division they join."""

    kind: str = Field(pattern=r"^(establish|rename|merge|split|move|abolish)$")
    effective_on: date
    ends: list[str] = Field(default=[], max_length=200)
    versions: list[NewDivision] = Field(default=[], max_length=200)
    note: str | None = Field(default=None, max_length=500)


class AdjustmentPublic(BaseModel):
    id: str
    kind: str
    effective_on: date
    ended: list[str]
    established: list[DivisionPublic]


# ---- the naming workflow ----


class ProposalCreate(Request):
    """A proposal. ``name``: new name and its pinyin (one syllable per character, e.g. "xin hua lu") for a place
    not yet named (``kind``, ``division_code``); ``rename``: ``place_code`` and the new name; ``cancel``:
    ``place_code`` only."""

    action: Action
    place_code: str | None = Field(default=None, min_length=1, max_length=40)
    kind: Kind | None = None
    division_code: str | None = Field(default=None, pattern=DIVISION_CODE)
    name: str | None = Field(default=None, min_length=1, max_length=60)
    pinyin: str | None = Field(default=None, min_length=1, max_length=200)
    origin: str = Field(default="", max_length=500, description="含义、来历: what the name means, where it comes from")
    reason: str = Field(default="", max_length=1000, description="why the naming, renaming or cancellation")


class OpinionCreate(Request):
    expert: str = Field(min_length=1, max_length=100)
    supports: bool
    opinion: str = Field(min_length=1, max_length=2000)


class ObjectionCreate(Request):
    text: str = Field(min_length=1, max_length=2000)


class DecisionCreate(Request):
    approved: bool
    reasons: str = Field(default="", max_length=2000)
    effective_on: date | None = Field(default=None, description="when the decision takes effect (default: today)")


class OpinionPublic(BaseModel):
    expert: str
    supports: bool
    opinion: str
    recorded_on: date


class ObjectionPublic(BaseModel):
    text: str
    received_on: date


class CasePublic(BaseModel):
    id: str
    action: Action
    place_code: str
    kind: Kind
    region_code: str
    division_code: str
    proposed_name: str | None
    pinyin: str | None
    origin: str
    reason: str
    proposed_on: date
    status: str
    notice_from: date | None
    notice_until: date | None
    decision: str | None
    reasons: str | None
    decided_on: date | None
    effective_on: date | None
    opinions: list[OpinionPublic]
    objections: list[ObjectionPublic]


class DeadlineRun(BaseModel):
    today: date
    notices_ended: list[str]
    took_effect: list[str]


# ---- standard names ----


class NamePublic(BaseModel):
    code: str
    name: str
    pinyin: str
    initials: str
    kind: Kind
    region_code: str
    division_code: str
    division_path: list[str] = []
    origin: str
    status: str
    standard_since: date | None
    cancelled_on: date | None = None
    former_names: list[str] = []
    protected: bool = False


class NamePage(BaseModel):
    total: int = Field(description=f"how many names match, up to {MATCH_CAP}")
    more: bool = Field(False, description=f"more than {MATCH_CAP} names match: narrow the search to see them")
    items: list[NamePublic]


class ProtectedNameCreate(Request):
    region_code: str = Field(pattern=r"^[0-9]{6}$")
    name: str = Field(min_length=1, max_length=60)
    place_code: str | None = Field(default=None, max_length=40)
    history: str = Field(min_length=1, max_length=2000)


class ProtectedNamePublic(BaseModel):
    region_code: str
    name: str
    place_code: str | None
    history: str
    listed_on: date


# ---- door plates ----


class PlateCreate(Request):
    """A number on a road: given, or the next one on ``side``."""

    number: int | None = Field(default=None, ge=1, le=99999)
    side: Side | None = None
    suffix: str = Field(default="", pattern=r"^[0-9]{0,3}$", description="1 for 12-1号")
    building: str = Field(default="", max_length=100)


class PlateRenumbering(Request):
    """A plate's new number on its road (门牌变更), and why."""

    number: int = Field(ge=1, le=99999)
    suffix: str = Field(default="", pattern=r"^[0-9]{0,3}$")
    reason: str = Field(min_length=1, max_length=500)


class ServiceAtPlate(Request):
    name: str = Field(min_length=1, max_length=100)
    category: str = Field(min_length=1, max_length=40, description="e.g. 社区服务中心, 养老服务站, 卫生室")
    phone: str | None = Field(default=None, max_length=30)
    hours: str | None = Field(default=None, max_length=100)


class ServicePublic(BaseModel):
    name: str
    category: str
    phone: str | None
    hours: str | None


class PlatePublic(BaseModel):
    id: str
    road_code: str
    road_name: str
    number: int
    suffix: str
    side: Side
    address: str
    full_address: str
    smart_code: str
    region_code: str
    division_code: str
    assigned_on: date


class SmartPlatePublic(BaseModel):
    smart_code: str
    address: str
    full_address: str
    road_code: str
    plate_id: str
    divisions: list[DivisionPublic]
    services: list[ServicePublic]


class CertificateCreate(Request):
    owner_resident_id: ResidentId
    owner_name: str = Field(min_length=1, max_length=50)


class CertificatePublic(BaseModel):
    number: str
    plate_id: str
    address: str
    owner_resident_id: str
    owner_name: str
    issued_on: date


class Statistics(BaseModel):
    year: int
    region_code: str | None
    roads_named: int
    roads_renamed: int
    roads_cancelled: int
    communities_named: int
    certificates_issued: int
