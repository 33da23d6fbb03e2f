"""Benchmark: the ``ffprobe`` enricher through ``retrovue apply`` (DESIGN §11, issue 11), and the
``loudness`` enricher on one long programme (DESIGN §10, issue 20).

    python benchmarks/enrich.py --files 2000 [--backend sqlite|postgres] [--noop-assets 100000]
    python benchmarks/enrich.py --files 200                     # a quick check
    python benchmarks/enrich.py --files 0 --loudness-minutes 20 [--src OLD/src]

Generates N small media files (copies of a few templates written with PyAV: 1 s mkv and mp4, a
20 s mp4 whose index is larger, an audio-only mka), ingests them with ``retrovue apply`` (no
enrichers), then measures, in the same run:

* apply: ``retrovue apply --auto-approve`` of the same config with ``enrichers: [ffprobe]`` on
  the source, as a process (start-up, plan, attachment and enrichment of every file included);
  and the same minus a no-change apply of the config without enrichers (what enriching adds);
* pool: ``run_enrichment("ffprobe", ...)`` with one worker per core, end to end, no database;
* the enricher in one process: ``FFProbeEnricher().enrich`` per file, no pool, no database;
* floor, one process: ``av.open`` + close per file in this process, with the enricher's probe
  options (what the enricher cannot beat on one core);
* floor, one process per core: the same, the files split across ``cpu_count`` spawned
  processes, interpreter start included;
* ffprobe: one ``ffprobe -show_format -show_streams -show_chapters -of json`` subprocess per file,
  one per core at a time, over the first 200 files, when an ``ffprobe`` binary is on PATH
  (skipped with a note otherwise);
* re-apply: the enrichers config applied again with nothing changed: it must probe nothing (the
  ledger's ``enriched_at`` is checked unchanged) and is timed against the no-change apply.

With ``--noop-assets K`` it also builds a K-asset collection of empty files (ingested without
enrichment) and compares the no-change ``retrovue plan`` with no enricher attached against the
same plan with ``ffprobe`` attached and every asset already enriched (the attachment and the
``asset_enrichments`` rows are written directly), and the same for ``apply``; runs alternate
(the attachment row is removed and put back between them), medians of ``--plan-repeat``.

With ``--loudness-minutes M`` it writes an M-minute stereo AAC programme (48 kHz, 192 kbit/s, with
FFmpeg's own binary from the ``imageio-ffmpeg`` wheel: pink noise and tones whose levels move, so
the gates and the true peak have work to do) and measures, interleaved, best of ``--repeat``:

* floor: PyAV decoding the audio stream (the other streams discarded, packet by packet), in this
  process: what the enricher decodes, and nothing else;
* FFmpeg: ``ffmpeg -nostats -i FILE -af ebur128=peak=true -f null -`` (the binary, start-up
  included), whose summary gives the reference I, LRA and true peak;
* the enricher in process: ``LoudnessEnricher().enrich`` on the file, timed inside a fresh
  interpreter after a first call on a 1 s file (imports out of the figure); a programme this
  long is read in one-minute segments by one process per core (the interpreter and its forked
  copies; the CPU figure counts them all), against a floor that decodes in one process;
* the CLI: ``retrovue collection enrich Programme --force`` with only ``loudness`` attached, as a
  process, start-up, database and worker start included;

each with its ratio to the floor and to FFmpeg, and the LU difference of retrovue's result to
FFmpeg's.
``--src DIR`` runs the enricher and the CLI from another source tree (an export of an older
commit's ``src``), for before/after figures against the same floor.  Targets: within 1.5x the
floor (in process and through the CLI), and faster than FFmpeg's ebur128; results within 0.1 LU
of FFmpeg's.

Targets: apply ≥ 10× the per-file ``ffprobe`` throughput; apply within 2× of the one-process PyAV
floor times the cores used; a no-change re-apply probes nothing and adds under 10% to the
no-change plan of a 100,000-asset collection.  Timings are printed, never asserted.
PostgreSQL databases are created and dropped at ``RETROVUE_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import av
import imageio_ffmpeg
import yaml
from sqlalchemy import create_engine, delete, func, insert, literal, null, select, update

from retrovue.database.tables import Asset, AssetEnrichment, EnricherAttachment, Source
from retrovue.enrichers.base import EnrichInput
from retrovue.enrichers.ffprobe import FFProbeEnricher
from retrovue.enrichers.pool import run_enrichment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ and benchmarks/
from benchmarks.ingest_filesystem import Cli, Databases  # noqa: E402
from tests import media  # noqa: E402

FFPROBE_SAMPLE = 200
PER_DIR = 1000


# -- media ------------------------------------------------------------------------------------------


def make_files(directory: Path, count: int) -> list[Path]:
    templates_dir = directory.parent / "templates"
    templates_dir.mkdir(parents=True, exist_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    templates = [
        media.write_av(templates_dir / "t-av.mkv", chapters=[(0, 500, "A"), (500, 1000, "B")]),
        media.write_av(templates_dir / "t-av.mp4"),
        media.write_av(templates_dir / "t-long.mp4", seconds=20.0, fps=10),
        media.write_av(templates_dir / "t-audio.mkv", video=False),
    ]
    files = []
    for i in range(count):
        template = templates[i % len(templates)]
        target = directory / f"f{i:06d}{template.suffix}"
        shutil.copyfile(template, target)
        files.append(target)
    return files


def make_empty_tree(directory: Path, count: int) -> None:
    """``count`` empty .mkv files, PER_DIR to a folder (what the ingest benchmark uses)."""
    for i in range(count):
        folder = directory / f"d{i // PER_DIR:04d}"
        if i % PER_DIR == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:07d}.mkv").touch()


# -- the floors and ffprobe ----------------------------------------------------------------------


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


def enricher_one_process(files: list[Path]) -> float:
    """The ffprobe enricher's own work (open, describe every stream, chapters) in this process:
    what separates the enricher from the bare open, apart from the pool and the database."""
    enricher = FFProbeEnricher()
    started = time.perf_counter()
    for i, path in enumerate(files):
        enricher.enrich(EnrichInput(str(i), str(path), change_token="t"))
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


def floor_per_core(files: list[Path], workers: int) -> float:
    """Wall time, interpreter start included."""
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
    for process, share in zip(processes, shares, strict=True):
        process.communicate(share)
    return time.perf_counter() - started


def pool(files: list[Path], workers: int) -> float:
    inputs = [EnrichInput(str(i), str(f), change_token="t") for i, f in enumerate(files)]
    started = time.perf_counter()
    ok = sum(o.ok for o in run_enrichment("ffprobe", {}, inputs, workers=workers))
    assert ok == len(files), f"{len(files) - ok} files failed to enrich"
    return time.perf_counter() - started


def ffprobe_per_file(files: list[Path], workers: int) -> float:
    command = ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-show_chapters"]

    def one(path: Path) -> None:
        subprocess.run([*command, "-of", "json", str(path)], capture_output=True, check=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as threads:
        list(threads.map(one, files))
    return time.perf_counter() - started


# -- databases and the CLI -------------------------------------------------------------------------


def write_config(path: Path, base: Path, collection: str, enrichers: list[str] | None) -> str:
    source: dict = {"name": "Bench", "type": "filesystem", "config": {"base_path": str(base)}}
    if enrichers is not None:
        source["enrichers"] = enrichers
    source["collections"] = [{"name": collection, "sync": True}]
    path.write_text(yaml.safe_dump({"version": 1, "sources": [source]}, sort_keys=False))
    return str(path)


def enriched(report: str) -> tuple[int, int]:
    """(enriched, failed) over an ``apply --json`` document's enrichments."""
    doc = json.loads(report)
    results = doc.get("results") or {}  # None: nothing to do
    counts = [c for e in results.get("enrichments", []) for c in e["counts"]]
    return sum(c["enriched"] for c in counts), sum(c["failed"] for c in counts)


