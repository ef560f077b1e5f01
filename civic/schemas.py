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
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

from civic.events import JSON, SPECVERSION, TYPE_PATTERN, Event, PersonEvent, topic_of

Schema = dict[str, Any]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_FILE = "asyncapi.json"
SCHEMAS_DIR = "schemas"
FIX_STALE = "regenerate with `civic contracts export`"
KAFKA_BINDING = "0.5.0"

# A consumer validating against the old schema rejects values beyond its bounds, so raising an upper bound or
# lowering a lower one (or dropping either) is breaking; tightening is not.
_UPPER = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
_LOWER = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
_JSON_TYPES = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}


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


# --- compatibility ------------------------------------------------------------------------------------------


def compatibility_problems(old: Schema, new: Schema) -> list[str]:
    """What would break an existing consumer of ``old`` if producers started sending data shaped by ``new``.

    A consumer reads the fields it knows and may validate against ``old``: so every value valid under ``new``
    must be valid under ``old``, and no field it reads may disappear. Stricter is fine; looser is not.
    """
    prefix = old.get("$id") or new.get("$id")
    problems = _Diff(old, new).compare(old, new, "")
    return [f"{prefix}: {p}" if prefix else p for p in dict.fromkeys(problems)]


class _Diff:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.comparing: set[tuple[str, str]] = set()  # $ref pairs on the stack: recursive models end here

    def compare(self, old: Schema, new: Schema, path: str) -> list[str]:
        old_alts = _alternatives(old, self.old_root)
        new_alts = _alternatives(new, self.new_root)
        if len(old_alts) == 1 and len(new_alts) == 1:
            return self._compare_one(old_alts[0], new_alts[0], path)
        problems: list[str] = []
        for new_alt, new_ref in new_alts:
            candidates = [(o, r) for o, r in old_alts if _accepts(_kind(o), _kind(new_alt))]
            if not candidates:
                if _kind(new_alt) == "null":
                    problems.append(f"{_where(path)} may now be null")
                else:
                    problems.append(
                        f"{_where(path)} changed type from {_describe(old_alts, self.old_root)} "
                        f"to {_describe(new_alts, self.new_root)}"
                    )
                continue
            # Among same-kind alternatives (a union of two models, say) the closest one decides.
            results: list[list[str]] = [self._compare_one(o, (new_alt, new_ref), path) for o in candidates]
            best: list[str] = min(results, key=len)
            problems += best
        return problems

    def _compare_one(self, old_alt: tuple[Schema, str], new_alt: tuple[Schema, str], path: str) -> list[str]:
        key = (old_alt[1], new_alt[1])
        if not all(key):
            return self._compare_resolved(old_alt, new_alt, path)
        if key in self.comparing:
            return []
        self.comparing.add(key)
        try:
            return self._compare_resolved(old_alt, new_alt, path)
        finally:
            self.comparing.discard(key)

    def _compare_resolved(self, old_alt: tuple[Schema, str], new_alt: tuple[Schema, str], path: str) -> list[str]:
        (old, _), (new, _) = old_alt, new_alt
        where = _where(path)
        old_kind, new_kind = _kind(old), _kind(new)
        if old_kind == "any" and _values(old) is None:
            return []  # the consumer accepts any value here
        if not _accepts(old_kind, new_kind) or ("format" in old and new.get("format") != old["format"]):
            old_desc, new_desc = _describe([old_alt], self.old_root), _describe([new_alt], self.new_root)
            return [f"{where} changed type from {old_desc} to {new_desc}"]
        problems = self._enum(old, new, where) + _constraints(old, new, where)
        if old_kind == "object":
            problems += self._object(old, new, path)
        if old_kind == "array":
            problems += self._array(old, new, path)
        return problems

    def _enum(self, old: Schema, new: Schema, where: str) -> list[str]:
        old_values, new_values = _values(old), _values(new)
        if old_values is None:
            return []
        if new_values is None:
            return [f"{where} is no longer limited to {_show(old_values)}"]
        # A value the consumer has never seen fails its validation or falls through its match; a value that
        # is no longer sent only leaves a branch unused, so removal is compatible.
        known = {json.dumps(v, sort_keys=True) for v in old_values}
        added = [v for v in new_values if json.dumps(v, sort_keys=True) not in known]
        return [f"{where} has new enum value(s) {_show(added)} that existing consumers do not know"] if added else []

    def _object(self, old: Schema, new: Schema, path: str) -> list[str]:
        problems: list[str] = []
        old_props: Schema = old.get("properties", {})
        new_props: Schema = new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        for name, old_prop in old_props.items():
            sub = _join(path, name)
            if name not in new_props:
                problems.append(f"property '{sub}' removed")
                continue
            if name in old_required and name not in new_required:
                problems.append(f"property '{sub}' is no longer required")
            problems += self.compare(old_prop, new_props[name], sub)
        for name in sorted(old_required - old_props.keys() - new_required):
            problems.append(f"property '{_join(path, name)}' is no longer required")
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        for name in new_props.keys() - old_props.keys():
            sub = _join(path, name)
            if old_extra is False:
                problems.append(f"property '{sub}' added, but consumers reject unknown properties")
            elif isinstance(old_extra, dict):
                problems += self.compare(old_extra, new_props[name], sub)
        if old_extra is False and new_extra is not False:
            problems.append(f"{_where(path)} now allows properties that consumers reject")
        elif isinstance(old_extra, dict):
            if isinstance(new_extra, dict):
                problems += self.compare(old_extra, new_extra, _join(path, "*"))
            elif new_extra is True:
                problems.append(f"{_where(path)} now allows extra properties of any type")
        return problems

    def _array(self, old: Schema, new: Schema, path: str) -> list[str]:
        problems: list[str] = []
        old_prefix: list[Schema] = old.get("prefixItems", [])
        new_prefix: list[Schema] = new.get("prefixItems", [])
        new_items: Schema = new.get("items", {})
        for i, old_item in enumerate(old_prefix):
            new_item = new_prefix[i] if i < len(new_prefix) else new_items
            problems += self.compare(old_item, new_item, f"{path}[{i}]")
        if isinstance(old.get("items"), dict):
            problems += self.compare(old["items"], new_items, f"{path}[]")
        return problems


