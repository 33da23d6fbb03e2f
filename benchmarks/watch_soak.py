"""Soak: `retrovue watch` under churn for a while (issue 21).

    python benchmarks/watch_soak.py [--duration 120] [--files 3000] [--backend sqlite|postgresql]
    python benchmarks/watch_soak.py --duration 3600      # the hour the issue asks for

One `retrovue watch` (the real CLI, a process) keeps two sources in line:

- ``NAS``: a filesystem share laid out like a NAS (``Movies/Title (Year)/Title (Year).mkv``,
  ``TV/Show/Season 01/Show - S01E01.mkv``, Synology litter in ``@eaDir`` and ``#recycle``), of
  ``--files`` files, watched through inotify;
- ``Plex``: the fake Plex server of tests/ with a Movies and a TV section; its changes reach the
  watch by resync (``--plex-resync``, default 20 s).

Churn runs for ``--duration`` seconds, one step at a time: files added (copied in and renamed,
as copiers finish), changed in place, deleted, renamed (files and a movie's folder); Plex items
added, changed, deleted; the NAS's Movies folder "unmounted" (the mount point left empty, or
gone) and remounted; the Plex server stopped and started again on the same port.  After every
step the database is read: no collection may have gained more missing assets in one step than
the mass-missing threshold (20 %) of what it held before - the guard must refuse, not mark a
whole collection missing.

At the end, churn stops, a resync of each source is waited for, and `retrovue plan` must say
`No changes.` with the assets present in the database equal to the files on disk and the items
in Plex (nothing missed, nothing double-counted).  Reported: the watch's RSS (sampled every
``--sample`` s; the warm-up - the first quarter of the churn, at least 30 s - excluded) as
growth from the first to the last part of the run (target under 5 %), and its CPU while idle
between resyncs (target under 1 % of a core), with the load average.  Figures are printed,
never asserted; a broken guard or a final plan with changes exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sqlalchemy import create_engine, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: benchmarks/, tests/
from benchmarks.ingest_filesystem import Cli, Databases  # noqa: E402
from benchmarks.watch import Watching, cpu_seconds  # noqa: E402
from tests.fakeplex import FakePlex, Section  # noqa: E402

THRESHOLD = 0.2  # the mass-missing guard's default
TOKEN = "soak-plex-token-0123456789"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- the NAS share --------------------------------------------------------------------------------


def build_share(base: Path, files: int, rng: random.Random) -> None:
    """A third movies, the rest episodes (10 per season, 3 seasons per show), plus litter."""
    movies = base / "Movies"
    tv = base / "TV"
    for i in range(files // 3):
        name = f"Film {i:05d} ({1950 + i % 70})"
        (movies / name).mkdir(parents=True)
        (movies / name / f"{name}.mkv").write_bytes(b"m" * rng.randint(1, 64))
        if i % 50 == 0:  # Synology's index, which the scan must skip
            (movies / name / "@eaDir").mkdir()
            (movies / name / "@eaDir" / "SYNOINDEX_MEDIA_INFO").write_bytes(b"")
    for i in range(files - files // 3):
        show, season, episode = i // 30, (i // 10) % 3 + 1, i % 10 + 1
        folder = tv / f"Show {show:04d}" / f"Season {season:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"Show {show:04d} - S{season:02d}E{episode:02d}.mkv"
        (folder / name).write_bytes(b"e" * rng.randint(1, 64))
    (base / "#recycle" / "Movies").mkdir(parents=True)
    (base / "#recycle" / "Movies" / "Old (1990).mkv").write_bytes(b"")


def media_files(collection: Path) -> int:
    """What the scan counts: media files outside litter folders."""
    count = 0
    for _root, dirs, names in os.walk(collection):
        dirs[:] = [d for d in dirs if not d.startswith(("@", "#", "."))]
        count += sum(1 for n in names if n.endswith(".mkv") and not n.startswith("."))
    return count


# -- the Plex server --------------------------------------------------------------------------------


def build_plex(items: int) -> tuple[FakePlex, Section, Section]:
    plex = FakePlex(token=TOKEN)
    movies = plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    tv = plex.add_section("2", "TV", "show", ["/data/TV"])
    for i in range(items // 2):
        plex.add_movie(movies, f"Plex Film {i:04d}", year=1960 + i % 60)
    for i in range((items - items // 2) // 20):
        plex.add_show(tv, f"Plex Show {i:03d}", {1: 10, 2: 10})
    return plex.start(), movies, tv


def plex_items(section: Section) -> int:
    if section.type == "movie":
        return len(section.items)
    return sum(len(season.children) for show in section.items for season in show.children)


# -- what the database shows -----------------------------------------------------------------------


@dataclass
class Census:
    """Per collection (source/collection): assets present and missing."""

    present: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)


def census(engine) -> Census:
    from retrovue.database.tables import Asset, Collection, Source

    out = Census()
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Source.c.name,
                Collection.c.name,
                Asset.c.missing_since.is_(None),
                func.count(),
            )
            .select_from(Asset.join(Collection).join(Source))
            .group_by(Source.c.name, Collection.c.name, Asset.c.missing_since.is_(None))
        ).all()
    for source, collection, present, n in rows:
        key = f"{source}/{collection}"
        (out.present if present else out.missing)[key] = n
        out.present.setdefault(key, 0)
        out.missing.setdefault(key, 0)
    return out


@dataclass
class Guard:
    """Each step's newly missing assets per collection, against the threshold."""

    engine: object
    last: Census = field(default_factory=Census)
    violations: list[str] = field(default_factory=list)
    worst: float = 0.0
    checks: int = 0

    def check(self, step: str) -> Census:
        now = census(self.engine)
        for key, missing in now.missing.items():
            gained = missing - self.last.missing.get(key, 0)
            held = self.last.present.get(key, 0)
            if gained > 0 and held:
                share = gained / held
                self.worst = max(self.worst, share)
                if share > THRESHOLD:
                    self.violations.append(f"{step}: {key} {gained} of {held} went missing")
        self.last = now
        self.checks += 1
        return now


