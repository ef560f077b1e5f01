"""Events published by marriage registration (婚姻登记)."""

from __future__ import annotations

from datetime import date

from civic.events import PersonEvent
from civic.identity import ResidentId


class MarriageRegistered(PersonEvent):
    """Two people married; ``resident_id`` and ``spouse_resident_id`` are the two parties (keyed by the first).
    Assistance re-checks the households of both."""

    type_name = "civic.marriage.marriage-registered.v1"

    registration_id: str
    spouse_resident_id: ResidentId
    registered_on: date


class DivorceRegistered(PersonEvent):
    """A divorce by agreement was registered (after the cooling-off period); both parties are named."""

    type_name = "civic.marriage.divorce-registered.v1"

    registration_id: str
    spouse_resident_id: ResidentId
    registered_on: date


class SpouseWidowed(PersonEvent):
    """On a registered death, the surviving spouse (``resident_id``) is recorded as widowed (丧偶)."""

    type_name = "civic.marriage.spouse-widowed.v1"

    deceased_resident_id: ResidentId
    death_registration_id: str
    widowed_on: date


class WidowhoodReversed(PersonEvent):
    """The death was revoked: the surviving spouse is married again, as before (compensation)."""

    type_name = "civic.marriage.widowhood-reversed.v1"

    deceased_resident_id: ResidentId
    death_registration_id: str
