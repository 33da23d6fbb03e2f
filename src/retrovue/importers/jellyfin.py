"""Jellyfin and Emby importers: one family, since the two servers share their API lineage.

Libraries (``/Library/VirtualFolders``, with their ``Locations``) are collections; each is listed
with one paged ``/Items`` query (``ParentId``, recursive, by item type, ``StartIndex``/``Limit``),
never per show or season.  The received count is checked against ``TotalRecordCount``: a page
that comes back short before the end, a total that moves, or an item listed twice is an error
naming the server and the library, never a silent loss.  Items are yielded page by page, so a
listing holds one page in memory, whatever the library's size.

The two differ only in how the API key is sent and where the API lives: Jellyfin takes
``Authorization: MediaBrowser Token="…"`` at the server's root, Emby ``X-Emby-Token`` under
``/emby`` (the prefix its own clients use; a reverse proxy may expose only that path).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple
from urllib.parse import quote

from retrovue.errors import CollectionNotFoundError, ImporterError, ImporterResponseError
from retrovue.importers import pathmap
from retrovue.importers.base import (
    BaseImporter,
    ParamSpec,
    PathMappingSpec,
    UpstreamAsset,
    UpstreamCollection,
)
from retrovue.importers.jellyfin_http import ApiReader
from retrovue.importers.jellyfin_items import Item, assets, part_count, whole
from retrovue.model import limits
from retrovue.redact import Redactor

#: library ``CollectionType`` -> the item types its listing asks for; a library with no type
#: ("mixed content") may hold any of them
_LISTED_TYPES = {
    "movies": "Movie",
    "tvshows": "Episode",
    "homevideos": "Video,Movie",
    "musicvideos": "MusicVideo",
    "mixed": "Movie,Episode,Video",
}
#: what each listed item carries beyond the defaults (Name, Type, RunTimeTicks, IndexNumber, …)
_FIELDS = "Path,MediaSources,DateModified,DateCreated,Etag,ProductionYear,PartCount"
#: the stable order of a listing: items added during it come last, so pages do not shift
_ORDER = {"SortBy": "DateCreated,SortName", "SortOrder": "Ascending"}


class JellyfinImporter(BaseImporter):
    """Read the movie, show and video libraries of one Jellyfin server."""

    type_id: ClassVar[str] = "jellyfin"
    display_name: ClassVar[str] = "Jellyfin"
    uses_path_mappings = True
    #: where the API lives below ``base_url``
    api_prefix: ClassVar[str] = ""

    #: items per ``/Items`` page: a page of 1,000 items with their streams is a few MB of JSON
    page_size = 1000

    def __init__(self, config: Mapping[str, Any]):
        super().__init__(config)
        self.base_url = str(self.config.get("base_url") or "").rstrip("/")
        self._redactor = Redactor()
        self._redactor.add(self.config.get("api_key"))
        self._reader: ApiReader | None = None
        self._skipped: list[tuple[str, str, str]] = []
        self._observed: dict[str, _Seen] = {}

    @classmethod
    def param_spec(cls) -> Sequence[ParamSpec]:
        return (
            ParamSpec(
                "base_url",
                "url",
                required=True,
                help=f"{cls.display_name} server URL, e.g. http://media:8096",
            ),
            ParamSpec(
                "api_key",
                "string",
                required=True,
                sensitive=True,
                help="an API key made in the server's dashboard (API Keys)",
            ),
            ParamSpec(
                "verify_ssl", "bool", default=True, help="verify the server's TLS certificate"
            ),
            ParamSpec("timeout", "number", default=30, help="seconds to wait for each request"),
        )

    @classmethod
    def auth_headers(cls, api_key: str) -> dict[str, str]:
        return {"Authorization": f'MediaBrowser Token="{api_key}"'}

    # ----- connection -------------------------------------------------------------------------
    def validate_connection(self) -> None:
        """``GET /System/Info``: reachable, and the key is accepted."""
        info = self._get("/System/Info", None, "connecting")
        if not isinstance(info, Mapping):
            raise ImporterResponseError(f"{self._where()} sent no server information")

    def _api(self) -> ApiReader:
        if self._reader is None:
            # a base_url that already names the API's path (``http://nas:8096/emby``) is taken
            # as it is: the prefix is not doubled
            prefix = "" if self.base_url.lower().endswith(self.api_prefix) else self.api_prefix
            self._reader = ApiReader(
                self.base_url + prefix,
                self.auth_headers(str(self.config.get("api_key") or "")),
                where=self._where(),
                verify=bool(self.config.get("verify_ssl", True)),
                timeout=float(self.config.get("timeout") or 30),
                redactor=self._redactor,
            )
        return self._reader

    def _get(self, path: str, params, what: str, not_found=ImporterResponseError) -> Any:
        return self._api().get(path, params, what, not_found)

    def _where(self) -> str:
        return f"{self.display_name} server " + self._redactor.scrub(
            self.base_url or "(no base_url)"
        )

    # ----- collections ----------------------------------------------------------------------
    def list_collections(self) -> list[UpstreamCollection]:
        """Movie, show and video libraries, re-read on every call (renames show up)."""
        collections, self._skipped = [], []
        for folder in self._folders():
            key, title = _string(folder.get("ItemId")), _string(folder.get("Name"))
            kind = _string(folder.get("CollectionType")) or "mixed"
            locations = _locations(folder)
            name = limits.fitted_name(title)  # a long name is stored shortened, not dropped
            problem = (
                f"library type '{kind}' is not ingested"
                if kind not in _LISTED_TYPES
                else "the library has no ItemId"
                if not key
                else limits.collection_problem(key, name) or limits.locations_problem(locations)
            )
            if problem is None:
                full = title if name != title else None
                collections.append(UpstreamCollection(key, name, locations, kind, full))
            else:
                self._skipped.append((key, title, problem))
        return collections

    def skipped_collections(self) -> list[tuple[str, str, str]]:
        return list(self._skipped)

    def _folders(self) -> list[Mapping[str, Any]]:
        folders = self._get("/Library/VirtualFolders", None, "listing libraries")
        if not isinstance(folders, list):
            raise ImporterResponseError(f"{self._where()} sent no library list")
        return [f for f in folders if isinstance(f, Mapping)]

    def _library(self, external_id: str) -> Mapping[str, Any]:
        for folder in self._folders():
            if _string(folder.get("ItemId")) == str(external_id):
                if (_string(folder.get("CollectionType")) or "mixed") in _LISTED_TYPES:
                    return folder
                break
        raise CollectionNotFoundError(
            f"{self._where()} has no movie, show or video library with ItemId {external_id!r}",
            hint="run discovery again: the library may have been deleted",
        )

    # ----- assets -------------------------------------------------------------------------
    def fetch_assets_for_collection(
        self,
        external_id: str,
        *,
        filter_title: str | None = None,
        filter_season: int | None = None,
        filter_episode: int | None = None,
    ) -> Iterator[UpstreamAsset]:
        """Yield one asset per file (each ``MediaSource`` of an item), page by page.

        ``source_uri`` is ``<type>://<ItemId>`` for an item with one file and
        ``<type>://<ItemId>/<MediaSourceId>`` for each version of an item with several; each
        further part of a stacked item is ``<type>://<ItemId>/part/<its ItemId>`` (read with
        one ``AdditionalParts`` request per stacked item).
        Placeholders, remote streams and items without a file are yielded as not-offered
        records with their reason.  The count is checked against ``TotalRecordCount``; on a
        mismatch it raises ``ImporterResponseError`` after yielding what it received, so a
        caller treats any exception as invalidating the whole run.
        """
        library = self._library(external_id)
        title = _string(library.get("Name"))
        kind = _string(library.get("CollectionType")) or "mixed"
        wanted = _Filter(filter_title, filter_season, filter_episode)
        unfiltered = (filter_title, filter_season, filter_episode) == (None,) * 3
        self._observed.pop(str(external_id), None)
        stamp = self._stamp(external_id, kind, title) if unfiltered else None
        listed = 0
        for data in self._paged(self._query(external_id, kind), f"listing library {title!r}"):
            listed += 1
            if wanted.matches(Item(data, self.type_id)):
                yield from assets(data, self.type_id, self._further_parts(data, title))
        if stamp is not None and stamp.listed == listed:
            self._observed[str(external_id)] = stamp

    def _query(self, external_id: str, kind: str) -> dict[str, Any]:
        return {
            "ParentId": external_id,
            "Recursive": "true",
            "IncludeItemTypes": _LISTED_TYPES[kind],
            "Fields": _FIELDS,
            "EnableImages": "false",
            "EnableUserData": "false",
            **_ORDER,
        }

    def _paged(self, params: dict[str, Any], what: str) -> Iterator[Mapping[str, Any]]:
        """Every item of a paged listing, checked for completeness.

        Advances by the number of items *received* (a server or proxy that caps pages still
        yields everything) and fails on anything that means items could be missing or
        duplicated: a missing or changing ``TotalRecordCount``, an empty page before the end,
        an item listed twice.
        """
        start, total, seen = 0, None, set()
        while total is None or start < total:
            page = self._get(
                "/Items",
                {**params, "StartIndex": start, "Limit": self.page_size},
                what,
                CollectionNotFoundError,
            )
            items = page.get("Items") if isinstance(page, Mapping) else None
            if not isinstance(items, list):
                raise ImporterResponseError(f"{self._where()} sent no item list while {what}")
            page_total = whole(page.get("TotalRecordCount"), 2**62)
            if page_total is None or (total is not None and page_total != total):
                raise self._incomplete(
                    what, f"TotalRecordCount went from {total} to {page.get('TotalRecordCount')}"
                )
            total = page_total
            if not items and start < total:
                raise self._incomplete(what, f"received {start:,} of the {total:,} items announced")
            for data in items:
                if not isinstance(data, Mapping):
                    raise ImporterResponseError(f"{self._where()} listed a non-item while {what}")
                item_id = data.get("Id")
                if not isinstance(item_id, str) or not item_id or item_id in seen:
                    detail = f"item {item_id!r} listed twice" if item_id else "an item has no Id"
                    raise self._incomplete(what, detail)
                seen.add(item_id)
                yield data
            start += len(items)
        if start > total:
            raise self._incomplete(what, f"received {start:,} items, {total:,} announced")

    def _further_parts(self, data: Mapping[str, Any], title: str) -> list[Mapping[str, Any]]:
        """The further files of a stacked item (``PartCount`` > 1), which the listing leaves
        out: one request per such item (they are rare).  A failing request fails the listing,
        naming the item: a part left out would be a file lost without a word."""
        if part_count(data) < 2 or data.get("LocationType") == "Virtual":
            return []
        item = Item(data, self.type_id)
        # quoted (repr): a name is the server's text, and an error message reaches a terminal
        what = f"listing the parts of {item.text('Name')!r} (Id {item.id!r}) in library {title!r}"
        answer = self._get(f"/Videos/{quote(item.id, safe='')}/AdditionalParts", None, what)
        parts = answer.get("Items") if isinstance(answer, Mapping) else None
        if not isinstance(parts, list) or not all(isinstance(p, Mapping) for p in parts):
            raise ImporterResponseError(f"{self._where()} sent no part list while {what}")
        return parts

    def _incomplete(self, what: str, detail: str) -> ImporterResponseError:
        return ImporterResponseError(
            f"{self._where()} gave an incomplete listing while {what}: {detail}",
            hint="the library may have changed during the listing (a scan?), or a proxy cut "
            "the answer short; run the ingest again",
        )

    # ----- one observation per apply ----------------------------------------------------------
    def _stamp(self, external_id: str, kind: str, title: str) -> _Seen | None:
        """The library's item count and its newest added item, read before the listing (one
        one-item request; ``DateModified`` is no sort order the API takes).  None when the
        server will not tell."""
        params = {
            **self._query(external_id, kind),
            "Fields": "DateCreated",
            "SortBy": "DateCreated,SortName",
            "SortOrder": "Descending",
            "StartIndex": 0,
            "Limit": 1,
        }
        try:
            page = self._get("/Items", params, f"counting library {title!r}")
        except ImporterError:
            return None  # the listing that follows reports the real error
        items = page.get("Items") if isinstance(page, Mapping) else None
        count = whole(page.get("TotalRecordCount"), 2**62) if isinstance(page, Mapping) else None
        if not isinstance(items, list) or count is None:
            return None
        first = items[0] if items and isinstance(items[0], Mapping) else {}
        return _Seen(repr((first.get("Id"), first.get("DateCreated"))), count)

    def observation_token(self, external_id: str) -> Hashable | None:
        """The library's item count with its newest added item, read before the listing and
        kept only when the listing held that many items.  A file replaced in place, or an
        item removed while another is added with an older date, keeps both: such an edit
        within the executor's age limit is ingested by the next run."""
        return self._observed.get(str(external_id))

    def is_unchanged(self, external_id: str, token) -> bool:
        if not isinstance(token, _Seen):
            return False
        try:
            library = self._library(external_id)
        except ImporterError:
            return False
        kind = _string(library.get("CollectionType")) or "mixed"
        now = self._stamp(external_id, kind, _string(library.get("Name")))
        return now == token

    # ----- ingestibility ----------------------------------------------------------------------
    def check_ingestible(
        self, collection: UpstreamCollection, path_mappings: Sequence[PathMappingSpec]
    ) -> tuple[bool, str | None]:
        """Every library location must map to a readable local directory (no server contact)."""
        return pathmap.locations_ingestible(
            collection.name,
            collection.locations,
            path_mappings,
            server=self.display_name,
            container="library",
        )


