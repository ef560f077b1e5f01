"""Whether a new version of an event's schema would break consumers of the published one.

The test is "every value valid under the new schema is valid under the old one, and no property disappears":
a consumer validating against what was published must accept whatever producers send after the change.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

Schema = dict[str, Any]

# A consumer validating against the old schema rejects values beyond its bounds, so raising an upper bound or
# lowering a lower one (or dropping either) is breaking; tightening is not.
_UPPER = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
_LOWER = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
_JSON_TYPES = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}


# ------------------------------------------------------------------------------------------


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
