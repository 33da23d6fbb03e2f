"""Saved plans (`plan --out plan.json`, `apply plan.json`): the file, its loading and staleness.

A saved plan is the JSON plan (``retrovue.model.codec``) plus what it was made against: the
config hash, secret fingerprints (never values), keyed digests of every environment variable the
config reads (so a changed ``${VAR}`` makes the plan stale, naming it), the schema revision and
fingerprints of the observed database state (whole database, per source, per collection, and per ingested
collection's assets).  ``apply PLAN`` re-observes under the apply lock and refuses, naming what
moved, when any of them differ; the database only for the sources the plan's changes act on
(another source's apply since is not staleness), and upstream content moving is *not* staleness
either (apply ingests what is there).

The observing is ``retrovue.observe.state``; this module only compares, so it runs no SQL.

A saved plan is tamper-evident: ``sealed`` writes an HMAC of the whole document, keyed with the
database's key (which never leaves the database), and ``verify_digest`` refuses a file whose
digest does not match before anything else is looked at.  Secret fingerprints are keyed the same
way, so a file cannot be used to check guesses of a token offline.

``plan_from_json`` rebuilds the very ``Plan`` the executor runs (SQLMesh's ``EvaluatablePlan``:
freeze, then evaluate).  What the config decides is taken from the reloaded config, not from the
file (defence in depth behind the digest): a new source's config, a source update's new values
and every ingest's missing threshold.  Secret values are never in the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import singledispatch
from typing import Any, Protocol, TypeVar

from retrovue.config.model import CollectionDecl, DesiredState, SourceDecl
from retrovue.errors import PlanError, PlanModifiedError, StalePlanError
from retrovue.fingerprint import KEYED_PREFIX, canonical_json, keyed_digest_text
from retrovue.model.actions import (
    CreateSource,
    FieldChange,
    IngestCollection,
    Plan,
    PruneSource,
    RenameCollection,
    SourceAddress,
    UpdateSource,
    created_external_id,
    imperative_only,
    is_change,
    source_of,
)
from retrovue.model.codec import (
    FORMAT_VERSION,
    KINDS,
    CodecError,
    UnknownKindError,
    decode_action,
    decode_as,
    decode_plan,
    decode_record,
    encode_record,
)
from retrovue.model.enums import SourceOrigin
from retrovue.model.snapshots import DbState, SourceFingerprint
from retrovue.plan.json_limits import MAX_DEPTH, line_column, long_number_at, too_deep_at

SUPPORTED_MAJOR = int(FORMAT_VERSION.split(".", 1)[0])

T = TypeVar("T")


class Observer(Protocol):
    """The database as it is now (``retrovue.observe.state.StateObserver``)."""

    def db_state(self) -> DbState: ...

    def asset_fingerprint(self, collection_id: uuid.UUID) -> str: ...

    def key(self) -> bytes: ...


# --- the file --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedOptions:
    sources: tuple[str, ...] = ()
    allow_mass_missing: bool = False
    prune: bool = False


@dataclass(frozen=True)
class TouchedSources:
    """The sources a plan's changes act on: stored ones by id; ones it creates by name
    (casefolded) and external_id, which another writer may have taken since."""

    ids: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    external_ids: frozenset[str] = frozenset()

    def covers_address(self, address: SourceAddress) -> bool:
        if address.id is not None:
            return str(address.id) in self.ids
        return address.name.casefold() in self.names

    def covers(self, source_id: str, *states: SourceFingerprint | None) -> bool:
        """Whether this stored source (as it was and as it is) is one the plan acts on."""
        if source_id in self.ids:
            return True
        return any(
            s is not None
            and (s.name.casefold() in self.names or s.external_id in self.external_ids)
            for s in states
        )


def touched_sources(actions) -> TouchedSources:
    """What ``actions`` change, by source: only these sources can make a saved plan stale."""
    changes = [a for a in actions if is_change(a)]
    addresses = [source_of(a) for a in changes]
    return TouchedSources(
        ids=frozenset(str(a.id) for a in addresses if a.id is not None),
        names=frozenset(a.name.casefold() for a in addresses if a.id is None),
        external_ids=frozenset(
            external_id for a in changes if (external_id := created_external_id(a)) is not None
        ),
    )


@dataclass(frozen=True)
class SavedPlan:
    path: str
    document: dict
    plan_id: str
    created_at: str | None
    config_file: str
    config_hash: str
    secret_fingerprints: dict[str, str]
    #: variable -> keyed digest of its value (None: unset); None: a plan older than 1.5
    environment: dict[str, str | None] | None
    db_state: DbState
    options: SavedOptions
    #: the ingests whose collection's assets were fingerprinted (apply re-checks each)
    ingests: tuple[IngestCollection, ...] = ()
    #: the sources its changes act on: the database is compared for these only
    touched: TouchedSources = TouchedSources()


def saved_document(
    plan_document: dict,
    plan: Plan,
    options: SavedOptions,
    secret_fingerprints: Mapping[str, str] | None = None,
    environment: Mapping[str, str | None] | None = None,
) -> dict:
    """The JSON plan plus what apply needs to check it is still current (``secret_fingerprints``
    and ``environment``: keyed, from ``secret_fingerprints`` and ``environment_fingerprints``)."""
    if plan.db_state is None:
        raise PlanError(
            "internal: a saved plan needs the observed database state (PlanOptions.fingerprint)"
        )
    doc = dict(plan_document)
    doc["plan_id"] = str(uuid.uuid4())
    doc["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    doc["schema_revision"] = plan.db_state.schema_revision
    if plan.config_file:  # absolute: the plan is applied from wherever CI happens to run
        doc["config_file"] = os.path.abspath(plan.config_file)
    doc["observed"] = encode_record(plan.db_state)
    doc["options"] = encode_record(options)
    if secret_fingerprints is not None:
        doc["secret_fingerprints"] = dict(sorted(secret_fingerprints.items()))
    if environment is not None:
        doc["environment"] = dict(sorted(environment.items()))
    return doc


def secret_fingerprints(desired: DesiredState, key: bytes) -> dict[str, str]:
    """``"<source>.<param>"`` -> HMAC of each secret's value (as the environment gives it now),
    keyed with the database's key: a rotated secret shows, a guessed one cannot be checked."""
    return {
        f"{decl.name}.{param}": keyed_digest_text(key, str(decl.config[param]))
        for decl in desired.sources
        for param in sorted(decl.sensitive_keys)
        if param in decl.config
    }


