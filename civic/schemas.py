"""The published language on disk: one JSON Schema per event type, an AsyncAPI document, and the rule for change.

Schemas describe what a consumer *receives*: the JSON that ``Event.model_dump_json()`` writes as the Kafka value.
The rule for change is the consumer's: a producer may only start sending data that every existing consumer of
the published schema still accepts and understands. Anything else is a new version (``.v2``) published side by
side. The caller fills ``Event.registry`` first (``import contracts``); the kernel does not import the domains.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

from civic.compatibility import compatibility_problems
from civic.events import JSON, SPECVERSION, TYPE_PATTERN, Event, PersonEvent, topic_of

Schema = dict[str, Any]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_FILE = "asyncapi.json"
SCHEMAS_DIR = "schemas"
FIX_STALE = "regenerate with `civic contracts export`"
KAFKA_BINDING = "0.5.0"


class BreakingChange(Exception):
    """A change to the published schemas would break an existing consumer."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"refusing to overwrite published event schemas; this would break existing consumers:\n{lines}\n"
            "publish a new version of the event (e.g. .v2) side by side instead"
        )


class _WireSchema(GenerateJsonSchema):
    # model_dump_json() writes every field, defaults included, so on the wire a field with a default is always
    # present: consumers may rely on it, and changing it later is a breaking change the check must see.
    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        if self.mode == "serialization" and field["type"] != "typed-dict-field":
            return field.get("serialization_exclude_if") is None
        return super().field_is_required(field, total)


def event_schema(cls: type[BaseModel], *, type_name: str | None = None) -> Schema:
    """The JSON Schema of the event's data as serialized; ``type_name`` lets a plain model stand in for an event."""
    if type_name is None:
        if not issubclass(cls, Event):
            raise TypeError(f"{cls.__name__} is not an Event: pass type_name")
        type_name, topic = cls.type_name, cls.topic()
    elif match := TYPE_PATTERN.match(type_name):
        topic = topic_of(match["domain"])
    else:
        raise ValueError(f"{type_name!r} must look like civic.<domain>.<fact>.v<N>")
    # Serialization mode: Yuan is a string on the wire, computed fields are sent, excluded ones are not.
    schema = cls.model_json_schema(mode="serialization", schema_generator=_WireSchema)
    schema.pop("description", None)
    doc = cls.__dict__.get("__doc__")  # not inherited: PersonEvent's docstring does not describe a subclass
    if doc:
        schema["description"] = inspect.cleandoc(doc)
    schema.update(
        {
            "$schema": DIALECT,
            "$id": type_name,
            "title": cls.__name__,
            "x-cloudevents-type": type_name,
            "x-kafka-topic": topic,
        }
    )
    return schema


