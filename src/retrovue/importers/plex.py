"""Plex Media Server importer, talking to the server only through ``plexapi``.

Listing strategy: one paged ``/all`` listing per section (``type=1`` movies, ``type=4`` episodes,
never per show or season), paged by this module through ``PlexServer.query`` rather than plexapi's
``fetchItems``, because that loop silently skips items when a server shortens pages and discards
everything on a mid-listing error.  Items are read straight from the parsed XML: no plexapi
objects, so no per-item auto-reload requests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlencode
from xml.etree.ElementTree import Element, ParseError

import requests
from plexapi.exceptions import BadRequest, NotFound, PlexApiException, Unauthorized
from plexapi.server import PlexServer

from retrovue.errors import (
    CollectionNotFoundError,
    ImporterAuthError,
    ImporterError,
    ImporterResponseError,
    ImporterUnreachableError,
)
from retrovue.importers import pathmap
from retrovue.importers.base import (
    BaseImporter,
    ParamSpec,
    PathMappingSpec,
    UpstreamAsset,
    UpstreamCollection,
)
from retrovue.model import limits
from retrovue.model.listing import ListingMedia
from retrovue.model.upstream import NOT_OFFERED
from retrovue.redact import Redactor

T = TypeVar("T")

#: the largest values the ``assets`` table's Integer and BigInteger columns hold
_MAX_INT32, _MAX_INT64 = 2**31 - 1, 2**63 - 1

#: Section types we ingest, with the ``/all?type=`` number of their playable items.
_LISTED_TYPES = {"movie": ("movie", 1), "show": ("episode", 4)}


class PlexImporter(BaseImporter):
    """Read movie and show sections of one Plex Media Server."""

    type_id = "plex"
    display_name = "Plex Media Server"
    uses_path_mappings = True

    #: Items per ``/all`` page: from 500–1,000 on, the request count stops dominating a listing.
    page_size = 1000

    def __init__(self, config):
        super().__init__(config)
        self.base_url = str(self.config.get("base_url") or "").rstrip("/")
        self._redactor = Redactor()
        self._redactor.add(self.config.get("token"))
        self._server: PlexServer | None = None
        self._skipped: list[tuple[str, str, str]] = []
        self._observed: dict[str, _Seen] = {}
        self._include_generated = bool(self.config.get("include_generated_versions", False))

    @classmethod
    def param_spec(cls) -> Sequence[ParamSpec]:
        return (
            ParamSpec(
                "base_url", "url", required=True, help="Plex server URL, e.g. http://plex:32400"
            ),
            ParamSpec("token", "string", required=True, sensitive=True, help="X-Plex-Token"),
            ParamSpec(
                "verify_ssl", "bool", default=True, help="verify the server's TLS certificate"
            ),
            ParamSpec("timeout", "number", default=30, help="seconds to wait for each request"),
            ParamSpec(
                "include_generated_versions",
                "bool",
                default=False,
                help="also ingest the versions Plex generates itself (Optimize, Convert); "
                "skipped by default: they are copies of library content, not content",
            ),
        )

    # ----- connection -------------------------------------------------------------------------
    def validate_connection(self) -> None:
        """Connect afresh (``GET /``); raises the typed importer errors."""
        self._server = None
        self._plex()

    def _plex(self) -> PlexServer:
        """The connected server, created once per importer (one ``GET /``)."""
        if self._server is None:
            session = requests.Session()
            session.verify = bool(self.config.get("verify_ssl", True))
            timeout = float(self.config.get("timeout") or 30)
            token = self.config.get("token")
            self._server = self._guard(
                "connect",
                lambda: PlexServer(self.base_url, token, session=session, timeout=timeout),
            )
        return self._server

    def _query(
        self,
        key: str,
        what: str,
        headers: dict | None = None,
        not_found: type[ImporterError] = ImporterResponseError,
    ) -> Element:
        """``PlexServer.query`` with errors translated and an empty answer treated as invalid."""
        data = self._guard(what, lambda: self._plex().query(key, headers=headers), not_found)
        if data is None:
            raise ImporterResponseError(f"{self._where()} sent an empty answer to {what}")
        return data

    def _guard(
        self,
        what: str,
        call: Callable[[], T],
        not_found: type[ImporterError] = ImporterResponseError,
    ) -> T:
        """Run ``call`` and turn plexapi/requests failures into importer errors.

        The new error is raised *outside* the ``except`` block so it carries no ``__context__``:
        plexapi's messages hold request URLs, and a chained traceback must not leak anything.
        """
        try:
            return call()
        except (PlexApiException, requests.RequestException, ParseError, TypeError) as exc:
            error = self._translate(exc, what, not_found)
        raise error

    def _translate(self, exc: Exception, what: str, not_found: type[ImporterError]) -> Exception:
        """Map an exception to the importer error contract.  The order of the checks matters:
        Unauthorized is a subclass of BadRequest, and a ConnectTimeout is also a Timeout."""
        detail = self._redactor.scrub(str(exc))[:300]
        where = self._where()
        if isinstance(exc, Unauthorized):
            return ImporterAuthError(
                f"{where} rejected the token (401 Unauthorized) during {what}",
                hint="check the source's token (X-Plex-Token)",
            )
        if isinstance(exc, NotFound):
            return not_found(f"{where} answered 404 Not Found during {what}")
        if isinstance(exc, (BadRequest, ParseError, TypeError, PlexApiException)):
            return ImporterResponseError(f"{where} sent an invalid answer during {what}: {detail}")
        if isinstance(exc, requests.Timeout):
            return ImporterUnreachableError(
                f"{where} did not answer within the timeout during {what}"
            )
        if isinstance(exc, requests.exceptions.SSLError):
            return ImporterUnreachableError(
                f"{where}: TLS error during {what}: {detail}", hint="see the source's verify_ssl"
            )
        return ImporterUnreachableError(f"{where} is unreachable during {what}: {detail}")

    def _where(self) -> str:
        return "Plex server " + self._redactor.scrub(self.base_url or "(no base_url)")

    def change_stream(self):
        """The server's notification websocket, through plexapi's ``AlertListener``
        (``plex_notify``): library items processed or deleted, by section."""
        from retrovue.importers.plex_notify import PlexChangeStream

        return PlexChangeStream(self)

    # ----- collections ----------------------------------------------------------------------
    def list_collections(self) -> list[UpstreamCollection]:
        """Movie and show sections, re-read from the server on every call (renames show up)."""
        collections, self._skipped = [], []
        for elem in self._sections():
            key, title, kind = elem.get("key", ""), elem.get("title", ""), elem.get("type", "")
            locations = _locations(elem)
            name = limits.fitted_name(title)  # a long title is stored shortened, not dropped
            problem = (
                f"section type '{kind}' is not ingested"
                if kind not in _LISTED_TYPES
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

    def _sections(self) -> list[Element]:
        return list(self._query("/library/sections", "listing sections"))

    def _section(self, external_id: str) -> Element:
        for elem in self._sections():
            if elem.get("key") == str(external_id):
                if elem.get("type") not in _LISTED_TYPES:
                    break
                return elem
        raise CollectionNotFoundError(
            f"{self._where()} has no movie or show section with key {external_id!r}",
            hint="run discovery again: the section may have been deleted",
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
        """Yield one asset per part file, in server order, page by page.

        ``source_uri`` is ``plex://<ratingKey>`` when the item has exactly one part, and
        ``plex://<ratingKey>/<partId>`` for every part of a multi-part or multi-version item, so
        each file has its own stable identity (the part id is read from the Part's ``key`` when
        an old server leaves out its ``id``).  Adding a second version to a single-file item
        therefore changes the first file's URI: it is then seen as a new asset; a version Plex
        generated (skipped by default) does not count as one.  Items in the trash, versions
        Plex generated and items with no file are yielded as not-offered records carrying
        their reason (see ``_assets``), so the plan counts and names them.

        The listing is checked against the server's ``totalSize``; on a mismatch it raises
        ``ImporterResponseError`` *after* yielding what it received, so callers must treat any
        exception as invalidating the whole run (they write in one transaction anyway).
        """
        section = self._section(external_id)
        item_type, type_number = _LISTED_TYPES[section.get("type", "")]
        params: dict[str, Any] = {"type": type_number, "includeCollections": 0}
        if filter_title:  # PMS matches substrings; the exact match is done below
            params["show.title" if item_type == "episode" else "title"] = filter_title
        key = f"/library/sections/{section.get('key')}/all?{urlencode(params)}"
        wanted = _Filter(filter_title, filter_season, filter_episode)
        self._observed.pop(str(external_id), None)
        listed = 0
        for elem in self._paged(key, f"listing section {section.get('title')!r}"):
            listed += 1
            if elem.get("type") == item_type and wanted.matches(elem):
                yield from _assets(elem, item_type, self._include_generated)
        stamp = _section_stamp(section)
        if stamp is not None and (filter_title, filter_season, filter_episode) == (None,) * 3:
            self._observed[str(external_id)] = _Seen(stamp, listed)

    def fetch_items(self, external_id: str, item_ids: Sequence[str]) -> Iterator[UpstreamAsset]:
        """The items a notification named, by ratingKey: one ``/library/metadata/{keys}``
        request (a show or season named stands for its episodes: ``allLeaves``/``children``).
        Items of another section, or gone meanwhile (404), are not yielded."""
        keys = [k for k in dict.fromkeys(str(i) for i in item_ids) if k.isdigit()]
        section = self._section(external_id)
        item_type, _number = _LISTED_TYPES[section.get("type", "")]
        return self._items(str(external_id), item_type, keys) if keys else iter(())

    def _items(self, section_key: str, item_type: str, keys: list[str]) -> Iterator[UpstreamAsset]:
        what = f"reading items {', '.join(keys)[:200]}"
        try:
            found = self._query(f"/library/metadata/{','.join(keys)}", what, not_found=_Gone)
        except _Gone:
            if len(keys) == 1:
                return  # 404: the item is gone (its deletion is a section's reconcile)
            found = None
        if found is None:  # one of several is gone: each alone
            for key in keys:
                yield from self._items(section_key, item_type, [key])
            return
        for elem in found:
            if elem.get("librarySectionID", found.get("librarySectionID", section_key)) != (
                section_key
            ):
                continue
            kind = elem.get("type")
            if kind in ("show", "season") and item_type == "episode":
                leaves = "allLeaves" if kind == "show" else "children"
                key = f"/library/metadata/{elem.get('ratingKey')}/{leaves}"
                elems = self._paged(key, f"listing the episodes of item {elem.get('ratingKey')}")
            else:
                elems = iter((elem,))
            for leaf in elems:
                if leaf.get("type") == item_type:
                    yield from _assets(leaf, item_type, self._include_generated)

    # ----- one observation per apply ----------------------------------------------------------
    def observation_token(self, external_id: str) -> _Seen | None:
        """The section's change stamps (``updatedAt``, ``contentChangedAt``, ``scannedAt``, read
        before the listing) and how many items the listing held.  None while the section is
        being scanned.  Which item edits move the stamps is unverified on a real server; an
        added or removed item moves the count, and the executor's age limit bounds the rest."""
        return self._observed.get(str(external_id))

    def is_unchanged(self, external_id: str, token) -> bool:
        """Two requests: the sections (stamps) and a count-only ``/all`` page (``totalSize``)."""
        if not isinstance(token, _Seen):
            return False
        try:
            section = self._section(external_id)
            if _section_stamp(section) != token.stamp:
                return False
            _item, type_number = _LISTED_TYPES[section.get("type", "")]
            params = {"type": type_number, "includeCollections": 0}
            # size 0 as query parameters, the form plexapi's own counts use
            count = self._query(
                f"/library/sections/{section.get('key')}/all?{urlencode(params)}"
                "&X-Plex-Container-Start=0&X-Plex-Container-Size=0",
                f"counting section {section.get('title')!r}",
            )
        except ImporterError:
            return False  # the listing that follows reports the real error
        return _int(count.get("totalSize")) == token.listed

    def _paged(self, key: str, what: str) -> Iterator[Element]:
        """Every element of a paged listing, checked for completeness.

        Advances by the number of items *received* (so a server that caps pages still yields
        everything) and fails on anything that means items could be missing or duplicated: a
        missing or changing ``totalSize``, an empty page before the end, a repeated ratingKey.
        """
        start, total = 0, None
        seen: set[int | str] = set()
        while total is None or start < total:
            headers = {
                "X-Plex-Container-Start": str(start),
                "X-Plex-Container-Size": str(self.page_size),
            }
            page = self._query(key, what, headers, not_found=CollectionNotFoundError)
            page_total = _int(page.get("totalSize"))
            if page_total is None or (total is not None and page_total != total):
                raise self._incomplete(what, f"totalSize went from {total} to {page_total}")
            total, items = page_total, list(page)
            if not items and start < total:
                raise self._incomplete(what, f"received {start} of the {total} items announced")
            del page  # its items are held by ``items``; no second page is held next to it
            for elem in items:
                rating_key = elem.get("ratingKey")
                remembered = _compact(rating_key)
                if remembered in seen:
                    raise self._incomplete(what, f"item {rating_key} listed twice")
                seen.add(remembered)
                yield elem
            start += len(items)
            del items  # freed before the next page is read

    def _incomplete(self, what: str, detail: str) -> ImporterResponseError:
        return ImporterResponseError(
            f"{self._where()} gave an inconsistent listing while {what}: {detail}",
            hint="the library may have changed during the listing (a scan?); run the ingest again",
        )

    # ----- ingestibility ----------------------------------------------------------------------
    def check_ingestible(
        self, collection: UpstreamCollection, path_mappings: Sequence[PathMappingSpec]
    ) -> tuple[bool, str | None]:
        """Every section location must map to a readable local directory (no server contact)."""
        return pathmap.locations_ingestible(
            collection.name,
            collection.locations,
            path_mappings,
            server="Plex",
            container="section",
        )


