"""Benchmark: `retrovue watch` on a large folder collection (issue 21).

    python benchmarks/watch.py --files 20000 --backend sqlite|postgres|both [--copies 3]

For each backend it generates one collection of N empty media files (100 per folder), applies
it once, starts `retrovue watch` as a process and measures, in the same run:

- latency: from the end of a copy (a file written beside the tree and renamed into it, as
  copiers finish) to the commit of the ingest that stored it (the watch's own
  ``collection ingest committed`` log line), for ``--copies`` files one after another into
  folders of the tree, then one into the collection's root folder (a flat layout); with
  the settle time (--settle, default 0.5 s) included, as a real copy pays it.  Not to
  ``ready``: that needs an enricher attached, and probing the 100,000 generated files at the
  first apply would cost the benchmark minutes (an event's probe is its own file's alone);
- the floor: an event is a folder-scoped ingest (it lists the copied file's folder and
  compares the assets stored there), so its floor is the settle time plus one walk of that
  folder (os.scandir, warm, in this process); latency is printed as a ratio to it.  One walk
  of the whole collection is printed beside it: what a collection-scoped reconcile (before
  folder scopes) could not beat, and what the latency must stay well under;
- idle CPU: the watch's user+system CPU over ``--idle`` seconds (default 10) with nothing
  changing, as a share of one core.

Figures are printed, never asserted.  The target (issue 21): within 2 s of the copy's end on
100,000 files, and under 1 % of a core idle.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
from benchmarks.ingest_filesystem import Cli, Databases, run_per_backend  # noqa: E402


def make_tree(base: Path, files: int) -> Path:
    movies = base / "movies"
    for i in range(files):
        folder = movies / f"Folder {i // 100:05d}"
        if i % 100 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"Film {i:07d} (1999).mkv").write_bytes(b"")
    return movies


def walk_seconds(root: Path) -> float:
    began = time.perf_counter()
    stack, seen = [str(root)], 0
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    entry.stat(follow_symlinks=False)
                    seen += 1
    return time.perf_counter() - began


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Watching:
    def __init__(self, cli: Cli, config: Path, db: str, settle: float) -> None:
        env = dict(cli.env, RETROVUE_DATABASE_URL=db, RETROVUE_LOG_LEVEL="info")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "retrovue", "watch", "-c", str(config), "--log-format",
             "json", "--settle", str(settle)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self.events: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                continue

    def wait(self, predicate, timeout: float = 600.0, start: int = 0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events[start:]:
                if predicate(event):
                    return event
            if self.proc.poll() is not None:
                raise SystemExit(f"watch exited {self.proc.returncode}")
            time.sleep(0.01)
        raise SystemExit("timed out waiting for the watch")

    def idle_cpu(self, seconds: float) -> float:
        """The share of one core the watch used over ``seconds`` of nothing happening, after
        2 s for the last reconcile's tail (metrics, logs) to finish."""
        time.sleep(2.0)
        before = cpu_seconds(self.proc.pid)
        time.sleep(seconds)
        return (cpu_seconds(self.proc.pid) - before) / seconds

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(60)


def _at(event: dict) -> float:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


def bench_backend(backend: str, args, cli: Cli) -> list[str]:
    workdir = Path(tempfile.mkdtemp(prefix=f"rv-bench-watch-{backend}-", dir=args.tmp))
    dbs = Databases(backend, workdir)
    try:
        media = workdir / "media"
        print(f"[{backend}] generating {args.files:,} files ...", file=sys.stderr)
        movies = make_tree(media, args.files)
        config = workdir / "retrovue.yaml"
        config.write_text(
            "version: 1\nsources:\n  - name: NAS\n    type: filesystem\n"
            f"    config: {{base_path: {json.dumps(str(media))}}}\n"
            "    collections: [{name: movies, sync: true}]\n"
        )
        db = dbs.new("watch")
        applied, _rss, _out = cli.run("apply", "-c", str(config), "--auto-approve", db=db)
        whole = min(walk_seconds(movies) for _ in range(3))
        folder = min(walk_seconds(movies / "Folder 00000") for _ in range(3))
        floor = args.settle + folder
        watching = Watching(cli, config, db, args.settle)
        try:
            watching.wait(lambda e: str(e.get("event", "")).startswith("watch-start of"))
            latencies = []
            # into a folder of 100 (--copies times), then once into the collection's root
            targets = [
                movies / f"Folder {n:05d}" / f"New {n} (2024).mkv" for n in range(args.copies)
            ]
            for n, target in enumerate([*targets, movies / "Flat (2024).mkv"]):
                seen = len(watching.events)
                staged = workdir / f"copy-{n}.mkv"
                staged.write_bytes(b"x" * 65536)
                os.rename(staged, target)
                copied = time.time()
                committed = watching.wait(
                    lambda e: e.get("event") == "collection ingest committed" and e.get("new") == 1,
                    start=seen,
                )
                latencies.append(_at(committed) - copied)
                watching.wait(
                    lambda e: str(e.get("event", "")).startswith("watch-event of"), start=seen
                )
            *latencies, flat = latencies
            idle = watching.idle_cpu(args.idle)
            code = watching.stop()
        finally:
            if watching.proc.poll() is None:
                watching.proc.kill()
        worst = max(latencies)
        return [
            f"retrovue watch benchmark: {args.files:,} files in one collection, backend {backend}",
            f"  first apply:            {applied:8.2f} s",
            f"  walk of the whole tree: {whole:8.3f} s  (a collection-scoped reconcile's floor)",
            f"  floor:                  {floor:8.3f} s  (settle {args.settle} s + one folder's"
            f" walk, {folder * 1000:.1f} ms)",
            "  copy end -> committed:  "
            + ", ".join(f"{x:.2f} s" for x in latencies)
            + f"  (worst {worst:.2f} s = {worst / floor:.1f}x the floor; target 2 s)",
            f"  into the root folder:   {flat:8.2f} s  (the file is listed alone:"
            f" {flat / floor:.1f}x the floor)",
            f"  idle CPU over {args.idle:.0f} s:     {idle * 100:8.2f} % of one core",
            f"  exit on SIGTERM:        {code}",
        ]
    finally:
        dbs.drop_all()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--files", type=int, default=20_000, help="default 20,000 (target: 100,000)")
    ap.add_argument(
        "--backend", choices=["sqlite", "postgres", "postgresql", "both"], default="sqlite"
    )
    ap.add_argument("--copies", type=int, default=3)
    ap.add_argument("--settle", type=float, default=0.5)
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--src", help="run the CLI from this source tree (its src/ directory)")
    ap.add_argument("--tmp", help="where to build the tree (default: the system's temp dir)")
    args = ap.parse_args()
    return run_per_backend(args, bench_backend, "rv-bench-watch-cli-")


if __name__ == "__main__":
    sys.exit(main())
