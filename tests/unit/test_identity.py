"""Resident identity numbers: the GB 11643 rules, masking, pseudonyms and the pydantic field type."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from civic.identity import (
    RESIDENT_ID_PATTERN,
    InvalidResidentId,
    ResidentId,
    age_on,
    birth_date,
    check_character,
    mask,
    mask_in_text,
    pseudonym,
    sex,
    validate_resident_id,
)

TODAY = date(2026, 6, 1)
# The worked examples printed in GB 11643-1999 itself.
STANDARD_SAMPLE = "11010519491231002X"
STANDARD_SAMPLE_1880 = "440524188001010014"
PROVINCES = [11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46]
PROVINCES += [50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 91]


def make_id(region: str = "330683", born: date = date(1985, 7, 14), seq: int = 123) -> str:
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + check_character(first17)


def reason(value: str, today: date | None = TODAY) -> str:
    with pytest.raises(InvalidResidentId) as info:
        validate_resident_id(value, today=today)
    return str(info.value)


# --- the check character and validation ---------------------------------------------------------------------------


def test_check_character_matches_the_standards_worked_examples() -> None:
    assert check_character(STANDARD_SAMPLE[:17]) == "X"
    assert check_character(STANDARD_SAMPLE_1880[:17]) == "4"


def test_check_character_wants_17_digits() -> None:
    with pytest.raises(InvalidResidentId):
        check_character("1101051949123100")
    with pytest.raises(InvalidResidentId):
        check_character("1101051949123100２")  # fullwidth digit


def test_the_standard_sample_is_valid_and_decodes() -> None:
    assert validate_resident_id(STANDARD_SAMPLE, today=TODAY) == STANDARD_SAMPLE
    assert birth_date(STANDARD_SAMPLE) == date(1949, 12, 31)
    assert sex(STANDARD_SAMPLE) == "female"


def test_normalises_whitespace_and_lowercase_x() -> None:
    assert validate_resident_id("  11010519491231002x\n", today=TODAY) == STANDARD_SAMPLE


def test_sex_comes_from_the_seventeenth_digit() -> None:
    assert sex(make_id(seq=123)) == "male"
    assert sex(make_id(seq=124)) == "female"
    assert sex(make_id(seq=0)) == "female"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "must be 18 characters"),
        ("11010519491231002", "must be 18 characters"),
        ("11010519491231002X0", "must be 18 characters"),
        ("1101051949123100ZX", "must be 17 digits followed by a digit or X"),
        ("X10105194912310021", "must be 17 digits followed by a digit or X"),
        ("１１０１０５１９４９１２３１００２Ｘ", "must be 17 digits followed by a digit or X"),  # fullwidth
    ],
)
def test_rejects_malformed(value: str, why: str) -> None:
    assert reason(value) == why


@pytest.mark.parametrize("region", ["000000", "100000", "160101", "200101", "380101", "470101", "720101", "990101"])
def test_rejects_unknown_province(region: str) -> None:
    assert reason(make_id(region=region)) == "region code is not valid"


@pytest.mark.parametrize("region", ["710000", "810000", "820000", "910000", "110000"])
def test_accepts_every_listed_province_prefix_even_without_city_and_county(region: str) -> None:
    assert validate_resident_id(make_id(region=region), today=TODAY)


@pytest.mark.parametrize("yyyymmdd", ["19900230", "19900431", "19901301", "19900001", "19900100", "19000229"])
def test_rejects_impossible_birth_dates(yyyymmdd: str) -> None:
    first17 = f"330683{yyyymmdd}123"
    assert reason(first17 + check_character(first17)) == "birth date is not a real date"


def test_accepts_leap_day() -> None:
    assert birth_date(validate_resident_id(make_id(born=date(2000, 2, 29)), today=TODAY)) == date(2000, 2, 29)


def test_rejects_birth_date_after_today_but_accepts_today() -> None:
    assert reason(make_id(born=TODAY + timedelta(days=1))) == "birth date is in the future"
    assert validate_resident_id(make_id(born=TODAY), today=TODAY)


def test_today_defaults_to_the_real_today() -> None:
    assert reason(make_id(born=date.today() + timedelta(days=1)), today=None) == "birth date is in the future"


def test_rejects_birth_before_1900() -> None:
    assert reason(STANDARD_SAMPLE_1880) == "birth date is before 1900"
    assert validate_resident_id(make_id(born=date(1900, 1, 1)), today=TODAY)


def test_rejects_wrong_check_character() -> None:
    assert reason(STANDARD_SAMPLE[:17] + "1") == "check character does not match"


def test_rejects_non_strings() -> None:
    with pytest.raises(InvalidResidentId, match="must be a string"):
        validate_resident_id(110105194912310020)  # type: ignore[arg-type]


def test_error_messages_never_carry_the_id() -> None:
    bad = STANDARD_SAMPLE[:17] + "1"
    with pytest.raises(InvalidResidentId) as info:
        validate_resident_id(bad, today=TODAY)
    assert bad not in str(info.value)
    assert bad[:17] not in repr(info.value)


def test_age_in_whole_years() -> None:
    rid = make_id(born=date(1960, 5, 20))
    assert age_on(rid, date(2020, 5, 19)) == 59
    assert age_on(rid, date(2020, 5, 20)) == 60
    assert age_on(rid, date(1960, 5, 20)) == 0
    with pytest.raises(ValueError):
        age_on(rid, date(1960, 5, 19))


def test_age_of_a_leap_day_baby() -> None:
    rid = make_id(born=date(2000, 2, 29))
    assert age_on(rid, date(2001, 2, 28)) == 0
    assert age_on(rid, date(2001, 3, 1)) == 1
    assert age_on(rid, date(2004, 2, 29)) == 4


def test_decoders_reject_garbage_without_echoing_it() -> None:
    with pytest.raises(InvalidResidentId, match="18 characters"):
        birth_date("12345")
    with pytest.raises(InvalidResidentId, match="not a real date"):
        birth_date("330683199002301234")


# --- property: any well-formed ID validates, any other check character does not -----------------------------------

regions = st.builds(lambda p, rest: f"{p}{rest:04d}", st.sampled_from(PROVINCES), st.integers(0, 9999))
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
sequences = st.integers(0, 999)


@given(region=regions, born=births, seq=sequences)
def test_property_generated_ids_validate_and_decode(region: str, born: date, seq: int) -> None:
    rid = make_id(region, born, seq)
    assert validate_resident_id(rid.lower(), today=TODAY) == rid
    assert birth_date(rid) == born
    assert sex(rid) == ("male" if seq % 2 else "female")
    assert age_on(rid, TODAY) >= 0


@given(region=regions, born=births, seq=sequences)
def test_property_every_other_check_character_fails(region: str, born: date, seq: int) -> None:
    rid = make_id(region, born, seq)
    for wrong in "0123456789X":
        if wrong != rid[17]:
            assert reason(rid[:17] + wrong) == "check character does not match"


@given(region=regions, born=births, seq=sequences, position=st.integers(0, 16), delta=st.integers(1, 9))
def test_property_single_digit_errors_are_caught(region: str, born: date, seq: int, position: int, delta: int) -> None:
    # MOD 11-2 detects every single-digit substitution; other rules may fire first, but it must never pass.
    rid = make_id(region, born, seq)
    changed = rid[:position] + str((int(rid[position]) + delta) % 10) + rid[position + 1 :]
    with pytest.raises(InvalidResidentId):
        validate_resident_id(changed, today=TODAY)


# --- masking ------------------------------------------------------------------------------------------------------


def test_mask_keeps_region_and_last_four() -> None:
    assert mask("330683198507141234") == "330683********1234"
    assert mask(STANDARD_SAMPLE) == "110105********002X"
    assert mask(" 11010519491231002x ") == "110105********002X"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("", ""),
        ("12345", "*****"),
        ("123456", "12**56"),
        ("abcdefghijklmnopqr", "ab**************qr"),  # 18 characters but not ID-shaped
        ("1101051949123100", "11************00"),
        ("1101051949123100211", "11***************11"),
    ],
)
def test_mask_never_raises_and_hides_most_of_anything_else(value: str, masked: str) -> None:
    assert mask(value) == masked


@given(st.text())
def test_property_mask_never_raises_and_keeps_length(value: str) -> None:
    assert len(mask(value)) in (len(value), 18)


# --- masking inside text (the logging filter) ---------------------------------------------------------------------


def test_mask_in_text_finds_ids_in_a_url_and_in_json() -> None:
    other = make_id(seq=124)
    line = (
        f'GET /v1/residents/{STANDARD_SAMPLE.lower()}/cases?x=1 200 body={{"resident_id": "{other}", '
        f'"card": "6222021234567890", "snowflake": 1234567890123456789, "n": 12}}'
    )
    masked = mask_in_text(line)
    assert STANDARD_SAMPLE.lower() not in masked
    assert other not in masked
    assert "/v1/residents/110105********002x/cases" in masked
    assert f'"resident_id": "{mask(other)}"' in masked
    assert '"card": "6222021234567890"' in masked
    assert "1234567890123456789" in masked
    json.loads(masked.split("body=", 1)[1])


@pytest.mark.parametrize(
    "text",
    [
        "card 6222021234567890 paid",  # 16 digits
        "order 1234567890123456789 shipped",  # 19 digits
        "long 1101051949123100211X tail",  # an ID shape inside a longer run
        "short 11010519491231002",
        "",
    ],
)
def test_mask_in_text_leaves_other_digit_runs_alone(text: str) -> None:
    assert mask_in_text(text) == text


def test_mask_in_text_masks_adjacent_to_letters_and_chinese() -> None:
    assert mask_in_text(f"身份证号{STANDARD_SAMPLE}。") == "身份证号110105********002X。"
    assert mask_in_text(f"rid={STANDARD_SAMPLE}&x") == "rid=110105********002X&x"
    assert mask_in_text(f"ID{STANDARD_SAMPLE}") == "ID110105********002X"


def test_mask_in_text_masks_invalid_ids_too() -> None:
    # Error logs mention exactly the IDs that failed validation.
    assert mask_in_text("bad id 330683199002301230 rejected") == "bad id 330683********1230 rejected"


def test_pattern_matches_only_the_id() -> None:
    found = [m.group(0) for m in RESIDENT_ID_PATTERN.finditer(f"a {STANDARD_SAMPLE} b 6222021234567890 c")]
    assert found == [STANDARD_SAMPLE]


@given(prefix=st.text(), suffix=st.text(), region=regions, born=births, seq=sequences)
def test_property_mask_in_text_never_leaks_a_delimited_id(
    prefix: str, suffix: str, region: str, born: date, seq: int
) -> None:
    rid = make_id(region, born, seq)
    assert rid not in mask_in_text(f"{prefix} {rid} {suffix}")


def test_mask_in_text_masks_every_id_in_a_long_line() -> None:
    """Lines of several kB (access logs, tracebacks) are masked throughout; what it costs per character is in
    ``bench/masking.py``."""
    filler = "INFO uvicorn.access 127.0.0.1:5000 - GET /v1/cases?page=2 HTTP/1.1 200 trace=0af7651916cd43dd " * 50
    line = f"{STANDARD_SAMPLE} {filler}{STANDARD_SAMPLE.lower()} {filler}{STANDARD_SAMPLE}"
    masked = mask_in_text(line)
    assert masked == f"110105********002X {filler}110105********002x {filler}110105********002X"
    assert mask_in_text(filler) == filler


def test_masks_through_a_logging_filter() -> None:
    class Mask(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg, record.args = mask_in_text(record.getMessage()), None
            return True

    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    handler.addFilter(Mask())
    log = logging.getLogger("test.identity.mask")
    log.addHandler(handler)
    try:
        log.warning("rejected %s", STANDARD_SAMPLE)
    finally:
        log.removeHandler(handler)
    assert records == ["rejected 110105********002X"]


# --- pseudonyms ---------------------------------------------------------------------------------------------------


def test_pseudonym_is_deterministic_per_key_and_normalises() -> None:
    p = pseudonym(STANDARD_SAMPLE, b"key-one")
    assert p == pseudonym(STANDARD_SAMPLE, b"key-one")
    assert p == pseudonym(" 11010519491231002x ", b"key-one")
    assert len(p) == 32
    assert int(p, 16) >= 0
    assert STANDARD_SAMPLE not in p


def test_pseudonym_depends_on_key_and_id() -> None:
    assert pseudonym(STANDARD_SAMPLE, b"key-one") != pseudonym(STANDARD_SAMPLE, b"key-two")
    assert pseudonym(STANDARD_SAMPLE, b"key-one") != pseudonym(make_id(), b"key-one")


def test_pseudonym_is_hmac_sha256() -> None:
    import hashlib
    import hmac

    # keys shorter than, as long as and longer than SHA-256's 64-byte block (a longer one is hashed first)
    for key in (b"k", b"p" * 40, b"x" * 64, b"y" * 65, bytes(range(256))):
        for rid in (STANDARD_SAMPLE, make_id(), STANDARD_SAMPLE):  # in a row: one key's pseudonyms share no state
            expected = hmac.new(key, rid.encode(), hashlib.sha256).hexdigest()[:32]
            assert pseudonym(rid, key) == expected


def test_pseudonym_refuses_an_empty_key() -> None:
    with pytest.raises(ValueError):
        pseudonym(STANDARD_SAMPLE, b"")


# --- the pydantic field type --------------------------------------------------------------------------------------


class Applicant(BaseModel):
    name: str
    resident_id: ResidentId


def test_field_accepts_and_normalises() -> None:
    a = Applicant(name="张三", resident_id=" 11010519491231002x")
    assert a.resident_id == STANDARD_SAMPLE
    assert Applicant.model_validate_json(f'{{"name": "张三", "resident_id": "{STANDARD_SAMPLE}"}}') == a


def test_field_rejects_a_bad_id_at_that_field() -> None:
    with pytest.raises(ValidationError) as info:
        Applicant(name="张三", resident_id=STANDARD_SAMPLE[:17] + "1")
    [error] = info.value.errors()
    assert error["loc"] == ("resident_id",)
    assert error["type"] == "resident_id"
    assert error["msg"] == "invalid resident ID: check character does not match"


@pytest.mark.parametrize("value", [110105194912310020, b"11010519491231002X", None])
def test_field_rejects_non_strings(value: object) -> None:
    with pytest.raises(ValidationError) as info:
        Applicant.model_validate({"name": "张三", "resident_id": value})
    assert info.value.errors()[0]["loc"] == ("resident_id",)


def test_field_rejects_a_json_number() -> None:
    with pytest.raises(ValidationError) as info:
        Applicant.model_validate_json('{"name": "x", "resident_id": 110105194912310020}')
    assert info.value.errors()[0]["msg"] == "invalid resident ID: must be a string"


def test_field_json_schema() -> None:
    schema = Applicant.model_json_schema()["properties"]["resident_id"]
    assert schema["type"] == "string"
    assert schema["pattern"] == "^[0-9]{17}[0-9X]$"
    assert "description" in schema