class _Gone(ImporterError):
    """An item named is no longer on the server (404)."""


class _Seen(NamedTuple):
    """``PlexImporter.observation_token``: the section's stamps and the listing's length."""

    stamp: tuple[str | None, ...]
    listed: int


def _section_stamp(section: Element) -> tuple[str | None, ...] | None:
    """What moves when a section's content does, as far as PMS tells; None: mid-scan."""
    if section.get("refreshing") == "1":
        return None
    names = ("key", "type", "updatedAt", "contentChangedAt", "scannedAt")
    return tuple(section.get(name) for name in names)


class _Filter:
    """The surgical filters, matched exactly (title case-insensitively) on the listed XML."""

    def __init__(self, title: str | None, season: int | None, episode: int | None):
        self.title = title.casefold() if title else None
        self.season, self.episode = season, episode

    def matches(self, elem: Element) -> bool:
        if self.title is not None:
            shown = (
                elem.get("grandparentTitle") if elem.get("type") == "episode" else elem.get("title")
            )
            if (shown or "").casefold() != self.title:
                return False
        if self.season is not None and _int(elem.get("parentIndex")) != self.season:
            return False
        return self.episode is None or _int(elem.get("index")) == self.episode


#: why a listed item is not offered as content: counted and named in the plan, never written,
#: and not seen (what is stored under its identity goes missing, under the mass-missing guard)
TRASHED = "in the Plex trash (deleted, or its file is gone; the trash is not emptied yet)"
GENERATED_VERSION = "a version Plex generated (Optimize/Convert), not library content"
NO_FILE = "the item lists no media file"

