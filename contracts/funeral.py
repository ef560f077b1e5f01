"""Events published by funeral administration (殡葬)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from civic.events import PersonEvent


class Reporter(BaseModel):
    """Who reported the death: a relative, the funeral home, a hospital, a community worker."""

    name: str = Field(min_length=1, max_length=50)
    relation: str = Field(min_length=1, max_length=20, description="e.g. 配偶, 子女, 殡仪馆, 医院")


class DeathRegistered(PersonEvent):
    """A death was registered; this starts 身后一件事 (the after-death one-thing workflow)."""

    type_name = "civic.funeral.death-registered.v1"

    registration_id: str
    date_of_death: date
    registered_at: datetime
    reported_by: Reporter


class DeathRevoked(PersonEvent):
    """A death registered in error was revoked by a funeral caseworker. Every department undoes what it did on
    the registration (the compensation of 身后一件事) and says so."""

    type_name = "civic.funeral.death-revoked.v1"

    registration_id: str
    reason: str = Field(min_length=1, max_length=500)
    revoked_at: datetime
