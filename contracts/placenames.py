"""Events published by place names and door plates (区划地名)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from civic.events import Event


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