#: ``/library/parts/{id}/…``: servers that leave out a Part's ``id`` (2012) still key it by it
_PART_KEY = re.compile(r"^/library/parts/(\d+)/")


class _Part(NamedTuple):
    """One ``Media/Part`` of a listed item, and where it sits among the item's files."""

    media: Element
    part: Element
    version: int  # 1-based position of its <Media> among the item's
    number: int  # 1-based position of the part within its <Media>
    position: int  # 1-based position among all the item's parts


def _parts(elem: Element) -> list[_Part]:
    parts: list[_Part] = []
    for version, media in enumerate(elem.findall("Media"), 1):
        for number, part in enumerate(media.findall("Part"), 1):
            parts.append(_Part(media, part, version, number, len(parts) + 1))
    return parts


def _assets(elem: Element, kind: str, include_generated: bool) -> Iterator[UpstreamAsset]:
    """One asset per ``Media/Part`` of a listed ``<Video>``; a part that is not content (the
    item is in the trash, the version is one Plex generated, there is no file) becomes a
    not-offered record carrying the reason instead."""
    rating_key = elem.get("ratingKey")
    parts = _parts(elem)
    if not parts:
        yield _not_offered(f"plex://{rating_key}", _item_label(elem), NO_FILE)
        return
    # a generated version is no content: optimizing a film must not change its file's identity
    content = [ref for ref in parts if include_generated or not _is_generated(ref.media)]
    single = len(content) == 1
    for ref in parts:
        alone = single and ref in content
        uri = _source_uri(rating_key, ref, alone)
        reason = _not_content(elem, ref, include_generated)
        if reason is None:
            yield _asset(elem, kind, ref, uri, alone)
        else:
            yield _not_offered(uri, ref.part.get("file") or _item_label(elem), reason)


