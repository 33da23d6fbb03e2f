"""The closed vocabularies: string enums, so they serialize as the words the outputs always used."""

from __future__ import annotations

from enum import StrEnum


class Trigger(StrEnum):
    """What started a collection ingest (recorded on its ``ingest_runs`` row)."""

    APPLY = "apply"
    SOURCE_INGEST = "source-ingest"
    COLLECTION_INGEST = "collection-ingest"
    #: `retrovue watch`: its first full reconcile, a file event, the periodic resync, a config edit
    WATCH_START = "watch-start"
    WATCH_EVENT = "watch-event"
    WATCH_RESYNC = "watch-resync"
    WATCH_CONFIG = "watch-config"


class Scope(StrEnum):
    """How much of a collection an ingest covers.  A full one may mark any of its assets
    missing; a folder-scoped one only those stored under its folders; the others none."""

    COLLECTION = "collection"
    TITLE = "title"
    SEASON = "season"
    EPISODE = "episode"
    #: some folders of the collection (`watch`'s events): see ``IngestCollection.folders``
    FOLDERS = "folders"


class RunStatus(StrEnum):
    """How one collection ingest ended."""

    OK = "ok"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    SKIPPED = "skipped"


class ProblemKind(StrEnum):
    """Why part of a plan could not be made (the rest is still planned)."""

    UNREACHABLE = "unreachable"
    UPSTREAM = "upstream"
    AUTH = "auth"
    ERROR = "error"


class Outcome(StrEnum):
    """How a whole command ended; the CLI turns this, and only this, into an exit code."""

    OK = "ok"
    CHANGES = "changes"  # plan --detailed-exitcode: there is something to apply
    PARTIAL = "partial"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class Unit(StrEnum):
    """The unit of work an action runs in (DESIGN §5)."""

    #: every source-level action of one source commits together
    SOURCE = "source"
    #: a collection's ingest commits alone, with its run row
    INGEST = "ingest"
    #: a collection's enrichment, in committed batches after its ingest
    ENRICH = "enrich"


class AssetState(StrEnum):
    """Where an asset is in its lifecycle (the ``assets.state`` column): new → enriching → ready
    (every attached enricher succeeded for its current change token)."""

    NEW = "new"
    ENRICHING = "enriching"
    READY = "ready"
    RETIRED = "retired"


class SourceOrigin(StrEnum):
    """What created a source (``sources.origin``).  Prune safety rests on it: only a source the
    config created may be deleted for leaving the config."""

    CONFIG = "config"  # apply, from retrovue.yaml
    CLI = "cli"  # an imperative command (`source add`)


class ParamKind(StrEnum):
    """The kind of an importer's or enricher's parameter (``ParamSpec.kind``); how each kind is
    written, read and checked is ``retrovue.importers.kinds``."""

    STRING = "string"
    URL = "url"
    PATH = "path"
    BOOL = "bool"
    LIST = "list"
    NUMBER = "number"
