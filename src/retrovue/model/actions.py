"""Plan actions: frozen, plain data with no I/O, so the same plan can be shown, saved and run.

A plan is an ordered tuple of these.  ``plan`` renders it, ``apply`` and the imperative commands
hand it to the one executor.  Collections of a source that does not exist yet have no id; the
executor resolves them by ``(source, external_id)`` when it runs.

Each action class registers itself under its wire name with ``@action_kind``: the codec, the plan's
JSON Schema and the executor's routing read the registry, and renderers and handlers register per
class (``functools.singledispatch``), so adding a kind is its dataclass here, its handler, its
text renderer and its summary tally (``plan.summary``): nothing else changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from retrovue.model.counts import IngestCounts
from retrovue.model.enrichment import EnricherSpec, EnrichWork
from retrovue.model.enums import ProblemKind, Scope, SourceOrigin, Unit
from retrovue.model.sensitive import SENSITIVE_SHOWN as SENSITIVE_SHOWN
from retrovue.model.upstream import UPSTREAM_PATH_KEY, PathMappingSpec

#: action class -> its ``kind`` on the wire; filled at import by ``@action_kind``
_KINDS: dict[type, str] = {}
_CLASSES: dict[str, type] = {}
_UNITS: dict[type, Unit] = {}
#: kinds only the imperative commands make: a saved plan (from `plan --out`) never holds one
_IMPERATIVE_ONLY: set[type] = set()
#: every registered kind (a live, read-only view): class -> wire name
KINDS: Mapping[type, str] = MappingProxyType(_KINDS)

C = TypeVar("C", bound=type)


def action_kind(
    name: str, *, unit: Unit = Unit.SOURCE, imperative_only: bool = False
) -> Callable[[C], C]:
    """Register an action class under its wire ``name``, running in ``unit``."""

    def register(cls: C) -> C:
        if name in _CLASSES or cls in _KINDS:
            raise ValueError(f"action kind {name!r} ({cls.__name__}) is registered already")
        _KINDS[cls], _CLASSES[name], _UNITS[cls] = name, cls, unit
        if imperative_only:
            _IMPERATIVE_ONLY.add(cls)
        return cls

    return register


def unregister_action_kind(cls: type) -> None:
    """Forget a kind (a test's throwaway kind)."""
    name = _KINDS.pop(cls)
    del _CLASSES[name], _UNITS[cls]
    _IMPERATIVE_ONLY.discard(cls)


def kind_class(name: str) -> type | None:
    return _CLASSES.get(name)


def unit_of(action: Any) -> Unit:
    return _UNITS[type(action)]


def imperative_only(action: Any) -> bool:
    return type(action) in _IMPERATIVE_ONLY


_OVERRIDE_SAFETY = (
    "Also remove the playout rows that reference the assets (--test-db --force only)."
)


@dataclass(frozen=True)
class SourceAddress:
    name: str
    id: uuid.UUID | None = None  # None: created by this plan

    def __str__(self) -> str:
        return f'source "{self.name}"'


@dataclass(frozen=True)
class CollectionAddress:
    source: SourceAddress
    external_id: str
    name: str
    id: uuid.UUID | None = None

    def __str__(self) -> str:
        return f'collection "{self.source.name}"/"{self.name}"'


#: how a FieldChange names one parameter of a source's config: ``config.<param>``
CONFIG_FIELD_PREFIX = "config."


@dataclass(frozen=True)
class FieldChange:
    """A field an UpdateSource changes: a column (``name``, ``type``) or one config parameter."""

    field: str
    before: Any
    after: Any
    sensitive: bool = False

    @classmethod
    def of_config(cls, key: str, before: Any, after: Any, sensitive: bool = False) -> FieldChange:
        return cls(CONFIG_FIELD_PREFIX + key, before, after, sensitive)

    @property
    def config_key(self) -> str | None:
        """The config parameter this change sets; None for a column."""
        if self.field.startswith(CONFIG_FIELD_PREFIX):
            return self.field.removeprefix(CONFIG_FIELD_PREFIX)
        return None


@action_kind("create_source")
@dataclass(frozen=True)
class CreateSource:
    source: SourceAddress
    type: str
    external_id: str
    config: dict = field(compare=False)
    sensitive_keys: frozenset[str] = field(
        default=frozenset(),
        metadata={
            "doc": 'Config keys whose values are secrets: written as "(sensitive)", never as values.'
        },
    )
    origin: SourceOrigin = SourceOrigin.CONFIG


@action_kind("update_source")
@dataclass(frozen=True)
class UpdateSource:
    source: SourceAddress
    changes: tuple[FieldChange, ...]


_UPSTREAM_NAME = {
    "doc": "The upstream's full name when it is longer than a stored name holds: the stored "
    "name is its shortened form, the full one is kept in the collection's config."
}


@action_kind("discover_collection")
@dataclass(frozen=True)
class AddCollection:
    """Discovered upstream and not yet stored (new collections start with sync disabled)."""

    collection: CollectionAddress
    locations: tuple[str, ...]
    path_mappings: tuple[PathMappingSpec, ...]
    upstream_name: str | None = field(default=None, metadata=_UPSTREAM_NAME)


@action_kind("rename_collection")
@dataclass(frozen=True)
class RenameCollection:
    """Renamed upstream: the stored name follows (drift made outside the config)."""

    collection: CollectionAddress
    before: str
    after: str
    upstream_name: str | None = field(default=None, metadata=_UPSTREAM_NAME)


@action_kind("collection_gone_upstream")
@dataclass(frozen=True)
class CollectionGoneUpstream:
    """Stored but no longer offered upstream.  Never deleted by apply: reported only."""

    collection: CollectionAddress


@action_kind("set_sync")
@dataclass(frozen=True)
class SetCollectionSync:
    collection: CollectionAddress
    before: bool
    after: bool


@action_kind("set_path_mappings")
@dataclass(frozen=True)
class SetPathMappings:
    collection: CollectionAddress
    before: tuple[PathMappingSpec, ...]
    after: tuple[PathMappingSpec, ...]


@action_kind("set_ingestible")
@dataclass(frozen=True)
class SetIngestible:
    collection: CollectionAddress
    before: bool
    after: bool
    reason: str | None


@dataclass(frozen=True)
class SkipReason:
    reason: str
    count: int
    example: str


@dataclass(frozen=True)
class AssetDetail:
    """Which assets one kind of change touches (``plan --detail``): at most a cap of paths,
    with the full count, so a reviewer sees the files without the plan growing with them."""

    kind: str  # new, changed, remapped, reappeared, missing, duplicate, unmapped
    total: int
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class MappingRoot:
    """Coverage of one path mapping: does its local root exist here?"""

    upstream_path: str = field(metadata={"json": UPSTREAM_PATH_KEY})
    local_path: str
    exists: bool


@action_kind("ingest_collection", unit=Unit.INGEST)
@dataclass(frozen=True)
class IngestCollection:
    collection: CollectionAddress
    counts: IngestCounts
    scope: Scope = Scope.COLLECTION
    title: str | None = None
    season: int | None = None
    episode: int | None = None
    #: only these upstream items (ids a change stream named): narrowed, nothing marked missing
    items: tuple[str, ...] = ()
    degraded: bool = False
    degraded_reason: str | None = None
    skipped: tuple[SkipReason, ...] = field(default=(), metadata={"json": "skipped_reasons"})
    missing_threshold: float = 0.2
    #: importers that map upstream paths: each usable mapping and whether its local root exists
    mapping_roots: tuple[MappingRoot, ...] = ()
    #: fingerprint of the observed database state of this collection (saved-plan staleness)
    db_fingerprint: str | None = None
    #: per-asset detail, built only when asked for (empty otherwise, and in older saved plans)
    detail: tuple[AssetDetail, ...] = ()
    #: ``scope`` folders: the local paths this ingest lists (each with all it holds); only the
    #: stored assets at or under one of them are compared, so only they can go missing
    folders: tuple[str, ...] = field(
        default=(),
        metadata={
            "doc": 'With scope "folders": the local folders (or paths gone) the ingest lists; '
            "only assets stored at or under one of them are compared, so only they can go missing."
        },
    )


@action_kind("set_enrichers")
@dataclass(frozen=True)
class SetEnrichers:
    """The enrichers attached to a source (``collection`` None) or to one collection change.

    Declared ``enrichers:`` are managed exactly (``[]`` detaches all); a source or collection
    that declares none leaves its stored attachments alone."""

    source: SourceAddress
    before: tuple[EnricherSpec, ...]
    after: tuple[EnricherSpec, ...]
    collection: CollectionAddress | None = None

    @property
    def target(self) -> SourceAddress | CollectionAddress:
        return self.collection if self.collection is not None else self.source


@action_kind("enrich_collection", unit=Unit.ENRICH)
@dataclass(frozen=True)
class EnrichCollection:
    """Run a collection's enrichers over its assets still to enrich, after its ingest.

    ``work`` is the plan's count per enricher; the executor decides again, from the database,
    which assets it enriches (a saved plan's numbers are a preview, never an instruction).  With
    no work, only the ``stuck`` assets are settled (also in a collection that is not synced, or
    has no enricher attached any more)."""

    collection: CollectionAddress
    work: tuple[EnrichWork, ...]
    #: enrich every present asset again, whatever was recorded
    force: bool = False
    #: enrich again the assets whose last attempt failed for their current change token
    retry_failed: bool = False
    #: attached types no loaded enricher provides: the run reports them, never skips silently
    unavailable: tuple[str, ...] = field(
        default=(),
        metadata={
            "doc": "Attached enricher types no loaded enricher provides: the run reports them as errors."
        },
    )
    #: assets a killed run left ``enriching``: the run settles them by the ready rule with the
    #: enrichers attached then (ready when all succeeded for the asset's change token, else new)
    stuck: int = field(
        default=0,
        metadata={
            "doc": "Assets a killed run left enriching: apply settles them by the ready rule with the enrichers attached then (ready when all succeeded for the asset's change token, else new; new with none attached). Absent before 1.7 (0)."
        },
    )
    #: leave the enriching to `retrovue worker` (``--enrich=workers``): the run enriches
    #: nothing, settles nothing, and reports how many assets the workers have to enrich
    by_workers: bool = field(
        default=False,
        metadata={
            "doc": "Leave the enriching to `retrovue worker` processes (--enrich=workers): apply enriches nothing and reports how many assets are left to the workers. Absent before 1.9 (false)."
        },
    )

    @property
    def total(self) -> int:
        return sum(w.assets for w in self.work)


@action_kind("prune_source")
@dataclass(frozen=True)
class PruneSource:
    """A config-created source no longer declared in the file.

    Deleted only when pruning was asked for (``--prune`` / ``prune: true``) and none of its assets
    is referenced by playlog_events/as_run_log (production safety); otherwise shown and kept.
    Sources created imperatively (``SourceOrigin.CLI``) never become a PruneSource.
    """

    source: SourceAddress
    external_id: str
    type: str
    collections: int = 0
    assets: int = 0
    prune: bool = False  # False: pruning was not asked for, the source is only reported
    protected_assets: int = 0  # assets referenced by playout logs: the source is kept

    @property
    def will_delete(self) -> bool:
        return self.prune and self.protected_assets == 0


@action_kind("set_path_mapping_local", imperative_only=True)
@dataclass(frozen=True)
class SetPathMappingLocal:
    """`collection update --path-mapping`: set (or clear, with None) the local_path of the one
    existing row with this upstream path.  The row is never created or deleted: only discovery
    creates mapping rows, so the command cannot invent an upstream path."""

    collection: CollectionAddress
    upstream_path: str = field(metadata={"json": UPSTREAM_PATH_KEY})
    before: str | None
    after: str | None


@action_kind("delete_source", imperative_only=True)
@dataclass(frozen=True)
class DeleteSource:
    """`source delete`: the source with its collections, path mappings and assets, so nothing is
    left orphaned.

    ``override_safety`` (only under --test-db --force; production never overrides) also removes the
    playout rows that reference its assets, which the foreign keys would otherwise refuse."""

    source: SourceAddress
    type: str
    collections: int = 0
    path_mappings: int = 0
    assets: int = 0
    override_safety: bool = field(default=False, metadata={"doc": _OVERRIDE_SAFETY})


@action_kind("wipe_collection", imperative_only=True)
@dataclass(frozen=True)
class WipeCollection:
    """`collection wipe`: delete every asset, clear last_ingest_at; keep row, flags, mappings."""

    collection: CollectionAddress
    assets: int = 0
    override_safety: bool = field(default=False, metadata={"doc": _OVERRIDE_SAFETY})


@action_kind("set_approval", imperative_only=True)
@dataclass(frozen=True)
class SetApproval:
    """Approve (or withdraw approval of) these assets of one collection for broadcast: an
    operator's act (`serve`'s approve/unapprove).  Only a ``ready`` asset may be approved; the
    handler checks it inside the unit, and the database's check constraint backs it."""

    collection: CollectionAddress
    asset_ids: tuple[uuid.UUID, ...]
    approved: bool


Action = (
    CreateSource
    | UpdateSource
    | AddCollection
    | RenameCollection
    | CollectionGoneUpstream
    | SetCollectionSync
    | SetPathMappings
    | SetIngestible
    | IngestCollection
    | SetEnrichers
    | EnrichCollection
    | PruneSource
    | SetPathMappingLocal
    | DeleteSource
    | WipeCollection
    | SetApproval
)


def source_of(action: Any) -> SourceAddress:
    """The source an action belongs to."""
    source = getattr(action, "source", None)
    return source if source is not None else action.collection.source


def is_change(action: Action) -> bool:
    if isinstance(action, IngestCollection):
        return action.counts.has_changes
    if isinstance(action, EnrichCollection):
        return action.total > 0 or bool(action.unavailable) or action.stuck > 0
    if isinstance(action, PruneSource):
        return action.will_delete
    return not isinstance(action, CollectionGoneUpstream)


def created_external_id(action: Any) -> str | None:
    """The external_id of the source an action creates; None: it creates none."""
    return action.external_id if isinstance(action, CreateSource) else None


def is_warning(action: Any) -> bool:
    """A note the plan shows with ``!`` that changes nothing."""
    if isinstance(action, CollectionGoneUpstream):
        return True
    return isinstance(action, PruneSource) and not action.will_delete


@dataclass(frozen=True)
class Problem:
    """Something that kept part of the plan from being made (the rest is still planned)."""

    source: str
    kind: ProblemKind
    message: str
    collection: str | None = None


@dataclass(frozen=True)
class SkippedCollection:
    """Offered upstream but not a collection here (e.g. a media server's music library)."""

    source: str
    external_id: str
    name: str
    reason: str


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    problems: tuple[Problem, ...] = ()
    skipped: tuple[SkippedCollection, ...] = ()
    config_file: str | None = None
    config_hash: str | None = None
    secret_fingerprints: dict[str, str] = field(default_factory=dict, compare=False)
    allow_mass_missing: bool = False
    #: ingest a collection even when its plan found nothing to change: an imperative ingest
    #: records a run either way, a declarative apply leaves an unchanged collection alone
    ingest_unchanged: bool = False
    #: what the plan observed in the database, for saved-plan staleness (plan/saved.py DbState)
    db_state: Any = field(default=None, compare=False)
    #: what a reader of the plan should know about how it was made (e.g. that the database
    #: does not exist yet and was read as empty)
    notes: tuple[str, ...] = ()

    @property
    def has_changes(self) -> bool:
        return any(is_change(a) for a in self.actions)

    @property
    def unreachable(self) -> bool:
        return any(p.kind in (ProblemKind.UNREACHABLE, ProblemKind.UPSTREAM) for p in self.problems)

    @property
    def auth_failed(self) -> bool:
        return any(p.kind == ProblemKind.AUTH for p in self.problems)
