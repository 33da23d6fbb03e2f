"""Benchmark: a 50,000-episode show section from the fake Plex server (DESIGN §10, issue 12).

Builds the workload in the fake server (tests/fakeplex.py), then measures, in the same run:

* listing, in process: ``PlexImporter.fetch_assets_for_collection`` (paged ``/all?type=4``, XML
  read directly) against the same pages fetched with a bare ``requests.Session`` and no parsing
  (the HTTP floor), and plexapi's own ``section.searchEpisodes(container_size=...)``;
* the real CLI as processes (start-up included) on a fresh database: ``apply --auto-approve``
  (plan and execute in one process), then a no-change ``plan``; each with the requests the
  server logged, against the target of one listing per section per command:
  ceil(N / page size) + a small constant.

    .venv/bin/python benchmarks/plex_fake_listing.py [--episodes 50000] [--repeat 2]
        [--backend sqlite|postgres] [--src DIR]
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
from pathlib import Path

import requests
from plexapi.server import PlexServer

from retrovue.importers.plex import PlexImporter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fake server lives in tests/
from benchmarks.media_server_cli import cli_runs, measure  # noqa: E402
from tests.fakeplex import FakePlex  # noqa: E402

EPISODES_PER_SEASON = 20
SEASONS_PER_SHOW = 5
#: requests beside the listing pages: per process a root and the sections (twice when planning:
#: discovery, then the listing's own look-up), and the executor's sections and count-only page
CONSTANT = 6


def build(episodes: int) -> FakePlex:
    plex = FakePlex().start()
    tv = plex.add_section("2", "TV", "show", ["/data/TV"])
    per_show = EPISODES_PER_SEASON * SEASONS_PER_SHOW
    for n in range(math.ceil(episodes / per_show)):
        left = min(per_show, episodes - n * per_show)
        seasons = {
            s: min(EPISODES_PER_SEASON, left - (s - 1) * EPISODES_PER_SEASON)
            for s in range(1, SEASONS_PER_SHOW + 1)
            if left > (s - 1) * EPISODES_PER_SEASON
        }
        plex.add_show(tv, f"Show {n:05d}", seasons)
    return plex


def retrovue_listing(plex: FakePlex) -> int:
    importer = PlexImporter({"base_url": plex.url, "token": plex.token})
    return sum(1 for _ in importer.fetch_assets_for_collection("2"))


def raw_http_listing(plex: FakePlex, page_size: int, total: int) -> int:
    session = requests.Session()
    received = 0
    for start in range(0, total, page_size):
        headers = {
            "X-Plex-Token": plex.token,
            "X-Plex-Container-Start": str(start),
            "X-Plex-Container-Size": str(page_size),
        }
        answer = session.get(
            f"{plex.url}/library/sections/2/all?type=4&includeCollections=0",
            headers=headers,
            timeout=30,
        )
        answer.raise_for_status()
        received += len(answer.content)
    return received


def plexapi_listing(plex: FakePlex, page_size: int) -> int:
    section = PlexServer(plex.url, plex.token).library.sectionByID(2)
    return len(section.searchEpisodes(container_size=page_size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "postgresql"], default="sqlite")
    parser.add_argument("--src", help="run the CLI from this source tree (its src/ directory)")
    parser.add_argument("--no-cli", action="store_true", help="only the in-process listings")
    args = parser.parse_args()
    args.backend = "postgresql" if args.backend == "postgres" else args.backend
    plex = build(args.episodes)
    page = PlexImporter.page_size
    workdir = Path(tempfile.mkdtemp(prefix="rv-bench-plex-"))
    try:
        base_t, base_n, _ = measure(
            plex, lambda: raw_http_listing(plex, page, args.episodes), args.repeat
        )
        ours_t, ours_n, count = measure(plex, lambda: retrovue_listing(plex), args.repeat)
        ref_t, ref_n, ref_count = measure(plex, lambda: plexapi_listing(plex, page), args.repeat)
        cli_lines = (
            []
            if args.no_cli
            else cli_runs(
                plex,
                {
                    "name": "Plex",
                    "type": "plex",
                    "config": {"base_url": plex.url, "token": "${BENCH_PLEX_TOKEN}"},
                },
                ("BENCH_PLEX_TOKEN", plex.token),
                args,
                workdir,
                items=args.episodes,
                page_size=page,
                constant=CONSTANT,
            )
        )
    finally:
        plex.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    bound = math.ceil(args.episodes / page)
    out = sys.stdout.write
    out(f"{args.episodes} episodes, page size {page}, ceil(N/page) = {bound}\n")
    out(f"baseline raw HTTP (no parsing): {base_t:7.2f} s  {base_n:4d} requests\n")
    out(
        f"retrovue PlexImporter:          {ours_t:7.2f} s  {ours_n:4d} requests  "
        f"{count} assets  {ours_t / base_t:5.1f}x baseline  {count / ours_t:,.0f} assets/s\n"
    )
    out(
        f"plexapi searchEpisodes:         {ref_t:7.2f} s  {ref_n:4d} requests  "
        f"{ref_count} items  {ref_t / base_t:5.1f}x baseline\n"
    )
    for line in cli_lines:
        out(line + "\n")
    if count != args.episodes or ours_n > bound + 2:
        raise SystemExit("FAILED: wrong asset count or too many requests")


if __name__ == "__main__":
    main()
