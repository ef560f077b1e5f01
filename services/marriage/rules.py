"""Marriage registration's rules: pure functions, no I/O. Figures (legal ages, periods) come from ``Policy``.

Periods in days follow Civil Code art. 201: the day of the application does not count, the period starts the next
day. So an application received on day 0 may be withdrawn up to and including day 30; the certificate may be
issued on days 31 to 60; from day 61 the application is deemed withdrawn (art. 1077).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from civic.identity import age_on, birth_date, sex

NATIONWIDE = "000000"


@dataclass(frozen=True)
class Parameter:
    region_code: str
    name: str
    effective_from: date
    value: int
    source: str


class NoPolicy(LookupError):
    """No figure is in force for that name, region and date: a gap in the policy data, not bad input."""


class Policy:
    """The parameters in force: the most specific region wins, then the latest effective date not after ``on``."""

    def __init__(self, parameters: Iterable[Parameter]) -> None:
        self.parameters = list(parameters)

    def value(self, name: str, on: date, region_code: str = NATIONWIDE) -> int:
        return self.parameter(name, on, region_code).value

    def parameter(self, name: str, on: date, region_code: str = NATIONWIDE) -> Parameter:
        for prefix in (region_code[:6], region_code[:4] + "00", region_code[:2] + "0000", NATIONWIDE):
            found = [
                p for p in self.parameters if p.name == name and p.region_code == prefix and p.effective_from <= on
            ]
            if found:
                return max(found, key=lambda p: p.effective_from)
        raise NoPolicy(f"no {name} in force on {on} for region {region_code}")


class RuleBroken(ValueError):
    """Input that a rule refuses; ``kind`` is the stable problem type, ``field`` the field at fault."""

    def __init__(self, kind: str, field: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.field = field
        self.detail = detail


# -- marriage ---------------------------------------------------------------------------------------------


def minimum_age(resident_id: str, on: date, policy: Policy, office_code: str) -> int:
    return policy.value(f"minimum_marriage_age_{sex(resident_id)}", on, office_code)


def check_marriageable(party: str, field: str, on: date, policy: Policy, office_code: str) -> None:
    """Legal age on the day of registration (Civil Code art. 1047), from the birth date and sex in the ID."""
    needed = minimum_age(party, on, policy, office_code)
    age = age_on(party, on) if on >= birth_date(party) else 0
    if age < needed:
        raise RuleBroken(
            "under-legal-age",
            field,
            f"a {sex(party)} party must be at least {needed} on the registration date "
            f"(Civil Code art. 1047); this party is {age}",
        )


def check_two_people(first: str, second: str) -> None:
    if first == second:
        raise RuleBroken("same-person", "spouse_resident_id", "a person cannot marry themselves")


# -- divorce by agreement (Civil Code art. 1077) -----------------------------------------------------------


class DivorcePhase(StrEnum):
    COOLING_OFF = "cooling-off"  # either party may withdraw; no certificate yet
    CERTIFICATE_WINDOW = "certificate-window"  # both may apply for the certificate
    LAPSED = "lapsed"  # nobody came in time: deemed withdrawn


@dataclass(frozen=True)
class DivorceTimeline:
    applied_on: date
    last_day_to_withdraw: date
    first_day_for_certificate: date
    last_day_for_certificate: date

    def phase(self, today: date) -> DivorcePhase:
        if today <= self.last_day_to_withdraw:
            return DivorcePhase.COOLING_OFF
        if today <= self.last_day_for_certificate:
            return DivorcePhase.CERTIFICATE_WINDOW
        return DivorcePhase.LAPSED


def divorce_timeline(applied_on: date, policy: Policy, office_code: str) -> DivorceTimeline:
    cooling_off = policy.value("divorce_cooling_off_days", applied_on, office_code)
    window = policy.value("divorce_certificate_window_days", applied_on, office_code)
    last_withdraw = applied_on + timedelta(days=cooling_off)
    return DivorceTimeline(
        applied_on=applied_on,
        last_day_to_withdraw=last_withdraw,
        first_day_for_certificate=last_withdraw + timedelta(days=1),
        last_day_for_certificate=last_withdraw + timedelta(days=window),
    )


def check_withdrawal(timeline: DivorceTimeline, today: date) -> None:
    if timeline.phase(today) is not DivorcePhase.COOLING_OFF:
        raise RuleBroken(
            "cooling-off-period-over",
            "withdrawn_on",
            f"the application could be withdrawn until {timeline.last_day_to_withdraw} (Civil Code art. 1077)",
        )


def check_certificate_request(timeline: DivorceTimeline, today: date) -> None:
    phase = timeline.phase(today)
    if phase is DivorcePhase.COOLING_OFF:
        raise RuleBroken(
            "still-in-cooling-off-period",
            "requested_on",
            f"the certificate can be applied for from {timeline.first_day_for_certificate} (Civil Code art. 1077)",
        )
    if phase is DivorcePhase.LAPSED:
        raise RuleBroken(
            "certificate-window-closed",
            "requested_on",
            f"the certificate had to be applied for by {timeline.last_day_for_certificate}; the application is "
            "deemed withdrawn (Civil Code art. 1077)",
        )


# -- marital status --------------------------------------------------------------------------------------


class MaritalStatus(StrEnum):
    UNMARRIED = "unmarried"  # 未婚: no registration in this register
    MARRIED = "married"
    DIVORCED = "divorced"
    WIDOWED = "widowed"
    DECEASED = "deceased"  # the person's own death ended their last marriage


def certificate_number(kind: str, office_code: str, year: int, serial: str) -> str:
    """``J330683-2026-3F9A1C2B`` (J 结婚证, L 离婚证): the issuing office and year stay readable."""
    prefix = {"marriage": "J", "divorce": "L"}[kind]
    return f"{prefix}{office_code}-{year}-{serial.upper()}"
