"""Benchmark: `retrovue serve` over a 100,000-asset collection (issue 22's targets).

    python benchmarks/serve.py --assets 100000 --backend sqlite|postgres|both [--workers 1,2]

Builds one collection of N assets (with durations and loudness, so the histograms have work)
through the bulk insert path ``apply`` uses, starts ``retrovue serve [--workers N]`` as a process
on a free loopback port (once per N given), then measures from this process:

  page 1       the collection page (HTML: counts, failures, two histograms, the first 100 rows)
  page late    the same page after a cursor near the end (keyset: no OFFSET scan)
  api alone    GET /api/v1/assets?collection=…&limit=100, one client paging 20 times
  api          GET /api/v1/assets?collection=…&limit=100 by 20 concurrent clients (threads),
               each paging on with next_after; p50/p95 of all requests
  api wrk      the same load from wrk (apt-get install wrk; 20 connections, 10 s): the target's
               measure, its load generator far lighter than 20 Python threads
  CPU          the server's CPU time (user + system, every process) per request of that load:
               what load on the machine distorts least
  RSS          the server's resident memory before and after the load (from /proc; the sum of
               its processes)

Page times are the median of 5 requests, measured at the client over loopback (so they include
HTTP; the server's own time is at most that).  The client threads share the machine's cores
with the server, so the p95 is an upper bound.  Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
from sqlalchemy import insert, select, update

from retrovue.database.engine import DatabaseTarget, open_database
from retrovue.database.tables import Asset, Collection, Source
from retrovue.execute.bulk import insert_new_assets
from retrovue.model.upstream import UpstreamAsset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
from benchmarks.ingest_filesystem import Cli, Databases, run_per_backend  # noqa: E402

CLIENTS = 20
PAGE = 100


def build_catalogue(url: str, count: int) -> None:
    engine = open_database(DatabaseTarget(url, False))
    now = datetime.now(UTC)
    sid, cid = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            insert(Source).values(
                id=sid,
                external_id="lib",
                name="Library",
                type="filesystem",
                config={"base_path": "/media"},
            )
        )
        conn.execute(insert(Collection).values(id=cid, source_id=sid, external_id="tv", name="TV"))
        insert_new_assets(conn, cid, _items(count), now)
        # facts an enricher would have found: spread durations and loudness for the histograms
        conn.execute(
            update(Asset).values(
                state="ready",
                duration_ms=(Asset.c.size * 7919) % 10_800_000,
                loudness_lufs=-10.0 - (Asset.c.size % 200) / 10.0,
            )
        )
    # settled, as autovacuum would leave it within a minute: else its VACUUM and ANALYZE of the
    # new rows ran during the measurement, on the cores the server shares
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
    engine.dispose()


def _items(n: int):
    for i in range(n):
        path = f"/media/TV/Show {i // 500:04d}/Season 01/Episode {i:06d}.mkv"
        yield (
            UpstreamAsset(
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
            ),
            path,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _family(pid: int) -> list[int]:
    """The server's process and its children (Uvicorn's workers), from /proc."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found += [p for child in children for p in _family(int(child))]
    return found


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes have spent (fields 14 and 15 of /proc/PID/stat)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _timed_get(session: requests.Session, url: str, **params) -> tuple[float, requests.Response]:
    start = time.perf_counter()
    response = session.get(url, params=params, timeout=60)
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    return elapsed, response


def _late_cursor(url: str) -> str:
    """An asset id ~one page before the end of the collection's order (read here directly)."""
    engine = open_database(DatabaseTarget(url, False))
    with engine.connect() as conn:
        count = conn.execute(select(Asset.c.id)).all()
        found = conn.execute(
            select(Asset.c.id)
            .order_by(Asset.c.canonical_uri, Asset.c.id)
            .offset(len(count) - 2 * PAGE)
            .limit(1)
        ).scalar_one()
    engine.dispose()
    return str(found)


def _client(base: str, cid: str, requests_each: int) -> list[float]:
    times, after = [], None
    with requests.Session() as session:
        for _ in range(requests_each):
            params = {"collection": cid, "limit": PAGE, **({"after": after} if after else {})}
            elapsed, response = _timed_get(session, f"{base}/api/v1/assets", **params)
            times.append(elapsed)
            after = response.json()["next_after"]
    return times


@dataclass(frozen=True)
class WrkRun:
    requests: int
    errors: int
    p50: float  # ms
    p95: float
    rate: float  # requests per second
    cpu_ms: float  # the server's CPU per request


