"""Resident identity numbers (居民身份证号, GB 11643-1999): validation, masking and keyed pseudonyms.

An ID is 6 digits of region, 8 of birth date (YYYYMMDD), 3 of sequence (odd = male) and an ISO 7064 MOD 11-2 check
character. Nothing here ever puts a whole ID into an exception message: messages end up in logs and 4xx bodies.
"""

from __future__ import annotations

import functools
import hashlib
import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = [
    "RESIDENT_ID_PATTERN",
    "InvalidResidentId",
    "ResidentId",
    "age_on",
    "birth_date",
    "check_character",
    "mask",
    "mask_in_text",
    "pseudonym",
    "sex",
    "validate_resident_id",
]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_MAP = "10X98765432"
# Province-level prefixes (GB/T 2260), plus 71/81/82 (Taiwan, Hong Kong, Macao: residence permits carry them) and 91.
_PROVINCES = frozenset(
    [*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55), *range(61, 66), 71, 81, 82, 91]
)
_EARLIEST_BIRTH = date(1900, 1, 1)
# ASCII only: str.isdigit() and \d also accept fullwidth and other Unicode digits, which int() would then accept too.
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")

RESIDENT_ID_PATTERN = re.compile(r"(?<![0-9])([0-9]{6})[0-9]{8}([0-9]{3}[0-9Xx])(?![0-9])")
"""Anything shaped like an ID inside free text; deliberately ignores region, date and check character.

IDs that fail validation are exactly the ones error logs mention, so a looser match keeps them out of logs too.
Only digits count as a boundary, so 16-digit card numbers and 19-digit snowflake ids are left alone.
"""


class InvalidResidentId(ValueError):
    """A resident ID failed validation; ``str(exc)`` is a short reason safe to show and log."""


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise InvalidResidentId("check character needs exactly 17 digits")
    return _CHECK_MAP[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def _normalise(value: str) -> str:
    return value.strip().upper()


def _shaped(value: str) -> str:
    rid = _normalise(value)
    if len(rid) != 18:
        raise InvalidResidentId("must be 18 characters")
    if not _SHAPE.fullmatch(rid):
        raise InvalidResidentId("must be 17 digits followed by a digit or X")
    return rid


def _birth_date(rid: str) -> date:
    try:
        return date(int(rid[6:10]), int(rid[10:12]), int(rid[12:14]))
    except ValueError:
        raise InvalidResidentId("birth date is not a real date") from None


def validate_resident_id(value: str, *, today: date | None = None) -> str:
    """Return the normalised ID (stripped, upper-case X) or raise :class:`InvalidResidentId` saying why."""
    if not isinstance(value, str):
        raise InvalidResidentId("must be a string")
    rid = _shaped(value)
    if int(rid[:2]) not in _PROVINCES:
        raise InvalidResidentId("region code is not valid")
    born = _birth_date(rid)
    if born > (today or date.today()):
        raise InvalidResidentId("birth date is in the future")
    if born < _EARLIEST_BIRTH:
        raise InvalidResidentId("birth date is before 1900")
    if check_character(rid[:17]) != rid[17]:
        raise InvalidResidentId("check character does not match")
    return rid


def birth_date(rid: str) -> date:
    """Date of birth encoded in the ID (the ID is not otherwise validated)."""
    return _birth_date(_shaped(rid))


def sex(rid: str) -> Literal["male", "female"]:
    """Sex recorded in the ID: the 17th digit (last of the sequence) is odd for men."""
    return "male" if int(_shaped(rid)[16]) % 2 else "female"


def age_on(rid: str, on: date) -> int:
    """Age in whole years on ``on``; someone born on 29 February turns a year older on 1 March in common years."""
    born = birth_date(rid)
    if on < born:
        raise ValueError("date is before the birth date")
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def mask(rid: str) -> str:
    """``330683********1234``: region and last four stay so a caseworker can tell people apart.

    Never raises; anything that is not ID-shaped keeps only its first and last two characters (or nothing if short).
    """
    candidate = _normalise(rid)
    if len(candidate) == 18 and _SHAPE.fullmatch(candidate):
        return f"{candidate[:6]}{'*' * 8}{candidate[14:]}"
    if len(rid) < 6:
        return "*" * len(rid)
    return rid[:2] + "*" * (len(rid) - 4) + rid[-2:]


def _mask_match(m: re.Match[str]) -> str:
    return f"{m[1]}{'*' * 8}{m[2]}"


def mask_in_text(text: str) -> str:
    """Mask every ID-shaped run of characters in ``text`` (used by the logging filter on every record)."""
    # Most log lines carry no ID at all; skipping the regex for short lines keeps the filter cheap.
    if len(text) < 18:
        return text
    return RESIDENT_ID_PATTERN.sub(_mask_match, text)


def pseudonym(rid: str, key: bytes) -> str:
    """A keyed, stable stand-in for an ID (Kafka keys, ``ce_subject``): HMAC-SHA256, first 128 bits in hex.

    Keyed rather than a plain hash because the ID space is small enough to enumerate.
    """
    inner, outer = _keyed(key)
    mac = inner.copy()
    mac.update(_normalise(rid).encode())
    done = outer.copy()
    done.update(mac.digest())
    return done.hexdigest()[:32]


@functools.lru_cache(maxsize=8)
def _keyed(key: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    """HMAC-SHA256 (RFC 2104) with its key already absorbed: the inner and outer hashes of the padded key.
    Copying two hashlib objects costs 40% of copying an ``hmac.HMAC`` (a Python object around them) and every
    event is keyed; ``tests/unit/test_identity.py`` checks the result against ``hmac``'s."""
    if not key:
        raise ValueError("pseudonym key must not be empty")
    block = 64  # SHA-256's block size: a longer key is hashed first
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    return hashlib.sha256(bytes(b ^ 0x36 for b in padded)), hashlib.sha256(bytes(b ^ 0x5C for b in padded))


def _require_str(value: object) -> object:
    # Without this pydantic would turn bytes into str before our check and report a generic type error for ints.
    if not isinstance(value, str):
        raise PydanticCustomError("resident_id", "invalid resident ID: must be a string")
    return value


def _pydantic_validate(value: str) -> str:
    try:
        return validate_resident_id(value)
    except InvalidResidentId as exc:
        raise PydanticCustomError("resident_id", "invalid resident ID: {reason}", {"reason": str(exc)}) from None


ResidentId = Annotated[
    str,
    BeforeValidator(_require_str),
    AfterValidator(_pydantic_validate),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9]{17}[0-9X]$",
            "minLength": 18,
            "maxLength": 18,
            "description": "Resident identity number (居民身份证号, GB 11643-1999): 17 digits and a check character.",
            "examples": ["11010519491231002X"],
        }
    ),
]
"""A validated, normalised resident ID as a pydantic field type."""
