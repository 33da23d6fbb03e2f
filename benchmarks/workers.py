"""Benchmark: `retrovue worker` (issue 20 part 3), enrichment spread over worker processes that
share one PostgreSQL database.

    python benchmarks/workers.py [--files 24] [--seconds 60] [--workers 1,2,4] [--noop 400]
                                 [--batches 1,4,32]

* Throughput: ``--files`` AAC stereo clips of ``--seconds`` each with only ``loudness`` attached
  (work that decoding dominates), ingested with ``apply --enrich=workers``; then for each count
  in ``--workers``, the ledger is emptied and that many ``retrovue worker --once
  --concurrency 1`` processes are started at once and timed until the last exits (start-up,
  claims, decoding and stores included), and from the first result stored to the last (the
  drain itself: a loaded machine stretches interpreter start-up most): files/s and the speed-up
  over one worker on the latter.  Each worker
  runs one enrichment process, so N workers use N processes, as N one-core machines would.
  Their CPU seconds (enrichment processes included) are reported too.
* Coordination: the ``--noop`` files under the tests' ``tally`` plugin sleeping ``--sleep`` s
  per file (no CPU), with 1, 2 and 4 workers: the scaling the claim protocol allows when cores
  are not the limit (on a loaded or small machine, the loudness figures cannot show it).
* Claim overhead: ``--noop`` empty files under a no-op enricher (the tests' ``tally`` plugin with
  no sleep), drained by one worker: seconds per asset of everything but the enrichment (claim,
  pool start, stores, lease renewal); and the claim alone (query, claim rows, commit): the same
  collection's assets claimed ``--batches`` at a time by ``execute.claims.claim`` until none is
  left, per asset and per claim.

Timings are printed, never asserted.  PostgreSQL only (workers refuse SQLite); databases are
created and dropped at ``RETROVUE_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``).  On a machine with C cores, expect
scaling up to C workers and not beyond.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml
from sqlalchemy import create_engine, delete, func, select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ and benchmarks/
from benchmarks.enrich import make_programme  # noqa: E402
from benchmarks.ingest_filesystem import Cli, Databases, run_per_backend  # noqa: E402

from retrovue.database.tables import (  # noqa: E402
    Asset,
    AssetEnrichment,
    Collection,
    EnrichmentClaim,
)

REPO = Path(__file__).resolve().parents[1]


def write_config(path: Path, base: Path, enrichers: list[str]) -> Path:
    doc = {
        "version": 1,
        "sources": [
            {
                "name": "Bench",
                "type": "filesystem",
                "config": {"base_path": str(base)},
                "collections": [{"name": "clips", "sync": True, "enrichers": enrichers}],
            }
        ],
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def make_clips(directory: Path, count: int, seconds: float) -> None:
    """``count`` copies of one AAC programme of ``seconds`` (pink noise and tones)."""
    directory.mkdir(parents=True)
    template = make_programme(directory.parent / "template.mp4", seconds / 60)
    data = template.read_bytes()
    for i in range(count):
        (directory / f"clip{i:03d}.mp4").write_bytes(data)


class Workers:
    """`retrovue worker` processes, through the tests' wrapper so the no-op plugin is there."""

    def __init__(self, cli: Cli):
        self.env = dict(cli.env, PYTHONPATH=str(REPO), RV_TALLY_SLEEP="0")
        self.env["RETROVUE_CONFIG"] = str(cli.workdir / "absent.yaml")
        self.workdir = cli.workdir

    def run(self, *args: str, db: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "tests.worker_plugins", *args],
            env=dict(self.env, RETROVUE_DATABASE_URL=db),
            cwd=self.workdir,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"retrovue {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
        return done

    def drain(self, count: int, db: str, *extra: str) -> tuple[float, float]:
        """(seconds until ``count`` workers started at once have all exited, their CPU seconds
        with their enrichment processes'): on a shared machine the CPU time is what other load
        disturbs least."""
        began = time.perf_counter()
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.worker_plugins", "worker", "--once", *extra],
                env=dict(self.env, RETROVUE_DATABASE_URL=db),
                cwd=self.workdir,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(count)
        ]
        cpu = 0.0
        for process in processes:
            _pid, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            cpu += usage.ru_utime + usage.ru_stime
            if process.returncode != 0:
                raise SystemExit(f"a worker exited {process.returncode}")
        return time.perf_counter() - began, cpu


