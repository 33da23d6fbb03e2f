"""Saved plans (`plan --out plan.json`, `apply plan.json`): the file, its loading and staleness.

A saved plan is the JSON plan (``render/json.py``) plus what it was made against: the config
hash, secret fingerprints (never values), the schema revision and fingerprints of the observed
database state (whole database, per source, per collection, and per ingested collection's
assets).  ``apply PLAN`` re-observes under the apply lock and refuses, naming what moved, when
any of them differ; upstream content moving is *not* staleness (apply ingests what is there).

``plan_from_json`` rebuilds the very ``Plan`` the executor runs (SQLMesh's ``EvaluatablePlan``:
freeze, then evaluate).  Secret values are never in the file; they come back from the reloaded
config, whose fingerprints have just been checked.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from retrovue.config.model import DesiredState
from retrovue.database import migrate
from retrovue.database.models import Collection, PathMapping, Source
from retrovue.errors import PlanError, StalePlanError
from retrovue.model.actions import (
    Action,
    AddCollection,
    CollectionAddress,
    CollectionGoneUpstream,
    CreateSource,
    FieldChange,
    IngestCollection,
    IngestCounts,
    MappingRoot,
    Plan,
    Problem,
    PruneSource,
    RenameCollection,
    SetCollectionSync,
    SetIngestible,
    SetPathMappings,
    SkipReason,
    SourceAddress,
    UpdateSource,
)
from retrovue.model.upstream import PathMappingSpec
from retrovue.observe.db import fingerprint_assets, load_asset_index
from retrovue.redact import SENSITIVE_SHOWN

SUPPORTED_MAJOR = 1
#: a newer minor version may add counts: ignore what this version does not know
_COUNT_FIELDS = frozenset(IngestCounts.__dataclass_fields__)


# --- observed database state -------------------------------------------------------------------


@dataclass(frozen=True)
class CollectionFingerprint:
    name: str
    fingerprint: str


@dataclass(frozen=True)
class SourceFingerprint:
    name: str
    fingerprint: str
    collections: dict[str, CollectionFingerprint] = field(default_factory=dict)  # by external_id


@dataclass(frozen=True)
class DbState:
    """Fingerprints of everything a plan reads from the database, assets aside (those are
    fingerprinted per ingested collection, on ``IngestCollection.db_fingerprint``)."""

    schema_revision: str | None
    fingerprint: str
    sources: dict[str, SourceFingerprint] = field(default_factory=dict)  # by source id

    def to_json(self) -> dict:
        return {
            "schema_revision": self.schema_revision,
            "fingerprint": self.fingerprint,
            "sources": {
                sid: {
                    "name": s.name,
                    "fingerprint": s.fingerprint,
                    "collections": {
                        ext: {"name": c.name, "fingerprint": c.fingerprint}
                        for ext, c in sorted(s.collections.items())
                    },
                }
                for sid, s in sorted(self.sources.items())
            },
        }

    @classmethod
    def from_json(cls, doc: dict) -> DbState:
        return cls(
            schema_revision=doc.get("schema_revision"),
            fingerprint=doc["fingerprint"],
            sources={
                sid: SourceFingerprint(
                    s["name"],
                    s["fingerprint"],
                    {
                        ext: CollectionFingerprint(c["name"], c["fingerprint"])
                        for ext, c in s["collections"].items()
                    },
                )
                for sid, s in doc["sources"].items()
            },
        )


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=_plain, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _plain(value: Any) -> str:
    if isinstance(value, datetime):
        # SQLite hands back naive UTC, PostgreSQL aware: one spelling for both
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    return str(value)


def observe_db_state(conn: Connection) -> DbState:
    """Three SELECTs whatever the catalogue's size.  ``updated_at``/``last_ingest_at`` are part
    of the fingerprint so that any apply or imperative ingest since the plan shows up, even one
    that ended up writing the same values (that is what makes a second apply of a plan fail)."""
    mappings: dict[Any, list] = defaultdict(list)
    for row in conn.execute(
        select(PathMapping.collection_id, PathMapping.plex_path, PathMapping.local_path).order_by(
            PathMapping.collection_id, PathMapping.plex_path, PathMapping.local_path
        )
    ):
        mappings[row.collection_id].append([row.plex_path, row.local_path])
    collections: dict[Any, dict[str, CollectionFingerprint]] = defaultdict(dict)
    c = Collection.__table__.c
    for row in conn.execute(
        select(
            c.id,
            c.source_id,
            c.external_id,
            c.name,
            c.sync_enabled,
            c.ingestible,
            c.ingestible_reason,
            c.locations,
            c.config,
            c.last_ingest_at,
            c.updated_at,
        )
    ):
        values = dict(row._mapping)
        values["path_mappings"] = mappings.get(row.id, [])
        collections[row.source_id][row.external_id] = CollectionFingerprint(
            row.name, _digest(values)
        )
    sources: dict[str, SourceFingerprint] = {}
    s = Source.__table__.c
    for row in conn.execute(
        select(s.id, s.external_id, s.name, s.type, s.config, s.origin, s.updated_at)
    ):
        sources[str(row.id)] = SourceFingerprint(
            row.name, _digest(dict(row._mapping)), collections.get(row.id, {})
        )
    whole = _digest(
        {
            sid: [src.fingerprint, {e: cf.fingerprint for e, cf in src.collections.items()}]
            for sid, src in sources.items()
        }
    )
    return DbState(migrate.current_revision(conn), whole, sources)


# --- the file --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedOptions:
    sources: tuple[str, ...] = ()
    allow_mass_missing: bool = False
    prune: bool = False


@dataclass(frozen=True)
class SavedPlan:
    path: str
    document: dict
    plan_id: str
    created_at: str | None
    config_file: str
    config_hash: str
    secret_fingerprints: dict[str, str]
    db_state: DbState
    options: SavedOptions


def saved_document(plan_document: dict, plan: Plan, options: SavedOptions) -> dict:
    """The JSON plan plus what apply needs to check it is still current."""
    if plan.db_state is None:
        raise PlanError(
            "internal: a saved plan needs the observed database state (PlanOptions.fingerprint)"
        )
    doc = dict(plan_document)
    doc["plan_id"] = str(uuid.uuid4())
    doc["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    doc["schema_revision"] = plan.db_state.schema_revision
    doc["observed"] = plan.db_state.to_json()
    doc["options"] = {
        "sources": list(options.sources),
        "allow_mass_missing": options.allow_mass_missing,
        "prune": options.prune,
    }
    return doc


def load_saved_plan(path: str) -> SavedPlan:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise PlanError(f"saved plan {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read saved plan {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise PlanError(
            f"saved plan {path} is not valid JSON (line {exc.lineno}: {exc.msg})"
        ) from None
    if not isinstance(doc, dict) or "format_version" not in doc:
        raise PlanError(f"{path} is not a retrovue plan file (no format_version)")
    major = str(doc["format_version"]).split(".", 1)[0]
    if major != str(SUPPORTED_MAJOR):
        raise PlanError(
            f"saved plan {path} has format_version {doc['format_version']}; this retrovue reads {SUPPORTED_MAJOR}.x",
            hint="make the plan again with this version of retrovue",
        )
    missing = [
        k
        for k in ("observed", "config_file", "config_hash", "plan_id", "actions")
        if doc.get(k) is None
    ]
    if missing:
        raise PlanError(
            f"{path} is not a saved plan (missing {', '.join(missing)})",
            hint="write saved plans with `retrovue plan --out PLAN` (the --json output is not one)",
        )
    opts = doc.get("options") or {}
    try:
        state = DbState.from_json(doc["observed"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise PlanError(f"saved plan {path} is malformed (observed state: {exc})") from None
    return SavedPlan(
        path=path,
        document=doc,
        plan_id=str(doc["plan_id"]),
        created_at=doc.get("created_at"),
        config_file=doc["config_file"],
        config_hash=doc["config_hash"],
        secret_fingerprints=dict(doc.get("secret_fingerprints") or {}),
        db_state=state,
        options=SavedOptions(
            tuple(opts.get("sources") or ()),
            bool(opts.get("allow_mass_missing")),
            bool(opts.get("prune")),
        ),
    )


# --- staleness ------------------------------------------------------------------------------------


def stale_reasons(saved: SavedPlan, desired: DesiredState, conn: Connection) -> list[str]:
    """Everything that moved since the plan was made, one readable line each (empty: current)."""
    moved: list[str] = []
    if desired.config_hash != saved.config_hash:
        moved.append(f"config {desired.file} changed since the plan")
    moved += _secret_moves(saved.secret_fingerprints, desired.secret_fingerprints)
    now = observe_db_state(conn)
    if now.schema_revision != saved.db_state.schema_revision:
        moved.append(
            f"database schema revision changed ({saved.db_state.schema_revision} -> {now.schema_revision})"
        )
    if now.fingerprint != saved.db_state.fingerprint:
        moved += _db_moves(saved.db_state, now)
    moved += _asset_moves(saved, conn, now)
    return moved


def check_fresh(saved: SavedPlan, desired: DesiredState, conn: Connection) -> None:
    moved = stale_reasons(saved, desired, conn)
    if moved:
        raise StalePlanError(
            f"saved plan {saved.path} is stale: " + "; ".join(moved),
            hint=f"make a new plan (`retrovue plan -c {saved.config_file} --out {saved.path}`) and review it",
            context={"moved": moved, "plan_id": saved.plan_id},
        )


def _secret_moves(before: dict[str, str], after: dict[str, str]) -> list[str]:
    out = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            out.append(f"secret {key} is no longer set in the config")
        elif key not in before:
            out.append(f"secret {key} was added to the config")
        elif before[key] != after[key]:
            out.append(
                f"secret {key} changed since the plan (its value, from the environment, differs)"
            )
    return out


def _db_moves(before: DbState, after: DbState) -> list[str]:
    out = []
    for sid in sorted(
        set(before.sources) | set(after.sources),
        key=lambda k: (before.sources.get(k) or after.sources[k]).name,
    ):
        old, new = before.sources.get(sid), after.sources.get(sid)
        if old is None:
            out.append(f'source "{new.name}" was created in the database since the plan')
        elif new is None:
            out.append(f'source "{old.name}" was deleted from the database since the plan')
        else:
            if old.fingerprint != new.fingerprint:
                out.append(f'source "{old.name}" changed in the database since the plan')
            for ext in sorted(set(old.collections) | set(new.collections)):
                oc, nc = old.collections.get(ext), new.collections.get(ext)
                if oc is None:
                    out.append(
                        f'collection "{new.name}"/"{nc.name}" was added in the database since the plan'
                    )
                elif nc is None:
                    out.append(
                        f'collection "{old.name}"/"{oc.name}" was removed from the database since the plan'
                    )
                elif oc.fingerprint != nc.fingerprint:
                    out.append(
                        f'collection "{old.name}"/"{oc.name}" changed in the database since the plan'
                    )
    if not out:  # the whole-state digest moved but no part did: say so rather than nothing
        out.append("the database changed since the plan")
    return out


def _asset_moves(saved: SavedPlan, conn: Connection, now: DbState) -> list[str]:
    out = []
    for action in saved.document.get("actions") or ():
        if action.get("kind") != "ingest_collection" or not action.get("db_fingerprint"):
            continue
        ref = action["collection"]
        if not ref.get("id"):
            continue  # created by the plan: its absence is covered by the database state
        current = fingerprint_assets(load_asset_index(conn, uuid.UUID(ref["id"])))
        if current != action["db_fingerprint"]:
            out.append(
                f'collection "{ref["source"]["name"]}"/"{ref["name"]}": its assets changed in the database since the plan'
            )
    return out


# --- JSON -> Plan ------------------------------------------------------------------------------------


def _uuid(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


def _source_address(ref: dict) -> SourceAddress:
    return SourceAddress(ref["name"], _uuid(ref.get("id")))


def _collection_address(ref: dict) -> CollectionAddress:
    return CollectionAddress(
        _source_address(ref["source"]), ref["external_id"], ref["name"], _uuid(ref.get("id"))
    )


def _mappings(items: list[dict]) -> tuple[PathMappingSpec, ...]:
    return tuple(PathMappingSpec(m["plex_path"], m["local_path"]) for m in items)


def plan_from_json(document: dict, desired: DesiredState) -> Plan:
    """Rebuild the ``Plan`` a JSON plan describes; secrets are filled in from ``desired``."""
    try:
        actions = tuple(_action(a, desired) for a in document["actions"])
        problems = tuple(
            Problem(p["source"], p["kind"], p["message"], p.get("collection"))
            for p in document.get("problems") or ()
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanError(f"saved plan is malformed: {type(exc).__name__}: {exc}") from None
    state = document.get("observed")
    return Plan(
        actions=actions,
        problems=problems,
        config_file=document.get("config_file"),
        config_hash=document.get("config_hash"),
        secret_fingerprints=dict(document.get("secret_fingerprints") or {}),
        allow_mass_missing=bool(document.get("allow_mass_missing", False)),
        db_state=DbState.from_json(state) if state else None,
    )


def _secret(desired: DesiredState, source: str, key: str) -> Any:
    decl = desired.source(source)
    if decl is None or key not in decl.config:
        raise PlanError(
            f"saved plan needs the secret {source}.{key}, but the config no longer declares it",
            hint="make a new plan",
        )
    return decl.config[key]


def _action(a: dict, desired: DesiredState) -> Action:
    kind = a["kind"]
    if kind == "create_source":
        source = _source_address(a["source"])
        decl = desired.source(source.name)
        sensitive = frozenset(decl.sensitive_keys if decl else ())
        config = {
            k: (_secret(desired, source.name, k) if (k in sensitive or v == SENSITIVE_SHOWN) else v)
            for k, v in a["config"].items()
        }
        sensitive |= {k for k, v in a["config"].items() if v == SENSITIVE_SHOWN}
        return CreateSource(
            source,
            a["type"],
            a["external_id"],
            config,
            frozenset(sensitive),
            a.get("origin", "config"),
        )
    if kind == "update_source":
        source = _source_address(a["source"])
        changes = []
        for c in a["changes"]:
            after = c["after"]
            if c.get("sensitive") and after is not None:
                after = _secret(desired, source.name, c["field"].removeprefix("config."))
            # a sensitive "before" is not in the file and the executor never needs it: it stays masked
            changes.append(FieldChange(c["field"], c["before"], after, bool(c.get("sensitive"))))
        return UpdateSource(source, tuple(changes))
    if kind == "prune_source":
        return PruneSource(
            _source_address(a["source"]),
            a["external_id"],
            a["type"],
            a.get("collections", 0),
            a.get("assets", 0),
            bool(a.get("prune")),
            a.get("protected_assets", 0),
        )
    collection = _collection_address(a["collection"])
    if kind == "discover_collection":
        return AddCollection(collection, tuple(a["locations"]), _mappings(a["path_mappings"]))
    if kind == "rename_collection":
        return RenameCollection(collection, a["before"], a["after"])
    if kind == "collection_gone_upstream":
        return CollectionGoneUpstream(collection)
    if kind == "set_sync":
        return SetCollectionSync(collection, a["before"], a["after"])
    if kind == "set_path_mappings":
        return SetPathMappings(collection, _mappings(a["before"]), _mappings(a["after"]))
    if kind == "set_ingestible":
        return SetIngestible(collection, a["before"], a["after"], a.get("reason"))
    if kind == "ingest_collection":
        return IngestCollection(
            collection=collection,
            counts=IngestCounts(**{k: v for k, v in a["counts"].items() if k in _COUNT_FIELDS}),
            scope=a.get("scope", "collection"),
            title=a.get("title"),
            season=a.get("season"),
            episode=a.get("episode"),
            degraded=bool(a.get("degraded")),
            degraded_reason=a.get("degraded_reason"),
            skipped=tuple(
                SkipReason(s["reason"], s["count"], s["example"])
                for s in a.get("skipped_reasons") or ()
            ),
            missing_threshold=a.get("missing_threshold", 0.2),
            mapping_roots=tuple(
                MappingRoot(m["plex_path"], m["local_path"], bool(m["exists"]))
                for m in a.get("mapping_roots") or ()
            ),
            db_fingerprint=a.get("db_fingerprint"),
        )
    raise PlanError(
        f"saved plan has an action of unknown kind '{kind}'",
        hint="make the plan with this retrovue version",
    )
