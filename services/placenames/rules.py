"""Pure rules of place names and door plates: no I/O, figures passed in as data (``Policy``).

The naming workflow (地名命名、更名、销名): proposal → expert review → public notice (公示) → decision → the name takes
effect. Division adjustments (区划调整) keep history as dated versions. Door plates number a named road.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum

DEFAULT_REGION = "000000"


class RuleBroken(Exception):
    """A rule refused the request: ``kind`` is the stable problem type, ``field`` the input at fault."""

    def __init__(self, kind: str, field: str, detail: str) -> None:
        super().__init__(detail)
        self.kind, self.field, self.detail = kind, field, detail


# ---- policy as data --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    region_code: str
    name: str
    effective_from: date
    value: int
    source: str


class Policy:
    """Policy figures keyed by (region, name, effective-from). The most specific region wins: the county's own
    figure, else its city's, its province's, then the national default (000000)."""

    def __init__(self, parameters: Iterable[Parameter]) -> None:
        self.parameters = list(parameters)

    def value(self, name: str, region_code: str, on: date) -> int:
        for region in regions_upwards(region_code):
            dated = [
                p for p in self.parameters if p.name == name and p.region_code == region and p.effective_from <= on
            ]
            if dated:
                return max(dated, key=lambda p: p.effective_from).value
        raise LookupError(f"no policy figure {name} for region {region_code} on {on}")


def regions_upwards(region_code: str) -> list[str]:
    """371002 → [371002, 371000, 370000, 000000]: where to look for a figure, most specific first."""
    county = region_code[:6]
    chain = [county, county[:4] + "00", county[:2] + "0000", DEFAULT_REGION]
    return list(dict.fromkeys(chain))


# ---- names ------------------------------------------------------------------------------------------------------


class Kind(StrEnum):
    ROAD = "road"  # 路
    STREET = "street"  # 街
    LANE = "lane"  # 巷
    COMMUNITY = "community"  # 居民区、小区
    BRIDGE = "bridge"
    NATURAL = "natural"  # 自然地理实体: hills, rivers, islands


ROAD_KINDS = frozenset({Kind.ROAD, Kind.STREET, Kind.LANE})  # the kinds that carry door plates


class Action(StrEnum):
    NAME = "name"  # 命名
    RENAME = "rename"  # 更名
    CANCEL = "cancel"  # 销名


class CaseStatus(StrEnum):
    PROPOSED = "proposed"  # expert review under way: opinions are recorded
    IN_NOTICE = "in-notice"  # 公示: objections received until the last day
    AWAITING_DECISION = "awaiting-decision"  # notice over
    APPROVED = "approved"  # decided; takes effect on its effective date
    EFFECTIVE = "effective"  # published (new name, rename) or cancelled
    REJECTED = "rejected"


OPEN_STATUSES = (CaseStatus.PROPOSED, CaseStatus.IN_NOTICE, CaseStatus.AWAITING_DECISION, CaseStatus.APPROVED)

_HAN = re.compile(r"[\u3400-\u9fff]")
_SYLLABLE = re.compile(r"^[a-z]{1,6}$")


def name_key(name: str) -> str:
    """What makes two names "the same name": compared after NFKC (full-width forms) and without spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))


def pinyin_syllables(pinyin: str) -> list[str]:
    """``Xīn huá lù`` → ["xin", "hua", "lu"]: tone marks dropped, ü written u, apostrophes as separators."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", pinyin) if not unicodedata.combining(c))
    return [s for s in re.split(r"[\s'’-]+", plain.lower().replace("v", "u")) if s]


def check_name(name: str, pinyin: str) -> tuple[str, str]:
    """The name's key and its pinyin key (syllables joined). The pinyin is given syllable by syllable, one per
    Chinese character, so that search by initials needs no dictionary."""
    key = name_key(name)
    if not key:
        raise RuleBroken("name-empty", "name", "the name is empty")
    syllables = pinyin_syllables(pinyin)
    if not syllables or not all(_SYLLABLE.match(s) for s in syllables):
        raise RuleBroken("pinyin-not-valid", "pinyin", "pinyin is Latin letters, one syllable per character")
    han = len(_HAN.findall(key))
    if han and len(syllables) != han:
        raise RuleBroken(
            "pinyin-does-not-match-name",
            "pinyin",
            f"the name has {han} characters but the pinyin {len(syllables)} syllables (one per character)",
        )
    return key, "".join(syllables)


def initials(pinyin: str) -> str:
    return "".join(s[0] for s in pinyin_syllables(pinyin))


def search_grams(name: str) -> set[str]:
    """Every character and every pair of neighbouring characters of a name's key: what the search index holds.
    A Chinese name is found by any part of it, and most searches are one or two characters, too short for the
    trigram indexes databases offer."""
    key = name_key(name).lower()
    return set(key) | {key[i : i + 2] for i in range(len(key) - 1)}


def query_grams(text: str) -> set[str]:
    """The grams a name must all hold to contain ``text``: its pairs, or the one character of a one-character
    query. Holding them all does not yet mean containing the text in order; the caller checks that too."""
    key = name_key(text).lower()
    return {key} if len(key) == 1 else {key[i : i + 2] for i in range(len(key) - 1)}


def prefix_bounds(prefix: str) -> tuple[str, str]:
    """The range [low, high) of strings that start with ``prefix``: an index range any database can use, where
    ``LIKE 'prefix%'`` uses one only under some collations."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def check_not_standard_already(name: str, region_code: str, holder: str | None) -> None:
    """No two standard names alike in one county-level division (地名不重名). ``holder`` is the code of the place
    that bears the name there now, if any."""
    if holder is not None:
        raise RuleBroken(
            "name-already-standard",
            "name",
            f"{name} is already a standard name in division {region_code} (place {holder}); names must not repeat",
        )