def environment_fingerprints(desired: DesiredState, key: bytes) -> dict[str, str | None]:
    """Each environment variable the config reads -> HMAC of its value now, keyed like the
    secrets (a value may be one, and a digest shows a change without showing the value); None
    when it is unset, so the file's own default applied."""
    return {
        name: None if value is None else keyed_digest_text(key, value)
        for name, value in sorted(desired.environment.items())
    }


# --- the digest ------------------------------------------------------------------------------------

DIGEST = "digest"


def sealed(document: dict, key: bytes, scrub: Callable[[str], str] = str) -> dict:
    """The document exactly as it will be read back (JSON, scrubbed of known secrets), with its
    digest: the digest covers what the file holds, not what was in memory."""
    plain = json.loads(scrub(json.dumps(document, default=str)))
    plain.pop(DIGEST, None)
    return plain | {DIGEST: document_digest(plain, key)}


def document_digest(document: Mapping[str, Any], key: bytes) -> str:
    """HMAC-SHA256 of the canonical JSON (sorted keys, no spaces) of all but the digest."""
    body = canonical_json({k: v for k, v in document.items() if k != DIGEST})
    return KEYED_PREFIX + hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def verify_digest(saved: SavedPlan, key: bytes) -> None:
    """Refuse a saved plan whose digest is missing or does not match its content."""
    written = saved.document.get(DIGEST)
    if isinstance(written, str) and hmac.compare_digest(
        written, document_digest(saved.document, key)
    ):
        return
    why = "its digest does not match" if written else "it has no digest"
    raise PlanModifiedError(
        f"the saved plan {saved.path} was modified after it was made ({why}); nothing was changed",
        hint="make the plan again (`retrovue plan --out PLAN`), review it and apply that; a plan "
        "is checked with the key of the database it was made on, so a plan made on another "
        "database is refused the same way",
        context={"plan_id": saved.plan_id},
    )


