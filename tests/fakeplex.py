"""A small fake Plex Media Server that the real ``plexapi`` client talks to over loopback HTTP.

It serves the XML plexapi 4.18 parses (see /work/shared/notes/plex-api.md) for sections, movies
and shows → seasons → episodes, pages ``/all`` like PMS (``X-Plex-Container-Start/Size`` as
headers or query parameters; ``size``/``totalSize``/``offset`` in the container) and has knobs
for the failures an ingest tool must survive: 5xx or garbage after N requests, latency, short
pages, a lying ``totalSize``.  Every request is logged (token removed) so tests can count them.

    plex = FakePlex().start()
    movies = plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    plex.add_movie(movies, "Heat", year=1995)
    ...
    plex.stop()

It can also serve responses captured from real servers (``tests/fixtures/plex/``):
``load_sections`` takes a captured ``/library/sections`` answer, ``load_items`` the ``<Video>``
elements of a captured listing, which are then served verbatim (attributes a test did not write,
Parts without ids, generated versions, …), paged and filtered like the fake's own items.
"""

from __future__ import annotations

import itertools
import re
import socket
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import quoteattr

TYPE_NUMBERS = {"movie": 1, "show": 2, "season": 3, "episode": 4}
GARBAGE = b"<html><head><title>Proxy login</title></head><body>Please sign in"
UPDATED_AT = 1_700_000_000
#: responses captured from real Plex servers, with their sources (README.md there)
CAPTURES = Path(__file__).parent / "fixtures" / "plex"


def captured(name: str) -> str:
    """The text of a captured response in ``tests/fixtures/plex``."""
    return (CAPTURES / name).read_text(encoding="utf-8")


@dataclass
class Part:
    id: int
    file: str
    size: int
    duration: int | None = None
    #: extra ``<Part>`` attributes, verbatim (e.g. ``container``, ``videoProfile``)
    attrs: dict = field(default_factory=dict)
    #: ``<Stream>`` children, one attribute dict each (PMS lists them only in item details)
    streams: list[dict] = field(default_factory=list)


@dataclass
class Media:
    id: int
    parts: list[Part]
    #: extra ``<Media>`` attributes, verbatim (``videoCodec``, ``bitrate``, ``width``, …)
    attrs: dict = field(default_factory=dict)


@dataclass
class Item:
    """A metadata item: movie, show, season or episode.  ``attrs`` go verbatim into the XML."""

    rating_key: int
    type: str
    attrs: dict
    media: list[Media] = field(default_factory=list)
    children: list[Item] = field(default_factory=list, repr=False)
    #: the element of a captured response, served verbatim (``attrs`` is its attribute dict)
    captured: ET.Element | None = field(default=None, repr=False)


@dataclass
class Section:
    key: str
    title: str
    type: str  # movie | show | artist | photo
    locations: list[str]
    items: list[Item] = field(default_factory=list, repr=False)
    #: items loaded from a captured listing: flat, of any type, after the fake's own
    captured: list[Item] = field(default_factory=list, repr=False)

    def listing(self, type_number: int) -> list[Item]:
        """Items of one type, in server order: movies/shows directly, seasons/episodes by walking."""
        level = {1: 0, 2: 0, 3: 1, 4: 2}.get(type_number, 0)
        items = self.items
        for _ in range(level):
            items = [child for item in items for child in item.children]
        return items + [i for i in self.captured if TYPE_NUMBERS.get(i.type) == type_number]


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict


class FakePlex:
    """The fake server's state, knobs and request handling.  Mutate it freely between requests."""

    def __init__(self, token: str = "fake-plex-token-0123456789"):
        self.token = token
        self.friendly_name = "Fake Plex"
        self.machine_identifier = "fakeplex0000000000000000000000000000000"
        self.sections: dict[str, Section] = {}
        self.items: dict[int, Item] = {}
        self.log: list[Request] = []
        # knobs
        self.latency = 0.0  # seconds slept before every answer
        self.fail_after: int | None = None  # answer fail_status to every request after the Nth
        self.fail_status = 500
        self.garbage_after: int | None = None  # answer 200 + non-XML after the Nth request
        self.page_cap: int | None = None  # short pages: never more than this many items per page
        self.phantom_items = 0  # totalSize claims this many items more than exist
        self._keys = itertools.count(1000)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # ----- data ---------------------------------------------------------------------------
    def add_section(self, key: str, title: str, type: str, locations: list[str]) -> Section:
        section = Section(str(key), title, type, list(locations))
        self.sections[section.key] = section
        return section

    def load_sections(self, xml: str) -> list[Section]:
        """The sections of a captured ``/library/sections`` answer (key, title, type and
        Location paths as captured)."""
        return [
            self.add_section(
                d.get("key", ""),
                d.get("title", ""),
                d.get("type", ""),
                [loc.get("path", "") for loc in d.iter("Location")],
            )
            for d in ET.fromstring(xml).iter("Directory")
            if d.get("type")
        ]

    def load_items(self, section: Section, xml: str) -> list[Item]:
        """Every ``<Video>`` of a captured answer, added to ``section`` and served verbatim."""
        loaded = []
        for elem in ET.fromstring(xml).iter("Video"):
            elem.tail = None  # tostring() would serve the whitespace after it too
            item = Item(int(elem.get("ratingKey", "0")), elem.get("type", ""), elem.attrib)
            item.captured = elem
            if item.rating_key in self.items:
                raise ValueError(f"ratingKey {item.rating_key} is loaded already")
            self.items[item.rating_key] = item
            section.captured.append(item)
            loaded.append(item)
        return loaded

    @staticmethod
    def trash(item: Item, deleted_at: int = UPDATED_AT + 60) -> None:
        """Put an item in the Plex trash: PMS lists it on, with ``deletedAt``."""
        item.attrs["deletedAt"] = str(deleted_at)  # a captured element holds text only

    def _item(self, type: str, attrs: dict, versions=()) -> Item:
        media = [Media(next(self._ids), [self._part(f) for f in parts]) for parts in versions]
        attrs = {"updatedAt": UPDATED_AT, "addedAt": UPDATED_AT, **attrs}
        item = Item(next(self._keys), type, attrs, media)
        self.items[item.rating_key] = item
        return item

    def _part(self, file: str) -> Part:
        part_id = next(self._ids)
        return Part(part_id, file, size=1_000_000 + part_id)

    def add_movie(
        self,
        section: Section,
        title: str,
        *,
        year: int | None = None,
        versions: list[list[str]] | None = None,
        duration: int = 5_400_000,
    ) -> Item:
        """A movie; ``versions`` is one list of part files per Media (default: one file)."""
        name = f"{title} ({year})" if year else title
        versions = versions or [[f"{section.locations[0]}/{name}/{name}.mkv"]]
        movie = self._item("movie", {"title": title, "year": year, "duration": duration}, versions)
        section.items.append(movie)
        return movie

    def add_show(
        self, section: Section, title: str, seasons: dict[int, int], *, year: int | None = None
    ) -> Item:
        """A show with ``{season_number: episode_count}``, files under the first location."""
        show = self._item("show", {"title": title, "year": year})
        section.items.append(show)
        for number, count in seasons.items():
            self.add_season(show, number, count, root=f"{section.locations[0]}/{title}")
        return show

    def add_season(self, show: Item, number: int, episodes: int, root: str = "/tv") -> Item:
        title = show.attrs["title"]
        season = self._item(
            "season",
            {
                "title": f"Season {number}",
                "index": number,
                "parentRatingKey": show.rating_key,
                "parentTitle": title,
            },
        )
        show.children.append(season)
        for index in range(1, episodes + 1):
            file = f"{root}/Season {number:02d}/{title} - S{number:02d}E{index:02d}.mkv"
            episode = self._item(
                "episode",
                {
                    "title": f"Episode {index}",
                    "index": index,
                    "parentIndex": number,
                    "parentRatingKey": season.rating_key,
                    "parentTitle": f"Season {number}",
                    "grandparentRatingKey": show.rating_key,
                    "grandparentTitle": title,
                    "year": show.attrs.get("year"),
                    "duration": 1_800_000,
                },
                [[file]],
            )
            season.children.append(episode)
        return season

    # ----- server lifecycle -----------------------------------------------------------------
    def start(self, port: int = 0) -> FakePlex:
        """Serve on ``port`` (0: any free one; the old port: a server restarted)."""
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests_to(self, pattern: str) -> list[Request]:
        """Logged requests whose path matches the regular expression ``pattern`` (fullmatch)."""
        return [r for r in self.log if re.fullmatch(pattern, r.path)]

    # ----- request handling ---------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict) -> tuple[int, bytes, dict]:
        """Answer one request: (status, body, extra headers).  Parameters are matched
        case-insensitively, from headers or query string alike, as PMS does for ``X-Plex-*``."""
        url = urlsplit(target)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = {name.lower(): value for name, value in headers.items()}
        query_token, header_token = (
            query.pop("X-Plex-Token", None),
            headers.pop("x-plex-token", None),
        )
        token = query_token or header_token  # both popped: the log never holds a token
        with self._lock:
            self.log.append(Request(method, url.path, query, headers))
            count = len(self.log)
        if self.latency:
            time.sleep(self.latency)
        if token != self.token:
            return 401, b"<html><body><h1>401 Unauthorized</h1></body></html>", {}
        if self.fail_after is not None and count > self.fail_after:
            return self.fail_status, b"<html><body>Internal Server Error</body></html>", {}
        if self.garbage_after is not None and count > self.garbage_after:
            return 200, GARBAGE, {}
        try:
            params = {name.lower(): value for name, value in {**headers, **query}.items()}
            return self._route(url.path.rstrip("/") or "/", params)
        except KeyError:
            return 404, b"<html><body>404 Not Found</body></html>", {}

    def _route(self, path: str, params: dict) -> tuple[int, bytes, dict]:
        if path == "/":
            return _ok(
                _container(
                    [],
                    machineIdentifier=self.machine_identifier,
                    version="1.40.0.0",
                    friendlyName=self.friendly_name,
                    platform="Linux",
                    myPlex=0,
                )
            )
        if path == "/library":
            dirs = ['<Directory key="sections" title="Library Sections"/>']
            return _ok(
                _container(dirs, title1="Plex Library", identifier="com.plexapp.plugins.library")
            )
        if path == "/library/sections":
            return _ok(_container([self._section_xml(s) for s in self.sections.values()]))
        if m := re.fullmatch(r"/library/sections/([^/]+)/all", path):
            section = self.sections[m.group(1)]
            type_number = int(params.get("type") or TYPE_NUMBERS.get(section.type, 1))
            items = section.listing(type_number)
            if "title" in params or "show.title" in params:
                items = [i for i in items if _matches(i, params)]
            return self._page(
                items, params, librarySectionID=section.key, librarySectionTitle=section.title
            )
        if m := re.fullmatch(r"/library/metadata/([\d,]+)(/children|/allLeaves)?", path):
            found = [self.items[int(k)] for k in m.group(1).split(",")]
            if m.group(2) == "/children":
                found = found[0].children
            elif m.group(2) == "/allLeaves":
                found = [e for season in found[0].children for e in season.children]
            return self._page(found, params)
        raise KeyError(path)

    def _page(self, items: list[Item], params: dict, **container_attrs) -> tuple[int, bytes, dict]:
        """One page of ``items``, PMS style: honours limit, start/size, page_cap, phantom_items."""
        if "limit" in params:
            items = items[: int(params["limit"])]
        total = len(items) + self.phantom_items
        start = int(params.get("x-plex-container-start", 0))
        size = int(params.get("x-plex-container-size", total))
        if self.page_cap is not None:
            size = min(size, self.page_cap)
        page = items[start : start + size]
        body = _container(
            [_item_xml(i) for i in page], totalSize=total, offset=start, **container_attrs
        )
        return (
            200,
            body,
            {"X-Plex-Container-Start": str(start), "X-Plex-Container-Total-Size": str(total)},
        )

    @staticmethod
    def _section_xml(s: Section) -> str:
        locations = "".join(
            f"<Location id={quoteattr(str(n))} path={quoteattr(p)}/>"
            for n, p in enumerate(s.locations, 1)
        )
        agent = {"movie": "tv.plex.agents.movie", "show": "tv.plex.agents.series"}.get(s.type, "")
        attrs = _attrs(
            key=s.key,
            type=s.type,
            title=s.title,
            agent=agent,
            scanner="Plex",
            language="en-US",
            uuid=f"uuid-{s.key}",
            updatedAt=UPDATED_AT,
            contentChangedAt=len(s.items) + len(s.captured),
            allowSync=1,
            refreshing=0,
        )
        return f"<Directory {attrs}>{locations}</Directory>"