def _describe(alternatives: list[tuple[Schema, str]], root: Schema, depth: int = 0) -> str:
    names = []
    for node, ref in alternatives:
        kind = _kind(node)
        if "format" in node:
            kind += f" ({node['format']})"
        elif kind == "object" and ref:
            kind += f" {ref.rsplit('/', 1)[-1]}"
        elif kind == "array" and isinstance(node.get("items"), dict) and depth < 3:  # a recursive alias stops
            kind += " of " + _describe(_alternatives(node["items"], root), root, depth + 1)
        names.append(kind)
    return " | ".join(dict.fromkeys(names))


def _alternatives(node: Schema, root: Schema) -> list[tuple[Schema, str]]:
    """The branches of a union (``Optional[X]`` is ``anyOf: [X, null]``), each resolved, with its $ref."""
    resolved, ref = _resolve(node, root)
    for union in ("anyOf", "oneOf"):
        if union in resolved:
            return [alt for branch in resolved[union] for alt in _alternatives(branch, root)]
    if isinstance(resolved.get("type"), list):
        return [({**resolved, "type": t}, ref) for t in resolved["type"]]
    return [(resolved, ref)]


def _resolve(node: Schema, root: Schema) -> tuple[Schema, str]:
    ref = ""
    seen: set[str] = set()
    while "$ref" in node or ("allOf" in node and len(node["allOf"]) == 1):
        if "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                raise ValueError(f"$ref {ref} refers to itself")
            seen.add(ref)
            target = _pointer(root, ref)
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        else:
            (only,) = node["allOf"]
            node = {**only, **{k: v for k, v in node.items() if k != "allOf"}}
    return node, ref


def _pointer(root: Schema, ref: str) -> Schema:
    node: Any = root if ref.startswith("#") else None  # the generator writes local refs only
    for part in filter(None, ref[1:].split("/")):
        node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        raise ValueError(f"$ref {ref} does not resolve to a schema in the same document")
    return node


def _kind(node: Schema) -> str:
    if isinstance(node.get("type"), str):
        return str(node["type"])
    if "properties" in node or "additionalProperties" in node or "required" in node:
        return "object"
    if "items" in node or "prefixItems" in node:
        return "array"
    values = _values(node)
    if values:
        kinds = {_JSON_TYPES.get(type(v), "any") for v in values}
        return kinds.pop() if len(kinds) == 1 else "any"
    return "any"


def _accepts(old_kind: str, new_kind: str) -> bool:
    return old_kind in ("any", new_kind) or (old_kind == "number" and new_kind == "integer")


def _values(node: Schema) -> list[Any] | None:
    if "enum" in node:
        return list(node["enum"])
    return [node["const"]] if "const" in node else None


def _constraints(old: Schema, new: Schema, where: str) -> list[str]:
    problems: list[str] = []
    if "pattern" in old and new.get("pattern") != old["pattern"]:
        # Whether one regex accepts a subset of another is undecidable in general, so any change is reported.
        now = f"changed to {new['pattern']!r}" if "pattern" in new else "dropped"
        problems.append(f"{where} pattern {old['pattern']!r} {now}")
    for keyword, looser in [*((k, Decimal.__gt__) for k in _UPPER), *((k, Decimal.__lt__) for k in _LOWER)]:
        if keyword not in old:
            continue
        if keyword not in new:
            problems.append(f"{where} {keyword} {old[keyword]} dropped")
        elif looser(Decimal(str(new[keyword])), Decimal(str(old[keyword]))):
            problems.append(f"{where} {keyword} loosened from {old[keyword]} to {new[keyword]}")
    if "multipleOf" in old:
        step = Decimal(str(old["multipleOf"]))
        if "multipleOf" not in new or Decimal(str(new["multipleOf"])) % step != 0:
            problems.append(f"{where} multipleOf {old['multipleOf']} loosened")
    if old.get("uniqueItems") and not new.get("uniqueItems"):
        problems.append(f"{where} items are no longer unique")
    return problems


def _where(path: str) -> str:
    return f"property '{path}'" if path else "the event data"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _show(values: list[Any]) -> str:
    return ", ".join(json.dumps(v, ensure_ascii=False) for v in values)


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
