"""The published language: checked-in schemas are current, and a change that would break a consumer is caught."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

import contracts  # noqa: F401 - fills Event.registry
from civic.events import Event
from civic.schemas import BreakingChange, check, compatibility_problems, event_schema, export

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
# Tests and benchmarks declare unpublished events of their own; the published language is the rest.
PUBLISHED = {t: c for t, c in Event.registry.items() if c.published}
TYPE = "civic.testdomain.thing-happened.v1"
# Spelled out here rather than taken from civic.events, so that loosening the rule there fails this test.
TYPE_NAME = re.compile(r"^civic\.(?P<domain>[a-z]+)\.[a-z][a-z-]*[a-z]\.v[1-9][0-9]*$")


def problems(old: type[BaseModel], new: type[BaseModel]) -> list[str]:
    """Compare plain models as if they were two versions of one event; no Event subclass, so no registry entry."""
    return compatibility_problems(event_schema(old, type_name=TYPE), event_schema(new, type_name=TYPE))


# --- (a) the checked-in contracts ---------------------------------------------------------------------------


def test_checked_in_contracts_are_current() -> None:
    found = check(CONTRACTS)
    assert not found, (
        "contracts/ does not match the event classes:\n  "
        + "\n  ".join(found)
        + "\nIf the change is compatible, run `civic contracts export` (or `python -m civic.schemas export`) and "
        "commit the result; if it is breaking, add a new version of the event instead of changing the old one."
    )


# --- (b) the compatibility rule on real models --------------------------------------------------------------


class Thing(BaseModel):
    thing_id: str
    happened_on: date
    note: str


def test_identical_models_are_compatible() -> None:
    assert problems(Thing, Thing) == []


def test_removing_a_field_breaks() -> None:
    class Removed(BaseModel):
        thing_id: str
        happened_on: date

    assert problems(Thing, Removed) == [f"{TYPE}: property 'note' removed"]


def test_renaming_a_field_breaks() -> None:
    class Renamed(BaseModel):
        thing_id: str
        occurred_on: date
        note: str

    assert f"{TYPE}: property 'happened_on' removed" in problems(Thing, Renamed)


def test_date_to_datetime_breaks() -> None:
    class Timestamped(BaseModel):
        thing_id: str
        happened_on: datetime
        note: str

    assert problems(Thing, Timestamped) == [
        f"{TYPE}: property 'happened_on' changed type from string (date) to string (date-time)"
    ]


def test_str_to_int_breaks() -> None:
    class Numbered(BaseModel):
        thing_id: int
        happened_on: date
        note: str

    assert problems(Thing, Numbered) == [f"{TYPE}: property 'thing_id' changed type from string to integer"]


class WithOptionalNote(BaseModel):
    thing_id: str
    note: str | None = None


class WithRequiredNote(BaseModel):
    thing_id: str
    note: str


def test_optional_to_required_is_compatible() -> None:
    assert problems(WithOptionalNote, WithRequiredNote) == []


def test_required_to_optional_breaks() -> None:
    # On the wire the field is still sent (model_dump_json writes defaults), but it may now be null.
    assert problems(WithRequiredNote, WithOptionalNote) == [f"{TYPE}: property 'note' may now be null"]


def test_a_default_alone_changes_nothing_on_the_wire() -> None:
    class DefaultedNote(BaseModel):
        thing_id: str
        note: str = ""

    assert problems(WithRequiredNote, DefaultedNote) == []
    assert event_schema(DefaultedNote, type_name=TYPE)["required"] == ["thing_id", "note"]


def test_a_field_left_out_of_the_json_is_not_required() -> None:
    class SometimesNote(BaseModel):
        thing_id: str
        note: str = Field("", exclude_if=lambda v: not v)

    assert problems(WithRequiredNote, SometimesNote) == [f"{TYPE}: property 'note' is no longer required"]


def test_adding_an_optional_field_is_compatible() -> None:
    class Extended(Thing):
        place: str | None = None

    assert problems(Thing, Extended) == []


def test_adding_an_enum_value_breaks_and_removing_one_does_not() -> None:
    class Two(BaseModel):
        status: Literal["open", "closed"]

    class Three(BaseModel):
        status: Literal["open", "closed", "suspended"]

    assert problems(Two, Three) == [
        f"{TYPE}: property 'status' has new enum value(s) \"suspended\" that existing consumers do not know"
    ]
    assert problems(Three, Two) == []


def test_adding_a_member_to_an_enum_class_breaks() -> None:
    class Old(enum.Enum):
        OPEN = "open"

    class New(enum.Enum):
        OPEN = "open"
        CLOSED = "closed"

    class WithOld(BaseModel):
        status: Old

    class WithNew(BaseModel):
        status: New

    assert problems(WithOld, WithNew) == [
        f"{TYPE}: property 'status' has new enum value(s) \"closed\" that existing consumers do not know"
    ]


class Reporter(BaseModel):
    name: str = Field(max_length=50)
    relation: str


class Reported(BaseModel):
    reported_by: Reporter


def test_nested_model_field_removed_breaks() -> None:
    class Informant(BaseModel):  # another $defs name: only the structure counts
        name: str = Field(max_length=50)

    class ReportedByInformant(BaseModel):
        reported_by: Informant

    assert problems(Reported, ReportedByInformant) == [f"{TYPE}: property 'reported_by.relation' removed"]


def test_nested_model_looser_constraint_breaks_and_tighter_does_not() -> None:
    class LongerName(BaseModel):
        name: str = Field(max_length=100)
        relation: str

    class ShorterName(BaseModel):
        name: str = Field(max_length=20)
        relation: str

    class ReportedLonger(BaseModel):
        reported_by: LongerName

    class ReportedShorter(BaseModel):
        reported_by: ShorterName

    assert problems(Reported, ReportedLonger) == [
        f"{TYPE}: property 'reported_by.name' maxLength loosened from 50 to 100"
    ]
    assert problems(Reported, ReportedShorter) == []


def test_list_item_type_change_breaks() -> None:
    class Tags(BaseModel):
        tags: list[str]

    class NumberTags(BaseModel):
        tags: list[int]

    assert problems(Tags, NumberTags) == [f"{TYPE}: property 'tags[]' changed type from string to integer"]


def test_list_of_models_item_field_removed_breaks() -> None:
    class Cases(BaseModel):
        cases: list[Reporter]

    class Case(BaseModel):
        name: str = Field(max_length=50)

    class FewerFields(BaseModel):
        cases: list[Case]

    assert problems(Cases, FewerFields) == [f"{TYPE}: property 'cases[].relation' removed"]


def test_pattern_change_breaks() -> None:
    class Coded(BaseModel):
        region_code: str = Field(pattern=r"^[0-9]{6}$")

    class LooselyCoded(BaseModel):
        region_code: str = Field(pattern=r"^[0-9]{6,9}$")

    assert problems(Coded, LooselyCoded) == [
        f"{TYPE}: property 'region_code' pattern '^[0-9]{{6}}$' changed to '^[0-9]{{6,9}}$'"
    ]
    assert problems(LooselyCoded, Coded) != []  # undecidable in general, so reported either way
    assert problems(WithRequiredNote, WithRequiredNote) == []


def test_recursive_models_terminate() -> None:
    class Node(BaseModel):
        name: str
        children: list[Node]

    class Named(BaseModel):
        root: Node

    assert problems(Named, Named) == []


def test_every_published_event_is_compatible_with_itself() -> None:
    for cls in PUBLISHED.values():
        schema = event_schema(cls)
        assert compatibility_problems(schema, schema) == []


# --- (b) the compatibility rule on hand-written schemas ------------------------------------------------------


def obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or [], **extra}


STRING = {"type": "string"}


def test_hand_written_required_and_removed() -> None:
    old = obj({"a": STRING, "b": STRING}, ["a"])
    assert compatibility_problems(old, obj({"a": STRING, "b": STRING}, ["a", "b"])) == []
    assert compatibility_problems(old, obj({"a": STRING, "b": STRING})) == ["property 'a' is no longer required"]
    assert compatibility_problems(old, obj({"a": STRING}, ["a"])) == ["property 'b' removed"]


def test_hand_written_nullable_and_number_widening() -> None:
    nullable = {"anyOf": [STRING, {"type": "null"}]}
    assert compatibility_problems(obj({"a": nullable}), obj({"a": STRING})) == []
    assert compatibility_problems(obj({"a": STRING}), obj({"a": {"type": ["string", "null"]}})) == [
        "property 'a' may now be null"
    ]
    assert compatibility_problems(obj({"n": {"type": "number"}}), obj({"n": {"type": "integer"}})) == []
    assert compatibility_problems(obj({"n": {"type": "integer"}}), obj({"n": {"type": "number"}})) == [
        "property 'n' changed type from integer to number"
    ]


def test_hand_written_refs_are_followed() -> None:
    def with_ref(target: dict[str, Any]) -> dict[str, Any]:
        return obj({"r": {"$ref": "#/$defs/R"}}, ["r"], **{"$defs": {"R": target}})

    assert compatibility_problems(with_ref(obj({"x": STRING})), with_ref(obj({"x": STRING}))) == []
    assert compatibility_problems(with_ref(obj({"x": STRING})), with_ref(STRING)) == [
        "property 'r' changed type from object R to string"
    ]


def test_hand_written_constraints() -> None:
    old = obj({"s": {"type": "string", "minLength": 1, "maxLength": 5}, "e": {"const": "x"}})
    assert (
        compatibility_problems(old, obj({"s": {"type": "string", "minLength": 2, "maxLength": 3}, "e": {"const": "x"}}))
        == []
    )
    assert compatibility_problems(old, obj({"s": STRING, "e": {"enum": ["x", "y"]}})) == [
        "property 's' maxLength 5 dropped",
        "property 's' minLength 1 dropped",
        "property 'e' has new enum value(s) \"y\" that existing consumers do not know",
    ]


def test_hand_written_closed_objects() -> None:
    closed = obj({"a": STRING}, additionalProperties=False)
    assert compatibility_problems(closed, obj({"a": STRING, "b": STRING}, additionalProperties=False)) == [
        "property 'b' added, but consumers reject unknown properties"
    ]
    assert compatibility_problems(obj({"a": STRING}), closed) == []


# --- (c) export refuses a breaking change --------------------------------------------------------------------


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """Event subclasses declared in a test register into a throwaway registry; the real one comes back after.

    Call it again to start "the next version of the code" with an empty registry.
    """

    def fresh() -> None:
        monkeypatch.setattr(Event, "registry", {})

    fresh()
    yield fresh


def declare_thing_v1() -> type[Event]:
    class ThingHappened(Event):
        """A thing happened."""

        type_name = TYPE
        thing_id: str
        happened_on: date

        def subject(self) -> str:
            return self.thing_id

    return ThingHappened


def test_export_accepts_a_compatible_change(tmp_path: Path, fresh_registry: Callable[[], None]) -> None:
    declare_thing_v1()
    schema_file = tmp_path / "schemas" / f"{TYPE}.json"
    assert export(tmp_path) == [str(schema_file), str(tmp_path / "asyncapi.json")]
    assert check(tmp_path) == []
    assert export(tmp_path) == []

    fresh_registry()

    class ThingHappened(Event):
        """A thing happened."""

        type_name = TYPE
        thing_id: str
        happened_on: date
        place: str | None = None

        def subject(self) -> str:
            return self.thing_id

    assert check(tmp_path) == [f"{schema_file} is stale — regenerate with `civic contracts export`"]
    assert export(tmp_path) == [str(schema_file)]
    assert "place" in json.loads(schema_file.read_text())["properties"]
    assert check(tmp_path) == []


def test_export_refuses_a_breaking_change(tmp_path: Path, fresh_registry: Callable[[], None]) -> None:
    declare_thing_v1()
    export(tmp_path)
    schema_file = tmp_path / "schemas" / f"{TYPE}.json"
    published = schema_file.read_text()

    fresh_registry()

    class ThingHappened(Event):
        """A thing happened."""

        type_name = TYPE
        thing_id: str
        happened_on: datetime

        def subject(self) -> str:
            return self.thing_id

    problem = f"{TYPE}: property 'happened_on' changed type from string (date) to string (date-time)"
    with pytest.raises(BreakingChange) as refused:
        export(tmp_path)
    assert refused.value.problems == [problem]
    assert schema_file.read_text() == published
    assert check(tmp_path) == [f"{problem} — publish a new version instead, e.g. civic.testdomain.thing-happened.v2"]
    assert export(tmp_path, allow_breaking=True) == [str(schema_file)]
    assert check(tmp_path) == []


def test_a_removed_event_type_is_a_breaking_change_and_its_file_stays(
    tmp_path: Path, fresh_registry: Callable[[], None]
) -> None:
    declare_thing_v1()
    export(tmp_path)
    schema_file = tmp_path / "schemas" / f"{TYPE}.json"

    fresh_registry()  # the event class is gone

    with pytest.raises(BreakingChange, match="event type removed"):
        export(tmp_path)
    export(tmp_path, allow_breaking=True)
    assert schema_file.exists()
    assert any("event type removed" in p for p in check(tmp_path))


def test_check_reports_a_new_event_without_a_schema(tmp_path: Path, fresh_registry: Callable[[], None]) -> None:
    declare_thing_v1()
    found = check(tmp_path)
    assert found[0].startswith(f"{TYPE}: no published schema")
    assert "asyncapi.json is missing or stale" in found[-1]


# --- (d) type names and topics -------------------------------------------------------------------------------


def test_every_event_type_name_and_topic_follow_the_convention() -> None:
    assert PUBLISHED, "import contracts registers the events"
    for type_name, cls in PUBLISHED.items():
        match = TYPE_NAME.match(type_name)
        assert match, f"{cls.__name__}: {type_name!r} is not civic.<domain>.<fact>.v<N>"
        assert cls.topic() == f"civic.{match['domain']}"
        assert cls.__module__ == f"contracts.{match['domain']}", (
            f"{type_name} belongs in contracts/{match['domain']}.py"
        )


# --- (e) the AsyncAPI document -------------------------------------------------------------------------------


def test_asyncapi_document_lists_every_event() -> None:
    doc = json.loads((CONTRACTS / "asyncapi.json").read_text(encoding="utf-8"))
    assert doc["asyncapi"] == "3.0.0"
    for type_name, cls in PUBLISHED.items():
        message = doc["components"]["messages"][type_name]
        assert doc["channels"][cls.topic()]["messages"][type_name] == {"$ref": f"#/components/messages/{type_name}"}
        payload = CONTRACTS / message["payload"]["$ref"]
        assert json.loads(payload.read_text(encoding="utf-8"))["$id"] == type_name
    headers = doc["components"]["schemas"]["CloudEventHeaders"]["properties"]
    for header in (
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_specversion",
        "ce_time",
        "ce_subject",
        "ce_correlationid",
        "ce_causationid",
        "traceparent",
    ):
        assert header in headers
    for ref in _local_refs(doc):
        _resolve_pointer(doc, ref)  # raises KeyError if it dangles


def _local_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#"):
                yield value
            else:
                yield from _local_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _local_refs(item)


def _resolve_pointer(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in filter(None, ref[1:].split("/")):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_yuan_is_published_as_a_string() -> None:
    # Serialization mode describes what consumers receive: Decimal yuan travel as "12.50".
    from contracts.assistance import CaseOpened

    assert event_schema(CaseOpened)["properties"]["monthly_amount"]["type"] == "string"