def _matches(item: Item, params: dict) -> bool:
    """PMS string filters are case-insensitive substring matches: ``title=``, ``show.title=``."""
    for param, attr in (("title", "title"), ("show.title", "grandparentTitle")):
        wanted = params.get(param)
        if wanted and wanted.casefold() not in str(item.attrs.get(attr, "")).casefold():
            return False
    return True


def _attrs(**attrs) -> str:
    return " ".join(f"{k}={quoteattr(str(v))}" for k, v in attrs.items() if v is not None)


def _item_xml(item: Item) -> str:
    if item.captured is not None:
        return ET.tostring(item.captured, encoding="unicode")
    rk = item.rating_key
    attrs = _attrs(
        ratingKey=rk,
        key=f"/library/metadata/{rk}",
        guid=f"plex://{item.type}/{rk}",
        type=item.type,
        **item.attrs,
    )
    if item.type in ("show", "season"):
        leaves = (
            sum(len(c.children) for c in item.children)
            if item.type == "show"
            else len(item.children)
        )
        return f'<Directory {attrs} childCount="{len(item.children)}" leafCount="{leaves}"/>'
    return f"<Video {attrs}>{''.join(_media_xml(m, item) for m in item.media)}</Video>"


def _media_xml(media: Media, item: Item) -> str:
    parts = "".join(_part_xml(p, item) for p in media.parts)
    attrs = _attrs(
        **{
            "id": media.id,
            "duration": item.attrs.get("duration"),
            "container": "mkv",
            **media.attrs,
        }
    )
    return f"<Media {attrs}>{parts}</Media>"


