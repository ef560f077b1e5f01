"""Social assistance's rules: pure functions, no I/O.

Every figure (standards, ratios, allowances) comes from a ``Policy`` built from the parameter table; nothing here
knows a number of any city. ``assess`` returns the decision *and* the reasons, so the same text explains an
amount to the caseworker and to the citizen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import cached_property

NATIONAL = "000000"
ZERO = Decimal("0.00")
CENT = Decimal("0.01")


class Area(StrEnum):
    URBAN = "urban"
    RURAL = "rural"


class Per(StrEnum):
    MONTH = "month"
    YEAR = "year"
    RATIO = "ratio"
    ONCE = "once"  # a one-off amount in yuan (temporary assistance caps)
    DAYS = "days"
    HOURS = "hours"


class BenefitKind(StrEnum):
    DIBAO = "dibao"  # 低保, the whole household
    DIBAO_SINGLE = "dibao_single"  # 单人户: one severely disabled / seriously ill adult covered alone
    DIBAO_EDGE = "dibao_edge"  # 低保边缘: no cash; opens special assistance
    TEKUN = "tekun"  # 特困供养: basic living + care allowance
    CHILD_WELFARE = "child_welfare"
    DISABILITY_LIVING = "disability_living"  # 困难残疾人生活补贴
    DISABILITY_CARE = "disability_care"  # 重度残疾人护理补贴


HOUSEHOLD_BENEFITS = frozenset({BenefitKind.DIBAO, BenefitKind.DIBAO_EDGE})


class Setting(StrEnum):
    CONCENTRATED = "concentrated"  # 集中供养, in an institution
    DISPERSED = "dispersed"  # 分散供养, at home


class CareLevel(StrEnum):
    SELF_CARE = "self_care"
    MILD = "mild"
    SEMI_CARE = "semi_care"
    FULL_CARE = "full_care"


class ChildCategory(StrEnum):
    ORPHAN_INSTITUTION = "orphan_institution"
    ORPHAN_DISPERSED = "orphan_dispersed"
    DEFACTO_UNSUPPORTED = "defacto_unsupported"
    KEY_CHILD_DIFFICULTY = "key_child_difficulty"


# --- dates ---------------------------------------------------------------------------------------------------
def month_start(day: date) -> date:
    return day.replace(day=1)


def first_day_of_next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def benefit_stops_after_death(date_of_death: date) -> date:
    """The month of death is paid in full; payment stops from the first day of the next month."""
    return first_day_of_next_month(date_of_death)


def months(start: date, end_exclusive: date) -> Iterator[date]:
    """First days of the months from ``start``'s month up to, not including, ``end_exclusive``'s month."""
    m = month_start(start)
    while m < month_start(end_exclusive):
        yield m
        m = first_day_of_next_month(m)


def add_months(day: date, count: int) -> date:
    index = day.year * 12 + day.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


# --- policy --------------------------------------------------------------------------------------------------
def parse_value(text: str) -> Decimal:
    """``"690"``, ``"0.5"`` or a fraction ``"1/6"`` (kept exact to 28 digits until the amount is rounded)."""
    if "/" in text:
        num, den = text.split("/", 1)
        return Decimal(num.strip()) / Decimal(den.strip())
    return Decimal(text.strip())


@dataclass(frozen=True)
class Parameter:
    region_code: str
    area: str  # urban | rural | all
    name: str
    effective_from: date
    value: str
    per: Per
    source: str = ""

    @property
    def amount(self) -> Decimal:
        """Per month for money (a yearly figure is divided by 12, to the fen); the plain number for ratios."""
        value = parse_value(self.value)
        if self.per is Per.YEAR:
            return (value / 12).quantize(CENT, ROUND_HALF_UP)
        if self.per in (Per.MONTH, Per.ONCE):
            return value.quantize(CENT, ROUND_HALF_UP)
        return value


@dataclass(frozen=True)
class Figure:
    """A figure used in a decision, with where it came from (for the explanation)."""

    name: str
    value: Decimal
    parameter: Parameter

    def cite(self) -> str:
        return self._citation

    @cached_property
    def _citation(self) -> str:  # a batch cites the same figure for every case
        p = self.parameter
        per = {Per.MONTH: " yuan/month", Per.YEAR: f" yuan/month ({p.value}/year)", Per.RATIO: "",
               Per.ONCE: " yuan", Per.DAYS: " days", Per.HOURS: " hours"}[p.per]  # fmt: skip
        return f"{self.name} = {self.value}{per} (region {p.region_code}, {p.area}, from {p.effective_from})"


class MissingPolicy(LookupError):
    def __init__(self, name: str, region_code: str, area: str, on: date) -> None:
        super().__init__(f"no policy parameter {name} for region {region_code} ({area}) in force on {on}")
        self.name = name


def region_chain(region_code: str) -> list[str]:
    """Most specific first: the county, its city, its province, then the national default."""
    chain = [region_code, region_code[:4] + "00", region_code[:2] + "0000", NATIONAL]
    return list(dict.fromkeys(chain))


class Policy:
    """The parameters, answering "what was X for this region and area on this date"."""

    def __init__(self, parameters: Iterable[Parameter]) -> None:
        self._by_key: dict[tuple[str, str], list[Parameter]] = defaultdict(list)
        for p in parameters:
            self._by_key[p.name, p.region_code].append(p)
        # A batch asks the same question for every case of a region: answer it once (the policy never changes).
        self._answers: dict[tuple[str, str, str, date], Parameter | None] = {}
        self._figures: dict[tuple[str, str, str, date], Figure | None] = {}

    def lookup(self, name: str, region_code: str, area: str, on: date) -> Parameter | None:
        key = (name, region_code, area, on)
        if key not in self._answers:
            self._answers[key] = self._lookup(name, region_code, area, on)
        return self._answers[key]

    def _lookup(self, name: str, region_code: str, area: str, on: date) -> Parameter | None:
        # The most specific region that has the parameter in force wins. Within it the latest effective date
        # wins, and an "all" row after an urban/rural one stands for the unified standard.
        for code in region_chain(region_code):
            candidates = [
                p for p in self._by_key.get((name, code), []) if p.effective_from <= on and p.area in (area, "all")
            ]
            if candidates:
                return max(candidates, key=lambda p: (p.effective_from, p.area != "all"))
        return None

    def figure(self, name: str, region_code: str, area: str, on: date) -> Figure:
        f = self.optional(name, region_code, area, on)
        if f is None:
            raise MissingPolicy(name, region_code, area, on)
        return f

    def optional(self, name: str, region_code: str, area: str, on: date) -> Figure | None:
        key = (name, region_code, area, on)
        if key not in self._figures:
            p = self.lookup(name, region_code, area, on)
            self._figures[key] = None if p is None else Figure(name, p.amount, p)
        return self._figures[key]

    def affects(self, parameter: Parameter, region_code: str) -> bool:
        return parameter.region_code in region_chain(region_code)


# --- household facts -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Member:
    resident_id: str
    relation: str
    born: date
    work_capacity: bool = True
    legal_supporter: bool = True  # has someone legally bound and able to support them
    severe_disability: bool = False
    serious_illness: bool = False
    care_level: CareLevel | None = None
    died_on: date | None = None

    def alive_for(self, month: date) -> bool:
        return counted_in(self.died_on, month)


def counted_in(died_on: date | None, on: date) -> bool:
    """Whether a member who died on ``died_on`` (None: alive) still counts in the household on ``on``."""
    return died_on is None or died_on >= first_death_still_counted(on)


def first_death_still_counted(on: date) -> date:
    """The earliest date of death of a member who still counts on ``on``: the month of death is paid in full
    (``benefit_stops_after_death``), so whoever died in ``on``'s month or later. A query can filter on it."""
    return month_start(on)


