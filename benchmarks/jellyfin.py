"""Benchmark: an N-episode show library from the fake Jellyfin server (issue 23).

Builds the workload in the fake server (tests/fakejellyfin.py, items made on request so the
server does not hold them), then measures, in the same run:

* listing, in process: ``JellyfinImporter.fetch_assets_for_collection`` (paged ``/Items``,
  decoded and turned into assets) against the same pages fetched with a bare
  ``requests.Session`` loop, without decoding (the HTTP floor) and with ``json.loads`` (the
  decoding floor);
* the real CLI as processes (start-up included) on a fresh database: ``apply --auto-approve``
  (plan and execute in one process), then a no-change ``plan``: wall time, requests the server
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
from collections.abc import Callable
from pathlib import Path

import requests
import yaml

from retrovue.importers.jellyfin import JellyfinImporter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fake server lives in tests/
from benchmarks.ingest_filesystem import Cli, Databases  # noqa: E402
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


def measure(server: FakeJellyfin, run: Callable[[], object], repeat: int):
    """Best wall time of ``repeat`` runs, the requests one run makes, and its result."""
    best, made, result = math.inf, 0, None
    for _ in range(repeat):
        server.log.clear()
        began = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - began)
        made = len(server.log)
    return best, made, result


def cli_runs(server: FakeJellyfin, args, workdir: Path) -> list[str]:
    """``apply --auto-approve`` then a no-change ``plan``, as processes, with their requests."""
    local = workdir / "nas" / "TV"
    local.mkdir(parents=True)
    config = workdir / "retrovue.yaml"
    doc = {
        "version": 1,
        "sources": [
            {
                "name": "Jellyfin",
                "type": "jellyfin",
                "config": {"base_url": server.url, "api_key": "${BENCH_JELLYFIN_KEY}"},
                "collections": [
                    {
                        "name": "TV",
                        "sync": True,
                        "path_mappings": [{"plex_path": "/data/TV", "local_path": str(local)}],
                    }
                ],
            }
        ],
    }
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    cli = Cli(workdir, args.src)
    cli.env["BENCH_JELLYFIN_KEY"] = server.api_key
    dbs = Databases(args.backend, workdir)
    try:
        url = dbs.new("jellyfin")
        cli.run("db", "upgrade", db=url)
        server.log.clear()
        t_apply, rss_apply, out = cli.run("apply", "-c", str(config), "--auto-approve", db=url)
        n_apply = len(server.log)
        if "Apply complete" not in out:
            raise SystemExit(f"apply did not complete:\n{out[-2000:]}")
        server.log.clear()
        t_plan, rss_plan, out = cli.run("plan", "-c", str(config), db=url)
        n_plan = len(server.log)
        if not out.startswith("No changes."):
            raise SystemExit(f"the plan after apply is not empty:\n{out[-2000:]}")
    finally:
        dbs.drop_all()
    bound = math.ceil(args.items / JellyfinImporter.page_size) + CONSTANT
    return [
        f"CLI `apply --auto-approve` ({args.backend}):  {t_apply:7.2f} s  {n_apply:4d} requests "
        f"(target <= ceil(N/page) + {CONSTANT} = {bound})  peak RSS {rss_apply:,.0f} MiB",
        f"CLI no-change `plan` ({args.backend}):        {t_plan:7.2f} s  {n_plan:4d} requests  "
        f"peak RSS {rss_plan:,.0f} MiB",
    ]


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
        cli_lines = [] if args.no_cli else cli_runs(server, args, workdir)
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
