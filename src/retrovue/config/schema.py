"""The JSON Schema of retrovue.yaml, generated from the importers' ``param_spec()``.

``schemas/retrovue.schema.json`` is this function's output for the built-in importers (a test
keeps the two equal), so editors, the validator and ``source add`` flags share one source of truth.
"""

from __future__ import annotations

from collections.abc import Collection

from retrovue.config.durations import duration_schema
from retrovue.config.model import WATCH_MODES
from retrovue.importers.base import ParamSpec
from retrovue.importers.kinds import rule_of
from retrovue.importers.registry import Registry
from retrovue.model.limits import NAME_MAX, PATH_MAX

SCHEMA_ID = "https://retrovue.dev/schemas/retrovue.schema.json"


def _param_schema(spec: ParamSpec) -> dict:
    schema = dict(rule_of(spec.kind).schema)
    description = spec.help + (" (sensitive: use ${VAR})" if spec.sensitive else "")
    if description:
        schema["description"] = description
    return schema


def build_schema(registry: Registry, configs_of: Collection[str] | None = None) -> dict:
    """``configs_of``: the types whose ``config`` is described (None: all).  A file validated
    against the schema needs only its own sources' types: another type's branch cannot match
    it, and leaving it out does not import that importer (a media server's client library for a filesystem-only file)."""
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
                "enrichers": {
                    "$ref": "#/$defs/enrichers",
                    "description": "Added to the source's enrichers, or overriding one of the "
                    "same type ([] detaches this collection's own; absent: left as stored)",
                },
                "exclude": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "description": "gitignore-style patterns of files and folders this "
                    "collection leaves out, after its source's (a pattern with '/' is relative "
                    "to the collection's folder); for sources whose config takes exclude",
                },
            },
        },
        "threshold": {"type": "number", "minimum": 0, "maximum": 1},
        "enrichers": {"type": "array", "items": {"$ref": "#/$defs/enricher"}},
        # one shape for both forms, so an error names the key at fault (an anyOf says only
        # that nothing matched); the type's params are checked against its param_spec()
        "enricher": {
            "description": "An enricher type (`retrovue enricher list-types`), or "
            "{type, priority, params}; they run in ascending priority, then by type",
            "type": ["string", "object"],
            "minLength": 1,
            "additionalProperties": False,
            "required": ["type"],
            "properties": {
                "type": {"type": "string", "minLength": 1},
                "priority": {
                    "type": "integer",
                    "minimum": -(2**31),
                    "maximum": 2**31 - 1,
                    "description": "Lower runs first (default 0)",
                },
                "params": {"type": "object"},
            },
        },
    }
    branches = []
    for type_id in type_ids:
        if configs_of is not None and type_id not in configs_of:
            continue
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
            "enrichers": {
                "$ref": "#/$defs/enrichers",
                "description": "Enrichers run on all of the source's collections "
                "([] detaches all; absent: left as stored)",
            },
            "watch": {
                "enum": list(WATCH_MODES),
                "description": "How `retrovue watch` notices changes between resyncs: events "
                "(inotify on the collections' local folders; the default), poll (scan them every "
                "poll_interval: NFS/SMB mounts deliver no events for remote writes) or off",
            },
            "poll_interval": duration_schema(
                "watch: poll: how often the folders are scanned (default 60s)"
            ),
            "resync": duration_schema(
                "How often `retrovue watch` re-lists the whole source to catch what events "
                "missed (default 1h)"
            ),
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