@dataclass(frozen=True)
class Money:
    resident_id: str
    kind: str
    monthly: Decimal


@dataclass(frozen=True)
class Household:
    region_code: str
    area: Area
    members: tuple[Member, ...]
    incomes: tuple[Money, ...] = ()
    deductions: tuple[Money, ...] = ()
    assets: tuple[Money, ...] = ()  # ``monthly`` holds the asset's value

    def counted(self, on: date) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.alive_for(month_start(on)))


@dataclass(frozen=True)
class Means:
    """All that a household benefit (低保, 低保边缘) depends on besides the policy and the date: where the household
    lives, how many members count, and its money (yuan per month; assets as a total value). Who the members are
    does not matter, so two households with equal means get the same assessment — a batch assesses each distinct
    means once (``assess_household``), and ``assess`` goes through the same function.
    """

    region_code: str
    area: Area
    counted: int
    gross: Decimal
    deducted: Decimal
    assets: Decimal

    @staticmethod
    def of_fen(region_code: str, area: Area, counted: int, gross: int, deducted: int, assets: int) -> Means:
        """From sums in integer fen (as a batch reads them), equal, text included, to ``means_of`` the members."""
        return Means(region_code, area, counted, _yuan(gross), _yuan(deducted), _yuan(assets))

    @property
    def net(self) -> Decimal:
        return max(self.gross - self.deducted, ZERO)

    @property
    def per_capita(self) -> Decimal:
        return (self.net / self.counted).quantize(CENT, ROUND_HALF_UP) if self.counted else ZERO


