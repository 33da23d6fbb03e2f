"""Benchmark: the ``ffprobe`` enricher through the worker pool (DESIGN §11).

Generates N small media files (copies of a few templates written with PyAV: 1 s mkv and mp4,
a 20 s mp4 whose index is larger, audio-only mka), then measures, in the same run:

* pool: ``run_enrichment("ffprobe", ...)`` with one worker per core, end to end (process start
  included), and its steady state (from the first outcome to the last);
* floor, one process: ``av.open`` + close per file in this process, with the enricher's probe
  options (what the enricher cannot beat on one core);
* floor, one process per core: the same, the files split across ``cpu_count`` spawned
  processes, process start included (what the pool is measured against);
* ffprobe: one ``ffprobe -show_format -show_streams -show_chapters -of json`` subprocess per file,
  ``cpu_count`` at a time, over the first 200 files, when an ``ffprobe`` binary is on PATH
  (skipped with a note otherwise).

Rounds are interleaved and the best of each is shown; CPU time per file (this process and its
children, process starts included) is shown too, as other load on the machine disturbs it least.

Targets: pool ≥ 10× ffprobe's throughput, and within 2× of the per-core PyAV floor.

    .venv/bin/python benchmarks/enrich.py [--files 500] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av

from retrovue.enrichers.base import EnrichInput
from retrovue.enrichers.ffprobe import FFProbeEnricher
from retrovue.enrichers.pool import run_enrichment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the media writers live in tests/
from tests import media  # noqa: E402

FFPROBE_SAMPLE = 200


def make_files(directory: Path, count: int) -> list[Path]:
    templates = [
        media.write_av(directory / "t-av.mkv", chapters=[(0, 500, "A"), (500, 1000, "B")]),
        media.write_av(directory / "t-av.mp4"),
        media.write_av(directory / "t-long.mp4", seconds=20.0, fps=10),
        media.write_av(directory / "t-audio.mka", video=False),
    ]
    files = []
    for i in range(count):
        template = templates[i % len(templates)]
        target = directory / f"f{i:06d}{template.suffix}"
        shutil.copyfile(template, target)
        files.append(target)
    return files


def probe_options() -> dict[str, str]:
    params = FFProbeEnricher().params
    return {
        "probesize": str(int(params["probe_size"])),
        "analyzeduration": str(int(params["analyze_duration"] * 1_000_000)),
    }


def open_all(paths: list[str]) -> int:
    options = probe_options()
    for path in paths:
        av.open(path, "r", container_options=options, metadata_errors="replace").close()
    return len(paths)


def floor_one_process(files: list[Path]) -> float:
    started = time.perf_counter()
    open_all([str(f) for f in files])
    return time.perf_counter() - started


#: one floor process: a bare interpreter that imports PyAV and opens the paths on its stdin
FLOOR_SCRIPT = """
import sys, time
import av
options = dict(arg.split("=", 1) for arg in sys.argv[1:])
paths = sys.stdin.read().split("\\n")
started = time.perf_counter()
for path in paths:
    av.open(path, "r", container_options=options, metadata_errors="replace").close()
print(time.perf_counter() - started)
"""


def floor_per_core(files: list[Path], workers: int) -> tuple[float, float]:
    """(wall time with interpreter start, the slowest process's own open loop)."""
    options = [f"{k}={v}" for k, v in probe_options().items()]
    shares = ["\n".join(str(f) for f in files[i::workers]) for i in range(workers)]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", FLOOR_SCRIPT, *options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in shares
    ]
    loops = [float(p.communicate(share)[0]) for p, share in zip(processes, shares, strict=True)]
    return time.perf_counter() - started, max(loops)


def pool(files: list[Path], workers: int) -> tuple[float, float, int]:
    inputs = [EnrichInput(str(i), str(f), change_token="t") for i, f in enumerate(files)]
    started = time.perf_counter()
    first = None
    ok = 0
    for outcome in run_enrichment("ffprobe", {}, inputs, workers=workers):
        if first is None:
            first = time.perf_counter()
        ok += outcome.ok
    ended = time.perf_counter()
    return ended - started, ended - first, ok


def ffprobe_per_file(files: list[Path], workers: int) -> float:
    command = ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-show_chapters"]

    def one(path: Path) -> None:
        subprocess.run([*command, "-of", "json", str(path)], capture_output=True, check=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as threads:
        list(threads.map(one, files))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds, interleaved; the best of each is shown"
    )
    args = parser.parse_args()
    n, workers = args.files, args.workers

    timings: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}

    def keep(name: str, seconds: float) -> None:
        timings.setdefault(name, []).append(seconds)

    def cpu_now() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def measured(name: str, run):
        before = cpu_now()
        result = run()
        cpu.setdefault(name, []).append(cpu_now() - before)
        return result

    with tempfile.TemporaryDirectory(prefix="retrovue-enrich-bench-") as tmp:
        files = make_files(Path(tmp), n)
        open_all([str(f) for f in files])  # the page cache warm for everyone alike
        for _ in range(args.repeat):
            keep("one", measured("one", lambda: floor_one_process(files)))
            wall, loops = measured("per_core", lambda: floor_per_core(files, workers))
            keep("per_core", wall)
            keep("per_core_loop", loops)
            total, steady, ok = measured("pool", lambda: pool(files, workers))
            assert ok == n, f"{n - ok} files failed to enrich"
            keep("pool", total)
            keep("pool_steady", steady)
        if shutil.which("ffprobe"):
            # its cost per file does not depend on N: a sample keeps large runs short
            sample = files[:FFPROBE_SAMPLE]
            keep("ffprobe", measured("ffprobe", lambda: ffprobe_per_file(sample, workers)))

    best = {name: min(values) for name, values in timings.items()}

    counts = {"ffprobe": min(n, FFPROBE_SAMPLE), "pool_steady": n - 1}

    def rate(name: str) -> str:
        count = counts.get(name, n)
        line = f"{count / best[name]:8.0f} files/s"
        if name in cpu:  # CPU time is what other load on the machine disturbs least
            line += f"  {1000 * min(cpu[name]) / count:5.2f} ms CPU/file"
        return line

    print(
        f"{n} files, {workers} workers (cpu_count={os.cpu_count()}), PyAV {av.__version__}, "
        f"best of {args.repeat}"
    )
    print(f"  floor  PyAV open, 1 process:          {rate('one')}")
    print(
        f"  floor  PyAV open, 1 process per core: {rate('per_core')} (interpreter start included)"
    )
    print(f"  floor  same, open loops only:         {rate('per_core_loop')}")
    print(f"  pool   run_enrichment('ffprobe'):     {rate('pool')} (worker start included)")
    print(f"  pool   first outcome to last:         {rate('pool_steady')}")
    if "ffprobe" in best:
        print(
            f"  ffprobe per file, {workers} at a time:       {rate('ffprobe')} ({counts['ffprobe']} files)"
        )
    else:
        print("  ffprobe per file:                     skipped (no ffprobe binary on PATH)")
    print("ratios")
    print(
        f"  pool vs per-core floor, start included: {best['pool'] / best['per_core']:5.2f}x slower (target <= 2)"
    )
    print(
        f"  pool vs per-core floor, loops only:     {best['pool_steady'] / best['per_core_loop']:5.2f}x slower"
    )
    if "ffprobe" in best:
        ffprobe_rate = counts["ffprobe"] / best["ffprobe"]
        print(
            f"  pool vs ffprobe per file:               {n / best['pool'] / ffprobe_rate:5.1f}x faster (target >= 10)"
        )


if __name__ == "__main__":
    main()
