"""Events published by place names and door plates (区划地名).

Standard names are public data, not personal data: these events are keyed by the place's code (or the division's),
except the door-plate certificate, which names its owner and so is keyed by the owner's pseudonym.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from civic.events import Event, PersonEvent

PLACE_CODE = Field(min_length=1, max_length=40, description="the stable code of the named place; it survives renames")
REGION_CODE = Field(pattern=r"^[0-9]{6}$", description="the county-level division (6 digits) the place lies in")


class RoadRenamed(Event):
    """A road's standard name changed after review and public notice. Every department holding addresses on the
    road updates them (the address-change one-thing workflow). Keyed by the road's code."""

    type_name = "civic.placenames.road-renamed.v1"

    road_code: str = Field(min_length=1, max_length=40)
    region_code: str = Field(pattern=r"^[0-9]{6}$")
    old_name: str
    new_name: str
    effective_on: date

    def subject(self) -> str:
        return self.road_code


class PlaceEvent(Event):
    """An event about one named place (road, street, community, bridge …), keyed by its code."""

    place_code: str = PLACE_CODE

    def subject(self) -> str:
        return self.place_code


class NameProposed(PlaceEvent):
    """A naming case was opened: a new name, a rename or a cancellation is proposed for review."""

    type_name = "civic.placenames.name-proposed.v1"

    case_id: str
    action: str = Field(description="name | rename | cancel")
    kind: str = Field(description="road | street | lane | community | bridge | natural")
    region_code: str = REGION_CODE
    division_code: str
    proposed_name: str | None = Field(default=None, description="the name proposed (none for a cancellation)")
    proposed_on: date


class NamePublicNoticeStarted(PlaceEvent):
    """Expert review is done and the proposal is on public notice (公示): anyone may object until the last day."""

    type_name = "civic.placenames.name-public-notice-started.v1"

    case_id: str
    action: str
    proposed_name: str | None = None
    notice_from: date
    notice_until: date = Field(description="the last day on which objections are received")


class NameProposalRejected(PlaceEvent):
    """The decision after public notice was to reject the proposal; the reasons are public."""

    type_name = "civic.placenames.name-proposal-rejected.v1"

    case_id: str
    action: str
    proposed_name: str | None = None
    reasons: str
    decided_on: date


class NamePublished(PlaceEvent):
    """A new standard name was approved and took effect; it is now on the public list of standard names."""

    type_name = "civic.placenames.name-published.v1"

    case_id: str
    name: str
    pinyin: str
    kind: str
    region_code: str = REGION_CODE
    division_code: str
    effective_on: date


class PlaceRenamed(PlaceEvent):
    """A standard name that carries no door plates (a community, a bridge …) was renamed. Roads, streets and lanes
    publish ``RoadRenamed`` instead, since addresses hang on them."""

    type_name = "civic.placenames.place-renamed.v1"

    case_id: str
    kind: str
    region_code: str = REGION_CODE
    old_name: str
    new_name: str
    effective_on: date


class NameCancelled(PlaceEvent):
    """A standard name was cancelled (销名): the place no longer bears it; the name leaves the public list."""

    type_name = "civic.placenames.name-cancelled.v1"

    case_id: str
    name: str
    kind: str
    region_code: str = REGION_CODE
    effective_on: date


class DivisionAdjusted(Event):
    """An administrative division adjustment (区划调整): divisions established, ended, renamed or moved, from a
    date. Keyed by the adjustment's id; ``ended`` and ``established`` list the codes."""

    type_name = "civic.placenames.division-adjusted.v1"

    adjustment_id: str
    kind: str = Field(description="establish | rename | merge | split | move | abolish")
    effective_on: date
    ended: list[str]
    established: list[str]
    note: str | None = None

    def subject(self) -> str:
        return self.adjustment_id


class DoorPlateAssigned(Event):
    """A house number was assigned on a named road; its smart door plate code resolves to the address. Keyed by
    the road's code so that a road's plates stay in order with its renames."""

    type_name = "civic.placenames.door-plate-assigned.v1"

    plate_id: str
    road_code: str = PLACE_CODE
    region_code: str = REGION_CODE
    number: int = Field(ge=1)
    suffix: str = ""
    address: str = Field(description="the standard address as of assignment, e.g. 新华路12号")
    smart_code: str

    def subject(self) -> str:
        return self.road_code


class DoorPlateChanged(Event):
    """A house number was changed (门牌变更): the same plate and smart code, another number on the same road. Every
    department holding addresses by road and number moves them from the old number to the new. Keyed by the
    road's code, in order with the road's other plates and its renames."""

    type_name = "civic.placenames.door-plate-changed.v1"

    plate_id: str
    road_code: str = PLACE_CODE
    region_code: str = REGION_CODE
    old_number: int = Field(ge=1)
    old_suffix: str = ""
    number: int = Field(ge=1)
    suffix: str = ""
    address: str = Field(description="the standard address with the new number, e.g. 新华路14号")
    smart_code: str
    changed_on: date

    def subject(self) -> str:
        return self.road_code


class DoorPlateCertificateIssued(PersonEvent):
    """A door-plate certificate (门牌证) was issued to the owner of a plate (``resident_id``)."""

    type_name = "civic.placenames.door-plate-certificate-issued.v1"

    certificate_number: str
    plate_id: str
    road_code: str = PLACE_CODE
    issued_on: date
