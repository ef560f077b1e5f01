"""Money as Decimal yuan with two places, or integer fen. Never floats."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

CENT = Decimal("0.01")
LIMIT = Decimal(10) ** 10


def yuan(value: str | int | Decimal) -> Decimal:
    if isinstance(value, float):
        raise TypeError("money must be given as a string or integer, not a float")
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if not d.is_finite():
        raise ValueError("amount must be finite")
    if d != d.quantize(CENT):
        raise ValueError("at most two decimal places (fen)")
    if abs(d) >= LIMIT:
        raise ValueError("amount out of range")
    return d.quantize(CENT)


def to_fen(y: Decimal) -> int:
    return int(yuan(y) * 100)


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(CENT)


def round_yuan(d: Decimal) -> Decimal:
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


def _parse(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise PydanticCustomError("money", 'money must be given as a string like "12.50" or an integer')
    try:
        return yuan(value)
    except (TypeError, ValueError) as exc:
        raise PydanticCustomError("money", "{reason}", {"reason": str(exc)}) from None


Yuan = Annotated[
    Decimal,
    BeforeValidator(_parse),
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "description": "yuan, two decimals"}),
]
