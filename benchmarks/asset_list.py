"""Benchmark: `retrovue asset list` over a large catalogue (issue 17, item 8).

    python benchmarks/asset_list.py --assets 60000 --backend sqlite|postgres|both
    python benchmarks/asset_list.py --assets 60000 --src /path/to/old/src --variants default json

Builds a catalogue of N assets (two sources, three collections of uneven size) with the bulk
insert path ``retrovue apply`` uses, then runs each variant of ``retrovue asset list`` as a
process and prints its wall time and peak RSS (by ``/usr/bin/time``), and the size of its
stdout.  Variants:

  default     asset list                  (the first page, text)
  json        asset list --json           (the first page, JSON)
  all         asset list --all            (every asset, text)
  all-json    asset list --all --json     (every asset, JSON, streamed)
  deep        asset list --json --after <the cursor of the next-to-last page>

``--src DIR`` runs the CLI from another source tree (e.g. an export of an older commit); give
it the variants that tree knows (before paging: ``default json``).  Timings are printed, never
asserted.  PostgreSQL databases are created and dropped at ``RETROVUE_TEST_POSTGRES_URL``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select

from retrovue.database.engine import DatabaseTarget, open_database
from retrovue.database.tables import Asset, Collection, Source
from retrovue.execute.bulk import insert_new_assets
from retrovue.model.upstream import UpstreamAsset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
from benchmarks.ingest_filesystem import Cli, Databases, run_per_backend  # noqa: E402

#: (source, collection, share of the assets)
LAYOUT = (("Library", "Movies", 0.2), ("Library", "TV", 0.5), ("Archive", "Films", 0.3))
VARIANTS = {
    "default": (),
    "json": ("--json",),
    "all": ("--all",),
    "all-json": ("--all", "--json"),
    "deep": ("--json", "--after"),  # the cursor is appended
}


def build_catalogue(url: str, count: int) -> None:
    engine = open_database(DatabaseTarget(url, False))
    now = datetime.now(UTC)
    sources: dict[str, uuid.UUID] = {}
    with engine.begin() as conn:
        for source, collection, share in LAYOUT:
            if source not in sources:
                sources[source] = uuid.uuid4()
                conn.execute(
                    insert(Source).values(
                        id=sources[source], external_id=source, name=source, type="filesystem"
                    )
                )
            cid = uuid.uuid4()
            conn.execute(
                insert(Collection).values(
                    id=cid, source_id=sources[source], external_id=collection, name=collection
                )
            )
            insert_new_assets(conn, cid, _items(collection, int(count * share)), now)
    engine.dispose()


def _items(collection: str, n: int):
    for i in range(n):
        path = f"/media/{collection}/Show {i // 500:04d}/Season 01/Episode {i:06d}.mkv"
        item = UpstreamAsset(
            source_uri=f"file://{path}",
            path=path,
            size=1_000_000 + i,
            change_token=f"{i}:{1_000_000 + i}",
            kind="episode",
            title=f"Episode {i}",
            series_title=f"Show {i // 500}",
            season_number=1,
            episode_number=i % 500,
            metadata={"mtime_ns": 1_700_000_000_000_000_000 + i},
        )
        yield item, path


def next_to_last_cursor(url: str, count: int) -> str:
    """The cursor a reader paging by 100 holds before the last page: the id of the asset 100
    from the end of the contract's order (read here with OFFSET; only the CLI is measured)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(
            select(Asset.c.id)
            .join(Collection, Collection.c.id == Asset.c.collection_id)
            .join(Source, Source.c.id == Collection.c.source_id)
            .order_by(
                func.lower(Source.c.name),
                func.lower(Collection.c.name),
                Collection.c.id,
                Asset.c.canonical_uri,
                Asset.c.id,
            )
            .offset(count - 101)
            .limit(1)
        ).scalar_one()
    engine.dispose()
    return str(found)


def measure(cli: Cli, argv: list[str], url: str) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, stdout bytes) of one CLI run, by ``/usr/bin/time``: a child
    forked from this (larger) process would report this process's peak as its own."""
    out, timing = cli.workdir / "list.out", cli.workdir / "list.time"
    env = dict(cli.env, RETROVUE_DATABASE_URL=url)
    command = [sys.executable, "-m", "retrovue", "asset", "list", *argv]
    with open(out, "wb") as stdout:
        subprocess.run(
            ["/usr/bin/time", "-f", "%e %M", "-o", str(timing), *command],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            check=True,
        )
    seconds, kib = timing.read_text().split()[-2:]
    return float(seconds), int(kib) / 1024, out.stat().st_size


def bench_backend(backend: str, args, cli: Cli) -> list[str]:
    dbs = Databases(backend, cli.workdir)
    try:
        url = dbs.new("assets")
        # built in a fresh interpreter: this process stays small (see ``measure``)
        builder = multiprocessing.get_context("spawn").Process(
            target=build_catalogue, args=(url, args.assets)
        )
        builder.start()
        builder.join()
        lines = [f"{backend}: {args.assets:,} assets"]
        for name in args.variants:
            argv = list(VARIANTS[name])
            if name == "deep":
                argv.append(next_to_last_cursor(url, args.assets))
            seconds, rss, size = measure(cli, argv, url)
            lines.append(
                f"  {name:<9} {seconds:7.2f} s  {rss:7.1f} MiB peak RSS  "
                f"{size / 1e6:8.2f} MB stdout"
            )
        return lines
    finally:
        dbs.drop_all()


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--assets", type=int, default=60_000)
    ap.add_argument(
        "--backend", choices=["sqlite", "postgres", "postgresql", "both"], default="sqlite"
    )
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    ap.add_argument("--src", help="run the CLI from this source tree (its src/ directory)")
    args = ap.parse_args()
    return run_per_backend(args, bench_backend, "rv-bench-list-")


if __name__ == "__main__":
    sys.exit(main())