class EmbyImporter(JellyfinImporter):
    """The same reader for an Emby Server: its API under ``/emby``, the key in ``X-Emby-Token``."""

    type_id = "emby"
    display_name = "Emby"
    api_prefix = "/emby"

    @classmethod
    def auth_headers(cls, api_key: str) -> dict[str, str]:
        return {"X-Emby-Token": api_key}


class _Seen(NamedTuple):
    """``observation_token``: the newest added item, and the count."""

    stamp: str
    listed: int


class _Filter:
    """The surgical filters, matched exactly (title case-insensitively) on the listed items."""

    def __init__(self, title: str | None, season: int | None, episode: int | None):
        self.title = title.casefold() if title else None
        self.season, self.episode = season, episode

    def matches(self, item: Item) -> bool:
        if self.title is not None and (item.title_shown or "").casefold() != self.title:
            return False
        if self.season is not None and item.number("ParentIndexNumber") != self.season:
            return False
        return self.episode is None or item.number("IndexNumber") == self.episode


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _locations(folder: Mapping[str, Any]) -> tuple[str, ...]:
    """The library's folders, each once (a server may list one twice, once with a trailing
    separator): ``Locations``, else the paths of ``LibraryOptions.PathInfos``."""
    raw = folder.get("Locations")
    if not isinstance(raw, list) or not raw:
        options = folder.get("LibraryOptions")
        infos = options.get("PathInfos") if isinstance(options, Mapping) else None
        raw = (
            [i.get("Path") for i in infos if isinstance(i, Mapping)]
            if isinstance(infos, list)
            else []
        )
    kept: dict[str, str] = {}
    for location in raw:
        if isinstance(location, str) and location.strip():
            key = location.rstrip("/\\") or location
            kept.setdefault(key.casefold() if _windows(key) else key, location)
    return tuple(kept.values())


def _windows(path: str) -> bool:
    return len(path) >= 2 and (path[1] == ":" or path[:2] in ("\\\\", "//"))