def _wrk(base: str, cid: str, workers: list[int]) -> WrkRun:
    """The same load from wrk (C, one thread, 20 connections): a load generator that takes far
    less of the shared cores than 20 Python threads do, so the figures are more the server's."""
    script = Path(__file__).with_name("serve_wrk.lua")

    def run(seconds: int) -> str:
        return subprocess.run(
            ["wrk", "-t1", f"-c{CLIENTS}", f"-d{seconds}s", "-s", str(script), base],
            env=dict(os.environ, RV_COLLECTION=cid),
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    run(3)  # warm: every pooled connection's first pages, the workers' connection shares
    cpu_before = _cpu_seconds(workers)
    out = run(10)
    cpu = _cpu_seconds(workers) - cpu_before
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    count, errors, p50, p95, seconds = line.split()[1:]
    n = int(count)
    return WrkRun(n, int(errors), float(p50), float(p95), n / float(seconds), cpu / n * 1000)


def bench_backend(backend: str, args, cli: Cli) -> list[str]:
    dbs = Databases(backend, cli.workdir)
    try:
        url = dbs.new("serve")
        builder = multiprocessing.get_context("spawn").Process(
            target=build_catalogue, args=(url, args.assets)
        )
        builder.start()
        builder.join()
        late = _late_cursor(url)
        lines = [f"{backend}: {args.assets:,} assets in one collection"]
        for workers in args.workers:
            lines += _bench_server(url, late, workers, args, cli)
        return lines
    finally:
        dbs.drop_all()


def _bench_server(url: str, late: str, workers: int, args, cli: Cli) -> list[str]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(cli.env, RETROVUE_DATABASE_URL=url)
    server = subprocess.Popen(
        [sys.executable, "-m", "retrovue", "serve", "--bind", f"127.0.0.1:{port}"]
        + (["--workers", str(workers)] if workers > 1 else []),
        env=env,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        session = requests.Session()
        deadline = time.monotonic() + 30
        while True:
            try:
                listed = session.get(f"{base}/api/v1/collections", timeout=5).json()
                cid = listed["collections"][0]["id"]
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        page = f"{base}/collections/{cid}"
        first = statistics.median(_timed_get(session, page)[0] for _ in range(5))
        later = statistics.median(_timed_get(session, page, after=late)[0] for _ in range(5))
        alone = sorted(_client(base, cid, 20))  # one client: the request's own time
        family = _family(server.pid)
        rss_before = sum(_rss_mib(p) for p in family)
        cpu_before = _cpu_seconds(family)
        start = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            runs = list(pool.map(lambda _: _client(base, cid, args.requests), range(CLIENTS)))
        wall = time.perf_counter() - start
        cpu = _cpu_seconds(family) - cpu_before
        rss_after = sum(_rss_mib(p) for p in family)
        wrk = _wrk(base, cid, family) if shutil.which("wrk") else None
        rss_end = sum(_rss_mib(p) for p in family)
        times = sorted(t for run in runs for t in run)
        p50 = statistics.median(times)
        p95 = times[int(0.95 * (len(times) - 1))]
        return [
            f"  serve --workers {workers} (load average {os.getloadavg()[0]:.2f} after the run)",
            f"    collection page, first     {first * 1000:7.1f} ms (median of 5)",
            f"    collection page, late      {later * 1000:7.1f} ms (after a cursor {2 * PAGE} "
            "from the end)",
            f"    /api/v1/assets, 1 client   p50 {statistics.median(alone) * 1000:6.1f} ms  "
            f"p95 {alone[int(0.95 * (len(alone) - 1))] * 1000:6.1f} ms (20 pages in a row)",
            f"    /api/v1/assets x{CLIENTS} Python clients  p50 {p50 * 1000:6.1f} ms  "
            f"p95 {p95 * 1000:6.1f} ms  ({len(times):,} requests, {len(times) / wall:,.0f}/s; "
            "the clients take turns at their own GIL: an upper bound)",
            f"    server CPU per request     {cpu / len(times) * 1000:7.2f} ms (user+system of its "
            f"{len(family)} process(es) over the Python clients' run)",
            *(
                [
                    f"    /api/v1/assets wrk x{CLIENTS} connections  p50 {wrk.p50:6.1f} ms  "
                    f"p95 {wrk.p95:6.1f} ms  ({wrk.requests:,} requests, {wrk.rate:,.0f}/s, "
                    f"{wrk.errors} errors; server CPU {wrk.cpu_ms:.2f} ms per request)"
                ]
                if wrk
                else ["    (no wrk on PATH: apt-get install wrk for the C load generator)"]
            ),
            f"    server RSS                 {rss_before:7.1f} MiB before, {rss_after:7.1f} MiB "
            f"after the Python clients, {rss_end:7.1f} MiB after wrk",
        ]
    finally:
        server.terminate()
        server.wait(30)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--assets", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=25, help="requests per client")
    ap.add_argument(
        "--backend", choices=["sqlite", "postgres", "postgresql", "both"], default="sqlite"
    )
    ap.add_argument(
        "--workers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2],
        help="serve --workers, one server per count given (default 1,2: one process, and one "
        "per core of this 2-core machine)",
    )
    ap.add_argument("--src", help="run the server from this source tree (its src/ directory)")
    args = ap.parse_args()
    os.environ.setdefault("RETROVUE_LOG_LEVEL", "warning")
    return run_per_backend(args, bench_backend, "rv-bench-serve-")


if __name__ == "__main__":
    sys.exit(main())