def check_not_protected(name: str, protected: bool) -> None:
    if protected:
        raise RuleBroken(
            "protected-historical-name",
            "place_code",
            f"{name} is on the historical place-name protection list: it is not renamed or cancelled",
        )


# ---- the naming workflow ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticePeriod:
    first_day: date
    last_day: date  # objections are received on this day too


def notice_period(starts: date, days: int) -> NoticePeriod:
    if days < 1:
        raise ValueError("a notice period lasts at least one day")
    return NoticePeriod(starts, starts + timedelta(days=days - 1))


def check_status(status: CaseStatus, allowed: Sequence[CaseStatus], doing: str) -> None:
    if status not in allowed:
        raise RuleBroken(
            "case-not-in-that-step", "status", f"cannot {doing}: the case is {status}, not {' or '.join(allowed)}"
        )


def check_notice_may_start(status: CaseStatus, opinions: int, required: int) -> None:
    check_status(status, [CaseStatus.PROPOSED], "start the public notice")
    if opinions < required:
        raise RuleBroken(
            "expert-review-incomplete",
            "opinions",
            f"{opinions} expert opinion(s) recorded; the public notice needs at least {required}",
        )


def check_objection_allowed(status: CaseStatus, period: NoticePeriod | None, today: date) -> None:
    """Anyone may object while the notice runs, up to and including its last day."""
    if status is CaseStatus.PROPOSED or period is None or today < period.first_day:
        raise RuleBroken("not-in-public-notice", "case_id", "the proposal is not on public notice yet")
    if status is not CaseStatus.IN_NOTICE or today > period.last_day:
        raise RuleBroken(
            "public-notice-over", "case_id", f"the public notice ended on {period.last_day}; objections are closed"
        )


def notice_over(status: CaseStatus, period: NoticePeriod | None, today: date) -> bool:
    return status is CaseStatus.IN_NOTICE and period is not None and today > period.last_day


def check_decision_allowed(status: CaseStatus, period: NoticePeriod | None, today: date) -> None:
    """No decision, and so no publication, before the public notice is over."""
    if status is CaseStatus.IN_NOTICE and period is not None and today <= period.last_day:
        raise RuleBroken(
            "public-notice-not-over",
            "decision",
            f"the public notice runs until {period.last_day}; no decision or publication before it ends",
        )
    check_status(status, [CaseStatus.IN_NOTICE, CaseStatus.AWAITING_DECISION], "decide")


def check_reasons(approved: bool, reasons: str, open_objections: int) -> None:
    if not approved and not reasons.strip():
        raise RuleBroken("reasons-required", "reasons", "a rejection states its reasons")
    if approved and open_objections and not reasons.strip():
        raise RuleBroken(
            "objections-unanswered",
            "reasons",
            f"{open_objections} objection(s) were received: an approval answers them in its reasons",
        )


def effective_date(today: date, requested: date | None) -> date:
    if requested is None:
        return today
    if requested < today:
        raise RuleBroken("effective-date-in-the-past", "effective_on", "a decision cannot take effect in the past")
    return requested


def due(status: CaseStatus, effective_on: date | None, today: date) -> bool:
    """Whether an approved case takes effect now (the deadline job asks; asking twice changes nothing)."""
    return status is CaseStatus.APPROVED and effective_on is not None and effective_on <= today


# ---- administrative divisions -----------------------------------------------------------------------------------


class Level(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"  # 乡镇、街道
    COMMUNITY = "community"  # 社区、村


LEVELS = list(Level)


@dataclass(frozen=True)
class DivisionVersion:
    code: str
    name: str
    level: Level
    parent_code: str | None
    valid_from: date
    valid_until: date | None = None  # the first day it no longer holds

    def holds_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day < self.valid_until)


def as_of(versions: Iterable[DivisionVersion], day: date) -> dict[str, DivisionVersion]:
    return {v.code: v for v in versions if v.holds_on(day)}


