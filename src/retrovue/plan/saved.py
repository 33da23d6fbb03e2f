"""Saved plans (`plan --out plan.json`, `apply plan.json`): the file, its loading and staleness.

A saved plan is the JSON plan (``retrovue.model.codec``) plus what it was made against: the
config hash, secret fingerprints (never values), the schema revision and fingerprints of the
observed database state (whole database, per source, per collection, and per ingested
collection's assets).  ``apply PLAN`` re-observes under the apply lock and refuses, naming what
moved, when any of them differ; upstream content moving is *not* staleness (apply ingests what
is there).

The observing is ``retrovue.observe.state``; this module only compares, so it runs no SQL.

``plan_from_json`` rebuilds the very ``Plan`` the executor runs (SQLMesh's ``EvaluatablePlan``:
freeze, then evaluate).  Secret values are never in the file; they come back from the reloaded
config, whose fingerprints have just been checked.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from retrovue.config.model import DesiredState
from retrovue.errors import PlanError, StalePlanError
from retrovue.model.actions import IngestCollection, Plan
from retrovue.model.codec import (
    FORMAT_VERSION,
    SecretLookup,
    UnknownKindError,
    decode_action,
    decode_plan,
    decode_record,
    encode_record,
)
from retrovue.model.snapshots import DbState

SUPPORTED_MAJOR = int(FORMAT_VERSION.split(".", 1)[0])

T = TypeVar("T")


class Observer(Protocol):
    """The database as it is now (``retrovue.observe.state.StateObserver``)."""

    def db_state(self) -> DbState: ...

    def asset_fingerprint(self, collection_id: uuid.UUID) -> str: ...


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
    #: the ingests whose collection's assets were fingerprinted (apply re-checks each)
    ingests: tuple[IngestCollection, ...] = ()


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
    doc["observed"] = encode_record(plan.db_state)
    doc["options"] = encode_record(options)
    return doc


def load_saved_plan(path: str) -> SavedPlan:
    doc = _read(path)
    _check_version(path, doc)
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
    state = _decoded(f"saved plan {path}", lambda: decode_record(DbState, doc["observed"]))
    actions = _decoded(f"saved plan {path}", lambda: [decode_action(a) for a in doc["actions"]])
    return SavedPlan(
        path=path,
        document=doc,
        plan_id=str(doc["plan_id"]),
        created_at=doc.get("created_at"),
        config_file=doc["config_file"],
        config_hash=doc["config_hash"],
        secret_fingerprints=dict(doc.get("secret_fingerprints") or {}),
        db_state=state,
        options=_decoded(
            f"saved plan {path}", lambda: decode_record(SavedOptions, doc.get("options") or {})
        ),
        ingests=tuple(a for a in actions if _fingerprinted(a)),
    )


def _read(path: str) -> dict:
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
    return doc


def _check_version(path: str, doc: dict) -> None:
    # a newer minor only adds: the codec ignores fields it does not know
    major = str(doc["format_version"]).split(".", 1)[0]
    if major != str(SUPPORTED_MAJOR):
        raise PlanError(
            f"saved plan {path} has format_version {doc['format_version']}; this retrovue reads {SUPPORTED_MAJOR}.x",
            hint="make the plan again with this version of retrovue",
        )


def _fingerprinted(action: Any) -> bool:
    # a collection the plan creates has no id: its absence is covered by the database state
    return (
        isinstance(action, IngestCollection)
        and bool(action.db_fingerprint)
        and action.collection.id is not None
    )


def _decoded(what: str, decode: Callable[[], T]) -> T:
    """``decode()``, its failures told as a PlanError about ``what``."""
    try:
        return decode()
    except UnknownKindError as exc:
        raise PlanError(
            f"{what} has an action of unknown kind {exc.kind!r}",
            hint="make the plan with this retrovue version",
        ) from None
    except (TypeError, ValueError) as exc:
        raise PlanError(f"{what} is malformed: {exc}") from None


# --- staleness ------------------------------------------------------------------------------------


def stale_reasons(saved: SavedPlan, desired: DesiredState, observer: Observer) -> list[str]:
    """Everything that moved since the plan was made, one readable line each (empty: current)."""
    moved: list[str] = []
    if desired.config_hash != saved.config_hash:
        moved.append(f"config {desired.file} changed since the plan")
    moved += _secret_moves(saved.secret_fingerprints, desired.secret_fingerprints)
    now = observer.db_state()
    if now.schema_revision != saved.db_state.schema_revision:
        moved.append(
            f"database schema revision changed ({saved.db_state.schema_revision} -> {now.schema_revision})"
        )
    if now.fingerprint != saved.db_state.fingerprint:
        moved += _db_moves(saved.db_state, now)
    moved += _asset_moves(saved.ingests, observer)
    return moved


def check_fresh(saved: SavedPlan, desired: DesiredState, observer: Observer) -> None:
    moved = stale_reasons(saved, desired, observer)
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


def _asset_moves(ingests: tuple[IngestCollection, ...], observer: Observer) -> list[str]:
    return [
        f"{a.collection}: its assets changed in the database since the plan"
        for a in ingests
        if observer.asset_fingerprint(a.collection.id) != a.db_fingerprint
    ]


# --- JSON -> Plan ------------------------------------------------------------------------------------


def plan_from_json(document: dict, desired: DesiredState) -> Plan:
    """Rebuild the ``Plan`` a JSON plan describes; secrets are filled in from ``desired``."""
    plan = _decoded("saved plan", lambda: decode_plan(document, _secrets_of(desired)))
    state = document.get("observed")
    if not state:
        return plan
    return dataclasses.replace(
        plan, db_state=_decoded("saved plan", lambda: decode_record(DbState, state))
    )


def _secrets_of(desired: DesiredState) -> SecretLookup:
    def secret(source: str, key: str) -> Any:
        decl = desired.source(source)
        if decl is None or key not in decl.config:
            raise PlanError(
                f"saved plan needs the secret {source}.{key}, but the config no longer declares it",
                hint="make a new plan",
            )
        return decl.config[key]

    return secret
