"""What the media-server benchmarks (Plex, Jellyfin) share: timing an in-process listing by its
best wall time and request count, and ``apply`` then a no-change ``plan`` through the CLI as
processes, with their requests and peak RSS.  ``server`` is a fake from tests/ (its ``log``
holds the requests it answered)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from benchmarks.ingest_filesystem import Cli, Databases


def measure(server, run: Callable[[], object], repeat: int) -> tuple[float, int, object]:
    """Best wall time of ``repeat`` runs, the requests one run makes, and its result."""
    best, made, result = math.inf, 0, None
    for _ in range(repeat):
        server.log.clear()
        began = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - began)
        made = len(server.log)
    return best, made, result


def cli_runs(
    server,
    source: dict,
    secret: tuple[str, str],
    args,
    workdir: Path,
    *,
    items: int,
    page_size: int,
    constant: int,
) -> list[str]:
    """A first ``plan``, ``apply --auto-approve``, then a no-change ``plan`` of ``source`` (a retrovue.yaml source
    without collections: a "TV" collection mapped from /data/TV is added), as processes.
    ``secret``: the environment variable the source's config names, and its value."""
    local = workdir / "nas" / "TV"
    local.mkdir(parents=True)
    config = workdir / "retrovue.yaml"
    tv = {
        "name": "TV",
        "sync": True,
        "path_mappings": [{"plex_path": "/data/TV", "local_path": str(local)}],
    }
    doc = {"version": 1, "sources": [{**source, "collections": [tv]}]}
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    cli = Cli(workdir, args.src)
    cli.env[secret[0]] = secret[1]
    dbs = Databases(args.backend, workdir)
    try:
        url = dbs.new(source["type"])
        cli.run("db", "upgrade", db=url)
        server.log.clear()
        t_first, rss_first, out = cli.run("plan", "-c", str(config), db=url)
        n_first = len(server.log)
        if "+" not in out:
            raise SystemExit(f"the first plan shows nothing new:\n{out[-2000:]}")
        server.log.clear()
        t_apply, rss_apply, out = cli.run("apply", "-c", str(config), "--auto-approve", db=url)
        n_apply = len(server.log)
        if "Apply complete" not in out:
            raise SystemExit(f"apply did not complete:\n{out[-2000:]}")
        server.log.clear()
        t_plan, rss_plan, out = cli.run("plan", "-c", str(config), db=url)
        n_plan = len(server.log)
        if not out.startswith("No changes."):
            raise SystemExit(f"the plan after apply is not empty:\n{out[-2000:]}")
    finally:
        dbs.drop_all()
    bound = math.ceil(items / page_size) + constant
    return [
        f"CLI first `plan` ({args.backend}):           {t_first:7.2f} s  {n_first:4d} requests  "
        f"peak RSS {rss_first:,.0f} MiB",
        f"CLI `apply --auto-approve` ({args.backend}):  {t_apply:7.2f} s  {n_apply:4d} requests "
        f"(target <= ceil(N/page) + {constant} = {bound})  peak RSS {rss_apply:,.0f} MiB",
        f"CLI no-change `plan` ({args.backend}):        {t_plan:7.2f} s  {n_plan:4d} requests  "
        f"peak RSS {rss_plan:,.0f} MiB",
    ]
