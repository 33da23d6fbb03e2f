"""Benchmark: peak memory of `plan` and `apply` against a large Plex section (issue 23).

A show section of ``--items`` episodes (200,000 by default; ``--items 1000000`` for the large
case) is served by the fake Plex server (tests/fakeplex.py) from a section that builds each page
when it is asked for (``LazySection``): the fake holds no item, so its own memory and time stay
out of the way (it runs in this process; retrovue runs as child processes).  Each episode lists
what a real PMS section listing carries for a file (container, codecs, resolution, bit rate,
frame rate, aspect ratio, audio channels and profiles), so the listing's media facts are kept.

Runs on a fresh database, each command as a process (start-up included):

* ``plan``                  the first plan: every item is new
* ``apply --auto-approve``  plan and execute in one process (the executor reuses the listing)
* ``plan``                  no change: every item is stored and unchanged
* ``plan``, ``apply``       a few changes: every 1,000th episode's file changed (new size), the
                            last 0.1% gone from the server and as many new ones in their place

and prints, for each, its wall time and CPU time (steadier on a shared machine), peak RSS (``os.wait4``: that child's own ``ru_maxrss``)
against the target (256 MiB for up to 200,000 items, 512 MiB beyond), and the requests the server
logged against ceil(N / page size) + a small constant.

    .venv/bin/python benchmarks/plex_memory.py [--items 200000] [--backend sqlite|postgres]
        [--src DIR]
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

from retrovue.importers.plex import PlexImporter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fake server lives in tests/
from benchmarks.ingest_filesystem import Cli, Databases  # noqa: E402
from tests.fakeplex import UPDATED_AT, FakePlex, Item, Media, Part, Section  # noqa: E402

EPISODES_PER_SEASON = 20
SEASONS_PER_SHOW = 5
#: requests beside the listing pages per command: a root and the sections (twice when planning:
#: discovery, then the listing's own look-up), and the executor's sections and count-only page
CONSTANT = 6
#: what a PMS listing says of an episode's file (the attributes ``_media_info`` reads)
MEDIA = {
    "bitrate": 4_321,
    "width": 1920,
    "height": 1080,
    "aspectRatio": 1.78,
    "audioChannels": 6,
    "audioCodec": "eac3",
    "videoCodec": "h264",
    "videoResolution": "1080",
    "videoFrameRate": "24p",
    "videoProfile": "high",
    "audioProfile": "dolby digital plus",
}


#: the churn step: every CHANGED_EVERY-th episode changes, the last count // GONE_EVERY are
#: replaced by new ones
CHANGED_EVERY = 1_000
GONE_EVERY = 1_000


class LazyEpisodes:
    """The section's episodes as a sequence whose slices are built on demand; ``churned`` makes
    the few changes of the churn step."""

    def __init__(self, count: int, root: str):
        self.count, self.root = count, root
        self.churned = False

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, window: slice) -> list[Item]:
        return [self._episode(n) for n in range(*window.indices(self.count))]

    def _episode(self, n: int) -> Item:
        show, rest = divmod(n, EPISODES_PER_SEASON * SEASONS_PER_SHOW)
        season, episode = rest // EPISODES_PER_SEASON + 1, rest % EPISODES_PER_SEASON + 1
        title = f"Show {show:05d}"
        file = f"{self.root}/{title}/Season {season:02d}/{title} - S{season:02d}E{episode:02d}.mkv"
        attrs = {
            "updatedAt": UPDATED_AT,
            "addedAt": UPDATED_AT,
            "title": f"Episode {episode}",
            "index": episode,
            "parentIndex": season,
            "grandparentTitle": title,
            "year": 2000 + show % 20,
            "duration": 1_800_000,
        }
        key, size = 1_000_000 + n, 1_000_000_000 + n
        if self.churned:
            if n % CHANGED_EVERY == 0:
                size += 1  # the file changed: a new change token
            if n >= self.count - self.count // GONE_EVERY:  # another item in the old one's place
                key, file = 10_000_000 + n, file.replace(".mkv", " (new).mkv")
        part = Part(2 * n + 2, file, size=size, duration=1_800_000)
        part.attrs = {"videoProfile": "high"}
        return Item(key, "episode", attrs, [Media(2 * n + 1, [part], dict(MEDIA))])


class LazySection(Section):
    def listing(self, type_number: int):
        return self.episodes if type_number == 4 else []


def serve(episodes: LazyEpisodes) -> FakePlex:
    plex = FakePlex()
    tv = LazySection("2", "TV", "show", ["/data/TV"])
    tv.episodes = episodes
    plex.sections[tv.key] = tv
    return plex.start()


def config_file(plex: FakePlex, workdir: Path) -> Path:
    local = workdir / "nas" / "TV"
    local.mkdir(parents=True)
    source = {
        "name": "Plex",
        "type": "plex",
        "config": {"base_url": plex.url, "token": "${BENCH_PLEX_TOKEN}"},
        "collections": [
            {
                "name": "TV",
                "sync": True,
                "path_mappings": [{"plex_path": "/data/TV", "local_path": str(local)}],
            }
        ],
    }
    path = workdir / "retrovue.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "sources": [source]}, sort_keys=False))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "postgresql"], default="sqlite")
    parser.add_argument("--src", help="run the CLI from this source tree (its src/ directory)")
    args = parser.parse_args()
    backend = "postgresql" if args.backend == "postgres" else args.backend
    target = 256 if args.items <= 200_000 else 512
    pages = math.ceil(args.items / PlexImporter.page_size)
    episodes = LazyEpisodes(args.items, "/data/TV")
    plex = serve(episodes)
    workdir = Path(tempfile.mkdtemp(prefix="rv-bench-plexmem-"))
    out = sys.stdout.write
    out(f"{args.items:,} episodes ({backend}), page size {PlexImporter.page_size}: {pages} pages\n")
    dbs = Databases(backend, workdir)
    try:
        config = config_file(plex, workdir)
        cli = Cli(workdir, args.src)
        cli.env["BENCH_PLEX_TOKEN"] = plex.token
        url = dbs.new("plexmem")
        cli.run("db", "upgrade", db=url)
        failed = False
        for label, command, expect in (
            ("first plan (all new)", ("plan",), "+"),
            ("apply --auto-approve", ("apply", "--auto-approve"), "Apply complete"),
            ("no-change plan", ("plan",), "No changes."),
            ("plan, a few changes", ("plan",), "+"),
            ("apply, a few changes", ("apply", "--auto-approve"), "Apply complete"),
        ):
            episodes.churned = label.endswith("a few changes")
            plex.log.clear()
            seconds, rss, text = cli.run(*command, "-c", str(config), db=url)
            if expect not in text:
                raise SystemExit(f"{label}: unexpected output:\n{text[-2000:]}")
            made = len(plex.log)
            summary = _summary(text) if label.endswith("a few changes") else ""
            ok = rss < target and made <= pages + CONSTANT
            failed |= not ok
            out(
                f"{label:22s} {seconds:7.1f} s ({cli.cpu:5.1f} s CPU)  peak RSS {rss:6.0f} MiB (target < {target})  "
                f"{made:5d} requests (<= {pages} + {CONSTANT})  {'ok' if ok else 'OVER'}{summary}\n"
            )
            sys.stdout.flush()  # a 1,000,000-item run takes a while: show each line as it comes
    finally:
        dbs.drop_all()
        plex.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if failed:
        raise SystemExit("FAILED: a bound is exceeded")


def _summary(text: str) -> str:
    """The plan's counts line of the collection, to show the churn was seen as such."""
    return next(("\n    " + line.strip() for line in text.splitlines() if " assets: " in line), "")


if __name__ == "__main__":
    main()