def _yuan(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


def means_of(household: Household, on: date) -> Means:
    gross, deducted, _ = net_income(household, on)
    assets = sum((a.monthly for a in household.assets), ZERO)
    return Means(household.region_code, household.area, len(household.counted(on)), gross, deducted, assets)


@dataclass(frozen=True)
class Claim:
    benefit: BenefitKind
    beneficiary: str | None = None  # the member a personal benefit is for; None for household benefits
    setting: Setting | None = None
    child_category: ChildCategory | None = None


@dataclass(frozen=True)
class Assessment:
    benefit: BenefitKind
    eligible: bool
    monthly_amount: Decimal
    reasons: tuple[str, ...]
    figures: tuple[Figure, ...] = field(default=())


class Refused(ValueError):
    """The claim cannot be assessed as asked (no such member, missing setting ...). ``field`` names the input."""

    def __init__(self, field_name: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field_name


def _ceil_fen(d: Decimal) -> Decimal:
    return d.quantize(CENT, ROUND_CEILING)


@dataclass
class _Explainer:
    policy: Policy
    household: Household
    on: date
    reasons: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)

    def fig(self, name: str) -> Decimal:
        f = self.policy.figure(name, self.household.region_code, self.household.area, self.on)
        self.figures.append(f)
        self.reasons.append(f.cite())
        return f.value

    def opt(self, name: str) -> Decimal | None:
        f = self.policy.optional(name, self.household.region_code, self.household.area, self.on)
        if f is not None:
            self.figures.append(f)
            self.reasons.append(f.cite())
        return None if f is None else f.value

    def done(self, claim: Claim, eligible: bool, amount: Decimal, why: str) -> Assessment:
        self.reasons.append(why)
        return Assessment(
            claim.benefit,
            eligible,
            amount.quantize(CENT) if eligible else ZERO,
            tuple(self.reasons),
            tuple(self.figures),
        )


def net_income(household: Household, on: date, only: str | None = None) -> tuple[Decimal, Decimal, Decimal]:
    """(gross, deductions, net) per month of the members counted on ``on`` (or of one member)."""
    counted = {m.resident_id for m in household.counted(on)} if only is None else {only}
    gross = sum((i.monthly for i in household.incomes if i.resident_id in counted), ZERO)
    deducted = sum((d.monthly for d in household.deductions if d.resident_id in counted), ZERO)
    return gross, deducted, max(gross - deducted, ZERO)


def _assets_within_limit(x: _Explainer, standard: Decimal, members: int, total: Decimal) -> bool:
    months_of_standard = x.opt("dibao_asset_limit_months")
    if months_of_standard is None:
        return True
    limit = (months_of_standard * standard * members).quantize(CENT)
    within = total <= limit
    x.reasons.append(
        f"assets {total} {'within' if within else 'above'} the limit {limit} "
        f"({months_of_standard} months × {standard} × {members} members)"
    )
    return within


def _member(household: Household, claim: Claim, on: date) -> Member:
    if claim.beneficiary is None:
        raise Refused("beneficiary", f"{claim.benefit} is a personal benefit: name the member it is for")
    for m in household.members:
        if m.resident_id == claim.beneficiary:
            if not m.alive_for(month_start(on)):
                raise Refused("beneficiary", "the beneficiary has died: a benefit cannot be granted to a dead person")
            return m
    raise Refused("beneficiary", "the beneficiary is not a member of this household")


def assess(claim: Claim, household: Household, policy: Policy, on: date) -> Assessment:
    """Eligibility, monthly amount and reasons of ``claim`` for ``household`` under the policy in force on ``on``.

    Raises ``MissingPolicy`` when the region has no figure for the benefit, ``Refused`` for a malformed claim.
    """
    if claim.benefit in HOUSEHOLD_BENEFITS:
        return assess_household(claim, means_of(household, on), policy, on)
    x = _Explainer(policy, household, on)
    counted = household.counted(on)
    n = len(counted)
    if claim.benefit is BenefitKind.DIBAO_SINGLE:
        means = means_of(household, on)
        standard = _means_explained(x, means)
        net, per_capita = means.net, means.per_capita
        if n == 0:
            return x.done(claim, False, ZERO, "no living member is counted")
        k = x.fig("marginal_low_income_factor")
        line = (k * standard).quantize(CENT)
        # 单人户: the member is covered alone, the household's means only gate it
        member = _member(household, claim, on)
        adult = age_on(member.born, on) >= 18
        if not adult or not (member.severe_disability or member.serious_illness):
            return x.done(claim, False, ZERO, "单人户 needs an adult with a severe disability or serious illness")
        if net >= line * n:
            return x.done(claim, False, ZERO, f"not eligible: {per_capita} per person is not below {line}")
        own = net_income(household, on, only=member.resident_id)[2]
        if own >= standard:
            return x.done(claim, False, ZERO, f"not eligible: own income {own} is not below {standard}")
        amount = standard - own
        return x.done(claim, True, amount, f"单人户 = {standard} − own income {own.quantize(CENT)} = {amount}")
    member = _member(household, claim, on)
    age = age_on(member.born, on)
    if claim.benefit is BenefitKind.TEKUN:
        return _tekun(x, claim, member, age)
    if claim.benefit is BenefitKind.CHILD_WELFARE:
        if claim.child_category is None:
            raise Refused("child_category", "child welfare needs the child's category")
        if age >= 18:
            return x.done(claim, False, ZERO, f"not eligible: child welfare is for minors (aged {age})")
        amount = x.fig(f"child_welfare_{claim.child_category}")
        return x.done(claim, True, amount, f"child welfare ({claim.child_category}) = {amount}")
    if claim.benefit is BenefitKind.DISABILITY_CARE:
        if not member.severe_disability:
            return x.done(claim, False, ZERO, "not eligible: the care allowance is for severe disability")
        amount = x.fig("disability_care_allowance")
        return x.done(claim, True, amount, f"severe-disability care allowance = {amount}")
    # DISABILITY_LIVING: for disabled people in low-income households
    if not (member.severe_disability or member.serious_illness):
        return x.done(claim, False, ZERO, "not eligible: the living allowance is for disabled people")
    standard = x.fig("dibao_standard")
    k = x.fig("marginal_low_income_factor")
    net = net_income(household, on)[2]
    if n == 0 or net >= k * standard * n:
        return x.done(claim, False, ZERO, "not eligible: the household is not low-income")
    amount = x.fig("disability_living_allowance")
    return x.done(claim, True, amount, f"living allowance for a disabled person in a low-income household = {amount}")


def _means_explained(x: _Explainer, means: Means) -> Decimal:
    """The standard, and the household's income as the reasons state it (the start of every 低保-type decision)."""
    standard = x.fig("dibao_standard")
    x.reasons.append(
        f"household of {means.counted} counted members: income {means.gross.quantize(CENT)} − deductions "
        f"{means.deducted.quantize(CENT)} = {means.net.quantize(CENT)} yuan/month, {means.per_capita} per person"
    )
    return standard


def assess_household(claim: Claim, means: Means, policy: Policy, on: date) -> Assessment:
    """``assess`` of a household benefit (低保, 低保边缘), from the household's means only."""
    if claim.benefit not in HOUSEHOLD_BENEFITS:
        raise ValueError(f"{claim.benefit} depends on who the members are: use assess()")
    x = _Explainer(policy, Household(means.region_code, means.area, ()), on)
    standard = _means_explained(x, means)
    n, net, per_capita = means.counted, means.net, means.per_capita
    if n == 0:
        return x.done(claim, False, ZERO, "no living member is counted")
    if claim.benefit is BenefitKind.DIBAO:
        if not _assets_within_limit(x, standard, n, means.assets):
            return x.done(claim, False, ZERO, "not eligible: assets above the limit")
        if net >= standard * n:
            return x.done(claim, False, ZERO, f"not eligible: {per_capita} per person is not below {standard}")
        amount = standard * n - net  # = (standard − per-capita) × members, without rounding per capita
        return x.done(claim, True, amount, f"低保 = ({standard} − {per_capita}) × {n} = {amount.quantize(CENT)}")
    k = x.fig("marginal_low_income_factor")
    line = (k * standard).quantize(CENT)
    if not _assets_within_limit(x, standard, n, means.assets):
        return x.done(claim, False, ZERO, "not eligible: assets above the limit")
    eligible = standard * n <= net < line * n
    return x.done(
        claim,
        eligible,
        ZERO,
        f"低保边缘: {per_capita} per person {'is' if eligible else 'is not'} in [{standard}, {line})"
        " (no monthly cash; opens medical, education and housing assistance)",
    )


def _tekun(x: _Explainer, claim: Claim, member: Member, age: int) -> Assessment:
    if claim.setting is None:
        raise Refused("setting", "特困 support needs the setting: concentrated or dispersed")
    own_income = net_income(x.household, x.on, only=member.resident_id)[0]
    minor = age < 18
    if member.legal_supporter:
        return x.done(claim, False, ZERO, "not eligible: has a legal supporter able to support them")
    if not minor and (member.work_capacity or own_income > 0):
        return x.done(claim, False, ZERO, "not eligible: adults need no work capacity and no income")
    standard = x.fig("dibao_standard")
    ratio = x.fig("tekun_living_ratio")
    figure = x.fig(f"tekun_living_{claim.setting}")
    floor = _ceil_fen(ratio * standard)
    living = max(figure, floor)
    x.reasons.append(
        f"basic living = max({figure}, {ratio} × {standard} = {floor}) = {living}"
        + (" (raised to the floor)" if floor > figure else "")
    )
    care = ZERO
    level = member.care_level
    if level is not None:
        concentrated = x.opt(f"tekun_care_{level}") or ZERO
        care = concentrated
        if claim.setting is Setting.DISPERSED:
            ratio_dispersed = x.opt("tekun_dispersed_care_ratio")
            if ratio_dispersed is not None:
                care = (concentrated * ratio_dispersed).quantize(CENT, ROUND_HALF_UP)
        fraction = x.opt(f"care_fraction_{level}")
        wage = x.opt("minimum_wage") if fraction is not None else None
        if fraction is not None and wage is not None:
            care_floor = _ceil_fen(fraction * wage)
            if care_floor > care:
                x.reasons.append(f"care allowance raised to the floor {care_floor} (fraction of the minimum wage)")
            care = max(care, care_floor)
        x.reasons.append(f"care allowance ({level}, {claim.setting}) = {care}")
    amount = living + care
    return x.done(claim, True, amount, f"特困 = basic living {living} + care {care} = {amount}")


# --- 临时救助 temporary assistance ---------------------------------------------------------------------------
class TemporaryKind(StrEnum):
    EMERGENCY = "emergency"  # 急难型: a small advance at once (小额先行救助), paperwork after
    EXPENDITURE = "expenditure"  # 支出型: reviewed, approved once, paid in stages (一次审批、分阶段救助)


@dataclass(frozen=True)
class TemporaryDecision:
    kind: TemporaryKind
    amount: Decimal
    stages: tuple[tuple[date, Decimal], ...]  # (due on, amount); the emergency advance is one stage, today
    paperwork_due: date | None  # emergency: the day by which the case must be completed, else it is flagged
    reasons: tuple[str, ...]
    figures: tuple[Figure, ...]


def grant_temporary(
    kind: TemporaryKind,
    amount: Decimal,
    stages: list[tuple[date, Decimal]],
    region_code: str,
    area: str,
    policy: Policy,
    on: date,
    hours_since_report: Decimal | None = None,
) -> TemporaryDecision:
    """Check a caseworker's temporary-assistance grant against the policy in force on ``on``.

    The amount is the caseworker's, from the need; the rules give the cap (and, for an advance, the days
    allowed for the paperwork). ``Refused`` names the input at fault; ``MissingPolicy`` the figure not set.
    """
    household = Household(region_code=region_code, area=Area(area), members=())
    x = _Explainer(policy, household, on)
    if amount <= 0:
        raise Refused("amount", "the amount must be more than zero")
    if kind is TemporaryKind.EMERGENCY:
        cap = x.fig("temporary_emergency_advance_cap")
        if amount > cap:
            raise Refused("amount", f"an emergency advance is at most {cap} (region {region_code}, {on})")
        limit = x.opt("temporary_emergency_response_hours")
        if limit is not None and hours_since_report is not None:
            x.reasons.append(f"granted {hours_since_report.quantize(Decimal('0.1'))} hours after the report "
                             f"({'within' if hours_since_report <= limit else 'beyond'} the {limit} hours)")  # fmt: skip
        days = x.fig("temporary_emergency_paperwork_days")
        due = date.fromordinal(on.toordinal() + int(days))
        x.reasons.append(f"emergency advance {amount.quantize(CENT)} paid on {on}; paperwork due by {due}")
        return TemporaryDecision(kind, amount.quantize(CENT), ((on, amount.quantize(CENT)),), due,
                                 tuple(x.reasons), tuple(x.figures))  # fmt: skip
    cap = x.fig("temporary_expenditure_cap")
    if amount > cap:
        raise Refused("amount", f"expenditure-type assistance is at most {cap} per approval (region {region_code})")
    if not stages:
        raise Refused("stages", "an expenditure-type grant is paid in stages: give at least one")
    total = sum((a for _, a in stages), ZERO)
    if total != amount:
        raise Refused("stages", f"the stages add up to {total.quantize(CENT)}, not the amount {amount.quantize(CENT)}")
    for i, (due_on, stage_amount) in enumerate(stages):
        if stage_amount <= 0:
            raise Refused(f"stages[{i}].amount", "each stage pays more than zero")
        if due_on < on or (i and due_on < stages[i - 1][0]):
            raise Refused(f"stages[{i}].due_on", "stages fall on or after the approval, in date order")
    x.reasons.append(f"expenditure-type assistance {amount.quantize(CENT)} approved on {on}, in {len(stages)} stage(s)")
    return TemporaryDecision(kind, amount.quantize(CENT), tuple((d, a.quantize(CENT)) for d, a in stages), None,
                             tuple(x.reasons), tuple(x.figures))  # fmt: skip


def advance_overdue(paperwork_due: date | None, completed: bool, on: date) -> bool:
    """An advance whose paperwork is not completed by the day it was due is flagged from the day after."""
    return not completed and paperwork_due is not None and on > paperwork_due


# --- addresses ---------------------------------------------------------------------------------------------
def address_text(road_name: str, number: int, suffix: str = "", detail: str = "") -> str:
    """The address as shown: the standard door-plate form (新华路12号, 新华路12-1号), then unit and room."""
    return f"{road_name}{number}{'-' + suffix if suffix else ''}号{detail}"


# --- lifecycle -----------------------------------------------------------------------------------------------
def back_pay(due: dict[date, Decimal], paid: dict[date, Decimal]) -> dict[date, Decimal]:
    """Per month, what was due and not paid (only positive differences)."""
    owed = {m: due[m] - paid.get(m, ZERO) for m in sorted(due)}
    return {m: amount.quantize(CENT) for m, amount in owed.items() if amount > 0}


def entry_in_force(schedule: Iterable[tuple[date, int]], month: date) -> tuple[date, int] | None:
    """The latest schedule entry (effective from, amount in fen) effective on or before ``month``."""
    best: tuple[date, int] | None = None
    for entry in schedule:
        if entry[0] <= month and (best is None or entry[0] > best[0]):
            best = entry
    return best


def amount_in_force(schedule: Iterable[tuple[date, int]], month: date) -> int | None:
    """The amount (fen) of the latest schedule entry effective on or before ``month``."""
    best = entry_in_force(schedule, month)
    return None if best is None else best[1]
