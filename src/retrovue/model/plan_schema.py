"""The actions part of the plan's JSON Schema, generated from the registered action kinds.

``schemas/plan.schema.json`` documents the plan; its ``$defs.action`` is written from here, from
the same registry and dataclass fields the codec encodes, so a new kind appears in the schema as
it appears on the wire.  The rest of the file (the plan's own fields, their descriptions) is
written by hand.  Regenerate with::

    python -m retrovue.model.plan_schema > src/retrovue/schemas/plan.schema.json
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
import uuid
from importlib import resources
from typing import Any

from retrovue.model.actions import KINDS, CollectionAddress, SourceAddress
from retrovue.model.codec import json_key
from retrovue.model.counts import IngestCounts
from retrovue.model.enrichment import EnricherSpec
from retrovue.model.upstream import PathMappingSpec

#: model types the schema describes once, in ``$defs``
_REFS = {
    SourceAddress: "#/$defs/source_ref",
    CollectionAddress: "#/$defs/collection_ref",
    PathMappingSpec: "#/$defs/mapping",
    IngestCounts: "#/$defs/counts",
    EnricherSpec: "#/$defs/enricher",
    uuid.UUID: "#/$defs/uuid_or_null",
}
_SCALARS = {str: "string", bool: "boolean", int: "integer", float: "number"}


def type_schema(tp: Any) -> dict[str, Any]:
    """The JSON Schema of a value of type ``tp`` as the codec writes it."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [type_schema(a) for a in args if a is not type(None)]
        options = inner + ([{"type": "null"}] if type(None) in args else [])
        return options[0] if len(options) == 1 else {"anyOf": options}
    if origin in (tuple, frozenset, list) or tp in (tuple, frozenset, list):
        return {"type": "array", "items": type_schema(args[0]) if args else {}}
    if origin is dict or tp is dict:
        return {"type": "object"}
    if tp in _REFS:
        return {"$ref": _REFS[tp]}
    if tp in _SCALARS:
        return {"type": _SCALARS[tp]}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [member.value for member in tp]}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return record_schema(tp)
    return {}


def record_schema(cls: type) -> dict[str, Any]:
    """A dataclass as an object: every field typed; those without a default required (a field
    with one was added by a later minor version, so older files may lack it)."""
    hints = typing.get_type_hints(cls)
    properties = {}
    for f in dataclasses.fields(cls):
        schema = type_schema(hints[f.name])
        if "doc" in f.metadata:
            schema = {**schema, "description": f.metadata["doc"]}
        properties[json_key(f)] = schema
    required = [
        json_key(f)
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    return {"type": "object", "required": required, "properties": properties}


def action_schema() -> dict[str, Any]:
    """``$defs.action``: ``kind``, ``change`` and ``address``, then each kind's own fields."""
    return {
        "type": "object",
        "required": ["kind", "change", "address"],
        "properties": {
            "kind": {"enum": list(KINDS.values())},
            "change": {"type": "boolean"},
            "address": {"type": "string"},
        },
        "allOf": [_kind_rule(cls, name) for cls, name in KINDS.items()],
    }


def _kind_rule(cls: type, name: str) -> dict[str, Any]:
    record = record_schema(cls)
    then: dict[str, Any] = {"required": record["required"], "properties": record["properties"]}
    doc = _first_paragraph(cls)
    if doc:
        then["description"] = doc
    return {"if": {"properties": {"kind": {"const": name}}}, "then": then}


def _first_paragraph(cls: type) -> str:
    doc = cls.__doc__ or ""
    if doc.startswith(f"{cls.__name__}("):  # no docstring: the dataclass's generated signature
        return ""
    return " ".join(doc.strip().split("\n\n", 1)[0].split())


def plan_schema() -> dict[str, Any]:
    """The shipped schema with its actions part as the registry has it now."""
    text = resources.files("retrovue.schemas").joinpath("plan.schema.json").read_text("utf-8")
    schema = json.loads(text)
    schema["$defs"]["action"] = action_schema()
    return schema


def plan_schema_text() -> str:
    return json.dumps(plan_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(plan_schema_text(), end="")
