"""The recalculation's bulk outbox rows are the rows ``Outbox.record`` writes (but for each event's own id and
time), and its events, built without validation, are the events validation builds: so a change in the kernel's
envelope or in the contract fails here, not in a consumer."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path

import pytest

from civic.bulk import EventTemplate, uuid4_text, uuid4_texts
from civic.config import Settings
from civic.events import current_causation_id, current_correlation_id, current_initiator
from civic.money import from_fen
from civic.outbox import OUTBOX_COLUMNS, Outbox
from contracts.assistance import BenefitChanged
from services.assistance.lifecycle import CHANGED_VARYING
from tests.factories import resident_id


def changed(n: int) -> BenefitChanged:
    return BenefitChanged(resident_id=resident_id(), case_id=f"c{n}", benefit="dibao", household_id=f"h{n}",
                          previous_amount=from_fen(58_000), monthly_amount=from_fen(70_000 + n),
                          effective_from=date(2026, 12, 1), reason="new standard: 低保 = (750 − 400) × 2 \"quoted\"")  # fmt: skip


def comparable(row: dict[str, object]) -> dict[str, object]:
    """A row without what differs from event to event by design: its id and its time."""
    headers = dict(json.loads(str(row["headers"])))
    event_id = row["event_id"]
    for name in ("ce_id", "ce_time"):
        headers.pop(name)
    if headers.get("ce_correlationid") == event_id:
        headers["ce_correlationid"] = "<its own id>"
    return {**{k: v for k, v in row.items() if k not in ("event_id", "created_at")}, "headers": headers}


@pytest.mark.parametrize("journey", [None, ("journey-1", "cause-1", "caseworker-7")])
def test_bulk_rows_are_the_rows_outbox_record_writes(tmp_path: Path, journey: tuple[str, str, str] | None) -> None:
    outbox = Outbox(Settings(service_name="assistance", data_dir=tmp_path))
    events = [changed(n) for n in range(3)]
    tokens = []
    if journey is not None:
        tokens = [var.set(value) for var, value in zip((current_correlation_id, current_causation_id,
                                                        current_initiator), journey, strict=True)]  # fmt: skip
    try:
        serialized = [(type(e), outbox.key_for(e), e.model_dump_json().encode()) for e in events]
        bulk = [dict(zip(OUTBOX_COLUMNS, row, strict=True)) for row in outbox.serialized_records(serialized)]
        one_by_one = [outbox.record(e) for e in events]
    finally:
        for var, token in zip((current_correlation_id, current_causation_id, current_initiator), tokens, strict=False):
            var.reset(token)
    assert [comparable(r) for r in bulk] == [comparable(r) for r in one_by_one]
    assert len({r["event_id"] for r in bulk}) == 3, "each event its own id"
    for row in bulk:
        headers = dict(json.loads(str(row["headers"])))
        assert headers["ce_id"] == row["event_id"]
        assert headers["ce_correlationid"] == (journey[0] if journey else row["event_id"])


def test_an_event_built_without_validation_is_the_validated_event() -> None:
    event = changed(1)
    built = BenefitChanged.model_construct(**dict(event))
    assert built.model_dump_json() == event.model_dump_json()
    assert BenefitChanged.model_validate_json(built.model_dump_json()) == event


@pytest.mark.parametrize(
    ("case_id", "household_id", "previous", "amount", "reason"),
    [
        ("c-other", None, 0, 70_001, "new standard"),
        ("c-2", "h-2", 69_000, 5, "低保 = (750 − 400) × 2"),
        ('c "quoted" \\ back', "户\n\t\u0001\u2028 /", 123_456_789, 100, 'a "quoted" \\ reason\n'),
        ("", "", -5, 0, ""),
    ],
)
def test_a_template_filled_with_a_case_s_fields_is_that_case_s_event(
    case_id: str, household_id: str | None, previous: int, amount: int, reason: str
) -> None:
    """The recalculation serialises one event per benefit and date, fills it with each distinct amounts and
    reason (``partial``), and that with each case's ids; filled at once, it is the same event."""
    fixed = {k: v for k, v in dict(changed(1)).items() if k not in CHANGED_VARYING}
    template = EventTemplate(BenefitChanged, fixed, CHANGED_VARYING)
    other = BenefitChanged(**{**dict(changed(1)), "resident_id": resident_id(), "case_id": case_id,
                              "household_id": household_id, "previous_amount": from_fen(previous),
                              "monthly_amount": from_fen(amount), "reason": reason})  # fmt: skip
    amounts = template.partial(previous_amount=from_fen(previous), monthly_amount=from_fen(amount), reason=reason)
    ids = template.partial(resident_id=other.resident_id, household_id=household_id)  # fields around the others
    for filled in (
        template.json(other.resident_id, case_id, household_id, from_fen(previous), from_fen(amount), reason),
        amounts.json(other.resident_id, case_id, household_id),
        ids.json(case_id, from_fen(previous), from_fen(amount), reason),
    ):
        assert filled == other.model_dump_json().encode()
        assert BenefitChanged.model_validate_json(filled) == other


def test_a_template_refuses_a_varying_field_it_cannot_write_as_a_string() -> None:
    fixed = {k: v for k, v in dict(changed(1)).items() if k != "effective_from"}
    with pytest.raises(TypeError, match="strings and decimal amounts"):
        EventTemplate(BenefitChanged, fixed, ["effective_from"])
    template = EventTemplate(BenefitChanged, {k: v for k, v in dict(changed(1)).items() if k != "reason"}, ["reason"])
    with pytest.raises(ValueError, match="benefit"):
        template.partial(benefit="tekun")


def test_serialised_rows_key_a_person_s_event_by_pseudonym(tmp_path: Path) -> None:
    outbox = Outbox(Settings(service_name="assistance", data_dir=tmp_path))
    event = changed(1)
    (row,) = outbox.serialized_records([(BenefitChanged, outbox.key_of(BenefitChanged, event.resident_id), b"{}")])
    assert row[3] == outbox.key_for(event) == outbox.pseudonym_of(event.resident_id) != event.resident_id


def test_event_ids_are_uuid4_text() -> None:
    ids = {uuid4_text() for _ in range(1000)} | set(uuid4_texts(1000)) | set(uuid4_texts(1))
    assert len(ids) == 2001
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
