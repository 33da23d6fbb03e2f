"""Benchmark: filesystem ingest through the real CLI against the driver floor (DESIGN §10, issue 12).

    python benchmarks/ingest_filesystem.py --files 100000 --backend sqlite|postgres|both
    python benchmarks/ingest_filesystem.py --files 2000                  # a quick check
    python benchmarks/ingest_filesystem.py --files 1000000 --backend sqlite --no-churn

For each backend it generates a tree of empty media files and measures, in the same run:

  floor, first ingest   recursive os.scandir + DirEntry.stat(); building the row tuples (file
                        URI, parsed name, change token); the driver's own bulk path into
                        retrovue's migrated ``assets`` table with its indexes (``sqlite3``
                        executemany in one transaction / psycopg ``COPY``)
  first ingest          ``retrovue apply --auto-approve`` as a process, start-up included
  floor, no-change plan scan + one 3-column select (driver) + in-memory diff
  no-change plan        ``retrovue plan`` as a process (median of ``--repeat``)
  churn                 1% new, 1% changed, 1% removed: ``plan`` and ``apply`` as processes, and
                        what the apply costs beyond its plan
  ``retrovue --version`` as a process

and prints each figure with its floor, ratio and target, and the peak RSS of each CLI process
(``os.wait4``: that child's own ``ru_maxrss``).  Timings are ratios, never asserted by tests.
``--src DIR`` runs the CLI from another source tree (e.g. an export of an older commit), for
before/after figures against the same floor.  PostgreSQL databases are created and dropped at
``RETROVUE_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from retrovue.execute.bulk import COLUMNS
from retrovue.importers.filesystem import file_uri
from retrovue.importers.naming import parse_media_name

PG_ADMIN = os.environ.get(
    "RETROVUE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# the columns retrovue's bulk insert writes, in its order (the floor writes the same row)
PER_DIR = 1000


# -- workload ------------------------------------------------------------------------------------


def make_tree(root: Path, n: int) -> Path:
    """``n`` empty episodes, 1,000 per season folder, in one collection ``bench``."""
    coll = root / "media" / "bench"
    for d in range((n + PER_DIR - 1) // PER_DIR):
        folder = coll / f"Show {d:04d}" / "Season 01"
        folder.mkdir(parents=True)
        for i in range(min(PER_DIR, n - d * PER_DIR)):
            (folder / f"Show {d:04d} - S01E{i:03d}.mkv").touch()
    return root / "media"


def churn(media: Path, n: int) -> None:
    """1% of the files rewritten, 1% removed, 1% new (in a new folder)."""
    files = sorted(str(p) for p in (media / "bench").rglob("*.mkv"))
    k = max(1, n // 100)
    for p in files[:k]:
        Path(p).write_bytes(b"changed")
    for p in files[k : 2 * k]:
        os.unlink(p)
    extra = media / "bench" / "Extras"
    extra.mkdir()
    for i in range(k):
        (extra / f"Extra {i:05d}.mkv").touch()


# -- the floor -----------------------------------------------------------------------------------


def scan(root: str) -> list[tuple[str, int, int]]:
    out, stack = [], [root]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                else:
                    st = e.stat()
                    out.append((e.path, st.st_size, st.st_mtime_ns))
    return out


def build_rows(scanned, collection_id, new_id, stamp, false) -> list[tuple]:
    """The ``COLUMNS`` tuple of each file: what any ingest must compute per row."""
    rows = []
    for path, size, mtime in scanned:
        p = parse_media_name(os.path.splitext(os.path.basename(path))[0])
        rows.append(
            (
                new_id(),
                collection_id,
                file_uri(path),
                path,
                p.kind,
                p.title,
                p.series_title,
                p.season,
                p.episode,
                p.year,
                None,
                size,
                f"{mtime}:{size}",
                "new",
                false,
                None,
                None,
                stamp,
                stamp,
                stamp,
            )
        )
    return rows


def diff_count(scanned, stored: dict) -> int:
    changed = 0
    for path, size, mtime in scanned:
        known = stored.get(file_uri(path))
        if known is None or known[0] != f"{mtime}:{size}" or known[1] != path:
            changed += 1
    return changed


class SqliteFloor:
    def __init__(self, path: str):
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            self.conn.execute(f"PRAGMA {pragma}")  # retrovue's own connection settings
        self.conn.execute("PRAGMA cache_size=-65536")
        self.cid = uuid.uuid4().hex
        sid = uuid.uuid4().hex
        now = self.stamp()
        self.conn.execute(
            "insert into sources (id, external_id, name, type, origin, config, created_at, updated_at)"
            " values (?, 'b', 'b', 'filesystem', 'cli', '{}', ?, ?)",
            (sid, now, now),
        )
        self.conn.execute(
            "insert into collections (id, source_id, external_id, name, sync_enabled, ingestible,"
            " locations, created_at, updated_at) values (?, ?, 'bench', 'bench', 1, 1, '[]', ?, ?)",
            (self.cid, sid, now, now),
        )

    @staticmethod
    def stamp() -> str:
        return datetime.now(UTC).isoformat(" ")

    def rows(self, scanned) -> list[tuple]:
        return build_rows(scanned, self.cid, lambda: uuid.uuid4().hex, self.stamp(), 0)

    def insert(self, rows) -> None:
        sql = f"insert into assets ({', '.join(COLUMNS)}) values ({', '.join('?' * len(COLUMNS))})"
        self.conn.execute("begin")
        self.conn.executemany(sql, rows)
        self.conn.execute("commit")

    def select(self) -> dict:
        return {
            uri: (token, canonical)
            for uri, token, canonical in self.conn.execute(
                "select source_uri, change_token, canonical_uri from assets where collection_id = ?",
                (self.cid,),
            )
        }

    def close(self) -> None:
        self.conn.close()


class PostgresFloor:
    def __init__(self, url: str):
        self.conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        self.cid = uuid.uuid4()
        sid = uuid.uuid4()
        now = datetime.now(UTC)
        with self.conn.transaction():
            self.conn.execute(
                "insert into sources (id, external_id, name, type, origin, config, created_at, updated_at)"
                " values (%s, 'b', 'b', 'filesystem', 'cli', '{}', %s, %s)",
                (sid, now, now),
            )
            self.conn.execute(
                "insert into collections (id, source_id, external_id, name, sync_enabled, ingestible,"
                " locations, created_at, updated_at) values (%s, %s, 'bench', 'bench', true, true,"
                " '[]', %s, %s)",
                (self.cid, sid, now, now),
            )

    def rows(self, scanned) -> list[tuple]:
        return build_rows(scanned, self.cid, uuid.uuid4, datetime.now(UTC), False)

    def insert(self, rows) -> None:
        with self.conn.transaction(), self.conn.cursor() as cur:
            with cur.copy(f"COPY assets ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def select(self) -> dict:
        with self.conn.transaction():
            return {
                uri: (token, canonical)
                for uri, token, canonical in self.conn.execute(
                    "select source_uri, change_token, canonical_uri from assets where collection_id = %s",
                    (self.cid,),
                )
            }

    def close(self) -> None:
        self.conn.close()


# -- databases and the CLI -----------------------------------------------------------------------


class Databases:
    """Fresh databases on one backend, dropped at the end."""

    def __init__(self, backend: str, workdir: Path):
        self.backend, self.workdir, self.created = backend, workdir, []

    def new(self, label: str) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.workdir / (label + '.db')}"
        name = f"rv_bench_{label}_{uuid.uuid4().hex[:8]}"
        with _pg_admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self.created:
            with _pg_admin() as admin:
                for name in self.created:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self.created = []


def _pg_admin() -> psycopg.Connection:
    return psycopg.connect(
        PG_ADMIN.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    )


class Cli:
    """``python -m retrovue`` as a process: wall time (start-up included) and peak RSS.

    The package is byte-compiled first (into its ``__pycache__``), as ``pip install`` of the
    wheel does: an editable checkout run with ``PYTHONDONTWRITEBYTECODE`` would otherwise
    compile every module on every run (~60 ms that no installed retrovue pays).
    """

    def __init__(self, workdir: Path, src: str | None):
        self.workdir = workdir
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("RETROVUE_")
            and k
            not in ("PYTHONPATH", "NO_COLOR", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
        }
        self.env.update(XDG_DATA_HOME=str(workdir / "xdg"), NO_COLOR="1")
        if src:
            self.env["PYTHONPATH"] = src
        package = subprocess.run(
            [
                sys.executable,
                "-c",
                "import retrovue, os; print(os.path.dirname(retrovue.__file__))",
            ],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", package], env=self.env, check=True
        )

    def run(self, *args: str, db: str | None = None, ok=(0, 2)) -> tuple[float, float, str]:
        """(seconds, peak RSS in MiB, stdout); fails loudly on an exit not in ``ok``.  The
        process's CPU time (its worker processes included) is kept in ``self.cpu``: other load
        on a shared machine disturbs it least."""
        env = dict(self.env, **({"RETROVUE_DATABASE_URL": db} if db else {}))
        out, err = self.workdir / "cli.out", self.workdir / "cli.err"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            began = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "retrovue", *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
            _pid, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        self.cpu = usage.ru_utime + usage.ru_stime
        if proc.returncode not in ok:
            raise SystemExit(
                f"retrovue {' '.join(args)} exited {proc.returncode}:\n{err.read_text()[-3000:]}"
            )
        return seconds, usage.ru_maxrss / 1024, out.read_text()


def median_of(repeat: int, fn) -> float:
    return statistics.median(fn() for _ in range(repeat))


def timed(fn):
    gc.collect()
    began = time.perf_counter()
    value = fn()
    return time.perf_counter() - began, value


# -- one backend ---------------------------------------------------------------------------------


def bench_backend(backend: str, args, cli: Cli) -> list[str]:
    workdir = Path(tempfile.mkdtemp(prefix=f"rv-bench-{backend}-", dir=args.tmp))
    dbs = Databases(backend, workdir)
    lines = []
    try:
        print(f"[{backend}] generating {args.files:,} files in {workdir} ...", file=sys.stderr)
        media = make_tree(workdir, args.files)
        root = str(media / "bench")
        scan(root)  # warm the dentry/inode cache for both sides alike

        # -- floor: scan, rows, driver bulk insert into a migrated assets table ----------------
        floor_url = dbs.new("floor")
        cli.run("db", "upgrade", db=floor_url)
        floor = (
            SqliteFloor(make_url(floor_url).database)
            if backend == "sqlite"
            else PostgresFloor(floor_url)
        )
        t_scan, scanned = timed(lambda: scan(root))
        t_rows, rows = timed(lambda: floor.rows(scanned))
        t_insert, _ = timed(lambda: floor.insert(rows))
        rows = None  # the floor holds no rows while retrovue runs
        floor_first = t_scan + t_rows + t_insert

        def noop_floor() -> float:
            began = time.perf_counter()
            assert diff_count(scan(root), floor.select()) == 0
            return time.perf_counter() - began

        # -- retrovue as a process -------------------------------------------------------------
        config = workdir / "retrovue.yaml"
        config.write_text(
            f"version: 1\nsources:\n  - name: Bench\n    type: filesystem\n    config:\n"
            f"      base_path: {media}\n    collections:\n      - name: bench\n        sync: true\n"
        )
        url = dbs.new("retrovue")
        cli.run("db", "upgrade", db=url)  # migrated up front, as the floor's table is
        t_first, rss_first, _ = cli.run("apply", "-c", str(config), "--auto-approve", db=url)
        stored = _asset_count(backend, url)
        if stored != args.files:
            raise SystemExit(f"first ingest stored {stored} assets, expected {args.files}")

        noop_rss = []

        def noop_plan() -> float:
            seconds, rss, out = cli.run("plan", "-c", str(config), db=url)
            assert out.startswith("No changes."), out[:500]
            noop_rss.append(rss)
            return seconds

        # interleaved repeats, medians: single runs on this shared 2-core machine vary
        floor_runs, noop_runs = [], []
        for _ in range(args.repeat):
            floor_runs.append(noop_floor())
            noop_runs.append(noop_plan())
        t_noop_floor, t_noop = statistics.median(floor_runs), statistics.median(noop_runs)
        floor.close()

        t_version = median_of(args.repeat, lambda: cli.run("--version")[0])

        bulk = "sqlite3 executemany" if backend == "sqlite" else "COPY"
        lines += [
            f"retrovue filesystem benchmark: {args.files:,} files, backend {backend}",
            f"  floor scan (scandir + DirEntry.stat)     {t_scan:7.2f} s",
            f"  floor row tuples (URI, name, token)      {t_rows:7.2f} s",
            f"  {'floor driver bulk insert (' + bulk + ')':41}{t_insert:7.2f} s",
            f"  first ingest: `apply --auto-approve`     {t_first:7.2f} s   "
            f"{t_first / floor_first:5.2f}x of floor {floor_first:.2f} s (target <= 1.5x)   "
            f"peak RSS {rss_first:,.0f} MiB",
            f"    = {args.files / t_first:,.0f} assets/s end to end, start-up included",
            f"  no-change `plan` (median of {args.repeat})          {t_noop:7.2f} s   "
            f"{t_noop / t_noop_floor:5.2f}x of floor {t_noop_floor:.2f} s (target <= 1.3x, <= 1.2 s)   "
            f"peak RSS {max(noop_rss):,.0f} MiB",
            f"  `retrovue --version` (median of {args.repeat})      {t_version:7.2f} s   (target <= 0.2 s)",
        ]
        if not args.no_churn:
            churn(media, args.files)
            t_cplan, _, _ = cli.run("plan", "-c", str(config), db=url)
            t_capply, rss_capply, out = cli.run(
                "apply", "-c", str(config), "--auto-approve", db=url
            )
            summary = next((ln for ln in out.splitlines() if "assets:" in ln), "").strip()
            lines.append(
                f"  churn 1% new/changed/removed: plan {t_cplan:.2f} s, apply {t_capply:.2f} s "
                f"= {t_capply - t_cplan:+.2f} s beyond its plan (target < 1 s)   "
                f"peak RSS {rss_capply:,.0f} MiB"
            )
            if summary:
                lines.append(f"    {summary}")
        return lines
    finally:
        dbs.drop_all()
        shutil.rmtree(workdir, ignore_errors=True)


def _asset_count(backend: str, url: str) -> int:
    if backend == "sqlite":
        with sqlite3.connect(make_url(url).database) as conn:
            return conn.execute("select count(*) from assets").fetchone()[0]
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return conn.execute("select count(*) from assets").fetchone()[0]


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument(
        "--backend", choices=["sqlite", "postgres", "postgresql", "both"], default="sqlite"
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs per median (default 3)")
    ap.add_argument("--no-churn", action="store_true", help="skip the 1%% churn apply")
    ap.add_argument("--src", help="run the CLI from this source tree (its src/ directory)")
    ap.add_argument("--tmp", help="where to build the tree (default: the system's temp dir)")
    args = ap.parse_args()
    return run_per_backend(args, bench_backend, "rv-bench-cli-")


def run_per_backend(args, bench_backend, prefix: str) -> int:
    """``bench_backend(backend, args, cli)`` for each backend ``--backend`` names, each with a
    CLI runner in a scratch folder of its own; prints the figures (the other benchmarks share
    this)."""
    backends = {"both": ["sqlite", "postgresql"], "postgres": ["postgresql"]}.get(
        args.backend, [args.backend]
    )
    lines = []
    for backend in backends:
        cli = Cli(Path(tempfile.mkdtemp(prefix=prefix)), args.src)
        try:
            lines += bench_backend(backend, args, cli)
        finally:
            shutil.rmtree(cli.workdir, ignore_errors=True)
    print("\n".join(["", *lines]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
