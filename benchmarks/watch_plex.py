"""Benchmark: `retrovue watch` hearing a Plex item added to a large section (issue 21).

    python benchmarks/watch_plex.py [--items 50000] [--adds 3] [--backend sqlite|postgres|both]

The fake Plex server (tests/fakeplex.py, in this process) serves a show section of ``--items``
episodes built page by page on request (``plex_memory.LazySection``: the fake holds no item).
The section is applied once; `retrovue watch` runs as a process.  Then, ``--adds`` times, one
episode is appended to the section and its ``timeline`` notification (state 5) pushed over the
websocket, and it measures, in the same run:

- latency: from the notification's send to the commit of the ingest that stored the episode
  (the watch's own ``collection ingest committed`` log line);
- two floors, measured here over the same loopback HTTP: ``item`` fetches the episode alone
  (``/library/metadata/{id}``, what an item-scoped listing would cost); ``section`` fetches the
  section's pages (``/all``, 1,000 a page, as the importer pages it) without parsing, which the
  section reconcile a notification triggers today cannot beat;
- idle CPU of the watch (listening, nothing changing) over ``--idle`` seconds.

Figures are printed, never asserted.  Target (issue 21): within 2 s of the notification.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fake server lives in tests/
from benchmarks.ingest_filesystem import Cli, Databases, run_per_backend  # noqa: E402
from benchmarks.plex_memory import LazyEpisodes, config_file, serve  # noqa: E402
from benchmarks.watch import Watching, _at  # noqa: E402


def floors(plex, rating_key: int, items: int) -> tuple[float, float]:
    """(seconds to fetch one item, seconds to fetch the section's pages), best of three."""
    session = requests.Session()
    headers = {"X-Plex-Token": plex.token, "Accept": "application/xml"}

    def item() -> float:
        began = time.perf_counter()
        session.get(f"{plex.url}/library/metadata/{rating_key}", headers=headers).raise_for_status()
        return time.perf_counter() - began

    def section() -> float:
        began = time.perf_counter()
        for start in range(0, items, 1000):
            session.get(
                f"{plex.url}/library/sections/2/all?type=4&includeCollections=0",
                headers={**headers, "X-Plex-Container-Start": str(start),
                         "X-Plex-Container-Size": "1000"},
            ).raise_for_status()  # fmt: skip
        return time.perf_counter() - began

    return min(item() for _ in range(3)), min(section() for _ in range(3))


def add_episode(plex) -> int:
    """Append one episode to the lazy section; registered by key too, for ``/library/metadata``."""
    section = plex.sections["2"]
    episodes = section.episodes
    episodes.count += 1
    (item,) = episodes[episodes.count - 1 : episodes.count]
    plex.items[item.rating_key] = item
    return item.rating_key


def push(plex, rating_key: int) -> None:
    entry = {
        "identifier": "com.plexapp.plugins.library",
        "sectionID": 2,
        "itemID": str(rating_key),
        "type": 4,
        "title": "Episode",
        "state": 5,
        "metadataState": "created",
        "updatedAt": int(time.time()),
    }
    message = {"type": "timeline", "size": 1, "TimelineEntry": [entry]}
    if plex.notify({"NotificationContainer": message}) != 1:
        raise SystemExit("the watch is not listening")


def bench_backend(backend: str, args, cli: Cli) -> list[str]:
    workdir = Path(tempfile.mkdtemp(prefix=f"rv-bench-watchplex-{backend}-"))
    dbs = Databases(backend, workdir)
    plex = serve(LazyEpisodes(args.items, "/data/TV"))
    try:
        config = config_file(plex, workdir)
        text = config.read_text().replace("  collections:", "  resync: 1h\n  collections:", 1)
        config.write_text(text)
        cli.env["BENCH_PLEX_TOKEN"] = plex.token
        db = dbs.new("watchplex")
        applied, _rss, _out = cli.run("apply", "-c", str(config), "--auto-approve", db=db)
        watching = Watching(cli, config, db, 0.5)
        try:
            watching.wait(lambda e: e.get("event") == "notifications connected")
            latencies = []
            for _ in range(args.adds):
                seen = len(watching.events)
                rating_key = add_episode(plex)
                sent = time.time()
                push(plex, rating_key)
                committed = watching.wait(
                    lambda e: e.get("event") == "collection ingest committed" and e.get("new") == 1,
                    start=seen,
                )
                latencies.append(_at(committed) - sent)
                watching.wait(
                    lambda e: str(e.get("event", "")).startswith("watch-event of"), start=seen
                )
            item_floor, section_floor = floors(plex, rating_key, plex.sections["2"].episodes.count)
            idle = watching.idle_cpu(args.idle)
            code = watching.stop()
        finally:
            if watching.proc.poll() is None:
                watching.proc.kill()
        worst = max(latencies)
        return [
            f"retrovue watch, Plex notifications: {args.items:,} episodes in one section, "
            f"backend {backend}",
            f"  first apply:                 {applied:8.2f} s",
            f"  floor, fetch the item:       {item_floor:8.3f} s",
            f"  floor, fetch the section:    {section_floor:8.3f} s (pages, unparsed)",
            "  notification -> committed:   "
            + ", ".join(f"{x:.2f} s" for x in latencies)
            + f"  (worst {worst:.2f} s = {worst / item_floor:.0f}x the item floor, "
            f"{worst / section_floor:.1f}x the section floor; target < 2 s)",
            f"  idle CPU over {args.idle:.0f} s:          {idle * 100:8.2f} % of one core",
            f"  exit on SIGTERM:             {code}",
        ]
    finally:
        plex.stop()
        dbs.drop_all()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--items", type=int, default=50_000)
    ap.add_argument(
        "--backend", choices=["sqlite", "postgres", "postgresql", "both"], default="sqlite"
    )
    ap.add_argument("--adds", type=int, default=3)
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--src", help="run the CLI from this source tree (its src/ directory)")
    args = ap.parse_args()
    return run_per_backend(args, bench_backend, "rv-bench-watchplex-cli-")


if __name__ == "__main__":
    sys.exit(main())
