"""Marriage registration's rules: pure functions, no I/O. Figures (legal ages, periods) come from ``Policy``.

Periods in days follow Civil Code art. 201: the day of the application does not count, the period starts the next
day. So an application received on day 0 may be withdrawn up to and including day 30; the certificate may be
issued on days 31 to 60; from day 61 the application is deemed withdrawn (art. 1077). When the last day of a period
is a rest day, the period ends on the first working day after it (art. 203, applied to divorce registration by
民发〔2020〕116号): see ``HolidayCalendar`` and ``divorce_timeline``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from civic.identity import InvalidResidentId, age_on, birth_date, sex, validate_resident_id

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


class DayKind(StrEnum):
    HOLIDAY = "holiday"  # a statutory holiday or a day off of its arrangement (放假)
    WORKDAY = "workday"  # an adjusted working day on a weekend (调休上班)


@dataclass(frozen=True)
class CalendarDay:
    """One row of the national holiday calendar: a day that is not what its weekday says."""

    day: date
    kind: DayKind
    name: str
    source: str


class HolidayCalendar:
    """Which days are rest days: the days of the State Council's yearly arrangement where a year is loaded, and
    Saturdays and Sundays everywhere else. A year that is not loaded is never an error: its weekends are its rest
    days, and whoever computes a deadline in it is told (``covers``)."""

    def __init__(self, days: Iterable[CalendarDay]) -> None:
        self.days = {d.day: d for d in days}
        self.years = frozenset(d.day.year for d in self.days.values())

    def covers(self, year: int) -> bool:
        return year in self.years

    def is_rest_day(self, day: date) -> bool:
        entry = self.days.get(day)
        if entry is not None:
            return entry.kind is DayKind.HOLIDAY
        return day.weekday() >= 5

    def why_rest(self, day: date) -> str:
        entry = self.days.get(day)
        return entry.name if entry is not None else ("a Saturday" if day.weekday() == 5 else "a Sunday")

    def period_end(self, last_day: date) -> date:
        """Civil Code art. 203: a period whose last day is a rest day ends on the first working day after it."""
        day = last_day
        while self.is_rest_day(day):
            day += timedelta(days=1)
        return day


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
    notes: tuple[str, ...] = ()  # how the deadlines were computed where they are not plain calendar days

    @property
    def deemed_withdrawn_on(self) -> date:
        """The first day on which nobody can come any more: the application is deemed withdrawn from then."""
        return self.last_day_for_certificate + timedelta(days=1)

    def phase(self, today: date) -> DivorcePhase:
        if today <= self.last_day_to_withdraw:
            return DivorcePhase.COOLING_OFF
        if today <= self.last_day_for_certificate:
            return DivorcePhase.CERTIFICATE_WINDOW
        return DivorcePhase.LAPSED

    def at_least(self, other: DivorceTimeline) -> DivorceTimeline:
        """The later of each deadline: a period computed again on a calendar that gained a holiday since may end
        later, and a citizen keeps that longer time; a deadline once announced is never shortened."""
        return DivorceTimeline(
            applied_on=self.applied_on,
            last_day_to_withdraw=max(self.last_day_to_withdraw, other.last_day_to_withdraw),
            first_day_for_certificate=max(self.first_day_for_certificate, other.first_day_for_certificate),
            last_day_for_certificate=max(self.last_day_for_certificate, other.last_day_for_certificate),
            notes=self.notes or other.notes,
        )


def divorce_timeline(applied_on: date, policy: Policy, office_code: str, calendar: HolidayCalendar) -> DivorceTimeline:
    """The cooling-off period runs ``divorce_cooling_off_days`` from the day after the application, its end moved
    past rest days; the certificate window runs ``divorce_certificate_window_days`` from the day after that (moved)
    end, its own end moved the same way (Civil Code arts. 201, 203, 1077; 民发〔2020〕116号)."""
    cooling_off = policy.value("divorce_cooling_off_days", applied_on, office_code)
    window = policy.value("divorce_certificate_window_days", applied_on, office_code)
    notes: list[str] = []

    def moved(label: str, last_day: date) -> date:
        if not calendar.covers(last_day.year):
            notes.append(
                f"{last_day.year} is not in the holiday calendar: only Saturdays and Sundays were taken as rest "
                f"days for {label}"
            )
        end = calendar.period_end(last_day)
        if end != last_day:
            notes.append(
                f"{label} would end on {last_day}, a rest day ({calendar.why_rest(last_day)}): it ends on the next "
                f"working day, {end} (Civil Code art. 203)"
            )
        return end

    last_withdraw = moved("the cooling-off period", applied_on + timedelta(days=cooling_off))
    last_certificate = moved("the certificate window", last_withdraw + timedelta(days=window))
    return DivorceTimeline(
        applied_on=applied_on,
        last_day_to_withdraw=last_withdraw,
        first_day_for_certificate=last_withdraw + timedelta(days=1),
        last_day_for_certificate=last_certificate,
        notes=tuple(notes),
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


# -- correction of historical records --------------------------------------------------------------------------

CORRECTABLE_FIELDS = ("name", "spouse_name", "registered_on", "office_code", "resident_id", "spouse_resident_id")
"""What a correction may change. A party's resident ID is corrected when the record was made with a mistyped one:
the corrected ID must pass the rules the registration did (``corrected_party_id``, and no other marriage of the
corrected ID at the time or now), and the record moves from the mistyped ID's person to the corrected one's."""
PARTY_FIELDS = ("resident_id", "spouse_resident_id")

_OFFICE_CODE = re.compile(r"[1-9][0-9]{5}")
_NAME_MAX = 50


@dataclass(frozen=True)
class Span:
    """The days a marriage held in the register: from registration to the day it ended (that day excluded)."""

    registered_on: date
    ended_on: date | None

    def overlaps(self, other: Span) -> bool:
        return (other.ended_on is None or self.registered_on < other.ended_on) and (
            self.ended_on is None or other.registered_on < self.ended_on
        )


@dataclass(frozen=True)
class CorrectedRecord:
    """What a correction of ``registered_on`` is checked against, read from the register by the caller."""

    ended_on: date | None
    first_divorce_applied_on: date | None
    births: tuple[date, ...]
    other_marriages: tuple[Span, ...]  # the parties' other registrations, revoked ones left out


def _wrong(kind: str, detail: str) -> RuleBroken:
    return RuleBroken(kind, "new_value", detail)


def corrected_name(value: str) -> str:
    name = value.strip()
    if not name or len(name) > _NAME_MAX or any(not ch.isprintable() for ch in name):
        raise _wrong("invalid-name", f"a name is 1 to {_NAME_MAX} printable characters")
    return name


def corrected_office_code(value: str) -> str:
    if not _OFFICE_CODE.fullmatch(value):
        raise _wrong("invalid-office-code", "an office is named by its 6-digit region code")
    return value


def corrected_registration_date(value: str, today: date, record: CorrectedRecord) -> date:
    """The registration date an archive shows, if the register can hold it: not in the future, not before either
    party was born, not after the marriage ended or its divorce was applied for, and not while either party was
    married to someone else (the register never holds two marriages of one person at once)."""
    try:
        on = date.fromisoformat(value)
    except ValueError:
        raise _wrong("invalid-date", "a date is written YYYY-MM-DD") from None
    if on > today:
        raise _wrong("date-in-the-future", f"the registration date cannot be after today ({today})")
    if any(on < born for born in record.births):
        raise _wrong("before-birth", "the registration date is before a party's birth date")
    if record.ended_on is not None and on > record.ended_on:
        raise _wrong("after-marriage-ended", f"the marriage ended on {record.ended_on}")
    if record.first_divorce_applied_on is not None and on > record.first_divorce_applied_on:
        raise _wrong("after-divorce-application", f"a divorce was applied for on {record.first_divorce_applied_on}")
    corrected = Span(on, record.ended_on)
    if any(corrected.overlaps(other) for other in record.other_marriages):
        raise _wrong(
            "overlaps-another-marriage",
            "on that date a party was married to someone else according to the register (Civil Code art. 1042)",
        )
    return on


def corrected_party_id(
    value: str, old: str, other_party: str, registered_on: date, today: date, policy: Policy, office_code: str
) -> str:
    """The resident ID the registration should have named: a valid ID (check character and all), not the other
    party's, and of legal age on the registration date (Civil Code art. 1047, the minimum for its sex)."""
    try:
        new = validate_resident_id(value, today=today)
    except InvalidResidentId as exc:
        raise _wrong("invalid-resident-id", f"not a valid resident ID: {exc}") from None
    check_changed(old, new)
    if new == other_party:
        raise _wrong("same-person", "that is the other party's resident ID: a person cannot marry themselves")
    if birth_date(new) > registered_on:
        raise _wrong("before-birth", "the registration date is before this person's birth date")
    check_marriageable(new, "new_value", registered_on, policy, office_code)
    return new