def ledger_state(url: str) -> tuple[int, datetime | None]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                select(func.count(), func.max(AssetEnrichment.c.enriched_at)).select_from(
                    AssetEnrichment
                )
            ).one()
    finally:
        engine.dispose()


# -- the runs -------------------------------------------------------------------------------------------


def reset_enrichment(url: str) -> None:
    """Back to freshly ingested: no attachment, no result, every asset new."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(delete(AssetEnrichment))
            conn.execute(delete(EnricherAttachment))
            conn.execute(update(Asset).values(state="new"))
    finally:
        engine.dispose()


def measure_enrichment(args, work: Path, dbs: Databases, cli: Cli) -> dict[str, float]:
    """Best of ``--repeat`` interleaved rounds for each figure (wall time and CPU time)."""
    n, workers = args.files, args.workers
    base = work / "media"
    files = make_files(base / "Shows", n)
    url = dbs.new("enrich")
    plain = write_config(work / "plain.yaml", base, "Shows", None)
    with_ffprobe = write_config(work / "ffprobe.yaml", base, "Shows", ["ffprobe"])
    t: dict[str, float] = {}
    t["ingest"], _, _ = cli.run("apply", "-c", plain, "--auto-approve", db=url, ok=(0,))
    open_all([str(f) for f in files])  # the page cache warm for everyone alike
    rounds: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}

    def cpu_now() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def keep(name: str, run) -> None:
        before = cpu_now()
        rounds.setdefault(name, []).append(run())
        cpu.setdefault(name, []).append(cpu_now() - before)

    def cli_round(name: str, *argv: str, ok=(0,), check=None) -> None:
        seconds, _rss, out = cli.run(*argv, db=url, ok=ok)
        if check is not None:
            check(out)
        rounds.setdefault(name, []).append(seconds)
        cpu.setdefault(name, []).append(cli.cpu)

    def all_enriched(out: str) -> None:
        assert enriched(out) == (n, 0), f"apply enriched/failed {enriched(out)} of {n}"

    ledger_before = None
    for i in range(args.repeat):
        if i:
            reset_enrichment(url)
        cli_round(
            "apply",
            *("apply", "-c", with_ffprobe, "--auto-approve", "--json"),
            ok=(0, 2),
            check=all_enriched,
        )
        ledger_before = ledger_state(url)
        assert ledger_before[0] == n, ledger_before
        # nothing changed: probes nothing, writes nothing
        cli_round(
            "reapply",
            *("apply", "-c", with_ffprobe, "--auto-approve", "--json"),
            check=lambda out: enriched(out) == (0, 0) or sys.exit(f"re-apply: {enriched(out)}"),
        )
        assert ledger_state(url) == ledger_before, "the re-apply wrote to the ledger"
        keep("one", lambda: floor_one_process(files))
        keep("per_core", lambda: floor_per_core(files, workers))
        keep("pool", lambda: pool(files, workers))
        keep("enricher", lambda: enricher_one_process(files))
    # the no-change apply with no enricher: what an apply costs before any enrichment
    reset_enrichment(url)
    for _ in range(args.repeat):
        cli_round("noop_apply", "apply", "-c", plain, "--auto-approve")
    if shutil.which("ffprobe"):
        # its cost per file does not depend on N: a sample keeps large runs short
        keep("ffprobe", lambda: ffprobe_per_file(files[:FFPROBE_SAMPLE], workers))
    t.update({name: min(values) for name, values in rounds.items()})
    t.update({f"cpu_{name}": min(values) for name, values in cpu.items()})
    return t


def report_enrichment(args, t: dict[str, float]) -> None:
    n, workers = args.files, args.workers
    sample = min(n, FFPROBE_SAMPLE)
    # what enriching adds to an apply: the apply minus a no-change apply (start-up, plan)
    t["enrich"] = t["apply"] - t["noop_apply"]
    t["cpu_enrich"] = t["cpu_apply"] - t["cpu_noop_apply"]

    def line(label: str, name: str, count: int = n) -> None:
        seconds = t[name]
        shown = f"  {label:<48}{count / seconds:7.0f} files/s ({seconds:6.2f} s)"
        if "cpu_" + name in t:
            shown += f"  {1000 * t['cpu_' + name] / count:5.2f} ms CPU/file"
        print(shown)

    print(
        f"{n} files, backend {args.backend}, {workers} cores (cpu_count={os.cpu_count()}), "
        f"PyAV {av.__version__}; best of {args.repeat} interleaved rounds"
    )
    print(f"  ingest, retrovue apply (no enrichers):          {t['ingest']:6.2f} s")
    print(f"  no-change apply, no enrichers:                  {t['noop_apply']:6.2f} s")
    line("apply, enrichers: [ffprobe], as a process", "apply")
    line("  the same minus the no-change apply", "enrich")
    line("pool run_enrichment('ffprobe'), no database", "pool")
    line("ffprobe enricher's enrich(), 1 process", "enricher")
    line("floor: PyAV open, 1 process", "one")
    line("floor: PyAV open, 1 process per core", "per_core")
    if "ffprobe" in t:
        line(f"ffprobe per file, {workers} at a time", "ffprobe", sample)
    else:
        print("  ffprobe per file:                               skipped (no ffprobe on PATH)")
    print(
        f"  re-apply, nothing changed: probed 0 (ledger unchanged), {t['reapply']:.2f} s vs "
        f"{t['noop_apply']:.2f} s for a no-change apply without enrichers "
        f"({_pct(t['reapply'], t['noop_apply'])})"
    )
    print("ratios (wall; CPU per file in brackets)")
    floor = n / t["one"] * workers  # the one-process floor on every core used
    for label, name in (("apply", "apply"), ("apply's enrichment", "enrich")):
        print(
            f"  1-process floor × {workers} cores vs {label + ':':<20}"
            f"{floor / (n / t[name]):5.2f}x slower (target <= 2) "
            f"[{t['cpu_' + name] / t['cpu_one']:.2f}x the floor's CPU]"
        )
    print(
        f"  1-process floor × {workers} cores vs pool:            "
        f"{floor / (n / t['pool']):5.2f}x slower "
        f"[{t['cpu_pool'] / t['cpu_one']:.2f}x the floor's CPU; the enricher's own work in one "
        f"process is {t['cpu_enricher'] / t['cpu_one']:.2f}x]"
    )
    print(
        f"  apply's enrichment vs floor, 1 process per core: "
        f"{t['enrich'] / t['per_core']:5.2f}x slower (measured, interpreter start included)"
    )
    if "ffprobe" in t:
        ffprobe_rate = sample / t["ffprobe"]
        print(
            f"  apply vs ffprobe per file:                  "
            f"{n / t['apply'] / ffprobe_rate:5.1f}x faster (target >= 10)"
        )


def measure_noop(args, work: Path, dbs: Databases, cli: Cli) -> dict[str, float]:
    k = args.noop_assets
    base = work / "noop"
    make_empty_tree(base / "Big", k)
    url = dbs.new("noop")
    plain = write_config(work / "noop-plain.yaml", base, "Big", None)
    with_ffprobe = write_config(work / "noop-ffprobe.yaml", base, "Big", ["ffprobe"])
    t: dict[str, float] = {}
    t["ingest"], _, _ = cli.run("apply", "-c", plain, "--auto-approve", db=url, ok=(0,))
    engine = create_engine(url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        source_id = conn.execute(select(Source.c.id)).scalar_one()
        assert conn.execute(select(func.count()).select_from(Asset)).scalar_one() == k
        # every asset enriched by ffprobe for its change token, as a finished apply leaves it
        conn.execute(
            insert(AssetEnrichment).from_select(
                [c.name for c in AssetEnrichment.c],
                select(
                    Asset.c.id,
                    literal("ffprobe"),
                    Asset.c.collection_id,
                    literal(str(FFProbeEnricher.version)),
                    Asset.c.change_token,
                    null(),
                    null(),
                    literal(now, AssetEnrichment.c.enriched_at.type),
                ),
            )
        )
        conn.execute(update(Asset).values(state="ready"))
    attachment = {
        "source_id": source_id,
        "collection_id": None,
        "enricher_type": "ffprobe",
        "priority": 0,
        "params": None,
        "created_at": now,
        "updated_at": now,
    }

    def attached(yes: bool) -> None:
        with engine.begin() as conn:
            conn.execute(delete(EnricherAttachment))
            if yes:
                conn.execute(insert(EnricherAttachment).values(id=uuid.uuid4(), **attachment))

    runs: dict[str, list[float]] = {}
    plan_args = ("--detailed-exitcode",)  # 0: no changes (anything else fails the benchmark)
    for _ in range(args.plan_repeat):
        attached(False)
        runs.setdefault("plan", []).append(cli.run("plan", "-c", plain, *plan_args, db=url)[0])
        runs.setdefault("apply", []).append(
            cli.run("apply", "-c", plain, "--auto-approve", db=url, ok=(0,))[0]
        )
        attached(True)
        runs.setdefault("plan_ffprobe", []).append(
            cli.run("plan", "-c", with_ffprobe, *plan_args, db=url, ok=(0,))[0]
        )
        runs.setdefault("apply_ffprobe", []).append(
            cli.run("apply", "-c", with_ffprobe, "--auto-approve", db=url, ok=(0,))[0]
        )
    assert ledger_state(url) == (k, ledger_state(url)[1])
    with engine.connect() as conn:
        assert (
            conn.execute(select(func.max(AssetEnrichment.c.enriched_at))).scalar_one() is not None
        )
    engine.dispose()
    t.update({name: statistics.median(values) for name, values in runs.items()})
    return t


def _pct(after: float, before: float) -> str:
    return f"{100 * (after - before) / before:+.1f}%"


def report_noop(args, t: dict[str, float]) -> None:
    k = args.noop_assets
    print(
        f"{k:,} assets in one collection, backend {args.backend}, no-change runs, "
        f"median of {args.plan_repeat} (alternating)"
    )
    print(f"  ingest, retrovue apply (no enrichers):          {t['ingest']:7.2f} s")
    print(f"  plan, no enricher attached:                     {t['plan']:7.2f} s")
    print(
        f"  plan, ffprobe attached, all enriched:           {t['plan_ffprobe']:7.2f} s  "
        f"({_pct(t['plan_ffprobe'], t['plan'])}; target under +10%)"
    )
    print(f"  apply, no enricher attached:                    {t['apply']:7.2f} s")
    print(
        f"  apply, ffprobe attached, all enriched:          {t['apply_ffprobe']:7.2f} s  "
        f"({_pct(t['apply_ffprobe'], t['apply'])})"
    )


# -- loudness of one long programme ---------------------------------------------------------------

#: the programme: pink noise whose level swells and fades, a tone under it that comes and goes on
#: the left, another on the right (what the gates, the loudness range and the true peak see)
PROGRAMME_FILTER = (
    "[0]volume='0.5+0.45*sin(2*PI*t/17)':eval=frame,asplit[n1][n2];"
    "[1]volume='0.3*(1+sin(2*PI*t/5))':eval=frame[s];"
    "[n1][s]amix=inputs=2:normalize=0[l];"
    "[n2][2]amix=inputs=2:normalize=0:weights=0.8 0.4[r];"
    "[l][r]join=inputs=2:channel_layout=stereo"
)


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def make_programme(path: Path, minutes: float) -> Path:
    seconds = str(minutes * 60)
    sources = [
        f"anoisesrc=color=pink:r=48000:d={seconds}:a=0.3:seed=7",
        f"sine=f=220:r=48000:d={seconds}",
        f"sine=f=330:r=48000:d={seconds}",
    ]
    command = [ffmpeg_exe(), "-v", "error", "-y"]
    for source in sources:
        command += ["-f", "lavfi", "-i", source]
    command += ["-filter_complex", PROGRAMME_FILTER, "-c:a", "aac", "-b:a", "192k", str(path)]
    subprocess.run(command, check=True)
    return path


def decode_floor(path: Path) -> tuple[float, float]:
    """(wall, CPU) of decoding the first audio stream with PyAV, as the enricher reads it."""
    started, cpu = time.perf_counter(), time.process_time()
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for other in container.streams:
            if other is not stream:
                other.discard = av.stream.Discard.all
        for packet in container.demux(stream):
            for _frame in stream.decode(packet):
                pass
    return time.perf_counter() - started, time.process_time() - cpu


def ffmpeg_ebur128(path: Path) -> tuple[float, float, dict[str, float]]:
    """(wall, CPU, {I, LRA, TP}) of FFmpeg's own ebur128 filter over the file."""
    command = [ffmpeg_exe(), "-nostats", "-i", str(path), "-af", "ebur128=peak=true"]
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*command, "-f", "null", "-"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    err = proc.stderr.read().decode()
    _pid, _status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    return seconds, usage.ru_utime + usage.ru_stime, parse_ebur128(err)