def write_plan_file(path: str, document: dict, scrub: Callable[[str], str]) -> None:
    """The file, written atomically (a reader never sees half a plan) and scrubbed of every
    known secret value; a folder that is missing or not writable is a clear error."""
    text = scrub(json.dumps(document, indent=2, default=str)) + "\n"
    directory = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".retrovue-plan-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise PlanError(
            f"cannot write the plan to {path}: {exc.strerror or exc}",
            hint=f"the folder {directory} must exist and be writable",
        ) from None


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
    _decoded(f"saved plan {path}", lambda: _check_fields(doc))
    state = _decoded(f"saved plan {path}", lambda: decode_record(DbState, doc["observed"]))
    actions = _decoded(f"saved plan {path}", lambda: [decode_action(a) for a in doc["actions"]])
    return SavedPlan(
        path=path,
        document=doc,
        plan_id=str(doc["plan_id"]),
        created_at=doc.get("created_at"),
        config_file=_config_file(path, str(doc["config_file"])),
        config_hash=doc["config_hash"],
        secret_fingerprints=dict(doc.get("secret_fingerprints") or {}),
        environment=doc.get("environment"),
        db_state=state,
        options=_decoded(
            f"saved plan {path}", lambda: decode_record(SavedOptions, doc.get("options") or {})
        ),
        ingests=tuple(a for a in actions if _fingerprinted(a)),
        touched=touched_sources(actions),
    )


#: the top-level fields of a saved plan and what each must be (absent: None)
_FIELDS: Mapping[str, Any] = {
    "config_file": str,
    "config_hash": str,
    "plan_id": str,
    "created_at": str | None,
    "actions": tuple,  # a JSON list
    "secret_fingerprints": dict[str, str] | None,
    "environment": dict[str, str | None] | None,
    "options": dict | None,
    "observed": dict,
    "allow_mass_missing": bool | None,
    DIGEST: str | None,
}


def _check_fields(doc: Mapping[str, Any]) -> None:
    for key, expected in _FIELDS.items():
        try:
            decode_as(expected, doc.get(key))
        except CodecError as exc:
            raise CodecError(f"{key}: {exc}") from None


def _config_file(plan_path: str, config_file: str) -> str:
    """A relative config path (an older plan, or one edited by hand) is relative to the plan
    file's directory, never to the working directory of the apply."""
    if os.path.isabs(config_file):
        return config_file
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(plan_path)), config_file))


