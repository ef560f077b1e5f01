"""Funeral administration's rules: pure functions, no I/O.

Every figure (subsidy amounts, the value of the free basic services) comes from a ``Policy`` built from the
parameter table, keyed by region and effective date; nothing here knows a number of any city.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from civic.identity import birth_date

NATIONAL = "000000"
CENT = Decimal("0.01")


class RuleBroken(ValueError):
    """A request that a rule refuses: ``kind`` is the stable problem type, ``field`` the input at fault."""

    def __init__(self, kind: str, field: str | None, detail: str) -> None:
        super().__init__(detail)
        self.kind, self.field, self.detail = kind, field, detail


# --- death registration ----------------------------------------------------------------------------------------
class DeathSource(StrEnum):
    """Who reported the death (死亡信息来源)."""

    HOSPITAL = "hospital"  # 医疗机构: the medical certificate of death (死亡医学证明)
    FAMILY = "family"  # 亲属
    POLICE = "police"  # 公安机关: deaths outside a hospital, unnatural deaths
    COMMUNITY = "community"  # 村(居)委会: deaths at home certified by the community
    FUNERAL_HOME = "funeral_home"  # 殡仪馆, on receiving the body


# Relations as reporters write them, for reports that do not say their source; anything else is a relative.
_SOURCE_OF_RELATION = {
    "医院": DeathSource.HOSPITAL,
    "卫生院": DeathSource.HOSPITAL,
    "医疗机构": DeathSource.HOSPITAL,
    "公安": DeathSource.POLICE,
    "派出所": DeathSource.POLICE,
    "公安机关": DeathSource.POLICE,
    "社区": DeathSource.COMMUNITY,
    "居委会": DeathSource.COMMUNITY,
    "村委会": DeathSource.COMMUNITY,
    "殡仪馆": DeathSource.FUNERAL_HOME,
}


def source_of(relation: str, declared: DeathSource | None) -> DeathSource:
    return declared if declared is not None else _SOURCE_OF_RELATION.get(relation.strip(), DeathSource.FAMILY)


class ImpossibleDeathDate(ValueError):
    pass


def check_date_of_death(resident_id: str, date_of_death: date, today: date) -> None:
    """A death is registered after it happened, and not before the person was born."""
    if date_of_death > today:
        raise ImpossibleDeathDate("date of death is in the future")
    if date_of_death < birth_date(resident_id):
        raise ImpossibleDeathDate("date of death is before the date of birth in the resident ID")


class ReportMatch(StrEnum):
    SAME_DEATH = "same-death"  # the same facts again: the registration stands, nothing is published
    CONFLICTING = "conflicting"  # a caseworker must look: the registration is flagged, not changed


@dataclass(frozen=True)
class ReportedFacts:
    date_of_death: date
    medical_certificate_number: str | None


def compare_reports(registered: ReportedFacts, reported: ReportedFacts) -> tuple[ReportMatch, list[str]]:
    """A second report of a registered person is the same death unless a fact that identifies the death differs.

    A missing certificate number is not a disagreement (a relative may not have it); two different numbers are.
    The place is not compared: "the city hospital" and "市人民医院" are the same place written twice.
    """
    differences = []
    if reported.date_of_death != registered.date_of_death:
        differences.append("date_of_death")
    if (
        registered.medical_certificate_number
        and reported.medical_certificate_number
        and registered.medical_certificate_number != reported.medical_certificate_number
    ):
        differences.append("medical_certificate_number")
    return (ReportMatch.CONFLICTING if differences else ReportMatch.SAME_DEATH), differences


def region_of_resident(resident_id: str) -> str:
    """The region code in the resident ID: where the person was first registered. Used when a report does not
    say the deceased's region of household registration (户籍地)."""
    return resident_id[:6]


# --- policy ----------------------------------------------------------------------------------------------------
def parse_amount(text: str) -> Decimal:
    value = Decimal(text.strip())
    if value != value.quantize(CENT) or value < 0:
        raise ValueError(f"amount {text!r} must be a non-negative yuan figure with at most two decimals")
    return value.quantize(CENT)


@dataclass(frozen=True)
class Parameter:
    region_code: str
    name: str
    effective_from: date
    value: Decimal
    source: str = ""

    def cite(self) -> str:
        return f"{self.name} = {self.value} yuan (region {self.region_code}, from {self.effective_from})"


def region_chain(region_code: str) -> list[str]:
    """Most specific first: the county, its city, its province, then the national default."""
    return list(dict.fromkeys([region_code, region_code[:4] + "00", region_code[:2] + "0000", NATIONAL]))


class Policy:
    """The parameters, answering "what was X in this region on this date"."""

    def __init__(self, parameters: Iterable[Parameter]) -> None:
        self._by_key: dict[tuple[str, str], list[Parameter]] = defaultdict(list)
        for p in parameters:
            self._by_key[p.name, p.region_code].append(p)

    def lookup(self, name: str, region_code: str, on: date) -> Parameter | None:
        # The most specific region with the parameter in force wins; within it, the latest effective date.
        for code in region_chain(region_code):
            candidates = [p for p in self._by_key.get((name, code), []) if p.effective_from <= on]
            if candidates:
                return max(candidates, key=lambda p: p.effective_from)
        return None


# --- funeral benefits ------------------------------------------------------------------------------------------
# Benefits that make a person "in difficulty" (困难群众) for free basic funeral services: 低保 (household or alone),
# 低保边缘 and 特困供养. Disability and child-welfare allowances alone do not.
DIFFICULTY_BENEFITS = frozenset({"dibao", "dibao_single", "dibao_edge", "tekun"})