def _not_content(elem: Element, ref: _Part, include_generated: bool) -> str | None:
    """Why this part is not library content, or None when it is."""
    if elem.get("deletedAt") is not None:
        return TRASHED
    if not include_generated and _is_generated(ref.media):
        return GENERATED_VERSION
    if not ref.part.get("file"):
        return NO_FILE
    return None


def _is_generated(media: Element) -> bool:
    """Plex's own Optimize/Convert output: it carries ``proxyType`` (42, "optimized version")
    and the ``target`` profile it was made for; a version the owner added has neither."""
    return media.get("proxyType") is not None or media.get("target") is not None


def _source_uri(rating_key: str | None, ref: _Part, single: bool) -> str:
    """``plex://<ratingKey>`` for a single-file item, ``plex://<ratingKey>/<partId>`` for each
    file of a multi-part or multi-version item (the forms stored since the first release), and
    ``plex://<ratingKey>/part-<n>`` for a part whose server gives it no id at all."""
    if single:
        return f"plex://{rating_key}"
    part_id = _part_id(ref.part)
    return f"plex://{rating_key}/{part_id or f'part-{ref.position}'}"


def _part_id(part: Element) -> str | None:
    """The part's ``id``, or the one in its ``key`` when the attribute is missing."""
    if part.get("id"):
        return part.get("id")
    found = _PART_KEY.match(part.get("key") or "")
    return found.group(1) if found else None


