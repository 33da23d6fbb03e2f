"""The importer contract: what every source type provides.

Importers only read upstream systems.  They return plain data and raise the typed errors of
``retrovue.errors``; they never print and never touch the database.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from retrovue.model.enums import ParamKind

# the plain data importers return; re-exported here because it is the importer API
from retrovue.model.upstream import PathMappingSpec, UpstreamAsset, UpstreamCollection

__all__ = [
    "BaseImporter",
    "ChangeStream",
    "ParamSpec",
    "StreamState",
    "UpstreamChange",
    "PathMappingSpec",
    "UpstreamAsset",
    "UpstreamCollection",
    "is_compliant",
]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of an importer's ``config``; drives the config schema and CLI flags."""

    name: str
    #: a plugin may give the kind's value ("string", "url", …): it is made a ``ParamKind`` here
    kind: ParamKind
    required: bool = False
    sensitive: bool = False
    default: Any = None
    help: str = ""

    def __post_init__(self) -> None:
        try:
            kind = ParamKind(self.kind)
        except ValueError:
            known = ", ".join(ParamKind)
            raise ValueError(
                f"parameter '{self.name}': unknown kind {self.kind!r} (known: {known})"
            ) from None
        object.__setattr__(self, "kind", kind)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class UpstreamChange:
    """An upstream's own word that something in it changed (e.g. a media server's
    notification), for `retrovue watch` to reconcile what it names."""

    #: the collection's external_id; None: the upstream did not say (reconcile the source)
    collection: str | None
    #: the item's upstream id, when named (for the report; the reconcile lists the collection)
    item: str | None
    deleted: bool
    at: float  # wall clock (time.time()) of its arrival, for the event lag


@dataclass(frozen=True)
class StreamState:
    """A change stream connected (``connected``) or was lost or refused (``message`` says
    why).  Changes made while it was down were not heard: the watch re-lists the source once it
    is connected again (``reconnected``)."""

    connected: bool
    message: str
    reconnected: bool = False


class ChangeStream(Protocol):
    """What ``BaseImporter.change_stream`` returns: a thread of its own that reports changes
    and its state through ``emit`` (which only queues them: it must not block), and reconnects
    by itself until ``stop``."""

    def start(self, emit: Callable[[UpstreamChange | StreamState], None]) -> None: ...

    def stop(self) -> None: ...


class BaseImporter(ABC):
    type_id: ClassVar[str]
    display_name: ClassVar[str]
    #: True when asset paths are upstream (server) paths that need a path mapping to become local.
    uses_path_mappings: ClassVar[bool] = False
    #: config keys the declarative path stores for the importer beyond its parameters (e.g. a
    #: collection's own settings kept in its source's config); a stored config may hold them
    derived_params: ClassVar[frozenset[str]] = frozenset()
    #: True when ``fetch_assets_in_folders`` can list some folders of a collection alone, so an
    #: event naming a folder (``watch``) ingests that folder instead of the whole collection;
    #: without it the whole collection is listed
    scoped_listing: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any]):
        self.config = dict(config)

    @classmethod
    @abstractmethod
    def param_spec(cls) -> Sequence[ParamSpec]: ...

    @abstractmethod
    def validate_connection(self) -> None:
        """Raise ImporterUnreachableError / ImporterAuthError when the upstream cannot be used."""

    @abstractmethod
    def list_collections(self) -> list[UpstreamCollection]: ...

    @abstractmethod
    def fetch_assets_for_collection(
        self,
        external_id: str,
        *,
        filter_title: str | None = None,
        filter_season: int | None = None,
        filter_episode: int | None = None,
    ) -> Iterator[UpstreamAsset]:
        """Yield the collection's items in a deterministic order.

        Raises CollectionNotFoundError when the collection no longer exists upstream.
        """

    @classmethod
    def collection_parents(cls, config: Mapping[str, Any]) -> tuple[str, ...]:
        """Local folders whose new subfolders are new collections (a folder source's
        ``base_path``): ``watch`` watches them too, so a collection made there is seen at once
        rather than at the next resync.  None by default."""
        return ()

    def fetch_assets_for_folders(
        self, external_id: str, folders: Sequence[str]
    ) -> Iterator[UpstreamAsset]:
        """Yield the items at or under these local paths of the collection (each an absolute
        path strictly inside it; one that does not exist yields nothing), as the whole
        collection's listing would give them.  Only importers with ``scoped_listing``."""
        raise NotImplementedError(f"{self.type_id} cannot list a collection's folders alone")

    def describe(self, item: UpstreamAsset) -> UpstreamAsset:
        """Fill descriptive fields (title, season, …) of an item about to be written.

        ``fetch_assets_for_collection`` may leave them empty when computing them is costly and
        most items turn out unchanged; the ingest calls this only for new and changed items.
        """
        return item

    def observation_token(self, external_id: str) -> Hashable | None:
        """A cheap proof of what the last complete, unfiltered
        ``fetch_assets_for_collection(external_id)`` of this importer saw, taken no later than
        the listing itself (so a change racing the listing shows as a change).  None: no proof,
        and an apply reads the collection again instead of reusing its plan's listing."""
        return None

    def is_unchanged(self, external_id: str, token: Hashable) -> bool:
        """Whether the upstream still matches ``token`` (from ``observation_token``), checked
        far more cheaply than a listing.  Any doubt (an error, an unknown token) is False."""
        return False

    def fetch_items(
        self, external_id: str, item_ids: Sequence[str]
    ) -> Iterator[UpstreamAsset] | None:
        """Only these upstream items of the collection (ids as a change stream names them),
        far more cheaply than a listing; an item gone is simply not yielded (a narrowed ingest
        marks nothing missing).  None: the importer cannot, and the collection is listed."""
        return None

    def change_stream(self) -> ChangeStream | None:
        """A stream of the upstream's own change notifications, when it has one (a capability:
        None means `retrovue watch` relies on file events and the resync alone)."""
        return None

    def skipped_collections(self) -> list[tuple[str, str, str]]:
        """``(external_id, name, reason)`` of what the last ``list_collections()`` was offered
        but left out, so a plan can say why it is not there."""
        return []

    @abstractmethod
    def check_ingestible(
        self, collection: UpstreamCollection, path_mappings: Sequence[PathMappingSpec]
    ) -> tuple[bool, str | None]:
        """(True, None) when the collection can be ingested now, else (False, reason)."""

    @classmethod
    def sensitive_params(cls) -> set[str]:
        return {p.name for p in cls.param_spec() if p.sensitive}


REQUIRED_MEMBERS = (
    "type_id",
    "display_name",
    "param_spec",
    "validate_connection",
    "list_collections",
    "fetch_assets_for_collection",
    "check_ingestible",
)


def is_compliant(importer_cls: type) -> bool:
    """An importer is compliant when it provides every member of the contract, none left abstract."""
    for name in REQUIRED_MEMBERS:
        member = getattr(importer_cls, name, None)
        if member is None or getattr(member, "__isabstractmethod__", False):
            return False
    return True
