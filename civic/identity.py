"""Resident identity numbers (居民身份证号, GB 11643-1999): validation, masking and keyed pseudonyms."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_MAP = "10X98765432"
_PROVINCES = frozenset(
    {
        11,
        12,
        13,
        14,
        15,
        21,
        22,
        23,
        31,
        32,
        33,
        34,
        35,
        36,
        37,
        41,
        42,
        43,
        44,
        45,
        46,
        50,
        51,
        52,
        53,
        54,
        61,
        62,
        63,
        64,
        65,
        71,
        81,
        82,
        91,
    }
)
_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
RESIDENT_ID_PATTERN = re.compile(r"(?<![0-9A-Za-z])([0-9]{6})[0-9]{8}([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")


class InvalidResidentId(ValueError):
    pass


def check_character(first17: str) -> str:
    return _CHECK_MAP[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def validate_resident_id(value: str, *, today: date | None = None) -> str:
    rid = value.strip().upper()
    if len(rid) != 18:
        raise InvalidResidentId("must be 18 characters")
    if not _SHAPE.match(rid):
        raise InvalidResidentId("must be 17 digits and a final digit or X")
    if int(rid[:2]) not in _PROVINCES:
        raise InvalidResidentId("region code is not valid")
    try:
        born = date(int(rid[6:10]), int(rid[10:12]), int(rid[12:14]))
    except ValueError:
        raise InvalidResidentId("birth date is not a real date") from None
    if born > (today or date.today()):
        raise InvalidResidentId("birth date is in the future")
    if born < date(1900, 1, 1):
        raise InvalidResidentId("birth date is before 1900")
    if check_character(rid[:17]) != rid[17]:
        raise InvalidResidentId("check character does not match")
    return rid


def birth_date(rid: str) -> date:
    return date(int(rid[6:10]), int(rid[10:12]), int(rid[12:14]))


def sex(rid: str) -> Literal["male", "female"]:
    return "male" if int(rid[16]) % 2 else "female"


def age_on(rid: str, on: date) -> int:
    born = birth_date(rid)
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def mask(rid: str) -> str:
    """``330683********1234``: region and the last four stay, so a caseworker can tell people apart."""
    if len(rid) == 18:
        return f"{rid[:6]}{'*' * 8}{rid[14:]}"
    if len(rid) < 6:
        return "*" * len(rid)
    return rid[:2] + "*" * (len(rid) - 4) + rid[-2:]


def mask_in_text(text: str) -> str:
    if len(text) < 18:
        return text
    return RESIDENT_ID_PATTERN.sub(lambda m: f"{m[1]}{'*' * 8}{m[2]}", text)


def pseudonym(rid: str, key: bytes) -> str:
    """A keyed, stable stand-in for a resident ID (Kafka keys, ``ce_subject``): not reversible without the key."""
    return hmac.new(key, rid.strip().upper().encode(), hashlib.sha256).hexdigest()[:32]


def _pydantic_validate(value: str) -> str:
    try:
        return validate_resident_id(value)
    except InvalidResidentId as exc:
        raise PydanticCustomError("resident_id", "invalid resident ID: {reason}", {"reason": str(exc)}) from None


def _require_str(value: object) -> object:
    if not isinstance(value, str):
        raise PydanticCustomError("resident_id", "invalid resident ID: must be a string")
    return value


ResidentId = Annotated[
    str,
    BeforeValidator(_require_str),
    AfterValidator(_pydantic_validate),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9]{17}[0-9X]$",
            "description": "resident identity number (GB 11643-1999), 18 characters with check character",
        }
    ),
]