def _not_offered(uri: str, example: str, reason: str) -> UpstreamAsset:
    return UpstreamAsset(uri, example, None, "", kind=NOT_OFFERED, problem=reason)


def _item_label(elem: Element) -> str:
    return f"{elem.get('title') or '(untitled)'} (ratingKey {elem.get('ratingKey')})"


def _asset(elem: Element, kind: str, ref: _Part, uri: str, single: bool) -> UpstreamAsset:
    media, part = ref.media, ref.part
    part_id, size = _part_id(part), _int(part.get("size"), _MAX_INT64)
    change_token = f"{elem.get('updatedAt', '')}:{part_id or ''}:{size}"
    duration_ms = _duration(elem, media, part, single)
    metadata: dict[str, Any] = {
        "rating_key": elem.get("ratingKey"),
        "guid": elem.get("guid"),
        "part_id": part_id,
        "media_id": media.get("id"),
        "version": _version(elem, ref),
    }
    media_info = _media_info(media, part, duration_ms)
    if media_info:
        metadata["media"] = media_info
    episode = kind == "episode"
    return UpstreamAsset(
        source_uri=uri,
        path=part.get("file", ""),
        size=size,
        change_token=change_token,
        kind=kind,
        title=elem.get("title"),
        series_title=elem.get("grandparentTitle") if episode else None,
        season_number=_int(elem.get("parentIndex"), _MAX_INT32) if episode else None,
        episode_number=_int(elem.get("index"), _MAX_INT32) if episode else None,
        year=_int(elem.get("year"), _MAX_INT32),
        duration_ms=duration_ms,
        metadata=metadata,
        problem=limits.token_problem(change_token),
    )