@dataclass(frozen=True)
class Adjustment:
    """What changes on ``effective_on``: ``ends`` stop existing; ``versions`` are new divisions or new versions of
    existing ones (a rename or a move to another parent ends the old version of the same code)."""

    effective_on: date
    ends: Sequence[str]
    versions: Sequence[DivisionVersion]


@dataclass(frozen=True)
class AdjustmentPlan:
    closed: list[str]  # codes whose current version ends on the effective date
    opened: list[DivisionVersion]


def plan_adjustment(all_versions: Sequence[DivisionVersion], adj: Adjustment) -> AdjustmentPlan:
    """Check an adjustment against the tree as it stands on its date, and say which versions close and open."""
    day = adj.effective_on
    latest = max((v.valid_from for v in all_versions), default=date.min)
    if day < latest:
        raise RuleBroken(
            "adjustments-out-of-order", "effective_on", f"an adjustment from {latest} is recorded: adjust after it"
        )
    tree = as_of(all_versions, day)
    if not adj.ends and not adj.versions:
        raise RuleBroken("adjustment-empty", "versions", "an adjustment ends or establishes at least one division")
    for i, code in enumerate(adj.ends):
        if code not in tree:
            raise RuleBroken("unknown-division", f"ends.{i}", f"division {code} does not exist on {day}")
    new_codes = [v.code for v in adj.versions]
    if len(set(new_codes)) != len(new_codes) or set(new_codes) & set(adj.ends):
        raise RuleBroken("division-twice", "versions", "a code appears twice in one adjustment")
    after = {c: v for c, v in tree.items() if c not in adj.ends}
    after.update({v.code: replace(v, valid_from=day, valid_until=None) for v in adj.versions})
    for i, v in enumerate(adj.versions):
        parent = after.get(v.parent_code) if v.parent_code else None
        if v.parent_code and parent is None:
            raise RuleBroken("unknown-parent", f"versions.{i}.parent_code", f"{v.parent_code} does not exist on {day}")
        expected = LEVELS[LEVELS.index(parent.level) + 1] if parent and parent.level is not Level.COMMUNITY else None
        if (parent is None and v.level is not Level.PROVINCE) or (parent is not None and v.level is not expected):
            raise RuleBroken(
                "wrong-level",
                f"versions.{i}.level",
                f"a {v.level} cannot sit under {parent.level if parent else 'nothing'}",
            )
    orphans = sorted(c for c, v in after.items() if v.parent_code is not None and v.parent_code not in after)
    if orphans:
        raise RuleBroken(
            "orphaned-divisions",
            "ends",
            f"divisions under an ended one need a new parent or an end: {', '.join(orphans)}",
        )
    closed = [c for c in [*adj.ends, *new_codes] if c in tree]
    return AdjustmentPlan(closed=closed, opened=[after[c] for c in new_codes])


def division_prefix(code: str) -> str:
    """The prefix shared by a division's codes and those of everything under it: 370000 → 37, 371000 → 3710."""
    if len(code) == 6:
        if code.endswith("0000"):
            return code[:2]
        if code.endswith("00"):
            return code[:4]
    return code


def path_to_root(tree: Mapping[str, DivisionVersion], code: str) -> list[DivisionVersion]:
    """The division and its ancestors, the province first."""
    chain: list[DivisionVersion] = []
    current = tree.get(code)
    while current is not None and len(chain) < len(LEVELS):
        chain.append(current)
        current = tree.get(current.parent_code) if current.parent_code else None
    return list(reversed(chain))


# ---- door plates ------------------------------------------------------------------------------------------------


class Side(StrEnum):
    ODD = "odd"  # conventionally the left side walking away from the road's start
    EVEN = "even"


def side_of(number: int) -> Side:
    return Side.ODD if number % 2 else Side.EVEN


def check_number(number: int, side: Side | None) -> None:
    if number < 1:
        raise RuleBroken("door-number-not-valid", "number", "door numbers start at 1")
    if side is not None and side_of(number) is not side:
        raise RuleBroken("door-number-wrong-side", "number", f"{number} is not on the {side} side")


def next_number(taken: Iterable[int], side: Side) -> int:
    """The next number along one side of the road: after the highest on that side (numbers grow along the road)."""
    on_side = [n for n in taken if side_of(n) is side]
    if not on_side:
        return 1 if side is Side.ODD else 2
    return max(on_side) + 2


def check_road_may_carry_plates(kind: str, status: str) -> None:
    if kind not in ROAD_KINDS:
        raise RuleBroken(
            "not-a-road", "road_code", f"door plates are numbered along roads, streets and lanes, not a {kind}"
        )
    if status != "standard":
        raise RuleBroken("road-not-standard", "road_code", "door plates hang on a road with a standard name in force")


def address_of(road_name: str, number: int, suffix: str = "") -> str:
    """新华路12号, 新华路12-1号 (a plate inserted later between two numbers)."""
    return f"{road_name}{number}{'-' + suffix if suffix else ''}号"


def certificate_number(region_code: str, year: int, sequence: int) -> str:
    return f"{region_code}{year}{sequence:06d}"