def parse_ebur128(log: str) -> dict[str, float]:
    """I (LUFS), LRA (LU) and TP (dBTP) from the ebur128 filter's summary."""
    import re

    summary = log[log.rindex("Summary:") :]

    def value(label: str) -> float:
        return float(re.search(label + r":\s+(-?[\d.]+|-inf)", summary).group(1))

    return {"I": value("I"), "LRA": value("LRA"), "TP": value("Peak")}


#: the enricher in a fresh interpreter: a 1 s file first (imports), then the programme, timed
ENRICHER_SCRIPT = """
import json, resource, sys, time
from retrovue.enrichers.base import EnrichInput
from retrovue.enrichers.loudness import LoudnessEnricher
enricher = LoudnessEnricher()
enricher.enrich(EnrichInput("warm-up", sys.argv[1]))
def cpu():  # the segments' forked processes included
    own, forked = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + forked.ru_utime + forked.ru_stime
started, used = time.perf_counter(), cpu()
facts = enricher.enrich(EnrichInput("programme", sys.argv[2]))
print(json.dumps({"wall": time.perf_counter() - started, "cpu": cpu() - used, "facts": facts}))
"""


def enricher_in_process(warm: Path, path: Path, cli: Cli) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", ENRICHER_SCRIPT, str(warm), str(path)],
        env=cli.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def measure_loudness(args, work: Path, dbs: Databases, cli: Cli) -> dict:
    base = work / "programme"
    folder = base / "Programme"
    folder.mkdir(parents=True)
    # audio only, as FFmpeg's command line would otherwise decode the video too; .mp4, as the
    # filesystem importer takes no .m4a by default
    path = make_programme(folder / "programme.mp4", args.loudness_minutes)
    warm = media.write_av(work / "warm.mp4", video=False)
    url = dbs.new("loudness")
    config = write_config(work / "loudness.yaml", base, "Programme", ["loudness"])
    cli.run("apply", "-c", config, "--auto-approve", db=url, ok=(0,))  # ingested and enriched
    runs: dict[str, list[tuple[float, float]]] = {}
    found: dict = {}
    for _ in range(args.repeat):
        runs.setdefault("floor", []).append(decode_floor(path))
        wall, cpu, found["ffmpeg"] = ffmpeg_ebur128(path)
        runs.setdefault("ffmpeg", []).append((wall, cpu))
        inside = enricher_in_process(warm, path, cli)
        runs.setdefault("enricher", []).append((inside["wall"], inside["cpu"]))
        found["retrovue"] = inside["facts"]
        wall, _rss, out = cli.run(
            *("collection", "enrich", "Programme", "--force", "--json"), db=url, ok=(0,)
        )
        counts = [c for e in json.loads(out)["enrichments"] for c in e["counts"]]
        done = (sum(c["enriched"] for c in counts), sum(c["failed"] for c in counts))
        assert done == (1, 0), f"collection enrich enriched/failed {done}"
        runs.setdefault("cli", []).append((wall, cli.cpu))
    best = {name: min(values) for name, values in runs.items()}
    return {"best": best, **found, "path": path}