def _version(elem: Element, ref: _Part) -> dict[str, Any]:
    """Which version of its item a file is (and which part of that version), so two real
    versions of one film (a 4K and a 1080p file) can be told apart: its position, the title and
    target Plex gives it, its resolution and bit rate (bits/s)."""
    media = ref.media
    version: dict[str, Any] = {"index": ref.version, "of": len(elem.findall("Media"))}
    for key, attr in (("title", "title"), ("target", "target"), ("resolution", "videoResolution")):
        value = _string(media.get(attr))
        if value is not None:
            version[key] = value
    kbits = _number(media.get("bitrate"), "float")  # Plex counts kbit/s
    if kbits is not None and kbits * 1000 <= _MAX_MEDIA_NUMBER:
        version["bit_rate"] = round(kbits * 1000)
    parts = len(media.findall("Part"))
    if parts > 1:
        version["part"], version["parts"] = ref.number, parts
    if _is_generated(media):
        version["generated"] = True
    return version


def _duration(elem: Element, media: Element, part: Element, single: bool) -> int | None:
    """A part's own duration; the media's when it is the only part of that version; the
    item's only for a single-file item (a part of a multi-part film is not the whole film)."""
    duration = _int(part.get("duration"), _MAX_INT64)
    if duration is None and len(media.findall("Part")) == 1:
        duration = _int(media.get("duration"), _MAX_INT64)
    if duration is None and single:
        duration = _int(elem.get("duration"), _MAX_INT64)
    return duration


#: longest string kept from the listing's media attributes (upstream data is not trusted)
MAX_MEDIA_CHARS = 64
#: numbers outside (0, this] are nonsense (or hostile) and dropped
_MAX_MEDIA_NUMBER = 2**53
#: ``metadata["media"]`` key -> (attribute of <Media>, of <Part> (preferred), of the first
#: <Stream> of the given ``streamType`` (1 video, 2 audio; only as a fallback), kind)
_MEDIA_FIELDS = (
    ("container", "container", "container", None, None, "str"),
    ("video_codec", "videoCodec", None, "1", "codec", "str"),
    ("video_profile", "videoProfile", "videoProfile", "1", "profile", "str"),
    ("width", "width", None, "1", "width", "int"),
    ("height", "height", None, "1", "height", "int"),
    # Plex's own words for the video, kept under its own names (ListingMedia.video_labels)
    ("plex_frame_rate", "videoFrameRate", None, None, None, "str"),
    ("plex_aspect_ratio", "aspectRatio", None, None, None, "float"),
    ("audio_codec", "audioCodec", None, "2", "codec", "str"),
    ("audio_channels", "audioChannels", None, "2", "channels", "int"),
    ("audio_profile", "audioProfile", None, "2", "profile", "str"),
)