def check_no_other_marriage(this: Span, others: Iterable[Span]) -> None:
    """The register never holds two marriages of one person at once (Civil Code art. 1042)."""
    if any(this.overlaps(other) for other in others):
        raise _wrong(
            "already-married",
            "while this marriage lasted the corrected ID's person was married to someone else according to the "
            "register (Civil Code art. 1042: no bigamy)",
        )


def check_changed(old: str, new: str) -> None:
    if old == new:
        raise _wrong("no-change", "the record already holds this value")


# -- statistics (the figures the annual reports give) ------------------------------------------------------------

MEASURES = (
    "marriages",  # registrations (对), remarriages included
    "remarriages",  # 复婚: the same two people, divorced from each other before
    "divorces",  # divorce registrations (对)
    "marriage_certificate_reissues",  # certificates reissued (人次)
    "marriage_certificate_reissue_couples",  # couples with a marriage certificate reissued (对, as the reports count)
    "divorce_certificate_reissues",  # certificates reissued (人次, as the reports count)
    "revocations",  # registrations revoked (非真实身份登记撤销)
)
PERIOD_UNITS = ("month", "quarter", "year")
GROUPINGS = ("office", *PERIOD_UNITS)

GroupKey = tuple[str | None, str | None]  # (office, period); None where the figures are not split that way


