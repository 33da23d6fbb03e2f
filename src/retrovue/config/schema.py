"""The JSON Schema of retrovue.yaml, generated from the importers' ``param_spec()``.

``schemas/retrovue.schema.json`` is this function's output for the built-in importers (a test
keeps the two equal), so editors, the validator and ``source add`` flags share one source of truth.
"""

from __future__ import annotations

from retrovue.importers.base import ParamSpec
from retrovue.importers.registry import Registry
from retrovue.model.limits import NAME_MAX, PATH_MAX

SCHEMA_ID = "https://retrovue.dev/schemas/retrovue.schema.json"

_KIND_SCHEMAS = {
    "string": {"type": "string", "minLength": 1},
    "url": {"type": "string", "pattern": "^https?://[^\\s/]+"},
    "path": {"type": "string", "minLength": 1},
    "bool": {"type": "boolean"},
    "number": {"type": "number", "exclusiveMinimum": 0},
    "list": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
}


def _param_schema(spec: ParamSpec) -> dict:
    schema = dict(_KIND_SCHEMAS[spec.kind])
    description = spec.help + (" (sensitive: use ${VAR})" if spec.sensitive else "")
    if description:
        schema["description"] = description
    return schema


def build_schema(registry: Registry) -> dict:
    type_ids = registry.types()
    defs: dict = {
        "path_mapping": {
            "type": "object",
            "additionalProperties": False,
            "required": ["plex_path", "local_path"],
            "properties": {
                "plex_path": {"type": "string", "minLength": 1, "maxLength": PATH_MAX},
                "local_path": {"type": "string", "minLength": 1, "maxLength": PATH_MAX},
            },
        },
        "collection": {
            "type": "object",
            "additionalProperties": False,
            "anyOf": [{"required": ["name"]}, {"required": ["external_id"]}],
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
                "external_id": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
                "sync": {"type": "boolean"},
                "missing_threshold": {"$ref": "#/$defs/threshold"},
                "path_mappings": {"type": "array", "items": {"$ref": "#/$defs/path_mapping"}},
            },
        },
        "threshold": {"type": "number", "minimum": 0, "maximum": 1},
    }
    branches = []
    for type_id in type_ids:
        specs = registry.get(type_id).param_spec()
        defs[f"config_{type_id}"] = {
            "type": "object",
            "additionalProperties": False,
            "required": [s.name for s in specs if s.required],
            "properties": {s.name: _param_schema(s) for s in specs},
        }
        branches.append(
            {
                "if": {"properties": {"type": {"const": type_id}}, "required": ["type"]},
                "then": {"properties": {"config": {"$ref": f"#/$defs/config_{type_id}"}}},
            }
        )
    defs["source"] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "type", "config"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
            "type": {"enum": type_ids},
            "external_id": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
            "config": {"type": "object"},
            "collections": {"type": "array", "items": {"$ref": "#/$defs/collection"}},
        },
        "allOf": branches,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "retrovue.yaml",
        "description": "Declared sources, collections and path mappings for `retrovue plan` / `apply`.",
        "type": "object",
        "additionalProperties": False,
        "required": ["version", "sources"],
        "properties": {
            "version": {"const": 1},
            "missing_threshold": {
                "$ref": "#/$defs/threshold",
                "description": "Share of a collection's assets that may go missing in one run (default 0.2)",
            },
            "prune": {
                "type": "boolean",
                "description": "Delete config-created sources removed from this file",
            },
            "sources": {"type": "array", "items": {"$ref": "#/$defs/source"}},
        },
        "$defs": defs,
    }


if __name__ == "__main__":  # python -m retrovue.config.schema > schemas/retrovue.schema.json
    import json

    from retrovue.importers.registry import load_registry

    print(json.dumps(build_schema(load_registry(include_plugins=False)), indent=2))