# -- the soak -----------------------------------------------------------------------------------


class Soak:
    def __init__(self, args, workdir: Path, cli: Cli, db: str) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.workdir = workdir
        self.share = workdir / "nas"
        build_share(self.share, args.files, self.rng)
        self.plex, self.plex_movies, self.plex_tv = build_plex(args.plex_items)
        self.port = self.plex.port
        local = workdir / "plex-local"
        for name in ("Movies", "TV"):
            (local / name).mkdir(parents=True)
        self.config = workdir / "retrovue.yaml"
        self.config.write_text(yaml.safe_dump(self._config(local), sort_keys=False))
        self.cli = cli
        self.cli.env["SOAK_PLEX_TOKEN"] = TOKEN
        self.db = db
        self.engine = create_engine(db)
        self.guard = Guard(self.engine)
        self.serial = 0
        self.steps: dict[str, int] = {}
        self.rss: list[tuple[float, float]] = []

    def _config(self, local: Path) -> dict:
        def mapped(name: str) -> dict:
            return {
                "name": name,
                "sync": True,
                "path_mappings": [{"plex_path": f"/data/{name}", "local_path": str(local / name)}],
            }

        return {
            "version": 1,
            "sources": [
                {
                    "name": "NAS",
                    "type": "filesystem",
                    "config": {"base_path": str(self.share)},
                    "resync": self.args.nas_resync,
                    "collections": [
                        {"name": "Movies", "sync": True},
                        {"name": "TV", "sync": True},
                    ],
                },
                {
                    "name": "Plex",
                    "type": "plex",
                    "config": {"base_url": self.plex.url, "token": "${SOAK_PLEX_TOKEN}"},
                    "resync": self.args.plex_resync,
                    "collections": [mapped("Movies"), mapped("TV")],
                },
            ],
        }

    # -- churn steps: each returns once its change is made ------------------------------------

    def _files(self, collection: str) -> list[Path]:
        return sorted(
            p
            for p in (self.share / collection).rglob("*.mkv")
            if not any(part.startswith(("@", "#")) for part in p.parts)
        )

    def fs_add(self) -> None:
        for _ in range(10):
            self.serial += 1
            name = f"New {self.serial:05d} (2024)"
            staged = self.workdir / f"{name}.part"
            staged.write_bytes(b"n" * self.rng.randint(1, 4096))
            folder = self.share / "Movies" / name
            folder.mkdir()
            os.rename(staged, folder / f"{name}.mkv")

    def fs_change(self) -> None:
        for path in self.rng.sample(self._files("TV"), 10):
            path.write_bytes(b"c" * self.rng.randint(65, 8192))

    def fs_delete(self) -> None:
        for path in self.rng.sample(self._files("TV"), 5):
            path.unlink()

    def fs_rename(self) -> None:
        for path in self.rng.sample(self._files("TV"), 5):
            path.rename(path.with_name(path.stem + " (renamed).mkv"))
        folder = self.rng.choice(sorted(p for p in (self.share / "Movies").iterdir()))
        self.serial += 1
        moved = folder.with_name(f"Moved {self.serial:05d} (2001)")
        folder.rename(moved)
        for path in moved.glob("*.mkv"):
            path.rename(moved / f"{moved.name}.mkv")

    def unmount(self) -> None:
        """The Movies share unmounted: its mount point left empty (every other time: gone),
        held so for a while, then mounted again."""
        movies = self.share / "Movies"
        aside = self.workdir / "unmounted-Movies"
        movies.rename(aside)
        self.serial += 1
        empty = self.serial % 2 == 0
        if empty:
            movies.mkdir()
        self._quiet(self.args.settle + 3.0)
        self.guard.check("unmounted")
        if empty:
            movies.rmdir()
        aside.rename(movies)

    def plex_add(self) -> None:
        self.serial += 1
        for i in range(3):
            self.plex.add_movie(self.plex_movies, f"Plex New {self.serial:05d}-{i}", year=2024)

    def plex_change(self) -> None:
        for item in self.rng.sample(self.plex_movies.items, 3):
            item.attrs["updatedAt"] = int(item.attrs["updatedAt"]) + 60
            item.media[0].parts[0].size += 1

    def plex_delete(self) -> None:
        gone = set(self.rng.sample(range(len(self.plex_movies.items)), 2))
        # a new list, swapped in: a listing being served meanwhile keeps the old one
        self.plex_movies.items = [x for i, x in enumerate(self.plex_movies.items) if i not in gone]

    def plex_restart(self) -> None:
        """Down for longer than a resync (the watch must fail it, and mark nothing missing),
        then back on the same port."""
        self.plex.stop()
        self._quiet(self.args.plex_resync + 5.0)
        self.guard.check("plex down")
        self.plex.start(self.port)

    # -- running -------------------------------------------------------------------------------

    def _quiet(self, seconds: float) -> None:
        """Sleep, sampling RSS and the guard meanwhile."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, self.args.sample))
            self._sample()

    def _sample(self) -> None:
        if self.watching is not None and self.watching.proc.poll() is None:
            self.rss.append((time.monotonic(), rss_mib(self.watching.proc.pid)))

    def run(self) -> list[str]:
        args = self.args
        self.watching = None
        self.watching = Watching(self.cli, self.config, self.db, args.settle)
        watching = self.watching
        began = time.monotonic()
        try:
            for source in ("NAS", "Plex"):
                watching.wait(
                    lambda e, s=source: f'watch-start of source "{s}"' in str(e.get("event"))
                )
            started = time.monotonic() - began
            self.guard.check("start")
            steps: list[tuple[str, Callable[[], None]]] = [
                ("fs add", self.fs_add),
                ("plex add", self.plex_add),
                ("fs change", self.fs_change),
                ("fs rename", self.fs_rename),
                ("plex change", self.plex_change),
                ("fs delete", self.fs_delete),
                ("unmount", self.unmount),
                ("plex delete", self.plex_delete),
                ("plex restart", self.plex_restart),
            ]
            churn_began = time.monotonic()
            warm_until = churn_began + max(30.0, args.duration / 4)
            n = 0
            while time.monotonic() - churn_began < args.duration:
                name, step = steps[n % len(steps)]
                n += 1
                step()
                self.steps[name] = self.steps.get(name, 0) + 1
                self._quiet(args.pause)
                self.guard.check(name)
                if watching.proc.poll() is not None:
                    raise SystemExit(f"the watch exited {watching.proc.returncode}")
            churned = time.monotonic() - churn_began
            # churn over: one resync of each source after it, then nothing is left to do
            mark = len(watching.events)
            for source in ("NAS", "Plex"):
                watching.wait(
                    lambda e, s=source: f'watch-resync of source "{s}": ok' in str(e.get("event")),
                    timeout=max(args.nas_resync, args.plex_resync) * 3 + 60,
                    start=mark,
                )
                self._sample()
            final = self.guard.check("final resync")
            # idle: between two resyncs of Plex (the shortest interval), nothing changing
            mark = len(watching.events)
            watching.wait(lambda e: "watch-resync of source" in str(e.get("event")), start=mark)
            time.sleep(1.0)
            window = max(args.plex_resync - 4.0, 2.0)
            before = cpu_seconds(watching.proc.pid)
            time.sleep(window)
            idle = (cpu_seconds(watching.proc.pid) - before) / window
            resyncing_over = 60.0
            before = cpu_seconds(watching.proc.pid)
            self._quiet(resyncing_over)
            with_resyncs = (cpu_seconds(watching.proc.pid) - before) / resyncing_over
            _secs, _rss, plan_out = self.cli.run("plan", "-c", str(self.config), db=self.db)
        finally:
            code = watching.stop() if watching.proc.poll() is None else watching.proc.returncode
            if args.log:
                with open(args.log, "w") as fh:
                    fh.writelines(json.dumps(e) + "\n" for e in watching.events)
            if watching.proc.poll() is None:
                watching.proc.kill()
            self.plex.stop()
            self.engine.dispose()
        expected = {
            "NAS/Movies": media_files(self.share / "Movies"),
            "NAS/TV": media_files(self.share / "TV"),
            "Plex/Movies": plex_items(self.plex_movies),
            "Plex/TV": plex_items(self.plex_tv),
        }
        counts_ok = all(final.present.get(k) == v for k, v in expected.items())
        no_changes = "No changes." in plan_out
        after = [m for t, m in self.rss if t >= warm_until]
        quarter = max(len(after) // 4, 1)
        first, last = statistics.median(after[:quarter]), statistics.median(after[-quarter:])
        growth = (last - first) / first * 100
        # what the watch reported as a problem (a warning note): failed or unreachable reconciles
        reported = sum(1 for e in watching.events if e.get("kind") and e.get("level") == "warning")
        lines = [
            f"retrovue watch soak: backend {args.backend}, {args.files:,} NAS files, "
            f"{args.plex_items:,} Plex items, churn {churned:.0f} s "
            f"(resync NAS {args.nas_resync:g} s, Plex {args.plex_resync:g} s)",
            f"  first reconcile:        {started:8.1f} s",
            "  steps:                  " + ", ".join(f"{k} x{v}" for k, v in self.steps.items()),
            f"  guard checks:           {self.guard.checks} (worst step: {self.guard.worst:.1%} "
            f"of a collection newly missing; threshold {THRESHOLD:.0%})",
            "  guard violations:       " + ("; ".join(self.guard.violations) or "none"),
            f"  RSS after warm-up:      {first:8.1f} MiB -> {last:8.1f} MiB "
            f"({growth:+.1f} %, max {max(after):.1f} MiB; {len(after)} samples; target < 5 %)",
            f"  idle CPU ({window:.0f} s between resyncs): {idle * 100:6.2f} % of one core "
            "(target < 1 %)",
            f"  CPU over {resyncing_over:.0f} s with resyncs:   {with_resyncs * 100:6.2f} % of one core",
            f"  reported problems:      {reported} (reconciles while Plex was down or the share "
            "unmounted)",
            "  present assets:         "
            + ", ".join(f"{k} {final.present.get(k, 0)}/{v}" for k, v in expected.items())
            + (" (= files/items)" if counts_ok else " MISMATCH"),
            "  final plan:             " + ("No changes." if no_changes else "CHANGES:"),
            f"  exit on SIGTERM:        {code}",
            f"  load average:           {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        ]
        if not no_changes:
            lines.append(plan_out[-3000:])
        self.ok = counts_ok and no_changes and not self.guard.violations
        return lines


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=float, default=120.0, help="seconds of churn (default 120)")
    ap.add_argument("--files", type=int, default=3000)
    ap.add_argument("--plex-items", type=int, default=400)
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--plex-resync", type=float, default=20.0)
    ap.add_argument("--nas-resync", type=float, default=60.0)
    ap.add_argument("--settle", type=float, default=0.5)
    ap.add_argument("--pause", type=float, default=3.0, help="seconds between churn steps")
    ap.add_argument("--sample", type=float, default=2.0, help="RSS sampling interval")
    ap.add_argument("--log", help="write the watch's log lines (JSON) to this file")
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--src", help="run the CLI from this source tree (its src/ directory)")
    args = ap.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    workdir = Path(tempfile.mkdtemp(prefix="rv-soak-"))
    (workdir / "cli").mkdir()
    cli = Cli(workdir / "cli", args.src)
    dbs = Databases(args.backend, workdir)
    try:
        soak = Soak(args, workdir, cli, dbs.new("soak"))
        lines = soak.run()
    finally:
        dbs.drop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(["", *lines]))
    return 0 if soak.ok else 1


if __name__ == "__main__":
    sys.exit(main())
