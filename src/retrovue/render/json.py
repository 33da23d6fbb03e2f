"""The plan as JSON, per ``schemas/plan.schema.json``.  No secret value is ever written here."""

from __future__ import annotations

import dataclasses
import uuid

from retrovue.model.actions import (
    Action,
    AddCollection,
    CollectionAddress,
    CollectionGoneUpstream,
    CreateSource,
    DeleteSource,
    IngestCollection,
    Plan,
    PruneSource,
    RenameCollection,
    SetCollectionSync,
    SetIngestible,
    SetPathMappingLocal,
    SetPathMappings,
    SourceAddress,
    UpdateSource,
    WipeCollection,
    is_change,
)
from retrovue.model.upstream import PathMappingSpec
from retrovue.redact import SENSITIVE_SHOWN
from retrovue.render.summary import summarize

FORMAT_VERSION = "1.1.0"  # 1.1: prune_source, origin, ingest scope filters, allow_mass_missing

KINDS = {
    CreateSource: "create_source",
    UpdateSource: "update_source",
    AddCollection: "discover_collection",
    RenameCollection: "rename_collection",
    CollectionGoneUpstream: "collection_gone_upstream",
    SetCollectionSync: "set_sync",
    SetPathMappings: "set_path_mappings",
    SetIngestible: "set_ingestible",
    IngestCollection: "ingest_collection",
    PruneSource: "prune_source",
    # a one-row local_path edit is a set_path_mappings of that row (same schema shape)
    SetPathMappingLocal: "set_path_mappings",
    DeleteSource: "delete_source",
    WipeCollection: "wipe_collection",
}


def _id(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def _source(a: SourceAddress) -> dict:
    return {"name": a.name, "id": _id(a.id)}


def _collection(a: CollectionAddress) -> dict:
    return {
        "source": _source(a.source),
        "external_id": a.external_id,
        "name": a.name,
        "id": _id(a.id),
    }


def _mapping(m: PathMappingSpec) -> dict:
    return {"plex_path": m.plex_path, "local_path": m.local_path}


def action_to_json(a: Action) -> dict:
    out: dict = {"kind": KINDS[type(a)], "change": is_change(a)}
    if hasattr(a, "source"):
        out["address"] = str(a.source)
        out["source"] = _source(a.source)
    else:
        out["address"] = str(a.collection)
        out["collection"] = _collection(a.collection)
    if isinstance(a, CreateSource):
        out["type"] = a.type
        out["external_id"] = a.external_id
        out["origin"] = a.origin
        out["config"] = {
            k: (SENSITIVE_SHOWN if k in a.sensitive_keys else v)
            for k, v in sorted(a.config.items())
        }
    elif isinstance(a, UpdateSource):
        out["changes"] = [
            {
                "field": c.field,
                "before": SENSITIVE_SHOWN if c.sensitive and c.before is not None else c.before,
                "after": SENSITIVE_SHOWN if c.sensitive and c.after is not None else c.after,
                "sensitive": c.sensitive,
            }
            for c in a.changes
        ]
    elif isinstance(a, AddCollection):
        out["locations"] = list(a.locations)
        out["path_mappings"] = [_mapping(m) for m in a.path_mappings]
    elif isinstance(a, RenameCollection):
        out["before"], out["after"] = a.before, a.after
    elif isinstance(a, (SetCollectionSync,)):
        out["before"], out["after"] = a.before, a.after
    elif isinstance(a, SetPathMappings):
        out["before"] = [_mapping(m) for m in a.before]
        out["after"] = [_mapping(m) for m in a.after]
    elif isinstance(a, SetIngestible):
        out["before"], out["after"], out["reason"] = a.before, a.after, a.reason
    elif isinstance(a, PruneSource):
        out["type"], out["external_id"] = a.type, a.external_id
        out["collections"], out["assets"] = a.collections, a.assets
        out["prune"], out["protected_assets"] = a.prune, a.protected_assets
    elif isinstance(a, SetPathMappingLocal):
        out["before"] = [{"plex_path": a.plex_path, "local_path": a.before}]
        out["after"] = [{"plex_path": a.plex_path, "local_path": a.after}]
    elif isinstance(a, DeleteSource):
        out["type"] = a.type
        out["collections"], out["path_mappings"], out["assets"] = (
            a.collections,
            a.path_mappings,
            a.assets,
        )
    elif isinstance(a, WipeCollection):
        out["assets"] = a.assets
    elif isinstance(a, IngestCollection):
        out["scope"] = a.scope
        out["title"], out["season"], out["episode"] = a.title, a.season, a.episode
        out["counts"] = dataclasses.asdict(a.counts)
        out["degraded"] = a.degraded
        out["degraded_reason"] = a.degraded_reason
        out["missing_threshold"] = a.missing_threshold
        out["skipped_reasons"] = [dataclasses.asdict(s) for s in a.skipped]
        out["mapping_roots"] = [dataclasses.asdict(m) for m in a.mapping_roots]
        out["db_fingerprint"] = a.db_fingerprint
    return out


def plan_to_json(plan: Plan) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "config_file": plan.config_file,
        "config_hash": plan.config_hash,
        "secret_fingerprints": dict(sorted(plan.secret_fingerprints.items())),
        "allow_mass_missing": plan.allow_mass_missing,
        "has_changes": plan.has_changes,
        "actions": [action_to_json(a) for a in plan.actions],
        "problems": [dataclasses.asdict(p) for p in plan.problems],
        "skipped_collections": [dataclasses.asdict(s) for s in plan.skipped],
        "summary": summarize(plan).to_json(),
    }