#: a listing result's ``from``
LISTING_ORIGIN = "plex-listing"
_LABELS = frozenset({"plex_frame_rate", "plex_aspect_ratio"})


def _media_info(media: Element, part: Element, duration_ms: int | None) -> dict[str, Any]:
    """What the listing says about one part's file, as a ``ListingMedia`` in plain JSON (absent
    facts omitted): container, duration, bit rate (bits/s), codecs, profiles, width and height,
    audio channels, and Plex's frame-rate and aspect-ratio labels.  ``<Stream>`` children (when
    listed) fill gaps only."""
    facts = _listed_facts(media, part, duration_ms)
    if not facts:
        return {}
    labels = {k: facts.pop(k) for k in _LABELS if k in facts}
    return ListingMedia(origin=LISTING_ORIGIN, video_labels=labels, **facts).to_json()


def _listed_facts(media: Element, part: Element, duration_ms: int | None) -> dict[str, Any]:
    streams: dict[str | None, dict[str, str]] = {}
    if len(part):  # section listings normally have no <Stream>: skip the search then
        for stream in part.iter("Stream"):
            streams.setdefault(stream.get("streamType"), stream.attrib)
    part_attrs, media_attrs = part.attrib, media.attrib
    info: dict[str, Any] = {}
    if duration_ms is not None and 0 < duration_ms <= _MAX_MEDIA_NUMBER:
        info["duration_ms"] = duration_ms
    kbits = _number(media_attrs.get("bitrate"), "float")  # Plex counts kbit/s
    if kbits is not None and kbits * 1000 <= _MAX_MEDIA_NUMBER:
        info["bit_rate"] = round(kbits * 1000)
    for key, media_attr, part_attr, stream_type, stream_attr, kind in _MEDIA_FIELDS:
        convert = _string if kind == "str" else _FLOAT_OR_INT[kind]
        value = convert(part_attrs.get(part_attr)) if part_attr else None
        if value is None:
            value = convert(media_attrs.get(media_attr))
        if value is None and stream_type in streams:
            value = convert(streams[stream_type].get(stream_attr))
        if value is not None:
            info[key] = value
    return info


def _string(value: str | None) -> str | None:
    if not value:
        return None
    return value.strip()[:MAX_MEDIA_CHARS] or None


def _number(value: str | None, kind: str) -> int | float | None:
    """A finite number in (0, 2**53] (an int for ``kind`` "int"), or None for anything else:
    a zero width, channel count or bit rate means "unknown" in a listing."""
    if value is None or len(value) > 32:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if not (0 < number <= _MAX_MEDIA_NUMBER):  # also rejects nan and inf
        return None
    if kind == "int":
        return round(number) or None
    return number


_FLOAT_OR_INT = {
    "float": lambda value: _number(value, "float"),
    "int": lambda value: _number(value, "int"),
}


def _locations(section: Element) -> tuple[str, ...]:
    return tuple(loc.get("path", "") for loc in section.iter("Location"))


def _compact(rating_key: str | None) -> int | str | None:
    """A ratingKey as ``_paged`` remembers it: an int (~30 bytes, not ~60 for its text) when it
    is the decimal number PMS gives, the text itself otherwise ("007" stays apart from "7")."""
    if (
        rating_key
        and rating_key.isascii()  # "²" and "１" are digits too, and not what int() reads back
        and rating_key.isdigit()
        and rating_key[0] != "0"
        and len(rating_key) < 19
    ):
        return int(rating_key)
    return rating_key


def _int(value: str | None, limit: int | None = None) -> int | None:
    """``value`` as an int; None when it is not one, or (given a ``limit``, the column's) when it
    is out of the range a column can store: a hostile listing must not abort the whole write."""
    try:
        number = int(value) if value not in (None, "") else None
    except ValueError:
        return None
    if number is not None and limit is not None and not -limit - 1 <= number <= limit:
        return None
    return number
