"""Benchmark: an N-episode show library from the fake Jellyfin server (issue 23).

Builds the workload in the fake server (tests/fakejellyfin.py, items made on request so the
server does not hold them), then measures, in the same run:

* listing, in process: ``JellyfinImporter.fetch_assets_for_collection`` (paged ``/Items``,
  decoded and turned into assets) against the same pages fetched with a bare
  ``requests.Session`` loop, without decoding (the HTTP floor) and with ``json.loads`` (the
  decoding floor);
* the real CLI as processes (start-up included) on a fresh database: a first ``plan``,
  ``apply --auto-approve`` (plan and execute in one process), then a no-change ``plan``: wall time, requests the server
  logged (target: ceil(N / page size) + a small constant) and peak RSS of each process.

    .venv/bin/python benchmarks/jellyfin.py [--items 20000] [--repeat 2]
        [--backend sqlite|postgres] [--src DIR] [--no-cli]

The issue's figure is ``--items 200000`` (peak RSS of plan and apply under 256 MiB).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import requests

from retrovue.importers.jellyfin import JellyfinImporter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fake server lives in tests/
from benchmarks.media_server_cli import cli_runs, measure  # noqa: E402
from tests.fakejellyfin import EPOCH, FakeJellyfin, GeneratedItems  # noqa: E402

EPISODES_PER_SEASON = 20
SEASONS_PER_SHOW = 5
#: requests beside the listing pages, per apply: /System/Info is not asked; the library list
#: (discovery, the listing's own look-up, the executor's), one count before each listing and
#: the executor's proof (library list + count)
CONSTANT = 8
#: one shared stream list: the fake makes items on request, the JSON is the same either way
STREAMS = [
    {"Codec": "h264", "Type": "Video", "Index": 0, "Width": 1920, "Height": 1080,
     "Profile": "High", "RealFrameRate": 23.976, "AspectRatio": "16:9", "VideoRange": "SDR"},
    {"Codec": "aac", "Type": "Audio", "Index": 1, "Channels": 2, "Profile": "LC",
     "Language": "eng", "IsDefault": True},
    {"Codec": "subrip", "Type": "Subtitle", "Index": 2, "Language": "eng"},
]  # fmt: skip


def episode(i: int) -> dict:
    """Item ``i`` of the library, in DateCreated order: a realistic ``/Items`` entry."""
    show, rest = divmod(i, EPISODES_PER_SEASON * SEASONS_PER_SHOW)
    season, number = divmod(rest, EPISODES_PER_SEASON)
    series = f"Show {show:05d}"
    path = f"/data/TV/{series}/Season {season + 1:02d}/{series} - S{season + 1:02d}E{number + 1:02d}.mkv"
    item_id = f"{0xA0000000 + i:032x}"
    stamp = EPOCH.replace(year=2020).timestamp() + i
    date = time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(stamp))
    return {
        "Name": f"Episode {number + 1}",
        "ServerId": "fakeserver",
        "Id": item_id,
        "Etag": f"e{i:x}",
        "DateCreated": date,
        "DateModified": date,
        "Path": path,
        "RunTimeTicks": 13_000_000_000,
        "IsFolder": False,
        "Type": "Episode",
        "SeriesName": series,
        "ParentIndexNumber": season + 1,
        "IndexNumber": number + 1,
        "LocationType": "FileSystem",
        "MediaType": "Video",
        "MediaSources": [
            {
                "Protocol": "File",
                "Id": item_id,
                "Path": path,
                "Type": "Default",
                "Container": "mkv,webm",
                "Size": 700_000_000 + i,
                "Name": path.rsplit("/", 1)[1][:-4],
                "ETag": f"{i:032x}",
                "RunTimeTicks": 13_000_000_000,
                "MediaStreams": STREAMS,
                "Bitrate": 4_300_000,
                "DefaultAudioStreamIndex": 1,
            }
        ],
    }


def build(items: int) -> tuple[FakeJellyfin, str]:
    server = FakeJellyfin().start()
    tv = server.add_library("TV", "tvshows", ["/data/TV"])
    tv.items = GeneratedItems(items, episode)
    return server, tv.item_id


def retrovue_listing(server: FakeJellyfin, library: str) -> int:
    importer = JellyfinImporter({"base_url": server.url, "api_key": server.api_key})
    return sum(1 for _ in importer.fetch_assets_for_collection(library))


def raw_http_listing(server: FakeJellyfin, library: str, total: int, decode: bool) -> int:
    """The same pages, as a client that trusts the server would fetch them."""
    session = requests.Session()
    session.headers["Authorization"] = f'MediaBrowser Token="{server.api_key}"'
    received = 0
    page = JellyfinImporter.page_size
    for start in range(0, total, page):
        answer = session.get(
            f"{server.url}/Items",
            params={
                "ParentId": library,
                "Recursive": "true",
                "IncludeItemTypes": "Episode",
                "Fields": "Path,MediaSources,DateModified,DateCreated,Etag,ProductionYear",
                "StartIndex": start,
                "Limit": page,
            },
            timeout=60,
        )
        answer.raise_for_status()
        received += len(json.loads(answer.content)["Items"]) if decode else len(answer.content)
    return received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "postgresql"], default="sqlite")
    parser.add_argument("--src", help="run the CLI from this source tree (its src/ directory)")
    parser.add_argument("--no-cli", action="store_true", help="only the in-process listings")
    args = parser.parse_args()
    args.backend = "postgresql" if args.backend == "postgres" else args.backend
    server, library = build(args.items)
    workdir = Path(tempfile.mkdtemp(prefix="rv-bench-jellyfin-"))
    n = args.items
    try:
        raw_t, raw_n, _ = measure(
            server, lambda: raw_http_listing(server, library, n, False), args.repeat
        )
        dec_t, _, _ = measure(
            server, lambda: raw_http_listing(server, library, n, True), args.repeat
        )
        ours_t, ours_n, count = measure(
            server, lambda: retrovue_listing(server, library), args.repeat
        )
        cli_lines = (
            []
            if args.no_cli
            else cli_runs(
                server,
                {
                    "name": "Jellyfin",
                    "type": "jellyfin",
                    "config": {"base_url": server.url, "api_key": "${BENCH_JELLYFIN_KEY}"},
                },
                ("BENCH_JELLYFIN_KEY", server.api_key),
                args,
                workdir,
                items=args.items,
                page_size=JellyfinImporter.page_size,
                constant=CONSTANT,
            )
        )
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    page = JellyfinImporter.page_size
    bound = math.ceil(n / page)
    out = sys.stdout.write
    out(f"{n} episodes, page size {page}, ceil(N/page) = {bound}\n")
    out(f"baseline raw HTTP (no decoding):  {raw_t:7.2f} s  {raw_n:4d} requests\n")
    out(f"raw HTTP + json.loads:            {dec_t:7.2f} s  {dec_t / raw_t:5.2f}x baseline\n")
    out(
        f"retrovue JellyfinImporter:        {ours_t:7.2f} s  {ours_n:4d} requests  "
        f"{count} assets  {ours_t / raw_t:5.2f}x baseline  {count / ours_t:,.0f} assets/s\n"
    )
    for line in cli_lines:
        out(line + "\n")
    if count != n or ours_n > bound + 3:
        raise SystemExit("FAILED: wrong asset count or too many requests")


if __name__ == "__main__":
    main()