def _part_xml(part: Part, item: Item) -> str:
    if not part.streams:
        return f"<Part {_part_attrs(part, item)}/>"
    streams = "".join(f"<Stream {_attrs(**s)}/>" for s in part.streams)
    return f"<Part {_part_attrs(part, item)}>{streams}</Part>"


def _part_attrs(part: Part, item: Item) -> str:
    key = f"/library/parts/{part.id}/{item.attrs['updatedAt']}/file.mkv"
    return _attrs(
        **{
            "id": part.id,
            "key": key,
            "file": part.file,
            "size": part.size,
            "duration": part.duration,
            "container": "mkv",
            **part.attrs,
        }
    )


def _container(children: list[str], **attrs) -> bytes:
    head = _attrs(size=len(children), allowSync=1, **attrs)
    body = "".join(children)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<MediaContainer {head}>{body}</MediaContainer>'.encode()


def _ok(body: bytes) -> tuple[int, bytes, dict]:
    return 200, body, {}


def _handler_for(plex: FakePlex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as requests.Session expects

        def setup(self):
            super().setup()
            # http.server writes headers and body separately: without this, Nagle + delayed ACK
            # stall every small answer by ~40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self):
            status, body, extra = plex.handle("GET", self.path, dict(self.headers.items()))
            self.send_response(status)
            xml = body.startswith(b"<?xml")
            self.send_header("Content-Type", "text/xml;charset=utf-8" if xml else "text/html")
            self.send_header("Content-Length", str(len(body)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep test output clean
            pass

    return Handler