def report_loudness(args, t: dict) -> None:
    best, ours, theirs = t["best"], t["retrovue"], t["ffmpeg"]
    floor = best["floor"][0]
    print(
        f"loudness of a {args.loudness_minutes:g}-minute stereo AAC programme "
        f"({t['path'].stat().st_size / 1e6:.0f} MB), {os.cpu_count()} cores, PyAV "
        f"{av.__version__}; best of {args.repeat} interleaved rounds (wall, CPU in brackets)"
    )
    labels = {
        "floor": "floor: PyAV decode of the audio stream",
        "ffmpeg": "FFmpeg ebur128=peak=true (binary)",
        "enricher": "retrovue loudness enricher, in process",
        "cli": "retrovue collection enrich --force (CLI)",
    }
    ffmpeg = best["ffmpeg"][0]
    for name, label in labels.items():
        wall, cpu = best[name]
        print(
            f"  {label:<44}{wall:6.2f} s [{cpu:5.2f} s]  {wall / floor:5.2f}x the floor, "
            f"{wall / ffmpeg:4.2f}x FFmpeg"
        )
    for name, short in (("enricher", "in process"), ("cli", "through the CLI")):
        wall = best[name][0]
        print(
            f"  targets, {short}: <= 1.5x the floor "
            f"({'met' if wall <= 1.5 * floor else 'MISSED'}), faster than FFmpeg "
            f"({'met' if wall < ffmpeg else 'MISSED'})"
        )
    lra = ours.get("loudness_range_lu")
    print(
        f"  FFmpeg I {theirs['I']:.1f} LUFS, LRA {theirs['LRA']:.1f} LU, true peak "
        f"{theirs['TP']:.1f} dBTP; retrovue I {ours['integrated_lufs']:.2f} LUFS "
        f"({ours['integrated_lufs'] - theirs['I']:+.2f} LU), LRA "
        f"{'-' if lra is None else f'{lra:.2f}'} LU, true peak {ours['true_peak_dbtp']:.2f} dBTP "
        f"({ours['true_peak_dbtp'] - theirs['TP']:+.2f} dB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes for the floors and ffprobe (apply uses one per core)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of the floors, interleaved; best shown"
    )
    parser.add_argument(
        "--noop-assets",
        type=int,
        default=0,
        help="also compare no-change plans of a collection of this many assets",
    )
    parser.add_argument("--plan-repeat", type=int, default=5)
    parser.add_argument(
        "--loudness-minutes",
        type=float,
        default=0,
        help="also time loudness on one stereo AAC programme this long (20 for DESIGN §10)",
    )
    parser.add_argument("--src", help="run the enricher and the CLI from this source tree")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="retrovue-enrich-bench-") as tmp:
        work = Path(tmp)
        dbs = Databases(args.backend, work)
        cli = Cli(work, args.src)
        try:
            if args.files:
                report_enrichment(args, measure_enrichment(args, work, dbs, cli))
            if args.noop_assets:
                report_noop(args, measure_noop(args, work, dbs, cli))
            if args.loudness_minutes:
                report_loudness(args, measure_loudness(args, work, dbs, cli))
        finally:
            dbs.drop_all()


if __name__ == "__main__":
    main()
