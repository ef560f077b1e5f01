"""API bodies of the device registry."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from civic.identity import ResidentId
from services.eldercare.rules import DeviceKind
from services.eldercare.schemas import Request

DeviceId = str
DEVICE_ID = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$",
                  description="the id the monitoring platform knows the device by")  # fmt: skip


class Placement(Request):
    """Where a device is installed: by default the elder's community and address as eldercare holds them."""

    community: str | None = Field(default=None, min_length=1, max_length=100)
    address: str | None = Field(default=None, min_length=1, max_length=200, description="room or spot included")


class DeviceCreate(Placement):
    device_id: DeviceId = DEVICE_ID
    kind: DeviceKind
    resident_id: ResidentId = Field(description="the elder it is installed for")
    installed_on: date


FROM_RESIDENT = Field(
    description="the elder it is installed for now, as the caseworker read it: a change someone "
    "else made meanwhile is refused (409 device-changed), not overwritten"
)


class DeviceMove(Placement):
    from_resident_id: ResidentId = FROM_RESIDENT
    resident_id: ResidentId = Field(description="the elder it is installed for from now on")
    moved_on: date


class DeviceRetire(Request):
    from_resident_id: ResidentId = FROM_RESIDENT
    retired_on: date
    reason: str = Field(min_length=1, max_length=500, description="collected, broken, replaced …")


class InstallationPublic(BaseModel):
    resident_id: str
    installed_on: date
    removed_on: date | None
    ended_by: str | None
    region_code: str
    community: str
    address: str


class DevicePublic(BaseModel):
    device_id: str
    kind: str
    status: str = Field(description="installed | removal_due (the elder died) | retired")
    resident_id: str = Field(description="the elder it is installed for (or last was)")
    installed_on: date = Field(description="where it is now, since")
    community: str
    address: str
    retired_on: date | None
    retire_reason: str | None
    history: list[InstallationPublic] = Field(description="every installation, oldest first")