@dataclass(frozen=True)
class Act:
    """Something the register did on a day at an office, ``count`` times. ``couple`` (the registration) lets
    reissues be counted by couple as well as by certificate."""

    measure: str
    on: date
    office_code: str
    count: int = 1
    couple: str | None = None


def parse_group_by(value: str) -> tuple[str, ...]:
    """``office``, ``month``, ``office,quarter`` …: the office, one period unit, or both."""
    parts = tuple(p.strip() for p in value.split(",") if p.strip())
    unknown = [p for p in parts if p not in GROUPINGS]
    if not parts or unknown or len(set(parts)) != len(parts) or sum(p in PERIOD_UNITS for p in parts) > 1:
        raise RuleBroken(
            "invalid-group-by",
            "group_by",
            f"group by office and/or one of {', '.join(PERIOD_UNITS)}, separated by commas",
        )
    return parts


def check_statistics_range(first: date, last: date) -> None:
    if first > last:
        raise RuleBroken("invalid-period", "to", "the period ends before it starts")


def period_of(day: date, unit: str) -> str:
    """``2026-06``, ``2026-Q2``, ``2026``: of a registry date (the register's dates are China Standard Time)."""
    if unit == "month":
        return f"{day:%Y-%m}"
    if unit == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year}"


def tally(acts: Iterable[Act], group_by: tuple[str, ...]) -> dict[GroupKey, dict[str, int]]:
    """Every measure, per group; groups without any act are left out. ``group_by=()`` gives the totals."""
    unit = next((g for g in group_by if g in PERIOD_UNITS), None)
    by_office = "office" in group_by
    groups: dict[GroupKey, dict[str, int]] = {}
    couples: dict[GroupKey, set[str]] = {}
    for act in acts:
        key = (act.office_code if by_office else None, period_of(act.on, unit) if unit else None)
        counts = groups.setdefault(key, dict.fromkeys(MEASURES, 0))
        counts[act.measure] += act.count
        if act.measure == "marriage_certificate_reissues" and act.couple is not None:
            couples.setdefault(key, set()).add(act.couple)
    for key, seen in couples.items():
        groups[key]["marriage_certificate_reissue_couples"] = len(seen)
    return dict(sorted(groups.items(), key=lambda item: (item[0][0] or "", item[0][1] or "")))