def _read(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise PlanError(f"saved plan {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read saved plan {path}: {exc}") from None
    doc = _parsed(path, text)
    if not isinstance(doc, dict) or "format_version" not in doc:
        raise PlanError(f"{path} is not a retrovue plan file (no format_version)")
    return doc


def _parsed(path: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(
            f"saved plan {path} is not valid JSON (line {exc.lineno}: {exc.msg})"
        ) from None
    except RecursionError:
        offset, what = too_deep_at(text), f"nests deeper than {MAX_DEPTH} levels"
    except ValueError:  # an integer past the interpreter's 4,300-digit conversion limit
        offset, what = long_number_at(text), "holds a number too long to read"
    where = "line {}, column {}".format(*line_column(text, offset)) if offset is not None else ""
    raise PlanError(
        f"saved plan {path} is not a plan: it {what}" + (f" ({where})" if where else ""),
        hint="saved plans are written by `retrovue plan --out PLAN` and must not be edited",
    )


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
    return bool(getattr(action, "db_fingerprint", None)) and action.collection.id is not None


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
        raise PlanError(
            f"{what} is malformed: {exc}",
            hint="saved plans are written by `retrovue plan --out PLAN` and must not be edited",
        ) from None


# --- staleness ------------------------------------------------------------------------------------


def stale_reasons(saved: SavedPlan, desired: DesiredState, observer: Observer) -> list[str]:
    """Everything that moved since the plan was made, one readable line each (empty: current).

    The database counts only for the sources the plan changes: another source's apply since
    does not make this plan stale, as it changed nothing this plan reads or writes."""
    moved: list[str] = []
    if desired.config_hash != saved.config_hash:
        moved.append(f"config {desired.file} changed since the plan")
    key = observer.key()
    moved += _secret_moves(saved.secret_fingerprints, secret_fingerprints(desired, key))
    moved += _environment_moves(saved.environment, environment_fingerprints(desired, key))
    now = observer.db_state()
    if now.schema_revision != saved.db_state.schema_revision:
        moved.append(
            f"database schema revision changed ({saved.db_state.schema_revision} -> {now.schema_revision})"
        )
    if now.fingerprint != saved.db_state.fingerprint:
        moved += _db_moves(saved.db_state, now, saved.touched)
    moved += _asset_moves(
        tuple(a for a in saved.ingests if saved.touched.covers_address(a.collection.source)),
        observer,
    )
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


def _environment_moves(
    before: Mapping[str, str | None] | None, after: Mapping[str, str | None]
) -> list[str]:
    """What runs must be what was reviewed: a ``${VAR}`` that resolves differently now (a
    threshold, a base path) would carry out a plan nobody saw."""
    if before is None:
        return (
            [
                "the plan does not record the environment variables its config reads ("
                + ", ".join(sorted(after))
                + "): it was made by an older retrovue"
            ]
            if after
            else []
        )
    out = []
    for name in sorted(set(before) | set(after)):
        if name not in after or name not in before:
            continue  # the config reads other variables: its own change is reported already
        was, now = before[name], after[name]
        if was == now:
            continue
        if was is None:
            out.append(
                f"environment variable {name} is set now; the plan was made with it unset "
                "(the config's default)"
            )
        elif now is None:
            out.append(
                f"environment variable {name} is not set now; the plan was made with its value"
            )
        else:
            out.append(f"environment variable {name} has another value than when the plan was made")
    return out


def _db_moves(before: DbState, after: DbState, touched: TouchedSources) -> list[str]:
    """What moved in the sources the plan touches.  When the whole-state digest moved but no
    source did, that is said rather than nothing."""
    out, anything = [], False
    for sid in sorted(
        set(before.sources) | set(after.sources),
        key=lambda k: (before.sources.get(k) or after.sources[k]).name,
    ):
        old, new = before.sources.get(sid), after.sources.get(sid)
        moves = _source_moves(old, new)
        anything = anything or bool(moves)
        if touched.covers(sid, old, new):
            out += moves
    if not anything:
        out.append("the database changed since the plan")
    return out


def _source_moves(old: SourceFingerprint | None, new: SourceFingerprint | None) -> list[str]:
    if old is None:
        return [f'source "{new.name}" was created in the database since the plan']
    if new is None:
        return [f'source "{old.name}" was deleted from the database since the plan']
    out = []
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
    return out


def _asset_moves(ingests: tuple[IngestCollection, ...], observer: Observer) -> list[str]:
    return [
        f"{a.collection}: its assets changed in the database since the plan"
        for a in ingests
        if observer.asset_fingerprint(a.collection.id) != a.db_fingerprint
    ]


# --- JSON -> Plan ------------------------------------------------------------------------------------


def plan_from_json(document: dict, desired: DesiredState, what: str = "saved plan") -> Plan:
    """Rebuild the ``Plan`` a JSON plan describes, with what the config decides taken from
    ``desired`` (``what`` names the file in errors)."""
    plan = _decoded(what, lambda: decode_plan(document))
    actions = tuple(_as_configured(a, desired, plan, what) for a in plan.actions)
    plan = dataclasses.replace(plan, actions=actions)
    state = document.get("observed")
    if not state:
        return plan
    return dataclasses.replace(plan, db_state=_decoded(what, lambda: decode_record(DbState, state)))


def _as_configured(action: Any, desired: DesiredState, plan: Plan, what: str) -> Any:
    """The action with what the config decides taken from ``desired``; refused when the config
    could not have made it."""
    if imperative_only(action):
        raise PlanError(
            f"{what} holds a {KINDS[type(action)]} action, which `retrovue plan` never makes",
            hint="saved plans are written by `retrovue plan --out PLAN` and must not be edited",
        )
    return configured(action, _Reloaded(desired, plan, what))


@dataclass(frozen=True)
class _Reloaded:
    """What ``configured`` takes the config's decisions from."""

    desired: DesiredState
    plan: Plan
    what: str  # names the file in errors


@singledispatch
def configured(action: Any, reloaded: _Reloaded) -> Any:
    """The action with what the config decides taken from the reloaded config; each kind the
    config decides something of registers here (the rest comes back as it is)."""
    return action


@configured.register
def _(action: CreateSource, reloaded: _Reloaded) -> CreateSource:
    decl = _declared(reloaded.desired, action.source.name, reloaded.what)
    return dataclasses.replace(
        action,
        type=decl.type,
        config=decl.stored_config,
        sensitive_keys=decl.sensitive_keys,
        origin=SourceOrigin.CONFIG,
    )


@configured.register
def _(action: UpdateSource, reloaded: _Reloaded) -> UpdateSource:
    decl = _declared(reloaded.desired, action.source.name, reloaded.what)
    return dataclasses.replace(
        action, changes=tuple(_configured_change(c, decl, reloaded.what) for c in action.changes)
    )


@configured.register
def _(action: IngestCollection, reloaded: _Reloaded) -> IngestCollection:
    decl = _declared(reloaded.desired, action.collection.source.name, reloaded.what)
    threshold = _threshold(reloaded.desired, decl, action, reloaded.plan.actions)
    return dataclasses.replace(action, missing_threshold=threshold)


@configured.register
def _(action: PruneSource, reloaded: _Reloaded) -> PruneSource:
    if _declares(reloaded.desired, action):
        raise PlanError(
            f"{reloaded.what} prunes {action.source}, which {reloaded.desired.file} declares",
            hint="make a new plan",
        )
    return action


def _declared(desired: DesiredState, name: str, what: str) -> SourceDecl:
    decl = desired.source(name)
    if decl is None:
        raise PlanError(
            f'{what} changes source "{name}", which {desired.file} does not declare',
            hint="make a new plan",
        )
    return decl


def _declares(desired: DesiredState, prune: PruneSource) -> bool:
    return any(
        d.name.casefold() == prune.source.name.casefold() or d.external_id == prune.external_id
        for d in desired.sources
    )


def _configured_change(change: FieldChange, decl: SourceDecl, what: str) -> FieldChange:
    """The new value of an updated field as the config has it (a secret as stored: its
    reference, or its value when the file gives it in clear)."""
    if change.field == "name":
        return dataclasses.replace(change, after=decl.name)
    if change.field == "type":
        return dataclasses.replace(change, after=decl.type)
    key = change.config_key
    if key is not None:
        return dataclasses.replace(
            change, after=decl.stored_config.get(key), sensitive=key in decl.sensitive_keys
        )
    raise PlanError(
        f'{what} changes the {change.field!r} of source "{decl.name}", which no plan changes',
        hint="saved plans are written by `retrovue plan --out PLAN` and must not be edited",
    )


def _threshold(
    desired: DesiredState, decl: SourceDecl, ingest: IngestCollection, actions: tuple
) -> float:
    """The collection's own ``missing_threshold``, else the file's (as the plan builder has it)."""
    coll = _collection_decl(decl, ingest, actions)
    if coll is not None and coll.missing_threshold is not None:
        return coll.missing_threshold
    return desired.missing_threshold


def _collection_decl(
    decl: SourceDecl, ingest: IngestCollection, actions: tuple
) -> CollectionDecl | None:
    """The declaration of the ingested collection: by external_id, else by its upstream name or
    the stored name an upstream rename in the same plan replaces (case-insensitive)."""
    address = ingest.collection
    names = {address.name.casefold()} | {
        renamed.casefold()
        for a in actions
        if (renamed := renamed_from(a)) is not None
        and a.collection.external_id == address.external_id
        and a.collection.source.name == address.source.name
    }
    for c in decl.collections:
        if c.external_id is not None:
            if c.external_id == address.external_id:
                return c
        elif c.name is not None and c.name.casefold() in names:
            return c
    return None


@singledispatch
def renamed_from(action: Any) -> str | None:
    """The stored name an upstream rename replaces; None: the action renames nothing."""
    return None


@renamed_from.register
def _(action: RenameCollection) -> str:
    return action.before
