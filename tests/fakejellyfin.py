"""A small fake Jellyfin (or Emby) server over loopback HTTP, answering the four endpoints the
importer reads: ``/System/Info``, ``/Library/VirtualFolders``, ``/Items`` and
``/Videos/{id}/AdditionalParts`` (the further files of a stacked item, which ``/Items`` leaves
out: ``add_movie(..., parts=[...])``).

``/Items`` pages like the real servers (``StartIndex``/``Limit``, ``TotalRecordCount``), filters
by ``ParentId`` and ``IncludeItemTypes``, honours ``SortBy``/``SortOrder`` for ``DateCreated``,
and leaves ``Path`` and ``MediaSources`` out unless ``Fields`` asks for them, as Jellyfin does.
Knobs for what an ingest tool must survive: latency, 5xx, a reverse proxy's HTML page, garbage,
capped pages, a ``TotalRecordCount`` that claims more than exists (a shortened listing).  Every
request is logged with its key removed, so tests can count them.  ``flavor="emby"`` serves the
API under ``/emby``, as Emby Server does.

Items may be built here (``add_movie``, ``add_episode``) or loaded from captured answers in
``tests/fixtures/jellyfin/`` (``load_items``): those are served verbatim.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

CAPTURES = Path(__file__).parent / "fixtures" / "jellyfin"
PROXY_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please sign in"
GARBAGE = b"\x00\x17{not json at all"
#: the first item's DateCreated; each next item is a second younger, so the order items are
#: added in is their DateCreated order (the importer lists by it)
EPOCH = datetime(2024, 3, 1, 12, 0, 0)
#: the key a real server's query form may carry, and the header forms
_TOKEN = re.compile(r'(?i)token="([^"]*)"')


def captured(name: str):
    """The decoded JSON of a captured answer in ``tests/fixtures/jellyfin``."""
    return json.loads((CAPTURES / name).read_text(encoding="utf-8"))


@dataclass
class Library:
    item_id: str
    name: str
    collection_type: str | None
    locations: list[str]
    #: the items, or a ``GeneratedItems`` made on request (all of a listed type, in order)
    items: list[dict] | GeneratedItems = field(default_factory=list, repr=False)


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict


class FakeJellyfin:
    """The fake server's state, knobs and request handling.  Mutate it freely between requests."""

    def __init__(
        self, api_key: str = "fake-jellyfin-key-0123456789abcdef", flavor: str = "jellyfin"
    ):
        self.api_key = api_key
        self.flavor = flavor
        self.prefix = "/emby" if flavor == "emby" else ""
        self.server_name = "Fake Jellyfin" if flavor == "jellyfin" else "Fake Emby"
        self.libraries: dict[str, Library] = {}
        #: a stacked item's id -> its further parts (``/Videos/{id}/AdditionalParts``)
        self.parts: dict[str, list[dict]] = {}
        self.log: list[Request] = []
        # knobs
        self.latency = 0.0  # seconds slept before every answer
        self.fail_after: int | None = None  # answer fail_status to every request after the Nth
        self.fail_status = 500
        self.fail_body = b'{"Message":"Internal Server Error"}'
        self.html_after: int | None = None  # answer 502 + a proxy's HTML page after the Nth
        self.login_after: int | None = None  # answer 200 + a login page after the Nth
        self.garbage_after: int | None = None  # answer 200 + non-JSON after the Nth
        self.page_cap: int | None = None  # never more than this many items per page
        self.phantom_items = 0  # TotalRecordCount claims this many items more than exist
        self.parts_status: int | None = None  # answer this status to every AdditionalParts
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # ----- data ---------------------------------------------------------------------------
    def add_library(
        self, name: str, collection_type: str | None, locations: list[str], item_id: str = ""
    ) -> Library:
        item_id = item_id or f"{next(self._ids):032x}"
        library = Library(item_id, name, collection_type, list(locations))
        self.libraries[item_id] = library
        return library

    def _new_id(self) -> str:
        return f"{0xF00D0000 + next(self._ids):032x}"

    def add_movie(
        self,
        library: Library,
        name: str,
        *,
        year: int | None = None,
        files: list[str] | None = None,
        size: int = 1_500_000_000,
        parts: list[str] | None = None,
        **extra,
    ) -> dict:
        """A movie: one MediaSource per file (``files``: its versions; default one file).
        ``parts``: the files of its further parts, stacked as the servers do: ``PartCount`` on
        the item, each part an item of its own (a bare ``Video``) that only
        ``AdditionalParts`` lists."""
        title = f"{name} ({year})" if year else name
        files = files or [f"{library.locations[0]}/{title}/{title}.mkv"]
        if parts:
            extra.setdefault("PartCount", len(parts) + 1)
        item = self._item("Movie", name, files, size, ProductionYear=year, **extra)
        library.items.append(item)
        if parts:
            self.parts[item["Id"]] = [
                self._item("Video", Path(file).stem, [file], size + 100 * n)
                for n, file in enumerate(parts, 1)
            ]
        return item

    def add_episode(
        self,
        library: Library,
        series: str,
        season: int,
        episode: int,
        *,
        file: str | None = None,
        **extra,
    ) -> dict:
        file = file or (
            f"{library.locations[0]}/{series}/Season {season:02d}/"
            f"{series} - S{season:02d}E{episode:02d}.mkv"
        )
        item = self._item(
            "Episode",
            f"Episode {episode}",
            [file],
            900_000_000,
            SeriesName=series,
            ParentIndexNumber=season,
            IndexNumber=episode,
            **extra,
        )
        library.items.append(item)
        return item

    def add_show(self, library: Library, series: str, seasons: dict[int, int]) -> list[dict]:
        return [
            self.add_episode(library, series, season, number)
            for season, count in seasons.items()
            for number in range(1, count + 1)
        ]

    def _item(self, type_: str, name: str, files: list[str], size: int, **extra) -> dict:
        item_id = self._new_id()
        sources = [
            {
                "Protocol": "File",
                "Id": item_id if n == 0 else f"{0xBEEF0000 + next(self._ids):032x}",
                "Path": path,
                "Type": "Default",
                "Container": "mkv,webm",
                "Size": size + n,
                "Name": Path(path).stem,
                "ETag": f"etag{item_id[-8:]}{n}",
                "RunTimeTicks": 54_000_000_000 if type_ == "Movie" else 18_000_000_000,
                "MediaStreams": [
                    {
                        "Codec": "h264",
                        "Type": "Video",
                        "Index": 0,
                        "Width": 1920,
                        "Height": 1080,
                        "Profile": "High",
                        "RealFrameRate": 23.976,
                        "AspectRatio": "16:9",
                        "VideoRange": "SDR",
                    },
                    {"Codec": "aac", "Type": "Audio", "Index": 1, "Channels": 2, "Profile": "LC"},
                ],
                "Bitrate": 8_000_000,
                "DefaultAudioStreamIndex": 1,
            }
            for n, path in enumerate(files)
        ]
        stamp = (EPOCH + timedelta(seconds=next(self._ids))).isoformat() + ".0000000Z"
        item = {
            "Name": name,
            "ServerId": "fakeserver",
            "Id": item_id,
            "Etag": f"e{item_id[-6:]}",
            "DateCreated": stamp,
            "DateModified": stamp,
            "Path": files[0] if files else None,
            "RunTimeTicks": sources[0]["RunTimeTicks"] if sources else None,
            "IsFolder": False,
            "Type": type_,
            "LocationType": "FileSystem",
            "MediaType": "Video",
            "MediaSources": sources,
            **extra,
        }
        return {k: v for k, v in item.items() if v is not None}

    def load_items(self, library: Library, items: list[dict]) -> list[dict]:
        """Captured items, served verbatim (a deep copy, so a test may edit its own)."""
        loaded = [copy.deepcopy(item) for item in items]
        library.items.extend(loaded)
        return loaded

    # ----- server lifecycle -----------------------------------------------------------------
    def start(self) -> FakeJellyfin:
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def requests_to(self, pattern: str) -> list[Request]:
        """Logged requests whose path (without the Emby prefix) fully matches ``pattern``."""
        return [r for r in self.log if re.fullmatch(pattern, r.path)]

    # ----- request handling ---------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict) -> tuple[int, bytes, str]:
        """Answer one request: (status, body, content type).  The key is accepted in each
        form the servers take: ``Authorization``/``X-Emby-Authorization: MediaBrowser
        Token="…"``, ``X-Emby-Token``, ``X-MediaBrowser-Token``, or ``api_key=``."""
        url = urlsplit(target)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = {name.lower(): value for name, value in headers.items()}
        key = query.pop("api_key", None) or query.pop("ApiKey", None)
        for name in ("authorization", "x-emby-authorization"):
            found = _TOKEN.search(headers.pop(name, "") or "")
            key = key or (found.group(1) if found else None)
        for name in ("x-emby-token", "x-mediabrowser-token"):
            key = headers.pop(name, None) or key
        path = url.path
        if self.prefix:
            if not path.lower().startswith(self.prefix + "/"):
                return 404, b"", "text/plain"
            path = path[len(self.prefix) :]
        with self._lock:
            self.log.append(Request(method, path, query, headers))
            count = len(self.log)
        if self.latency:
            time.sleep(self.latency)
        if key != self.api_key:
            return 401, b"", "text/plain"  # Jellyfin answers 401 with an empty body
        for after, status, body, kind in (
            (self.fail_after, self.fail_status, self.fail_body, "application/json"),
            (self.html_after, 502, PROXY_PAGE, "text/html"),
            (self.login_after, 200, LOGIN_PAGE, "text/html; charset=utf-8"),
            (self.garbage_after, 200, GARBAGE, "application/json"),
        ):
            if after is not None and count > after:
                return status, body, kind
        try:
            return 200, json.dumps(self._route(path, query)).encode(), "application/json"
        except KeyError:
            return 404, b"", "text/plain"
        except _Status as status:
            return status.code, self.fail_body, "application/json"

    def _route(self, path: str, query: dict):
        if path == "/System/Info":
            return {
                "ServerName": self.server_name,
                "Version": "10.9.11",
                "Id": "fakeserver",
                "OperatingSystem": "Linux",
                "ProductName": f"{self.server_name} Server",
            }
        if path == "/Library/VirtualFolders":
            return [self._folder(lib) for lib in self.libraries.values()]
        if path == "/Items":
            return self._items(query)
        found = re.fullmatch(r"/Videos/([^/]+)/AdditionalParts", path)
        if found and self.parts_status is not None:
            raise _Status(self.parts_status)
        if found:
            return self._additional_parts(found.group(1))
        raise KeyError(path)

    def _additional_parts(self, item_id: str) -> dict:
        """An item's further parts, all fields included (the endpoint takes no ``Fields``);
        none for an item that is not stacked; 404 for an unknown item."""
        known = any(
            i.get("Id") == item_id
            for lib in self.libraries.values()
            if not isinstance(lib.items, GeneratedItems)
            for i in lib.items
        )
        if item_id not in self.parts and not known:
            raise KeyError(item_id)
        parts = self.parts.get(item_id, [])
        return {"Items": parts, "TotalRecordCount": len(parts)}

    @staticmethod
    def _folder(lib: Library) -> dict:
        folder = {
            "Name": lib.name,
            "Locations": lib.locations,
            "CollectionType": lib.collection_type,
            "LibraryOptions": {"PathInfos": [{"Path": p} for p in lib.locations]},
            "ItemId": lib.item_id,
            "PrimaryImageItemId": lib.item_id,
            "RefreshProgress": None,
            "RefreshStatus": "Idle",
        }
        return {k: v for k, v in folder.items() if v is not None}

    def _items(self, query: dict) -> dict:
        lib = self.libraries[query["ParentId"]]
        if isinstance(lib.items, GeneratedItems):
            return self._generated(lib.items, query)
        types = set(filter(None, query.get("IncludeItemTypes", "").split(",")))
        items = [i for i in lib.items if not types or i.get("Type") in types]
        if query.get("SortBy", "").startswith("DateCreated"):
            items = sorted(items, key=lambda i: str(i.get("DateCreated", "")))
            if query.get("SortOrder") == "Descending":
                items.reverse()
        total = len(items) + self.phantom_items
        start = int(query.get("StartIndex", 0))
        limit = int(query.get("Limit", total))
        if self.page_cap is not None:
            limit = min(limit, self.page_cap)
        fields = set(query.get("Fields", "").split(","))
        page = [_projected(i, fields) for i in items[start : start + limit]]
        return {"Items": page, "TotalRecordCount": total, "StartIndex": start}

    def _generated(self, items: GeneratedItems, query: dict) -> dict:
        """A page of a generated library (made in DateCreated order, never all held)."""
        total = len(items)
        start = int(query.get("StartIndex", 0))
        limit = min(int(query.get("Limit", total)), self.page_cap or total)
        stop = min(start + limit, total)
        if query.get("SortOrder") == "Descending":
            indexes = range(total - 1 - start, total - 1 - stop, -1)
        else:
            indexes = range(start, stop)
        fields = set(query.get("Fields", "").split(","))
        page = [_projected(items.make(i), fields) for i in indexes]
        return {"Items": page, "TotalRecordCount": total + self.phantom_items, "StartIndex": start}


@dataclass
class GeneratedItems:
    """A library's items made on request from their index (a benchmark's 200,000 items would
    take a GB as dicts): ``make(i)`` returns item ``i``, in DateCreated order."""

    count: int
    make: Callable[[int], dict]

    def __len__(self) -> int:
        return self.count


def _projected(item: dict, fields: set[str]) -> dict:
    """Jellyfin leaves out what ``Fields`` does not ask for."""
    optional = {
        "Path",
        "MediaSources",
        "DateModified",
        "Etag",
        "DateCreated",
        "MediaStreams",
        "PartCount",
    }
    return {k: v for k, v in item.items() if k not in optional or k in fields}


class _Status(Exception):
    """An answer with this status instead of the route's."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


class _QuietServer(ThreadingHTTPServer):
    """A client that gave up (a timeout test) is no error worth a traceback on stderr."""

    def handle_error(self, request, client_address):
        pass


def _handler_for(server: FakeJellyfin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as requests.Session expects

        def setup(self):
            super().setup()
            # without this, Nagle + delayed ACK stall every small answer by ~40 ms
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self):
            status, body, kind = server.handle("GET", self.path, dict(self.headers.items()))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep test output clean
            pass

    return Handler
