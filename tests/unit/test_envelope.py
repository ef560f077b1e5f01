"""The CloudEvents envelope in Kafka binary mode: our codec against the official SDK, both ways."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from civic.events import TYPE_PATTERN, Envelope, UnparseableEvent, current_correlation_id, decode, encode
from contracts.funeral import DeathRegistered

FORMAT = JSONFormat()
ENVELOPE = Envelope(
    id="4f0b8f5e-1",
    source="/civic/funeral",
    type=DeathRegistered.type_name,
    subject="cf5a5f3f6c669c3b4f05b44512444b38",
    time=datetime(2026, 11, 2, 8, 30, 0, 123000, tzinfo=UTC),
    correlation_id="journey-1",
    causation_id="cause-1",
    traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    initiator="9f2c4e1d0b6a5f3e2d1c0b9a8f7e6d5c",
)


def test_our_headers_are_read_by_the_official_sdk() -> None:
    headers = dict(encode(ENVELOPE))
    event = from_binary(KafkaMessage(headers=headers, key=None, value=b'{"a": 1}'), FORMAT)
    assert event.get_id() == ENVELOPE.id
    assert event.get_source() == ENVELOPE.source
    assert event.get_type() == ENVELOPE.type
    assert event.get_specversion() == "1.0"
    assert event.get_subject() == ENVELOPE.subject
    assert event.get_time() == ENVELOPE.time
    assert event.get_datacontenttype() == "application/json"
    assert event.get_extension("correlationid") == "journey-1"
    assert event.get_extension("causationid") == "cause-1"
    assert event.get_extension("initiator") == ENVELOPE.initiator
    assert headers["traceparent"] == ENVELOPE.traceparent.encode()  # type: ignore[union-attr]


def test_sdk_written_events_are_read_by_our_decoder() -> None:
    sdk_event = CloudEvent(
        {"id": "x1", "source": "/elsewhere", "type": "civic.funeral.death-registered.v1", "specversion": "1.0",
         "time": ENVELOPE.time, "subject": "s", "datacontenttype": "application/json", "correlationid": "j"},
        {"hello": "world"},
    )  # fmt: skip
    message = to_binary(sdk_event, FORMAT)
    received = decode(list(message.headers.items()), message.value)
    assert received.envelope.id == "x1"
    assert received.envelope.time == ENVELOPE.time
    assert received.envelope.correlation_id == "j"
    assert received.envelope.causation_id is None
    assert received.value == b'{"hello": "world"}'


def test_round_trip_keeps_every_attribute() -> None:
    received = decode(encode(ENVELOPE), b"{}")
    assert received.envelope == ENVELOPE


@pytest.mark.parametrize("drop", ["ce_id", "ce_source", "ce_type", "ce_specversion"], ids=lambda h: f"without {h}")
def test_missing_required_attribute_is_unparseable(drop: str) -> None:
    headers = [(k, v) for k, v in encode(ENVELOPE) if k != drop]
    with pytest.raises(UnparseableEvent, match=drop):
        decode(headers, b"{}")


def test_other_spec_versions_and_bad_times_are_unparseable() -> None:
    wrong_version = [(k, b"0.3" if k == "ce_specversion" else v) for k, v in encode(ENVELOPE)]
    with pytest.raises(UnparseableEvent, match="specversion"):
        decode(wrong_version, b"{}")
    bad_time = [(k, b"yesterday" if k == "ce_time" else v) for k, v in encode(ENVELOPE)]
    with pytest.raises(UnparseableEvent):
        decode(bad_time, b"{}")
    with pytest.raises(UnparseableEvent, match="no value"):
        decode(encode(ENVELOPE), None)


def test_new_envelope_takes_the_journey_from_context_or_starts_one() -> None:
    alone = Envelope.new("civic.x.y-happened.v1", source="/s", subject="k")
    assert alone.correlation_id == alone.id, "an event outside any journey starts its own"
    token = current_correlation_id.set("journey-7")
    try:
        assert Envelope.new("civic.x.y-happened.v1", source="/s", subject="k").correlation_id == "journey-7"
    finally:
        current_correlation_id.reset(token)


def test_event_data_that_does_not_match_its_type_is_unparseable() -> None:
    received = decode(encode(ENVELOPE), b'{"resident_id": "not an id"}')
    with pytest.raises(UnparseableEvent, match=r"data does not match civic\.funeral\.death-registered\.v1"):
        received.parse(DeathRegistered)


@pytest.mark.parametrize(
    ("name", "ok"),
    [("civic.funeral.death-registered.v1", True), ("civic.funeral.death-registered.v12", True),
     ("civic.funeral.DeathRegistered.v1", False), ("civic.funeral.death-registered", False),
     ("funeral.death-registered.v1", False), ("civic.funeral.death-registered.v0", False)],
)  # fmt: skip
def test_type_names_are_versioned_past_tense_facts(name: str, ok: bool) -> None:
    assert bool(TYPE_PATTERN.match(name)) is ok
