"""Money as Decimal yuan with two places (or integer fen). Never floats.

Amounts come in as strings ("690.00") or integers and go out in JSON as strings with exactly two decimals.
A value with more than two decimals is rejected, not rounded: silently dropping fen from an input hides a bug
upstream. Computed amounts (a standard minus income, split over days) are rounded explicitly with :func:`round_yuan`.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = ["CENT", "LIMIT", "InvalidAmount", "Yuan", "from_fen", "round_yuan", "to_fen", "yuan"]

CENT = Decimal("0.01")
LIMIT = Decimal(10) ** 10
"""Amounts must lie strictly between -LIMIT and LIMIT yuan: far above any benefit, far below Decimal's precision."""

FLOAT_MESSAGE = "money must be given as a string or integer, not a float"
# Plain decimal notation only: Decimal() would also take "1e3", "1_000", "NaN" and "Infinity".
_TEXT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


class InvalidAmount(ValueError):
    """An amount that is not a valid yuan value; ``str(exc)`` says why."""


def _checked(d: Decimal) -> Decimal:
    # Range first: quantize() raises InvalidOperation once the result would exceed the context precision.
    if not d.is_finite():
        raise InvalidAmount("amount must be a finite number")
    if abs(d) >= LIMIT:
        raise InvalidAmount("amount is out of range (must be below 10000000000 yuan)")
    q = d.quantize(CENT)
    if q != d:
        raise InvalidAmount("amount has more than two decimal places")
    # "+ 0" turns -0.00 into 0.00, which would otherwise serialise as "-0.00".
    return q + 0


def yuan(value: str | int | Decimal) -> Decimal:
    """Parse an amount into Decimal yuan with exactly two places; floats are a ``TypeError``."""
    if isinstance(value, float):
        raise TypeError(FLOAT_MESSAGE)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise TypeError(f"money must be given as a string or integer, not {type(value).__name__}")
    if isinstance(value, str):
        text = value.strip()
        if not _TEXT.fullmatch(text):
            raise InvalidAmount('amount must be written like "690" or "690.50"')
        return _checked(Decimal(text))
    return _checked(Decimal(value))


def to_fen(y: Decimal) -> int:
    """Yuan to integer fen (分), exactly; more than two decimals is an error, not a rounding."""
    return int(yuan(y).scaleb(2))


def from_fen(f: int) -> Decimal:
    """Integer fen to Decimal yuan with two places."""
    if isinstance(f, bool) or not isinstance(f, int):
        raise TypeError(f"fen must be an integer, not {type(f).__name__}")
    return _checked(Decimal(f).scaleb(-2))


def round_yuan(d: Decimal) -> Decimal:
    """Round a computed amount to fen, halves away from zero (ROUND_HALF_UP): 1.005 → 1.01, -1.005 → -1.01."""
    if isinstance(d, float):
        raise TypeError(FLOAT_MESSAGE)
    if not isinstance(d, Decimal | int) or isinstance(d, bool):
        raise TypeError(f"amount must be a Decimal, not {type(d).__name__}")
    return Decimal(d).quantize(CENT, rounding=ROUND_HALF_UP) + 0


def _parse(value: object) -> Decimal:
    # JSON numbers with a fraction reach us as Python floats already (pydantic parses them lossily, so 12.3400000001
    # would arrive as 12.34); the only safe answer is to insist on strings for fractional amounts.
    if isinstance(value, float):
        raise PydanticCustomError("money_float", FLOAT_MESSAGE)
    try:
        return yuan(value)  # type: ignore[arg-type]  # yuan() rejects other types itself
    except (TypeError, ValueError) as exc:
        raise PydanticCustomError("money", "{reason}", {"reason": str(exc)}) from None


def _to_json(d: Decimal) -> str:
    return f"{d:.2f}"


Yuan = Annotated[
    Decimal,
    BeforeValidator(_parse),
    PlainSerializer(_to_json, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[+-]?[0-9]+(\.[0-9]{1,2})?$",
            "description": 'Yuan as a decimal string with at most two decimals, e.g. "690.50".',
            "examples": ["690.00"],
        },
        mode="validation",
    ),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?[0-9]+\.[0-9]{2}$",
            "description": 'Yuan as a decimal string with exactly two decimals, e.g. "690.50".',
            "examples": ["690.00"],
        },
        mode="serialization",
    ),
]
"""Decimal yuan as a pydantic field: strings or integers in, "123.40" out in JSON."""
