"""Issue 20 part 3: `retrovue worker` spreads enrichment over machines through PostgreSQL.

Several real worker processes (the CLI, run as subprocesses) share one PostgreSQL database and
nothing else; one is killed with SIGKILL mid-batch, another has its database session ended by
the server (``pg_terminate_backend``, found by its application_name), and every asset still ends
enriched exactly once by each attached enricher, and ``ready``.  On SQLite, workers (and
``--enrich=workers``) are refused.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, func, select, text

from retrovue.database.tables import Asset, AssetEnrichment, EnrichmentClaim
from tests import worker_plugins
from tests.media import write_av

REPO = Path(__file__).resolve().parents[1]
FILES = 24
TYPES = ("ffprobe", "tally")


@pytest.fixture
def pg_url(request) -> str:
    from tests.conftest import _fresh_pg

    return _fresh_pg(request)


@pytest.fixture
def tally(monkeypatch, tmp_path) -> Path:
    """The test enricher registered in this process (the in-process CLI), its log directory."""
    worker_plugins.register(monkeypatch)
    where = tmp_path / "tally"
    where.mkdir()
    return where


def _library(tmp_path: Path, files: int = FILES) -> Path:
    """A folder of small real media files and a config attaching ffprobe and tally to it."""
    base = tmp_path / "media"
    (base / "clips").mkdir(parents=True)
    for n in range(files):
        write_av(base / "clips" / f"clip{n:02d}.mkv", seconds=0.2, size=(32, 24))
    config = tmp_path / "retrovue.yaml"
    doc = {
        "version": 1,
        "sources": [
            {
                "name": "Library",
                "type": "filesystem",
                "config": {"base_path": str(base)},
                "collections": [{"name": "clips", "sync": True, "enrichers": list(TYPES)}],
            }
        ],
    }
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    return config


def _states(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Asset.c.state, func.count()).group_by(Asset.c.state))
            return dict(rows.all())
    finally:
        engine.dispose()


def _spawn(url: str, tally: Path, *extra: str, sleep: float = 0.15) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "RV_TALLY_DIR": str(tally),
        "RV_TALLY_SLEEP": str(sleep),
        "RETROVUE_CONFIG": str(tally / "absent.yaml"),  # no config: stored paths as they are
    }
    env.pop("RETROVUE_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.worker_plugins", "worker", "--database-url", url, *extra],
        cwd=tally,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _runs(tally: Path) -> list[tuple[str, int]]:
    log = tally / "runs.log"
    if not log.exists():
        return []
    return [(a, int(p)) for a, p in (line.split() for line in log.read_text().splitlines())]


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.postgres
def test_workers_share_the_work_and_survive_a_kill_and_a_cut_connection(
    rv, pg_url, tally, tmp_path
):
    """issue 20: three workers over one PostgreSQL database; one SIGKILLed mid-batch, one cut off
    by the server; every asset ends enriched exactly once by each enricher, and ready."""
    config = _library(tmp_path)
    applied = rv("apply", "-c", str(config), "--auto-approve", "--enrich=workers", db=pg_url)
    assert applied.code == 0, applied.err
    assert f"~ enrich: {FILES} with ffprobe, {FILES} with tally (left to workers)" in applied.out
    assert f"enrichment left to workers: {FILES} assets to enrich" in applied.out
    assert _states(pg_url) == {"new": FILES}  # apply enriched nothing itself

    # no --once for the two that get hurt: each runs until stopped, so a quick one cannot
    # drain everything before the kill lands
    common = ("--batch", "4", "--lease", "2", "--concurrency", "1")
    killed = _spawn(pg_url, tally, *common)
    cut = _spawn(pg_url, tally, *common)
    _wait_for(lambda: any(pid == killed.pid for _, pid in _runs(tally)), 30, "a run by worker 1")
    # progress is visible from any machine: the claims in flight
    shown = json.loads(rv("collection", "show", "clips", "--json", db=pg_url).out)
    assert shown["enrichment"]["claimed"] >= 1, shown["enrichment"]
    killed.send_signal(signal.SIGKILL)  # mid-batch: a batch of 4 takes 4 × 0.15 s
    killed.wait(10)
    _wait_for(lambda: any(pid == cut.pid for _, pid in _runs(tally)), 30, "a run by worker 2")
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            ended = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name LIKE :name"
                ),
                {"name": f"retrovue worker %:{cut.pid}:%"},
            ).all()
        assert ended, "worker 2 had no session to end"
        drain = _spawn(pg_url, tally, *common, "--once")
        out, err = drain.communicate(timeout=60)
        assert drain.returncode == 0, err
        cut.send_signal(signal.SIGTERM)  # stopped as a service manager stops it
        cut_out, cut_err = cut.communicate(timeout=20)
        assert cut.returncode == 143, cut_err
        assert "claimed" in cut_out  # its report, printed on the way out
    finally:
        for process in (killed, cut):
            if process.poll() is None:
                process.kill()
                process.wait()
        admin.dispose()

    assert killed.returncode == -signal.SIGKILL
    runs = _runs(tally)
    assert any(pid == killed.pid for _, pid in runs) and any(pid == cut.pid for _, pid in runs)

    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assets = conn.execute(select(Asset.c.id, Asset.c.state, Asset.c.metadata)).all()
            ledger = conn.execute(
                select(
                    AssetEnrichment.c.asset_id,
                    AssetEnrichment.c.enricher_type,
                    AssetEnrichment.c.error_code,
                    AssetEnrichment.c.enriched_at,
                )
            ).all()
            claims_left = conn.execute(select(func.count()).select_from(EnrichmentClaim)).scalar()
    finally:
        engine.dispose()
    assert len(assets) == FILES
    assert {a.state for a in assets} == {"ready"}
    per_asset: dict[tuple, list] = {}
    for row in ledger:
        per_asset.setdefault((row.asset_id, row.enricher_type), []).append(row)
    assert set(per_asset) == {(a.id, t) for a in assets for t in TYPES}
    assert all(len(rows) == 1 and rows[0].error_code is None for rows in per_asset.values())
    # the asset holds the one stored result: written by the same statement as the ledger row
    # (a second write would have left another enriched_at in one of them)
    for asset in assets:
        for type_id in TYPES:
            stored = asset.metadata["enrichers"][type_id]
            assert (
                stored["enriched_at"] == per_asset[(asset.id, type_id)][0].enriched_at.isoformat()
            )
    assert {uuid.UUID(a) for a, _ in runs} == {a.id for a in assets}  # every asset was run
    assert claims_left == 0  # the survivors released theirs; the dead one's were taken over


@pytest.mark.postgres
def test_a_result_is_stored_at_most_once_per_token_and_version(rv, pg_url, tally, tmp_path):
    """issue 20: the database, not the worker's code, refuses a second result for the same
    (asset, change token, enricher, version): a late worker's write changes nothing; a new
    version is stored."""
    from retrovue.execute.claims import store_once

    config = _library(tmp_path, files=2)
    assert rv("apply", "-c", str(config), "--auto-approve", "--enrich=workers", db=pg_url).code == 0
    done = rv("worker", "--once", "--concurrency", "1", db=pg_url, env={"RV_TALLY_DIR": str(tally)})
    assert done.code == 0, done.err
    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:
            row = conn.execute(
                select(AssetEnrichment).where(AssetEnrichment.c.enricher_type == "tally").limit(1)
            ).one()
            late = {**row._asdict(), "enriched_at": row.enriched_at.replace(year=2030)}
            assert store_once(conn, [late]) == set()
            again = conn.execute(
                select(AssetEnrichment.c.enriched_at).where(
                    AssetEnrichment.c.asset_id == row.asset_id,
                    AssetEnrichment.c.enricher_type == "tally",
                )
            ).scalar_one()
            assert again == row.enriched_at
            assert store_once(conn, [{**late, "version": "2"}]) == {row.asset_id}
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_collection_enrich_can_leave_the_work_to_workers(rv, pg_url, tally, tmp_path):
    """issue 20: `collection enrich --enrich=workers` enriches nothing and says what is left;
    a worker then does it."""
    config = _library(tmp_path, files=3)
    rv("apply", "-c", str(config), "--auto-approve", "--enrich=workers", db=pg_url)
    left = rv("collection", "enrich", "clips", "--enrich=workers", db=pg_url)
    assert left.code == 0, left.err
    assert "left to workers: 3 assets to enrich" in left.out
    assert _states(pg_url) == {"new": 3}
    shown = rv("collection", "show", "clips", db=pg_url)
    assert "Enrichment: 3 assets to enrich, 0 claimed by workers" in shown.out, shown.out
    done = rv("worker", "--once", "--concurrency", "1", db=pg_url, env={"RV_TALLY_DIR": str(tally)})
    assert done.code == 0, done.err
    assert "3 assets made ready" in done.out
    assert _states(pg_url) == {"ready": 3}


def test_workers_are_refused_on_sqlite(rv, tmp_path, tally):
    """issue 20: on SQLite (one machine, whose pool already uses every core) a worker is refused
    with a clear message and exit 1, before any database is created; so is --enrich=workers."""
    db = tmp_path / "retrovue.db"
    url = f"sqlite:///{db}"
    refused = rv("worker", "--once", db=url)
    assert refused.code == 1
    assert "needs PostgreSQL" in refused.err and "collection enrich" in refused.err
    assert not db.exists()
    config = _library(tmp_path, files=1)
    applied = rv("apply", "-c", str(config), "--auto-approve", "--enrich=workers", db=url)
    assert applied.code == 1
    assert "needs PostgreSQL" in applied.err


@pytest.mark.postgres
def test_a_worker_cut_off_mid_store_gives_the_batch_up_and_carries_on(
    rv, pg_url, tally, tmp_path, monkeypatch
):
    """issue 20: a connection lost while results are being stored rolls the store back, gives
    the claims up, and the worker reconnects and finishes: every asset ready, no claim left."""
    from sqlalchemy.exc import OperationalError

    from retrovue.execute import claims

    real = claims.store_once
    calls = []

    def cut_once(conn, ledger):
        calls.append(len(ledger))
        if len(calls) == 1:
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))
        return real(conn, ledger)

    monkeypatch.setattr(claims, "store_once", cut_once)
    config = _library(tmp_path, files=3)
    assert rv("apply", "-c", str(config), "--auto-approve", "--enrich=workers", db=pg_url).code == 0
    done = rv(
        "worker",
        "--once",
        "--concurrency",
        "1",
        "--json",
        db=pg_url,
        env={"RV_TALLY_DIR": str(tally)},
    )
    assert done.code == 0, done.err
    report = json.loads(done.out)
    assert report["reconnects"] == 1 and report["ready"] == 3
    assert _states(pg_url) == {"ready": 3}
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(EnrichmentClaim)).scalar() == 0
    finally:
        engine.dispose()