def reset(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(delete(AssetEnrichment))
            conn.execute(delete(EnrichmentClaim))
            conn.execute(update(Asset).values(state="new"))
    finally:
        engine.dispose()


def span(url: str) -> float:
    """Seconds from the first result stored to the last: the drain without the workers'
    interpreter start-up and exit, which a loaded machine stretches most."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            first, last = conn.execute(
                select(
                    func.min(AssetEnrichment.c.enriched_at), func.max(AssetEnrichment.c.enriched_at)
                )
            ).one()
    finally:
        engine.dispose()
    return (last - first).total_seconds()


def ready(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(Asset).where(Asset.c.state == "ready")
            ).scalar_one()
    finally:
        engine.dispose()


def claim_query_per_asset(url: str, batch: int) -> tuple[float, int]:
    """Every pending asset claimed ``batch`` at a time by the worker's claim (a long lease, each
    claim going on from the last, as a worker's do): seconds per asset, and how many."""
    from retrovue.execute.claims import claim

    engine = create_engine(url)
    claimed = 0
    try:
        with engine.connect() as conn:
            collection_id = conn.execute(select(Collection.c.id)).scalar_one()
        began = time.perf_counter()
        after = None
        while True:
            with engine.begin() as conn:
                got = claim(conn, "bench:0:0", collection_id, ["tally"], batch, 3600, after)
            if not got:
                break
            claimed += len(got)
            after = got[-1].source_uri
        seconds = time.perf_counter() - began
    finally:
        engine.dispose()
    return seconds / max(claimed, 1), claimed


def bench_backend(backend: str, args, cli: Cli) -> list[str]:
    if backend != "postgresql":
        return [f"{backend}: workers need PostgreSQL (refused on SQLite); nothing measured"]
    dbs = Databases(backend, cli.workdir)
    workers = Workers(cli)
    lines = [f"postgresql, {os.cpu_count()} cores"]
    try:
        clips = cli.workdir / "media"
        make_clips(clips / "clips", args.files, args.seconds)
        url = dbs.new("workers")
        config = write_config(cli.workdir / "loud.yaml", clips, ["loudness"])
        workers.run("apply", "-c", str(config), "--auto-approve", "--enrich=workers", db=url)
        lines.append(
            f"throughput: {args.files} AAC stereo clips of {args.seconds:g} s, loudness only"
        )
        base = None
        for count in args.workers:
            reset(url)
            seconds, cpu = workers.drain(count, url, "--concurrency", "1")
            done, enriching = ready(url), span(url)
            base = base or enriching
            lines.append(
                f"  {count} worker{'s' if count > 1 else ''}: {seconds:6.2f} s wall, "
                f"first to last result {enriching:6.2f} s, {done / enriching:5.2f} files/s, "
                f"speed-up {base / enriching:4.2f}x, {cpu:5.1f} CPU s ({done}/{args.files} ready)"
            )
        empty = cli.workdir / "empty"
        (empty / "clips").mkdir(parents=True)
        for i in range(args.noop):
            (empty / "clips" / f"e{i:05d}.mkv").write_bytes(b"")
        url = dbs.new("sleep")
        config = write_config(cli.workdir / "sleep.yaml", empty, ["tally"])
        workers.run("apply", "-c", str(config), "--auto-approve", "--enrich=workers", db=url)
        sleepy = dict(workers.env)
        workers.env["RV_TALLY_SLEEP"] = str(args.sleep)
        lines.append(
            f"coordination: {args.noop} files of {args.sleep:g} s each of waiting, no CPU "
            "(what claims, leases and stores allow when cores are not the limit)"
        )
        base = None
        try:
            for count in args.workers:
                reset(url)
                seconds, cpu = workers.drain(count, url, "--concurrency", "1")
                enriching = span(url)
                base = base or enriching
                lines.append(
                    f"  {count} worker{'s' if count > 1 else ''}: {seconds:6.2f} s wall, first "
                    f"to last result {enriching:6.2f} s, speed-up {base / enriching:4.2f}x, "
                    f"{cpu:5.1f} CPU s ({ready(url)}/{args.noop} ready)"
                )
        finally:
            workers.env = sleepy
        url = dbs.new("noop")
        config = write_config(cli.workdir / "noop.yaml", empty, ["tally"])
        workers.run("apply", "-c", str(config), "--auto-approve", "--enrich=workers", db=url)
        one, _ = workers.drain(1, url, "--concurrency", "1")
        started, _ = workers.drain(1, url, "--concurrency", "1")  # nothing left: start-up alone
        lines.append(
            f"claim overhead, no-op enricher, {args.noop} assets, default batch: "
            f"{1000 * (one - started) / args.noop:.2f} ms per asset end to end "
            f"(drain {one:.2f} s minus an idle worker's start and exit {started:.2f} s)"
        )
        for batch in args.batches:
            reset(url)
            per_asset, claimed = claim_query_per_asset(url, batch)
            lines.append(
                f"  the claim alone (query, insert, commit), {batch} per claim: "
                f"{1000 * per_asset:.3f} ms per asset, {1000 * per_asset * batch:.2f} ms per "
                f"claim ({claimed} assets)"
            )
    finally:
        dbs.drop_all()
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--files", type=int, default=24)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each clip")
    ap.add_argument("--workers", type=lambda s: [int(n) for n in s.split(",")], default=[1, 2, 4])
    ap.add_argument(
        "--batches",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[1, 4, 32],
        help="claim sizes the claim alone is timed with",
    )
    ap.add_argument("--noop", type=int, default=400, help="assets for the claim overhead")
    ap.add_argument(
        "--sleep", type=float, default=0.05, help="seconds per file of the coordination run"
    )
    ap.add_argument("--src", help="run the CLI from this source tree (its src/ directory)")
    args = ap.parse_args()
    args.backend = "postgresql"
    return run_per_backend(args, bench_backend, "rv-bench-workers-")


if __name__ == "__main__":
    sys.exit(main())