def dumps(document: Mapping[str, Any]) -> str:
    """Deterministic text, so that a regenerated file differs only when the contract does."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export(directory: Path, *, allow_breaking: bool = False) -> list[str]:
    """Write ``schemas/<type>.json`` and ``asyncapi.json``; refuse a breaking change unless ``allow_breaking``.

    Nothing is written when a change is refused. A published schema file is never deleted, even with
    ``allow_breaking``: a consumer may still read that version.
    """
    events = _events()
    pending: dict[Path, str] = {}
    problems: list[str] = []
    for type_name, cls in events.items():
        path = directory / SCHEMAS_DIR / f"{type_name}.json"
        schema = event_schema(cls)
        text = dumps(schema)
        if path.exists():
            published = path.read_text(encoding="utf-8")
            if published == text:
                continue
            problems += _breaking(published, schema, type_name)
        pending[path] = text
    problems += _removed(directory, events)
    if problems and not allow_breaking:
        raise BreakingChange(problems)
    asyncapi_path = directory / ASYNCAPI_FILE
    asyncapi_text = dumps(asyncapi_document(events))
    if not asyncapi_path.exists() or asyncapi_path.read_text(encoding="utf-8") != asyncapi_text:
        pending[asyncapi_path] = asyncapi_text
    for path, text in pending.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return [str(p) for p in pending]


def check(directory: Path) -> list[str]:
    """What is wrong with the checked-in contracts in ``directory``; empty when they are current."""
    events = _events()
    problems: list[str] = []
    for type_name, cls in events.items():
        path = directory / SCHEMAS_DIR / f"{type_name}.json"
        schema = event_schema(cls)
        if not path.exists():
            problems.append(f"{type_name}: no published schema at {path} (a new event?) — {FIX_STALE}")
            continue
        published = path.read_text(encoding="utf-8")
        if published == dumps(schema):
            continue
        breaking = _breaking(published, schema, type_name)
        hint = f"publish a new version instead, e.g. {_next_version(type_name)}"
        problems += [f"{p} — {hint}" for p in breaking] or [f"{path} is stale — {FIX_STALE}"]
    problems += [
        f"{p} — restore the event class (retire a version only once no consumer reads it)"
        for p in _removed(directory, events)
    ]
    asyncapi_path = directory / ASYNCAPI_FILE
    if not asyncapi_path.exists() or asyncapi_path.read_text(encoding="utf-8") != dumps(asyncapi_document(events)):
        problems.append(f"{asyncapi_path} is missing or stale — {FIX_STALE}")
    return problems


def _events() -> dict[str, type[Event]]:
    # Tests and benchmarks declare events of their own, marked unpublished.
    return dict(sorted((t, c) for t, c in Event.registry.items() if c.published))


def _breaking(published: str, new: Schema, type_name: str) -> list[str]:
    try:
        return compatibility_problems(json.loads(published), new)
    except ValueError as exc:  # not JSON, or a $ref that leads nowhere: a hand-edited file
        return [f"{type_name}: cannot read the published schema ({exc})"]


def _removed(directory: Path, events: Mapping[str, type[Event]]) -> list[str]:
    published = sorted((directory / SCHEMAS_DIR).glob("*.json"))
    return [f"{p.stem}: event type removed, but its schema is published" for p in published if p.stem not in events]


def _next_version(type_name: str) -> str:
    match = TYPE_PATTERN.match(type_name)
    if match is None:
        return f"{type_name}.v2"
    return f"civic.{match['domain']}.{match['name']}.v{int(match['version']) + 1}"


# --- AsyncAPI -----------------------------------------------------------------------------------------------

_HEADERS: Schema = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes, Kafka protocol binding in binary content mode (one header each), "
    "and W3C trace context. The value is the event's data as JSON.",
    "properties": {
        "ce_id": {"type": "string", "description": "unique per event; consumers deduplicate on it"},
        "ce_source": {"type": "string", "description": "the producing service, e.g. /civic/funeral"},
        "ce_type": {"type": "string", "description": "the event type, e.g. civic.funeral.death-registered.v1"},
        "ce_specversion": {"type": "string", "const": SPECVERSION},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "what the event is about; the same value as the key"},
        "ce_correlationid": {"type": "string", "description": "journey id of the one-thing workflow"},
        "ce_causationid": {"type": "string", "description": "id of the event that caused this one, if any"},
        "ce_initiator": {
            "type": "string",
            "description": "who asked: a citizen's pseudonym, or a staff or system account id; carried along the journey",
        },
        "traceparent": {"type": "string", "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"},
        "content-type": {"type": "string", "const": JSON},
    },
    "required": ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_subject", "ce_correlationid"],
}
_PSEUDONYM: Schema = {
    "type": "string",
    "pattern": "^[0-9a-f]{32}$",
    "description": "keyed pseudonym of the resident (HMAC-SHA256 of the resident ID): one person's events stay "
    "in order on one partition, and no raw ID sits in a key",
}


def asyncapi_document(events: Mapping[str, type[Event]]) -> Schema:
    """An AsyncAPI 3.0 document: one channel per domain topic, one message per event type."""
    channels: Schema = {}
    operations: Schema = {}
    messages: Schema = {}
    for type_name, cls in events.items():
        topic = cls.topic()
        doc = inspect.cleandoc(cls.__dict__.get("__doc__") or type_name)
        key = (
            {"$ref": "#/components/schemas/ResidentPseudonym"}
            if issubclass(cls, PersonEvent)
            else {"type": "string", "description": "the event's subject"}
        )
        messages[type_name] = {
            "name": type_name,
            "title": cls.__name__,
            "summary": doc.split("\n", 1)[0],
            "description": doc,
            "contentType": JSON,
            "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
            "payload": {"$ref": f"{SCHEMAS_DIR}/{type_name}.json"},
            "correlationId": {"$ref": "#/components/correlationIds/journey"},
            "bindings": {"kafka": {"key": key, "bindingVersion": KAFKA_BINDING}},
        }
        channel = channels.setdefault(
            topic,
            {
                "address": topic,
                "description": f"Every event of the {cls.domain()} domain, keyed by subject.",
                "messages": {},
                "bindings": {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING}},
            },
        )
        channel["messages"][type_name] = {"$ref": f"#/components/messages/{type_name}"}
        operation = operations.setdefault(
            f"send-{topic}", {"action": "send", "channel": {"$ref": f"#/channels/{topic}"}, "messages": []}
        )
        operation["messages"].append({"$ref": f"#/channels/{topic}/messages/{type_name}"})
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "civic integration events",
            # The contract's versions live in the event type names; this document has no version of its own.
            "version": "1.0.0",
            "description": "The published language of the civil-affairs services. Generated by "
            "`civic contracts export`; do not edit by hand.",
        },
        "defaultContentType": JSON,
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": {"CloudEventHeaders": _HEADERS, "ResidentPseudonym": _PSEUDONYM},
            "correlationIds": {"journey": {"location": "$message.header#/ce_correlationid"}},
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m civic.schemas", description="The published event schemas.")
    parser.add_argument("command", choices=["export", "check"])
    parser.add_argument("directory", nargs="?", type=Path, default=Path("contracts"))
    parser.add_argument("--allow-breaking", action="store_true", help="export: overwrite even a breaking change")
    args = parser.parse_args(argv)

    import contracts  # noqa: F401 - fills the event registry

    if args.command == "check":
        problems = check(args.directory)
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    try:
        changed = export(args.directory, allow_breaking=args.allow_breaking)
    except BreakingChange as exc:
        print(exc, file=sys.stderr)
        return 1
    print("\n".join(changed) if changed else "contracts are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
