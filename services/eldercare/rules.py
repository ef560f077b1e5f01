"""Eldercare's rules: pure functions, no I/O.

The capability scale (GB/T 42195-2022) and every amount come in as data (``policy/``); nothing here knows a
figure of any city. Dates follow the resident ID's birth date, with 29 February handled as ``civic.identity``
does (a year older on 1 March in common years).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from civic.identity import birth_date

NATIONAL = "000000"
AGE_ALLOWANCE_AGE = 80  # the allowance is for "80 and over" by definition of 高龄补贴, not a local figure


class Level(StrEnum):
    """The five capability levels of GB/T 42195-2022, best first."""

    INTACT = "intact"  # 能力完好
    MILD = "mild"  # 轻度失能
    MODERATE = "moderate"  # 中度失能
    SEVERE = "severe"  # 重度失能
    COMPLETE = "complete"  # 完全失能


LEVEL_ORDER = list(Level)


class AllowanceKind(StrEnum):
    AGE = "age"  # 高龄补贴
    DIFFICULT_ELDERLY = "difficult_elderly"  # 经济困难的高龄失能老年人补贴


# --- capability assessment -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scale:
    """The assessment scale: per first-level indicator, its second-level items and their maximum scores; and the
    lowest total of each level."""

    dimensions: Mapping[str, Mapping[str, int]]
    level_floors: Mapping[Level, int]

    @property
    def items(self) -> dict[str, tuple[str, int]]:
        return {item: (dim, top) for dim, items in self.dimensions.items() for item, top in items.items()}


def scale_from(data: Mapping[str, object]) -> Scale:
    dims = data["dimensions"]
    levels = data["levels"]
    assert isinstance(dims, dict) and isinstance(levels, list)
    return Scale(
        dimensions={d: dict(v["items"]) for d, v in dims.items()},
        level_floors={Level(row["level"]): int(row["min_total"]) for row in levels},
    )


class ScoreError(ValueError):
    """A score that the scale does not allow; ``item`` names it."""

    def __init__(self, item: str, message: str) -> None:
        super().__init__(message)
        self.item = item


@dataclass(frozen=True)
class Findings:
    """What the assessor found besides the item scores; each can change the level (standard, clause on results)."""

    comatose: bool = False
    dementia_diagnosed: bool = False  # 确诊为认知障碍/痴呆
    mental_disorder_diagnosed: bool = False  # 精神科专科医生诊断的其他精神和行为障碍
    care_risk_events_30_days: int = 0  # falls, choking, wandering off, self-harm ... in the last 30 days


@dataclass(frozen=True)
class Grade:
    level: Level
    total: int
    by_dimension: dict[str, int]
    reasons: list[str]


def grade(scores: Mapping[str, int], findings: Findings, scale: Scale) -> Grade:
    """The level from the 26 item scores: total → band; coma → completely impaired; a diagnosis of dementia or a
    mental disorder, or two or more care-risk events in 30 days, raise the banded level by one."""
    items = scale.items
    for item in scores:
        if item not in items:
            raise ScoreError(item, f"{item} is not an item of the scale")
    for item, (_dim, top) in items.items():
        if item not in scores:
            raise ScoreError(item, f"{item} must be scored")
        value = scores[item]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise ScoreError(item, f"{item} must be a whole number from 0 to {top}")
    if findings.care_risk_events_30_days < 0:
        raise ScoreError("care_risk_events_30_days", "care_risk_events_30_days cannot be negative")
    by_dimension = {dim: sum(scores[i] for i in its) for dim, its in scale.dimensions.items()}
    total = sum(by_dimension.values())
    floors = sorted(scale.level_floors.items(), key=lambda kv: -kv[1])
    level = next(lvl for lvl, floor in floors if total >= floor)
    reasons = [f"total {total} points: {level.value}"]
    if findings.comatose:
        reasons.append("comatose: completely impaired whatever the scores")
        return Grade(Level.COMPLETE, total, by_dimension, reasons)
    raising = [
        why
        for why, applies in (
            ("dementia diagnosed", findings.dementia_diagnosed),
            ("mental disorder diagnosed", findings.mental_disorder_diagnosed),
            (
                f"{findings.care_risk_events_30_days} care-risk events in 30 days",
                findings.care_risk_events_30_days >= 2,
            ),
        )
        if applies
    ]
    if raising and level is not Level.COMPLETE:
        level = LEVEL_ORDER[LEVEL_ORDER.index(level) + 1]
        reasons.append(f"raised one level ({'; '.join(raising)}): {level.value}")
    return Grade(level, total, by_dimension, reasons)


def add_months(d: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day (31 Jan + 1 → 28/29 Feb)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def reassessment_due(assessed_on: date, months: int) -> date:
    return add_months(assessed_on, months)


# --- age and dates -------------------------------------------------------------------------------------------
def birthday_in(born: date, year: int) -> date:
    """Someone born on 29 February has their birthday on 1 March in common years (as ``age_on`` counts)."""
    try:
        return born.replace(year=year)
    except ValueError:
        return date(year, 3, 1)


def turns(born: date, age: int) -> date:
    return birthday_in(born, born.year + age)


def age_on(born: date, on: date) -> int:
    return on.year - born.year - (on < birthday_in(born, on.year))


def birth_date_of(resident_id: str) -> date:
    return birth_date(resident_id)


def latest_birth_for_age(on: date, age: int) -> date:
    """The latest birth date of someone at least ``age`` on ``on`` (28 February stands in for a 29th that the
    year ``age`` back does not have; the exact check is ``age_on``)."""
    try:
        return on.replace(year=on.year - age)
    except ValueError:
        return date(on.year - age, 2, 28)


def last_day_of_month(d: date) -> date:
    return first_day_of_next_month(d) - timedelta(days=1)


def first_of_month(d: date) -> date:
    return d.replace(day=1)


def first_day_of_next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def months_from(start: date, end_exclusive: date) -> list[date]:
    """First days of the months from ``start``'s month up to (not including) ``end_exclusive``'s month."""
    months, m = [], first_of_month(start)
    while m < first_of_month(end_exclusive):
        months.append(m)
        m = first_day_of_next_month(m)
    return months


def age_allowance_from(born: date) -> date:
    """Paid from the month in which the person turns 80 (assumption: local rules say "from the month of the
    birthday"; a place paying from the next month changes this one line)."""
    return first_of_month(turns(born, AGE_ALLOWANCE_AGE))


def allowance_stops_after_death(date_of_death: date) -> date:
    """The month of death is still paid; nothing from the next month."""
    return first_day_of_next_month(date_of_death)


class UnderAge(ValueError):
    pass


def check_age_allowance(born: date, on: date) -> None:
    if age_on(born, on) < AGE_ALLOWANCE_AGE:
        raise UnderAge(f"the age allowance is for residents aged {AGE_ALLOWANCE_AGE} and over on {on.isoformat()}")


# --- policy figures ------------------------------------------------------------------------------------------
def region_chain(region_code: str) -> list[str]:
    """County, then its city, then its province, then the national fallback."""
    chain = [region_code, region_code[:4] + "00", region_code[:2] + "0000", NATIONAL]
    return list(dict.fromkeys(chain))


@dataclass(frozen=True)
class Rate:
    """A monthly amount of an allowance for ages from ``min_age``, in force from ``effective_from``."""

    region_code: str
    allowance: str
    min_age: int
    effective_from: date
    monthly_fen: int
    source: str = ""


class MissingPolicy(LookupError):
    pass


def monthly_rate(rates: Iterable[Rate], allowance: AllowanceKind, region_code: str, age: int, on: date) -> Rate:
    """The most specific region with a rate in force wins; within it the highest age band reached, and the latest
    effective date of that band."""
    rates = [r for r in rates if r.allowance == allowance and r.effective_from <= on]
    for code in region_chain(region_code):
        here = [r for r in rates if r.region_code == code and r.min_age <= age]
        if here:
            return max(here, key=lambda r: (r.min_age, r.effective_from))
    raise MissingPolicy(f"no {allowance.value} rate for region {region_code}, age {age}, on {on.isoformat()}")


@dataclass(frozen=True)
class Parameter:
    region_code: str
    name: str
    effective_from: date
    value: str
    source: str = ""


def parameter(parameters: Iterable[Parameter], name: str, region_code: str, on: date) -> str:
    params = [p for p in parameters if p.name == name and p.effective_from <= on]
    for code in region_chain(region_code):
        here = [p for p in params if p.region_code == code]
        if here:
            return max(here, key=lambda p: p.effective_from).value
    raise MissingPolicy(f"no parameter {name} for region {region_code} on {on.isoformat()}")


def difficult_elderly_members(
    members: Iterable[tuple[str, date]], benefit: str, qualifying_benefits: Iterable[str], min_age: int, on: date
) -> list[str]:
    """The members of a household approved for ``benefit`` whom the difficult-elderly subsidy covers on ``on``."""
    if benefit not in set(qualifying_benefits):
        return []
    return [rid for rid, born in members if age_on(born, on) >= min_age]


# --- institutions --------------------------------------------------------------------------------------------
class BedKind(StrEnum):
    ORDINARY = "ordinary"
    NURSING = "nursing"  # 护理型床位
    DEMENTIA = "dementia"  # 认知症照护床位 (counted as nursing-type)


NURSING_TYPE = frozenset({BedKind.NURSING, BedKind.DEMENTIA})


@dataclass(frozen=True)
class BedRatio:
    beds: int
    nursing_type_beds: int
    ratio: Decimal | None  # None when there are no beds at all
    meets_target: bool | None


def nursing_bed_ratio(kinds: Iterable[BedKind], target: Decimal) -> BedRatio:
    kinds = list(kinds)
    nursing = sum(1 for k in kinds if k in NURSING_TYPE)
    if not kinds:
        return BedRatio(0, 0, None, None)
    ratio = (Decimal(nursing) / Decimal(len(kinds))).quantize(Decimal("0.0001"))
    return BedRatio(len(kinds), nursing, ratio, ratio >= target)


# --- addresses -----------------------------------------------------------------------------------------------
def address_text(road_name: str, number: int, suffix: str = "", detail: str = "") -> str:
    """The address as shown, composed as place names composes a door plate's (新华路12号, 新华路12-1号), then what
    lies behind the door plate (3单元201室)."""
    return f"{road_name}{number}{'-' + suffix if suffix else ''}号{detail}"


# --- home and community services -----------------------------------------------------------------------------
VISITED = frozenset({"alone", "empty_nest"})  # 独居 and 空巢 elders are visited; those living with family are not


def visit_interval_parameter(living_situation: str) -> str:
    """The policy parameter holding how many days may pass between two visits to an elder in this situation."""
    return f"visit_interval_days_{living_situation}"


def visit_due(last_visit: date | None, known_since: date, interval_days: int) -> date:
    """The day by which the next visit is due: ``interval_days`` after the last one, or after the elder became
    known when nobody has visited yet."""
    return (last_visit or known_since) + timedelta(days=interval_days)


def days_overdue(due: date, on: date) -> int:
    """How many days past due on ``on`` (0 while not yet overdue; due today is not overdue)."""
    return max(0, (on - due).days)


class TaskTransitionError(ValueError):
    pass


TASK_ACTIONS = {
    # action: (statuses it may be taken from, status after)
    "acknowledge": (frozenset({"open"}), "acknowledged"),
    "close": (frozenset({"open", "acknowledged"}), "closed"),
}


def task_after(status: str, action: str) -> str:
    """A follow-up task is acknowledged once, then closed (an urgent one may be closed straight away); a closed
    task stays closed."""
    allowed, after = TASK_ACTIONS[action]
    if status not in allowed:
        raise TaskTransitionError(f"a task that is {status} cannot be {after}")
    return after


class BalanceExceeded(ValueError):
    pass


MINUTES_PER_HOUR = 60


def minutes_of(hours: Decimal) -> int:
    """Time-bank hours as whole minutes (the API takes quarter hours; the ledger keeps minutes)."""
    minutes = hours * MINUTES_PER_HOUR
    if minutes != minutes.to_integral_value() or minutes <= 0:
        raise ValueError(f"{hours} hours is not a positive whole number of minutes")
    return int(minutes)


def hours_of(minutes: int) -> Decimal:
    return (Decimal(minutes) / MINUTES_PER_HOUR).quantize(Decimal("0.01"))


def check_spend(balance_minutes: int, minutes: int) -> int:
    """The balance after spending ``minutes``; a balance can never go negative."""
    if minutes > balance_minutes:
        raise BalanceExceeded(
            f"spending {hours_of(minutes)} hours exceeds the balance of {hours_of(balance_minutes)} hours"
        )
    return balance_minutes - minutes


class NotEligible(ValueError):
    pass


def check_home_care_bed(level: str | None, assessed_on: date | None, reassess_by: date | None, min_level: str,
                        on: date) -> None:  # fmt: skip
    """A home care bed (家庭养老床位) is for elders whose assessment in force on ``on`` finds at least ``min_level``
    impairment (policy data by region): the grade drives the care level."""
    if level is None or assessed_on is None or reassess_by is None:
        raise NotEligible("a home care bed needs a capability assessment first")
    if reassess_by < on:
        raise NotEligible(f"the assessment of {assessed_on.isoformat()} was due for reassessment by "
                          f"{reassess_by.isoformat()}: reassess first")  # fmt: skip
    if LEVEL_ORDER.index(Level(level)) < LEVEL_ORDER.index(Level(min_level)):
        raise NotEligible(f"a home care bed is for {min_level} impairment or worse; the assessment found {level}")


class DeviceKind(StrEnum):
    """Monitoring devices (智能监测设备) installed in elders' homes."""

    SMOKE_DETECTOR = "smoke_detector"  # 烟感
    GAS_DETECTOR = "gas_detector"  # 燃气报警器
    FALL_SENSOR = "fall_sensor"  # 跌倒监测 (radar, wearable)
    EMERGENCY_BUTTON = "emergency_button"  # 一键呼叫
    DOOR_SENSOR = "door_sensor"  # 门磁: no opening for a long time raises an inactivity alarm


class DeviceStatus(StrEnum):
    INSTALLED = "installed"
    # The elder's death is registered; the device still hangs in the home (a smoke detector keeps protecting
    # whoever lives there) until a caseworker has it collected (retire) or gives it to someone else (move).
    REMOVAL_DUE = "removal_due"
    RETIRED = "retired"


@dataclass(frozen=True)
class Installation:
    """One span of a device at one elder's: from ``installed_on`` up to, not including, ``removed_on``."""

    resident_id: str
    installed_on: date
    removed_on: date | None


class DeviceNotInstalled(ValueError):
    """The device was installed for nobody on the day asked (before its first installation, or retired)."""

    def __init__(self, reason: str, retired: bool) -> None:
        super().__init__(reason)
        self.retired = retired


def installation_on(installations: Iterable[Installation], on: date) -> Installation:
    """The installation in force on ``on``. A device moved on a day belongs to the new elder that whole day (the
    spans are half-open), so a day never has two elders; a move and its undoing on the same day leave an empty
    span that matches no day."""
    spans = sorted(installations, key=lambda i: i.installed_on)
    for span in reversed(spans):
        if span.installed_on <= on and (span.removed_on is None or on < span.removed_on):
            return span
    if not spans or on < spans[0].installed_on:
        raise DeviceNotInstalled(f"the device was not installed yet on {on.isoformat()}", retired=False)
    if all(s.removed_on is not None and s.removed_on <= on for s in spans):
        last = max(s.removed_on for s in spans if s.removed_on is not None)
        raise DeviceNotInstalled(f"the device was retired on {last.isoformat()}", retired=True)
    raise DeviceNotInstalled(f"the device was installed for nobody on {on.isoformat()}", retired=False)


class DeviceChangeError(ValueError):
    pass


def check_device_change(current: Installation, on: date, today: date, new_resident: str | None = None) -> None:
    """A move or retirement: dated on or after the present installation began and not in the future; a move goes
    to another elder."""
    if on > today:
        raise DeviceChangeError(f"{on.isoformat()} is in the future")
    if on < current.installed_on:
        raise DeviceChangeError(f"the device was installed where it is on {current.installed_on.isoformat()}, "
                                f"after {on.isoformat()}")  # fmt: skip
    if new_resident is not None and new_resident == current.resident_id:
        raise DeviceChangeError("the device is already installed for this elder")
