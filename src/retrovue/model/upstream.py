"""What upstream systems report, as plain data: collections, items and path mappings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple


@dataclass(frozen=True)
class UpstreamCollection:
    """A library/folder an upstream offers.  ``locations`` are upstream paths (a media server's library roots)."""

    external_id: str
    name: str
    locations: tuple[str, ...] = ()
    kind: str = "other"
    #: the upstream's own name when ``name`` is it shortened to fit the column; kept in the
    #: collection's ``config`` so nothing of it is lost
    upstream_name: str | None = None


#: how retrovue.yaml, the plan's JSON and the database spell an upstream path prefix (the seeds'
#: name): the one place the model keeps that spelling
UPSTREAM_PATH_KEY = "plex_path"


@dataclass(frozen=True)
class PathMappingSpec:
    """A server path prefix and the local one it stands for (``plex_path`` in retrovue.yaml,
    the plan's JSON and the database, where the seeds named it; neutral everywhere else)."""

    upstream_path: str = field(metadata={"json": UPSTREAM_PATH_KEY})
    local_path: str | None


#: the ``kind`` of an item standing for a folder the upstream could not list: counted with its
#: ``problem`` like any unusable item, and the stored assets under its ``source_uri`` (a prefix)
#: are neither seen nor marked missing, since their files may well still be there
UNLISTED_FOLDER = "unlisted folder"

#: the ``kind`` of an item the upstream lists but does not offer as content (in its trash, a
#: copy it generated itself, …): counted under its ``problem``, never written, and *not* seen,
#: so a stored asset under its ``source_uri`` goes missing as if it had been deleted
NOT_OFFERED = "not offered"


class UpstreamAsset(NamedTuple):
    """One media file as the upstream reports it.

    A NamedTuple rather than a frozen dataclass: one is built per upstream item on every plan,
    and a frozen dataclass costs 3-5x more to construct (a tenth of a no-change plan at 100k).
    """

    source_uri: str
    path: str  # upstream path: local path for filesystem, server path for a media server
    size: int | None
    change_token: str
    kind: str = "other"  # movie | episode | other | UNLISTED_FOLDER | NOT_OFFERED
    title: str | None = None
    series_title: str | None = None
    season_number: int | None = None
    episode_number: int | None = None
    year: int | None = None
    duration_ms: int | None = None
    metadata: Mapping[str, Any] | None = None
    #: why this item cannot be stored (it is counted and named, never written); None: it can
    problem: str | None = None


#: a source ``config`` key holding each collection's own ``exclude:`` patterns (collection
#: external_id -> patterns): the file declares them on the collection, and they are stored with
#: the source so every ingest (``apply``, ``collection ingest``) walks with the same patterns
COLLECTION_EXCLUDE = "collection_exclude"
