"""Money: Decimal yuan with two places, integer fen, never floats."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from civic.money import LIMIT, InvalidAmount, Yuan, from_fen, round_yuan, to_fen, yuan

MAX_FEN = 10**12 - 1  # just under LIMIT yuan


class Payment(BaseModel):
    monthly_amount: Yuan


# --- yuan() -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("690", "690.00"),
        ("690.5", "690.50"),
        ("690.50", "690.50"),
        (" 690.50 ", "690.50"),
        ("690.500", "690.50"),  # trailing zeros are still two places
        ("+1", "1.00"),
        ("-12.34", "-12.34"),
        ("0", "0.00"),
        (690, "690.00"),
        (-3, "-3.00"),
        (Decimal("0.1"), "0.10"),
        (Decimal("1E+2"), "100.00"),
        ("9999999999.99", "9999999999.99"),
    ],
)
def test_yuan_accepts(value: str | int | Decimal, expected: str) -> None:
    got = yuan(value)
    assert got == Decimal(expected)
    assert str(got) == expected  # always exactly two places


def test_yuan_rejects_floats() -> None:
    with pytest.raises(TypeError, match="not a float"):
        yuan(12.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        yuan(True)


@pytest.mark.parametrize("value", ["1.234", "0.001", Decimal("1.005"), Decimal("0.10000001")])
def test_yuan_rejects_more_than_two_decimals_rather_than_rounding(value: str | Decimal) -> None:
    with pytest.raises(InvalidAmount, match="more than two decimal places"):
        yuan(value)


@pytest.mark.parametrize("value", ["", "abc", "1e3", "1_000", "NaN", "Infinity", ".5", "5.", "1,000.00", "¥5"])
def test_yuan_rejects_text_that_is_not_plain_decimal(value: str) -> None:
    with pytest.raises(InvalidAmount):
        yuan(value)


@pytest.mark.parametrize("value", ["10000000000", "-10000000000", 10**10, Decimal("1e30"), Decimal("-1e400")])
def test_yuan_rejects_out_of_range(value: str | int | Decimal) -> None:
    with pytest.raises(InvalidAmount, match="out of range"):
        yuan(value)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_yuan_rejects_non_finite_decimals(value: Decimal) -> None:
    with pytest.raises(InvalidAmount, match="finite"):
        yuan(value)


def test_negative_zero_is_plain_zero() -> None:
    assert str(yuan("-0")) == "0.00"
    assert str(yuan(Decimal("-0.00"))) == "0.00"
    assert Payment(monthly_amount="-0.00").model_dump_json() == '{"monthly_amount":"0.00"}'


# --- fen ----------------------------------------------------------------------------------------------------------


def test_fen_conversions() -> None:
    assert to_fen(Decimal("690.50")) == 69050
    assert to_fen(Decimal("0.01")) == 1
    assert to_fen(Decimal("-0.01")) == -1
    assert from_fen(69050) == Decimal("690.50")
    assert str(from_fen(7)) == "0.07"
    assert str(from_fen(0)) == "0.00"
    assert str(from_fen(-1)) == "-0.01"


def test_to_fen_refuses_to_truncate() -> None:
    with pytest.raises(InvalidAmount):
        to_fen(Decimal("1.005"))


def test_fen_must_be_an_integer() -> None:
    with pytest.raises(TypeError):
        from_fen(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        from_fen(True)
    with pytest.raises(InvalidAmount):
        from_fen(10**12)


@given(st.integers(-MAX_FEN, MAX_FEN))
def test_property_fen_round_trip(fen: int) -> None:
    y = from_fen(fen)
    assert y.as_tuple().exponent == -2
    assert to_fen(y) == fen
    assert yuan(str(y)) == y


@given(st.decimals(min_value=-LIMIT + 1, max_value=LIMIT - 1, places=2, allow_nan=False, allow_infinity=False))
def test_property_yuan_round_trip_through_fen_and_json(amount: Decimal) -> None:
    assert from_fen(to_fen(amount)) == amount
    dumped = Payment(monthly_amount=amount).model_dump_json()
    assert Payment.model_validate_json(dumped).monthly_amount == amount


# --- round_yuan ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.005", "1.01"),  # half up, where banker's rounding would give 1.00
        ("1.015", "1.02"),
        ("1.0049999", "1.00"),
        ("2.5", "2.50"),
        ("-1.005", "-1.01"),  # halves go away from zero
        ("-0.004", "0.00"),  # and never "-0.00"
        ("3", "3.00"),
    ],
)
def test_round_yuan_half_up(value: str, expected: str) -> None:
    got = round_yuan(Decimal(value))
    assert str(got) == expected


def test_round_yuan_for_a_computed_benefit() -> None:
    # (standard − income) × members / days: a partial month of a household's 低保 top-up.
    standard, income, members, days = yuan("1010.00"), yuan("433.33"), 3, 31
    daily = (standard - income) * members / days
    assert round_yuan(daily) == Decimal("55.81")
    assert round_yuan(daily * 17) == Decimal("948.72")


def test_round_yuan_rejects_floats() -> None:
    with pytest.raises(TypeError, match="not a float"):
        round_yuan(1.005)  # type: ignore[arg-type]


# --- the pydantic field type --------------------------------------------------------------------------------------


def test_field_accepts_strings_and_integers() -> None:
    assert Payment(monthly_amount="690.5").monthly_amount == Decimal("690.50")
    assert Payment(monthly_amount=690).monthly_amount == Decimal("690.00")
    assert Payment.model_validate_json('{"monthly_amount": "690.5"}').monthly_amount == Decimal("690.50")
    assert Payment.model_validate_json('{"monthly_amount": 690}').monthly_amount == Decimal("690.00")


def test_field_rejects_python_floats() -> None:
    with pytest.raises(ValidationError) as info:
        Payment(monthly_amount=690.5)
    [error] = info.value.errors()
    assert error["loc"] == ("monthly_amount",)
    assert error["msg"] == "money must be given as a string or integer, not a float"


@pytest.mark.parametrize("number", ["690.5", "690.0", "12.3400000000000000001"])
def test_field_rejects_fractional_json_numbers(number: str) -> None:
    # pydantic hands JSON fractions over as floats, already rounded (the last one would become 12.34).
    with pytest.raises(ValidationError) as info:
        Payment.model_validate_json(f'{{"monthly_amount": {number}}}')
    assert "not a float" in info.value.errors()[0]["msg"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.234", "more than two decimal places"),
        ("99999999999", "out of range"),
        ("lots", 'written like "690"'),
        (True, "not bool"),
        (None, "not NoneType"),
    ],
)
def test_field_errors_are_at_the_field(value: object, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        Payment.model_validate({"monthly_amount": value})
    [error] = info.value.errors()
    assert error["loc"] == ("monthly_amount",)
    assert message in error["msg"]


def test_field_serialises_as_a_two_decimal_string_in_json_only() -> None:
    p = Payment(monthly_amount="123.4")
    assert p.model_dump_json() == '{"monthly_amount":"123.40"}'
    assert json.loads(p.model_dump_json())["monthly_amount"] == "123.40"
    assert p.model_dump() == {"monthly_amount": Decimal("123.40")}
    assert p.model_dump(mode="json") == {"monthly_amount": "123.40"}
    assert Payment(monthly_amount="-5").model_dump_json() == '{"monthly_amount":"-5.00"}'


def test_field_json_schema_is_a_string_with_a_pattern() -> None:
    for mode in ("validation", "serialization"):
        schema = Payment.model_json_schema(mode=mode)["properties"]["monthly_amount"]
        assert schema["type"] == "string"
        assert schema["pattern"]
        assert schema["description"]
    out = Payment.model_json_schema(mode="serialization")["properties"]["monthly_amount"]
    assert out["pattern"] == r"^-?[0-9]+\.[0-9]{2}$"