def members_entitled_to_free_basic_services(benefit: str, members: Iterable[str]) -> list[str]:
    """Who an approved benefit makes entitled to free basic funeral services: every member of the household for a
    benefit of people in difficulty, nobody for any other."""
    return list(dict.fromkeys(members)) if benefit in DIFFICULTY_BENEFITS else []


class FuneralBenefitKind(StrEnum):
    FREE_BASIC_SERVICES = "free_basic_services"  # 惠民殡葬 for the deceased in difficulty: basic services free
    STANDARD = "standard"  # where the region pays a basic funeral benefit for every resident


FREE_BASIC_SERVICES = "basic_funeral_free_services"
STANDARD_BENEFIT = "basic_funeral_standard_benefit"


@dataclass(frozen=True)
class Difficulty:
    """A benefit that made the person in difficulty, as funeral's own projection of assistance events saw it."""

    benefit: str
    case_id: str
    effective_from: date
    ended_from: date | None

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.ended_from is None or day < self.ended_from)


@dataclass(frozen=True)
class FuneralBenefitDecision:
    kind: FuneralBenefitKind | None  # None: nothing is granted
    amount: Decimal
    in_kind: bool  # free services settled with the funeral home, not cash to the family
    reason: str
    parameter: Parameter | None = None


def decide_funeral_benefit(
    difficulties: Iterable[Difficulty], date_of_death: date, region_code: str, policy: Policy
) -> FuneralBenefitDecision:
    """惠民殡葬: a deceased in difficulty on the day of death gets the basic services free; anyone else gets the
    standard benefit if the region pays one, and nothing otherwise."""
    basis = sorted(
        (d for d in difficulties if d.benefit in DIFFICULTY_BENEFITS and d.covers(date_of_death)),
        key=lambda d: (d.effective_from, d.case_id),
    )
    if basis:
        free = policy.lookup(FREE_BASIC_SERVICES, region_code, date_of_death)
        if free is not None:
            first = basis[0]
            return FuneralBenefitDecision(
                FuneralBenefitKind.FREE_BASIC_SERVICES,
                free.value,
                True,
                f"in difficulty on the day of death ({first.benefit}, case {first.case_id}): basic funeral "
                f"services free; {free.cite()}",
                free,
            )
    standard = policy.lookup(STANDARD_BENEFIT, region_code, date_of_death)
    if standard is not None and standard.value > 0:
        return FuneralBenefitDecision(
            FuneralBenefitKind.STANDARD,
            standard.value,
            False,
            f"basic funeral benefit for every resident of the region; {standard.cite()}",
            standard,
        )
    if basis:
        return FuneralBenefitDecision(None, Decimal("0.00"), False, f"no free-services figure for region "
                                      f"{region_code} on {date_of_death}: a caseworker must decide")  # fmt: skip
    return FuneralBenefitDecision(
        None,
        Decimal("0.00"),
        False,
        "not in difficulty on the day of death, and the region pays no basic funeral benefit to others",
    )


# --- eco-burial subsidy ----------------------------------------------------------------------------------------
class BurialType(StrEnum):
    """节地生态安葬: the burial types the subsidy rewards."""

    SEA = "sea"  # 海葬
    TREE = "tree"  # 树葬
    LAWN = "lawn"  # 草坪葬
    WALL = "wall"  # 壁葬
    NO_ASHES_KEPT = "no_ashes_kept"  # 不保留骨灰


def eco_burial_parameter(burial_type: BurialType) -> str:
    return f"eco_burial_subsidy_{burial_type.value}"


def eco_burial_subsidy(burial_type: BurialType, region_code: str, burial_date: date, policy: Policy) -> Parameter:
    """The subsidy in force for this burial type in the deceased's region on the day of burial."""
    parameter = policy.lookup(eco_burial_parameter(burial_type), region_code, burial_date)
    if parameter is None or parameter.value <= 0:
        raise RuleBroken(
            "no-eco-burial-subsidy",
            "burial_type",
            f"no eco-burial subsidy for {burial_type.value} burial in region {region_code} on {burial_date}",
        )
    return parameter


def check_burial_date(burial_date: date, date_of_death: date, today: date) -> None:
    if burial_date < date_of_death:
        raise RuleBroken("burial-before-death", "burial_date", "the burial date is before the date of death")
    if burial_date > today:
        raise RuleBroken("burial-in-future", "burial_date", "the subsidy is granted for a burial that took place")


# --- bookings, cremation, graves -------------------------------------------------------------------------------
def check_cremation(cremated_on: date, date_of_death: date, today: date) -> None:
    if cremated_on < date_of_death:
        raise RuleBroken("cremation-before-death", "cremated_at", "the cremation is before the date of death")
    if cremated_on > today:
        raise RuleBroken("cremation-in-future", "cremated_at", "a cremation is recorded once it is done")


def plot_code(cemetery_code: str, section: str, row: int, number: int) -> str:
    """一墓一码: one code per grave, readable and printed on the grave's QR plate."""
    return f"{cemetery_code}-{section}-{row:02d}-{number:03d}"


ECO_PLOT_TYPES = frozenset({"tree", "lawn", "wall", "flower"})  # 节地生态墓位: an eco-grave certificate is issued


def is_eco_plot(plot_type: str) -> bool:
    return plot_type in ECO_PLOT_TYPES


# --- statistics ------------------------------------------------------------------------------------------------
def cremation_rate(cremations: int, deaths: int) -> Decimal | None:
    """Cremations as a percentage of registered deaths (the seeds' 火化率); None when nobody died."""
    if deaths == 0:
        return None
    return (Decimal(cremations) * 100 / Decimal(deaths)).quantize(Decimal("0.1"), ROUND_HALF_UP)
