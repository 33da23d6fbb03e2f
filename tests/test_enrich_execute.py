"""Enrichment through the one executor (issue 11, DESIGN §11), on SQLite and PostgreSQL.

Every test ingests a folder of small real media files (tests/media.py) with ``retrovue apply``,
then runs the real ``Executor`` on a plan of ``SetEnrichers`` + ``EnrichCollection`` (the count
made by ``plan_enrichment`` as ``plan`` makes it), with the built-in enrichers and the plugins of
tests/enrich_plugins.py running in real worker processes.  Each test names the rule of the issue
it checks in its docstring.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, insert, select, update

from retrovue.app.declarative import Applied
from retrovue.cli.exit_codes import exit_code
from retrovue.config.validate import load_config
from retrovue.database.tables import Asset, AssetEnrichment, Collection, EnricherAttachment, Source
from retrovue.enrichers.errors import (
    CRASHED,
    IMPLAUSIBLE_DURATION,
    NOT_MEDIA,
    PLUGIN_ERROR,
    TIMEOUT,
    TRUNCATED,
    UNREADABLE,
    EnricherUnavailableError,
)
from retrovue.errors import LockLostError
from retrovue.execute.enrich import CollectionEnricher
from retrovue.execute.executor import Executor
from retrovue.importers.registry import load_registry as load_importers
from retrovue.model.actions import (
    CollectionAddress,
    EnrichCollection,
    Plan,
    SetEnrichers,
    SourceAddress,
)
from retrovue.model.enrichment import EnricherSpec, EnrichWork, run_order
from retrovue.model.enums import Outcome
from retrovue.observe.enrichment import collection_enrichers
from retrovue.observe.reader import DbReader
from retrovue.plan.builder import build_plan
from retrovue.plan.enrichment import plan_enrichment
from tests import ffmpeg_ref, media
from tests.enrich_plugins import plugin_registry
from tests.helpers import fs_config

_assets = Asset
_ledger = AssetEnrichment

FFPROBE = EnricherSpec("ffprobe")
LOUDNESS = EnricherSpec("loudness", priority=10)
MISBEHAVE = EnricherSpec("misbehave")


# -- media, made once per module --------------------------------------------------------------


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("templates")
    return {
        "mkv": media.write_av(d / "av.mkv"),
        "mp4": media.write_av(d / "av.mp4", size=(96, 64)),
        "long": media.write_av(d / "long.mkv", seconds=2.0),
        "video_only": media.write_av(d / "video.mp4", audio=False),
        # 4 s clips made by FFmpeg's own binary; the MP4 with its index first, as a download is
        "clip_mkv": ffmpeg_ref.clip(d / "clip.mkv"),
        "clip_mp4": ffmpeg_ref.clip(d / "clip.mp4", extra=("-movflags", "+faststart")),
    }


# -- a library: one filesystem source with one collection, and runs over it -------------------


@dataclass
class Run:
    plan: Plan
    result: object  # ExecutionResult

    @property
    def outcome(self):
        (outcome,) = self.result.enrichments
        return outcome

    def counts(self, type_id: str):
        return next(c for c in self.outcome.counts if c.type == type_id)

    @property
    def applied(self) -> Outcome:
        """What ``apply`` would make of this run (and so its exit code)."""
        return Applied(self.plan, self.result).outcome


@dataclass
class Lib:
    engine: object
    db_url: str
    rv: object
    base: Path
    templates: dict[str, Path]
    registry: object = field(default_factory=plugin_registry)
    ticks: itertools.count = field(default_factory=itertools.count)
    ingested: bool = False

    @property
    def folder(self) -> Path:
        return self.base / "lib" / "Shows"

    def folder_made(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder

    def add(self, name: str, template: str = "mkv") -> Path:
        path = self.folder_made() / name
        shutil.copyfile(self.templates[template], path)
        return path

    def ingest(self) -> None:
        """The collection's ingest as ``apply`` plans and runs it, without the enrichment that
        ``apply`` would run after it (each test runs that itself).  The first one goes through
        the real CLI."""
        config = fs_config(self.base / "retrovue.yaml", self.base / "lib", {"Shows": True})
        if not self.ingested:
            result = self.rv("apply", "-c", str(config), "--auto-approve", db=self.db_url)
            assert result.code == 0, result.out + result.err
            self.ingested = True
            return
        importers = load_importers()
        desired = load_config(str(config), importers, {})
        with self.engine.connect() as conn:
            plan = build_plan(desired, DbReader(conn), importers, enrichers=lambda: self.registry)
        ingest_only = [a for a in plan.actions if not isinstance(a, EnrichCollection)]
        result = self.executor().execute(dataclasses.replace(plan, actions=tuple(ingest_only)))
        assert result.failures == 0

    def clock(self) -> datetime:
        """Distinct times, a minute apart: a rewritten ledger row shows it."""
        return datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=next(self.ticks))

    def addresses(self) -> tuple[SourceAddress, CollectionAddress]:
        with self.engine.connect() as conn:
            source = conn.execute(select(Source.c.id, Source.c.name)).one()
            col = conn.execute(
                select(Collection.c.id, Collection.c.external_id, Collection.c.name)
            ).one()
        address = SourceAddress(source.name, source.id)
        return address, CollectionAddress(address, col.external_id, col.name, col.id)

    def stored_specs(self) -> tuple[EnricherSpec, ...]:
        src, col = self.addresses()
        with self.engine.connect() as conn:
            return collection_enrichers(conn, src.id, col.id)

    def plan(self, *specs: EnricherSpec, force=False, retry_failed=False) -> Plan:
        """What ``plan`` would make: the source's attachments become ``specs`` (when they
        differ), then the collection's enrichment, counted by plan_enrichment."""
        src, col = self.addresses()
        before = self.stored_specs()
        with self.engine.connect() as conn:
            enrich, _notes = plan_enrichment(
                DbReader(conn),
                lambda: self.registry,
                col,
                col.id,
                run_order(specs),
                force=force,
                retry_failed=retry_failed,
            )
        actions = []
        if run_order(specs) != before:
            actions.append(SetEnrichers(src, before, run_order(specs)))
        if enrich is not None:
            actions.append(enrich)
        return Plan(tuple(actions))

    def attach(self, *specs: EnricherSpec) -> None:
        src, _col = self.addresses()
        plan = Plan((SetEnrichers(src, self.stored_specs(), run_order(specs)),))
        assert self.executor().execute(plan).sources[0].ok

    def executor(self, **kw) -> Executor:
        return Executor(
            self.engine, load_importers(), enrichers=self.registry, clock=self.clock, **kw
        )

    def run(self, *specs: EnricherSpec, force=False, retry_failed=False, **kw) -> Run:
        plan = self.plan(*specs, force=force, retry_failed=retry_failed)
        return Run(plan, self.executor(**kw).execute(plan))

    def enricher(self, **kw) -> CollectionEnricher:
        """A CollectionEnricher for the collection's stored attachments (for batch tests)."""
        _src, col = self.addresses()
        kw.setdefault("guard", lambda _conn=None: None)
        return CollectionEnricher(
            self.engine, self.registry, col.id, self.stored_specs(), self.clock, **kw
        )

    def assets(self) -> dict[str, dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(_assets)).mappings().all()
        return {os.path.basename(r["canonical_uri"]): dict(r) for r in rows}

    def states(self) -> dict[str, str]:
        return {name: row["state"] for name, row in self.assets().items()}

    def ledger(self) -> dict[tuple[str, str], dict]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(_ledger, _assets.c.canonical_uri).join(
                        _assets, _assets.c.id == _ledger.c.asset_id
                    )
                )
                .mappings()
                .all()
            )
        return {(os.path.basename(r["canonical_uri"]), r["enricher_type"]): dict(r) for r in rows}

    def enriched_at(self) -> dict[tuple[str, str], datetime]:
        return {key: row["enriched_at"] for key, row in self.ledger().items()}


@pytest.fixture
def lib(engine, db_url, rv, tmp_path, templates) -> Lib:
    return Lib(engine, db_url, rv, tmp_path, templates)


def assert_only_failed(lib: Lib, run: Run, bad: str, type_id: str, code: str) -> None:
    """``bad`` failed ``type_id`` with ``code`` and a reason, recorded in the ledger and the
    asset's metadata, and stays new; every other asset is ready; the outcome lists the failure
    and apply's outcome is partial (exit 2)."""
    counts = run.counts(type_id)
    others = len(lib.assets()) - 1
    assert (counts.enriched, counts.failed) == (others, 1)
    (failure,) = run.outcome.failures
    assert (os.path.basename(failure.path), failure.type, failure.code) == (bad, type_id, code)
    assert failure.message
    assert run.outcome.error is None and not run.outcome.ok
    states = lib.states()
    assert states.pop(bad) == "new"
    assert set(states.values()) == {"ready"}
    entry = lib.ledger()[(bad, type_id)]
    assert entry["error_code"] == code and entry["error_message"] == failure.message
    stored = lib.assets()[bad]["metadata"]["enrichers"][type_id]
    assert stored["error"] == {"code": code, "message": failure.message}
    assert "data" not in stored
    assert not any(a["approved_for_broadcast"] for a in lib.assets().values())
    assert run.result.failures == 1 and run.result.successes >= 1
    assert run.applied == Outcome.PARTIAL and exit_code(run.applied) == 2


# -- bad input: a clear per-asset error, and nothing else stops --------------------------------


def _cut(lib: Lib, name: str) -> None:
    media.write_truncated(lib.folder / name, lib.templates["mp4"])


def _after_ingest_delete(path: Path) -> None:
    path.unlink()


def _after_ingest_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


#: case -> (enricher, bad file's name, how it is made, what happens to it after ingest, code)
BAD_INPUT = {
    "zero-byte file": (
        FFPROBE,
        "zero.mkv",
        lambda lib, n: media.write_zero_bytes(lib.folder / n),
        None,
        NOT_MEDIA,
    ),
    "truncated file": (FFPROBE, "cut.mp4", _cut, None, NOT_MEDIA),
    "random bytes named .mkv": (
        FFPROBE,
        "random.mkv",
        lambda lib, n: media.write_random_bytes(lib.folder / n),
        None,
        NOT_MEDIA,
    ),
    "text file renamed .mp4": (
        FFPROBE,
        "text.mp4",
        lambda lib, n: media.write_text(lib.folder / n),
        None,
        NOT_MEDIA,
    ),
    "an audio stream with no audio in it, for loudness": (
        LOUDNESS,
        "mute.mkv",
        lambda lib, n: media.write_empty_audio_track(lib.folder / n),
        None,
        UNREADABLE,
    ),
    "file deleted between ingest and enrichment": (
        FFPROBE,
        "gone.mkv",
        lambda lib, n: lib.add(n),
        _after_ingest_delete,
        UNREADABLE,
    ),
    "a directory where the file was": (
        FFPROBE,
        "dir.mkv",
        lambda lib, n: lib.add(n),
        _after_ingest_directory,
        UNREADABLE,
    ),
    "plugin raises": (MISBEHAVE, "raise.mkv", lambda lib, n: lib.add(n), None, PLUGIN_ERROR),
    "plugin hangs": (MISBEHAVE, "hang.mkv", lambda lib, n: lib.add(n), None, TIMEOUT),
    "plugin calls os.abort()": (
        MISBEHAVE,
        "abort.mkv",
        lambda lib, n: lib.add(n),
        None,
        CRASHED,
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_fails_only_its_asset(lib, case):
    """issue 11: bad input gets a clear per-asset error and stops nothing else — zero-byte,
    truncated, random bytes named .mkv, text renamed .mp4, an audio stream that holds no audio
    (loudness: UNREADABLE; a file without an audio stream is no failure, issue 20), a file
    deleted (or replaced by a directory: unreadable even for root, who passes chmod 000) between ingest and enrichment
    (UNREADABLE), a plugin that raises (PLUGIN_ERROR), hangs (TIMEOUT), calls os.abort()
    (CRASHED): that asset is marked failed with the code and a reason, the rest of the collection
    is enriched and ready, and apply's outcome is partial (exit 2)."""
    spec, name, make, after_ingest, code = BAD_INPUT[case]
    lib.add("a-good.mkv")
    lib.add("z-good.mp4", "mp4")
    make(lib, name)
    lib.ingest()
    if after_ingest is not None:
        after_ingest(lib.folder / name)
    run = lib.run(spec)
    assert_only_failed(lib, run, name, spec.type, code)


def test_all_bad_inputs_in_one_collection(lib):
    """issue 11: bad input stops nothing else — every bad file of one collection (and a plugin
    that raises, hangs and aborts in the same run) fails alone, each with its own code; every
    good file is enriched and ready."""
    lib.add("good-1.mkv")
    lib.add("good-2.mp4", "mp4")
    media.write_zero_bytes(lib.folder / "zero.mkv")
    media.write_random_bytes(lib.folder / "random.mkv")
    media.write_text(lib.folder / "text.mp4")
    for name in ("raise.mkv", "hang.mkv", "abort.mkv", "good-3.mkv", "gone.mkv"):
        lib.add(name)
    lib.ingest()
    (lib.folder / "gone.mkv").unlink()
    run = lib.run(FFPROBE, MISBEHAVE)
    codes = {(os.path.basename(f.path), f.type): f.code for f in run.outcome.failures}
    assert codes == {
        ("zero.mkv", "ffprobe"): NOT_MEDIA,
        ("random.mkv", "ffprobe"): NOT_MEDIA,
        ("text.mp4", "ffprobe"): NOT_MEDIA,
        ("gone.mkv", "ffprobe"): UNREADABLE,
        ("gone.mkv", "misbehave"): PLUGIN_ERROR,  # the plugin's getsize raises on it
        ("raise.mkv", "misbehave"): PLUGIN_ERROR,
        ("hang.mkv", "misbehave"): TIMEOUT,
        ("abort.mkv", "misbehave"): CRASHED,
    }
    states = lib.states()
    assert {n for n, s in states.items() if s == "ready"} == {
        "good-1.mkv",
        "good-2.mp4",
        "good-3.mkv",
    }
    assert {n for n, s in states.items() if s != "ready"} == {
        "zero.mkv",
        "random.mkv",
        "text.mp4",
        "gone.mkv",
        "raise.mkv",
        "hang.mkv",
        "abort.mkv",
    }
    assert set(states.values()) == {"ready", "new"}
    assert run.applied == Outcome.PARTIAL


# -- lifecycle ----------------------------------------------------------------------------------


class StateProbe:
    """A progress display that records the stored states each time a result comes in."""

    def __init__(self, lib: Lib):
        self.lib = lib
        self.seen: list[tuple[str | None, dict[str, str]]] = []
        self.phase: str | None = None

    def start_phase(self, name, total):
        self.phase = name

    def __call__(self):
        self.seen.append((self.phase, self.lib.states()))

    def done(self):
        pass


def test_success_goes_new_enriching_ready_and_fills_hot_columns(lib):
    """issue 11: asset lifecycle new → enriching → ready when every attached enricher succeeded;
    results in assets.metadata (version, change token, data) and the ledger; hot columns
    (duration_ms, width, height, video_codec, audio_codec, container, bit_rate) filled;
    approval is never set by enrichment."""
    lib.add("a.mkv")
    lib.add("b.mp4", "mp4")
    lib.ingest()
    assert set(lib.states().values()) == {"new"}
    probe = StateProbe(lib)
    run = lib.run(FFPROBE, progress=lambda _label: probe)
    assert run.outcome.ok and run.counts("ffprobe").enriched == 2
    assert run.applied == Outcome.OK
    # the first result came in while the run had the collection's assets marked
    assert probe.seen[0][1] == {"a.mkv": "enriching", "b.mp4": "enriching"}
    assets = lib.assets()
    assert {n: a["state"] for n, a in assets.items()} == {"a.mkv": "ready", "b.mp4": "ready"}
    assert not any(a["approved_for_broadcast"] for a in assets.values())
    a, b = assets["a.mkv"], assets["b.mp4"]
    assert abs(a["duration_ms"] - 1000) <= 50
    assert (a["width"], a["height"], b["width"], b["height"]) == (64, 48, 96, 64)
    assert (a["video_codec"], a["audio_codec"]) == ("h264", "aac")
    assert (a["container"], b["container"]) == ("matroska,webm", "mov,mp4,m4a,3gp,3g2,mj2")
    assert a["bit_rate"] > 0 and a["loudness_lufs"] is None
    stored = a["metadata"]["enrichers"]["ffprobe"]
    assert stored["version"] == "2" and stored["change_token"] == a["change_token"]
    assert stored["data"]["streams"][0]["codec"] == "h264" and "error" not in stored
    entry = lib.ledger()[("a.mkv", "ffprobe")]
    assert (entry["version"], entry["change_token"], entry["error_code"]) == (
        "2",
        a["change_token"],
        None,
    )


def test_loudness_fills_its_column(lib):
    """issue 11: hot columns — loudness_lufs from the loudness enricher (EBU R128)."""
    lib.add("tone.mkv")
    lib.ingest()
    run = lib.run(LOUDNESS)
    assert run.outcome.ok
    tone = lib.assets()["tone.mkv"]
    # a 440 Hz sine of peak 0.25 in both channels: mean square 1/32 per channel, so
    # -0.691 + 10·log10(2/32) = -12.7 LUFS (K-weighting is about flat at 440 Hz)
    assert tone["loudness_lufs"] == pytest.approx(-12.7, abs=0.5)
    assert tone["state"] == "ready"
    assert tone["metadata"]["enrichers"]["loudness"]["data"]["integrated_lufs"] == pytest.approx(
        tone["loudness_lufs"]
    )


def test_rerun_probes_nothing(lib):
    """issue 11: an unchanged asset is never probed again — a second run's plan counts 0, the
    run enriches nothing and the ledger's enriched_at stays as it was (also when handed a saved
    plan that still says there is work)."""
    lib.add("a.mkv")
    lib.add("b.mp4", "mp4")
    media.write_text(lib.folder / "c.mp4")  # a failure is not retried either
    lib.ingest()
    lib.run(FFPROBE)
    before = lib.enriched_at()
    again = lib.plan(FFPROBE)
    (enrich,) = again.actions
    assert enrich.total == 0
    assert lib.executor().execute(again).enrichments == []
    # a stale plan's count is a preview: the run chooses from the database
    _src, col = lib.addresses()
    stale = Plan((EnrichCollection(col, (EnrichWork("ffprobe", "1", 3),)),))
    result = lib.executor().execute(stale)
    (outcome,) = result.enrichments
    assert (outcome.enriched, outcome.failed) == (0, 0)
    assert lib.enriched_at() == before
    assert lib.states() == {"a.mkv": "ready", "b.mp4": "ready", "c.mp4": "new"}


def test_changed_file_is_enriched_again(lib):
    """issue 11: a changed file (new change token after re-ingest) goes back to new and is
    enriched again; the others are not probed."""
    lib.add("a.mkv")
    lib.add("b.mkv")
    lib.ingest()
    lib.run(FFPROBE)
    before = lib.enriched_at()
    old_token = lib.assets()["a.mkv"]["change_token"]
    shutil.copyfile(lib.templates["long"], lib.folder / "a.mkv")
    lib.ingest()
    a = lib.assets()["a.mkv"]
    assert a["change_token"] != old_token and a["state"] == "new"
    # the ledger only ever holds current tokens: the changed asset's row went with its change
    assert set(lib.ledger()) == {("b.mkv", "ffprobe")}
    assert lib.plan(FFPROBE).actions[0].total == 1
    run = lib.run(FFPROBE)
    assert run.counts("ffprobe").enriched == 1
    after = lib.enriched_at()
    assert after[("b.mkv", "ffprobe")] == before[("b.mkv", "ffprobe")]
    assert after[("a.mkv", "ffprobe")] != before[("a.mkv", "ffprobe")]
    a = lib.assets()["a.mkv"]
    assert a["state"] == "ready" and abs(a["duration_ms"] - 2000) <= 50
    assert lib.ledger()[("a.mkv", "ffprobe")]["change_token"] == a["change_token"]
    assert a["metadata"]["enrichers"]["ffprobe"]["change_token"] == a["change_token"]


def test_two_counts_prove_nothing_is_pending(lib):
    """issue 11: a no-change plan proves that nothing is left to enrich from two index-only
    counts (a row per asset and type, each for its current token) instead of joining every
    asset; a new asset, a changed one, or (with retry_failed) a failed one is seen."""
    from retrovue.observe.enrichment import nothing_pending

    lib.add("a.mkv")
    media.write_text(lib.folder / "bad.mp4")
    lib.ingest()
    collection_id = lib.addresses()[1].id

    def proven(**kw) -> bool:
        with lib.engine.connect() as conn:
            return nothing_pending(conn, collection_id, "ffprobe", **kw)

    assert not proven()
    lib.run(FFPROBE)
    assert proven() and not proven(retry_failed=True)  # bad.mp4 failed for its current token
    lib.add("c.mkv")
    lib.ingest()
    assert not proven()
    lib.run(FFPROBE)
    assert proven()
    shutil.copyfile(lib.templates["long"], lib.folder / "a.mkv")
    lib.ingest()
    assert not proven() and lib.plan(FFPROBE).actions[0].total == 1


def test_failed_asset_is_retried_only_with_retry_failed_or_a_new_token(lib):
    """issue 11: a failure leaves the asset new with its error recorded; it is tried again only
    with retry_failed=True or after its change token changes."""
    lib.add("good.mkv")
    media.write_text(lib.folder / "bad.mp4")
    lib.ingest()
    lib.run(FFPROBE)
    first = lib.enriched_at()[("bad.mp4", "ffprobe")]
    # a plain re-run leaves it alone
    assert lib.plan(FFPROBE).actions[0].total == 0
    lib.executor().execute(
        Plan((EnrichCollection(lib.addresses()[1], (EnrichWork("ffprobe", "1", 1),)),))
    )
    assert lib.enriched_at()[("bad.mp4", "ffprobe")] == first
    # retry_failed tries it (only it) again
    plan = lib.plan(FFPROBE, retry_failed=True)
    assert plan.actions[0].total == 1
    run = lib.run(FFPROBE, retry_failed=True)
    assert (run.counts("ffprobe").enriched, run.counts("ffprobe").failed) == (0, 1)
    retried = lib.enriched_at()
    assert retried[("bad.mp4", "ffprobe")] != first
    assert lib.states() == {"good.mkv": "ready", "bad.mp4": "new"}
    # a new change token: tried again without asking, and now it is media
    shutil.copyfile(lib.templates["mp4"], lib.folder / "bad.mp4")
    lib.ingest()
    run = lib.run(FFPROBE)
    assert (run.counts("ffprobe").enriched, run.counts("ffprobe").failed) == (1, 0)
    assert lib.states() == {"good.mkv": "ready", "bad.mp4": "ready"}
    assert lib.ledger()[("bad.mp4", "ffprobe")]["error_code"] is None
    assert "error" not in lib.assets()["bad.mp4"]["metadata"]["enrichers"]["ffprobe"]
    assert lib.enriched_at()[("good.mkv", "ffprobe")] == retried[("good.mkv", "ffprobe")]


def test_force_reenriches_all_and_keeps_approval(lib):
    """issue 11: force=True enriches every present asset again; ready assets stay ready and an
    operator's approval stays (approval is never set nor revoked by enrichment)."""
    lib.add("a.mkv")
    lib.add("b.mkv")
    media.write_text(lib.folder / "c.mp4")
    lib.ingest()
    lib.run(FFPROBE)
    before = lib.enriched_at()
    with lib.engine.begin() as conn:
        conn.execute(
            update(_assets)
            .where(_assets.c.canonical_uri.like("%a.mkv"))
            .values(approved_for_broadcast=True)
        )
    assert lib.plan(FFPROBE, force=True).actions[0].total == 3
    probe = StateProbe(lib)
    run = lib.run(FFPROBE, force=True, progress=lambda _label: probe)
    assert (run.counts("ffprobe").enriched, run.counts("ffprobe").failed) == (2, 1)
    after = lib.enriched_at()
    assert all(after[key] != before[key] for key in before)
    # ready assets were never demoted while the run worked
    assert all(seen["a.mkv"] == "ready" for _phase, seen in probe.seen)
    assets = lib.assets()
    assert {n: a["state"] for n, a in assets.items()} == {
        "a.mkv": "ready",
        "b.mkv": "ready",
        "c.mp4": "new",
    }
    assert {n: a["approved_for_broadcast"] for n, a in assets.items()} == {
        "a.mkv": True,
        "b.mkv": False,
        "c.mp4": False,
    }


def test_ready_stays_ready_when_a_new_enricher_fails(lib):
    """issue 11 (the choice documented in execute/enrich.py): a ready asset stays ready when a
    newly attached enricher fails on it; the failure is still recorded and reported.  (The
    failing file was a video without audio until issue 20 made that a fact, not a failure: it
    is now an audio stream that holds no audio.)"""
    media.write_empty_audio_track(lib.folder_made() / "mute.mkv")
    lib.add("with-audio.mkv")
    lib.ingest()
    lib.run(FFPROBE)
    assert set(lib.states().values()) == {"ready"}
    run = lib.run(FFPROBE, LOUDNESS)
    assert "ffprobe" not in {c.type for c in run.outcome.counts if c.enriched or c.failed}
    (failure,) = run.outcome.failures
    assert (failure.type, failure.code) == ("loudness", UNREADABLE)
    assert lib.states() == {"mute.mkv": "ready", "with-audio.mkv": "ready"}
    assert lib.ledger()[("mute.mkv", "loudness")]["error_code"] == UNREADABLE
    stored = lib.assets()["mute.mkv"]["metadata"]["enrichers"]
    assert stored["loudness"]["error"]["code"] == UNREADABLE and "data" in stored["ffprobe"]
    assert run.applied == Outcome.PARTIAL


def test_two_enrichers_ready_only_when_both_succeeded(lib):
    """issue 11: an asset is ready when every enricher attached to its collection succeeded for
    its current change token — with ffprobe and loudness, a file whose audio stream holds no
    audio stays new (ffprobe succeeded, loudness failed), and no asset is ready before the last
    enricher committed.  (Issue 20: a video without audio is ready, see below.)"""
    media.write_empty_audio_track(lib.folder_made() / "mute.mkv")
    lib.add("with-audio.mkv")
    lib.add("with-audio.mp4", "mp4")
    lib.ingest()
    probe = StateProbe(lib)
    run = lib.run(FFPROBE, LOUDNESS, progress=lambda _label: probe)
    assert (run.counts("ffprobe").enriched, run.counts("ffprobe").failed) == (3, 0)
    assert (run.counts("loudness").enriched, run.counts("loudness").failed) == (2, 1)
    loudness_phase = [seen for phase, seen in probe.seen if phase and "loudness" in phase]
    assert loudness_phase and "ready" not in loudness_phase[0].values()
    assert lib.states() == {
        "mute.mkv": "new",
        "with-audio.mkv": "ready",
        "with-audio.mp4": "ready",
    }
    ledger = lib.ledger()
    assert ledger[("mute.mkv", "ffprobe")]["error_code"] is None
    assert ledger[("mute.mkv", "loudness")]["error_code"] == UNREADABLE
    assets = lib.assets()
    assert assets["mute.mkv"]["width"] == 64  # ffprobe's columns are kept
    assert assets["with-audio.mkv"]["loudness_lufs"] is not None


def test_a_video_without_audio_is_ready_with_loudness_attached(lib):
    """issue 20: "no audio stream" is a fact about the file, recorded as silence is: loudness
    succeeds with ``audio: false`` and no loudness, the asset becomes ready, and ``apply``
    exits 0 (it used to fail the file with NO_AUDIO and exit 2)."""
    lib.add("video-only.mp4", "video_only")
    lib.add("with-audio.mkv")
    config = fs_config(lib.base / "retrovue.yaml", lib.base / "lib", {"Shows": True})
    doc = yaml.safe_load(config.read_text())
    doc["sources"][0]["enrichers"] = ["ffprobe", "loudness"]
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = lib.rv("apply", "-c", str(config), "--auto-approve", db=lib.db_url)
    assert result.code == 0, result.out + result.err
    lib.ingested = True
    assert lib.states() == {"video-only.mp4": "ready", "with-audio.mkv": "ready"}
    video = lib.assets()["video-only.mp4"]
    facts = video["metadata"]["enrichers"]["loudness"]["data"]
    assert facts["audio"] is False and facts["integrated_lufs"] is None
    assert video["loudness_lufs"] is None
    assert lib.ledger()[("video-only.mp4", "loudness")]["error_code"] is None
    assert lib.assets()["with-audio.mkv"]["loudness_lufs"] is not None


def test_unavailable_stored_type_is_reported_and_its_assets_stay_new(lib):
    """issue 11: an unknown stored enricher type is reported as unavailable on the outcome (an
    error, so apply is not OK), never silently skipped; the other enrichers still run, and the
    assets stay new since not every attached enricher succeeded."""
    lib.add("a.mkv")
    lib.add("b.mkv")
    lib.ingest()
    src, col = lib.addresses()
    with lib.engine.begin() as conn:
        conn.execute(
            insert(EnricherAttachment).values(
                id=uuid.uuid4(),
                source_id=src.id,
                enricher_type="scene-detect",
                priority=0,
                created_at=lib.clock(),
                updated_at=lib.clock(),
            )
        )
    with lib.engine.connect() as conn:
        enrich, notes = plan_enrichment(
            DbReader(conn),
            lambda: lib.registry,
            col,
            col.id,
            (EnricherSpec("scene-detect"), FFPROBE),
        )
    assert notes and "scene-detect" in notes[0] and "cannot run" in notes[0]
    plan = Plan(
        (
            SetEnrichers(
                src, lib.stored_specs(), run_order((EnricherSpec("scene-detect"), FFPROBE))
            ),
            enrich,
        )
    )
    run = Run(plan, lib.executor().execute(plan))
    assert isinstance(run.outcome.error, EnricherUnavailableError)
    assert "scene-detect" in run.outcome.error.message
    assert run.counts("ffprobe").enriched == 2
    assert lib.states() == {"a.mkv": "new", "b.mkv": "new"}
    assert run.result.failures == 1
    assert run.applied != Outcome.OK


@pytest.mark.parametrize("case", ["its only enricher", "a re-run with nothing else to do"])
def test_unavailable_type_is_reported_when_nothing_else_runs(lib, case):
    """issue 11: an unknown stored type is never silently skipped — also when the collection
    has nothing else to enrich: when it is the collection's only enricher, or on the next apply
    once the available enrichers are done (the plan counts no work for an unavailable type, and
    the executor passes over an EnrichCollection with a total of 0)."""
    lib.add("a.mkv")
    lib.ingest()
    src, col = lib.addresses()
    scene = EnricherSpec("scene-detect")
    specs = (scene,) if case == "its only enricher" else (scene, FFPROBE)
    if case != "its only enricher":
        lib.run(*specs)  # reports it (see the test above) and enriches with ffprobe
    plan = lib.plan(*specs)
    with lib.engine.connect() as conn:
        _enrich, notes = plan_enrichment(DbReader(conn), lambda: lib.registry, col, col.id, specs)
    assert notes and "scene-detect" in notes[0]  # the plan says so
    result = lib.executor().execute(plan)
    assert lib.states() == {"a.mkv": "new"}
    errors = [e.error for e in result.enrichments if e.error is not None]
    assert errors and isinstance(errors[0], EnricherUnavailableError), (
        "apply reports nothing: the collection's assets stay new and apply exits 0"
    )
    assert Applied(plan, result).outcome != Outcome.OK


# -- batches, interruption, the lock --------------------------------------------------------------


class StopAt:
    """A progress callback that raises KeyboardInterrupt on its k-th call."""

    def __init__(self, k: int):
        self.k, self.calls = k, 0

    def __call__(self):
        self.calls += 1
        if self.calls == self.k:
            raise KeyboardInterrupt

    def done(self):
        pass


def _library_of(lib: Lib, n: int) -> None:
    for i in range(n):
        lib.add(f"f{i:02d}.mkv")
    lib.ingest()


def test_interrupt_keeps_committed_batches_and_resumes(lib):
    """issue 11: results are committed in batches, so an interruption (Ctrl-C) after k results
    loses at most the batch in progress (batch=1: k-1 or k committed), leaves no asset
    enriching, and the next run enriches only the rest."""
    n, k = 6, 3
    _library_of(lib, n)
    lib.attach(FFPROBE)
    stop = StopAt(k)
    with pytest.raises(KeyboardInterrupt):
        lib.enricher(batch=1, flush_s=3600.0, on_result=stop).enrich()
    committed = len(lib.ledger())
    assert committed in (k - 1, k)
    states = lib.states()
    assert "enriching" not in states.values()
    assert sorted(states.values()).count("ready") == committed
    before = lib.enriched_at()
    assert lib.plan(FFPROBE).actions[0].total == n - committed
    run = lib.run(FFPROBE)
    assert run.counts("ffprobe").enriched == n - committed
    after = lib.enriched_at()
    assert all(after[key] == value for key, value in before.items())
    assert set(lib.states().values()) == {"ready"}


def test_interrupt_through_the_executor(lib):
    """issue 11: Ctrl-C during a collection's enrichment ends the run as interrupted (exit 130),
    with what committed kept and no asset left enriching; the next run picks up the rest."""
    _library_of(lib, 4)

    def interrupting(_label):
        return StopAt(2)

    run = lib.run(FFPROBE, progress=interrupting)
    assert run.result.interrupted and run.outcome.interrupted
    assert run.applied == Outcome.INTERRUPTED
    assert "enriching" not in lib.states().values()
    committed = len(lib.ledger())
    assert committed <= 1  # at most the batch in progress (all of it, at the default size) lost
    rest = lib.run(FFPROBE)
    assert rest.counts("ffprobe").enriched == 4 - committed
    assert set(lib.states().values()) == {"ready"} and len(lib.ledger()) == 4


def test_lost_lock_stops_with_committed_batches_kept(lib):
    """issue 11: the apply lock is re-checked before each batch commits — a guard that raises
    LockLostError on its 3rd call (1: marking, 2: first batch, 3: second batch) stops the run:
    the first batch stays committed, the second rolls back, nothing is written after (the
    marked assets are left for the next run to settle), and the next run finishes the work."""
    n = 5
    _library_of(lib, n)
    lib.attach(FFPROBE)
    calls = []

    def guard(conn=None):
        calls.append(conn)
        if len(calls) == 3:
            raise LockLostError("the apply lock was released")

    with pytest.raises(LockLostError):
        lib.enricher(batch=1, flush_s=3600.0, guard=guard).enrich()
    assert len(calls) == 3
    assert len(lib.ledger()) == 1
    states = lib.states()
    assert sorted(states.values()) == ["enriching"] * (n - 1) + ["ready"]
    # the next run (the lock ours again) settles what the lost one left
    run = lib.run(FFPROBE)
    assert run.counts("ffprobe").enriched == n - 1
    assert set(lib.states().values()) == {"ready"}


def test_lost_lock_through_the_executor_fails_the_apply(lib):
    """issue 11: a lost lock during enrichment ends the run (lock_lost recorded, apply FAILED,
    not partial), committed batches kept."""
    _library_of(lib, 3)
    calls = []

    def guard(conn=None):
        calls.append(conn)
        # None: between units; a connection: a unit about to commit.  Lose it at the second
        # commit inside the enrichment (attachment unit, marking, first batch → lost)
        if len([c for c in calls if c is not None]) == 3:
            raise LockLostError("the apply lock was released")

    run = lib.run(FFPROBE, guard=guard)
    assert run.result.lock_lost is not None
    assert isinstance(run.outcome.error, LockLostError)
    assert run.applied == Outcome.FAILED


def test_no_asset_stays_enriching_after_its_result_committed(lib):
    """issue 11: an asset is ``enriching`` only while a run works on it — when a run stops after
    its last batch committed (here the lock is lost at the final settling; a kill there does the
    same), a failed asset must not be left ``enriching``: its failure is recorded, so no later
    plan counts it and no later run would ever settle it."""
    lib.add("good.mkv")
    media.write_text(lib.folder / "bad.mp4")
    lib.ingest()
    lib.attach(FFPROBE)
    calls = []

    def guard(conn=None):  # 1: marking, 2: the one batch, 3: the settling after it
        calls.append(conn)
        if len(calls) == 3:
            raise LockLostError("the apply lock was released")

    # one batch whatever the machine's load: the 2 s timer flush would split it and move the
    # lost lock from the settling to the second batch
    with pytest.raises(LockLostError):
        lib.enricher(guard=guard, flush_s=3600).enrich()
    assert lib.ledger()[("bad.mp4", "ffprobe")]["error_code"] == NOT_MEDIA  # committed
    assert lib.plan(FFPROBE).actions[0].total == 0  # so no later run comes back to it
    lib.run(FFPROBE)
    assert lib.states() == {"good.mkv": "ready", "bad.mp4": "new"}


# -- the plan's count is the run's work ------------------------------------------------------------


def test_plan_count_equals_the_run(lib):
    """issue 11: the plan's count (plan_enrichment with DbReader) equals what the run enriches,
    per enricher, by default, with retry_failed and with force."""
    lib.add("a.mkv")
    lib.add("b.mkv")
    lib.add("c.mp4", "video_only")
    media.write_text(lib.folder / "d.mp4")
    lib.ingest()

    def check(*specs, **kw):
        plan = lib.plan(*specs, **kw)
        planned = {
            w.type: w.assets
            for a in plan.actions
            if isinstance(a, EnrichCollection)
            for w in a.work
        }
        run = Run(plan, lib.executor().execute(plan))
        done = {c.type: c.enriched + c.failed for o in run.result.enrichments for c in o.counts}
        assert {t: v for t, v in planned.items() if v} == {t: v for t, v in done.items() if v}
        return planned

    assert check(FFPROBE) == {"ffprobe": 4}
    assert check(FFPROBE, LOUDNESS) == {"ffprobe": 0, "loudness": 4}
    assert check(FFPROBE, LOUDNESS) == {"ffprobe": 0, "loudness": 0}
    # the text file failed both; the video without audio is no failure (issue 20)
    assert check(FFPROBE, LOUDNESS, retry_failed=True) == {"ffprobe": 1, "loudness": 1}
    shutil.copyfile(lib.templates["long"], lib.folder / "a.mkv")
    lib.ingest()
    assert check(FFPROBE, LOUDNESS) == {"ffprobe": 1, "loudness": 1}
    assert check(FFPROBE, LOUDNESS, force=True) == {"ffprobe": 4, "loudness": 4}
    with lib.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(_ledger)).scalar_one() == 8


# -- what a file can hold ------------------------------------------------------------------------


def test_a_sparse_file_declaring_99_hours_fails_fast_instead_of_holding_a_worker(lib):
    """issue 17, item 6: 4 KB of a sparse 64 GiB file under a WAV header that runs to the end of
    the file (named x.mkv) declares 99 hours of audio: loudness decoded its holes for up to the
    1,800 s timeout, holding a worker.  Now both enrichers fail it at once with
    IMPLAUSIBLE_DURATION (the file holds far less than 99 hours need), the good file is ready."""
    lib.add("good.mkv")
    media.write_sparse_wav(lib.folder / "x.mkv", 64 * 2**30)
    lib.ingest()
    run = lib.run(FFPROBE, LOUDNESS)
    failures = {(os.path.basename(f.path), f.type): f for f in run.outcome.failures}
    assert set(failures) == {("x.mkv", "ffprobe"), ("x.mkv", "loudness")}
    for failure in failures.values():
        assert failure.code == IMPLAUSIBLE_DURATION
        assert "declares 99.4 h of media but the file holds only" in failure.message
    assert lib.states() == {"good.mkv": "ready", "x.mkv": "new"}
    assert lib.ledger()[("x.mkv", "loudness")]["error_code"] == IMPLAUSIBLE_DURATION


def test_a_header_declaring_an_absurd_duration_fails_the_asset(lib):
    """issue 17, item 9b: a Matroska header that declares 9.2e15 ms made a `ready` asset with
    that duration stored.  Now the asset fails with IMPLAUSIBLE_DURATION and stays `new`, and no
    absurd number reaches its columns or its stored facts."""
    lib.add("good.mkv")
    media.write_declared_duration(lib.folder / "forever.mkv", lib.templates["mkv"], 9.2e15)
    lib.ingest()
    run = lib.run(FFPROBE)
    (failure,) = run.outcome.failures
    assert (os.path.basename(failure.path), failure.code) == ("forever.mkv", IMPLAUSIBLE_DURATION)
    assert "out of range" in failure.message
    assert lib.states() == {"good.mkv": "ready", "forever.mkv": "new"}
    forever = lib.assets()["forever.mkv"]
    assert forever["duration_ms"] is None
    assert "data" not in forever["metadata"]["enrichers"]["ffprobe"]


def test_a_truncated_file_fails_as_truncated_and_an_intact_one_is_ready(lib):
    """issue 20: the first third of a 4 s file became `ready` with its header's duration
    (4,021 ms) although only 1.3 s of it plays.  Now ffprobe finds the playable end (the last
    packet the file holds whole) and fails the MKV and the MP4 cut at a third as TRUNCATED (they
    stay new); the intact files are ready, their playable end stored where FFmpeg's decode of
    them ends."""
    lib.add("intact.mkv", "clip_mkv")
    lib.add("intact.mp4", "clip_mp4")
    media.write_truncated(lib.folder / "cut.mkv", lib.templates["clip_mkv"], 1 / 3)
    media.write_truncated(lib.folder / "cut.mp4", lib.templates["clip_mp4"], 1 / 3)
    lib.ingest()
    run = lib.run(FFPROBE)
    failures = {os.path.basename(f.path): f for f in run.outcome.failures}
    assert {name: f.code for name, f in failures.items()} == {
        "cut.mkv": TRUNCATED,
        "cut.mp4": TRUNCATED,
    }
    assert "of the 4.0 s its header declares" in failures["cut.mkv"].message
    assert lib.states() == {
        "intact.mkv": "ready",
        "intact.mp4": "ready",
        "cut.mkv": "new",
        "cut.mp4": "new",
    }
    for name in ("intact.mkv", "intact.mp4"):
        facts = lib.assets()[name]["metadata"]["enrichers"]["ffprobe"]["data"]
        decoded_ms = 1000 * ffmpeg_ref.decoded_end_s(lib.folder / name)
        assert abs(facts["playable_end_ms"] - decoded_ms) <= 100, name


def test_a_missing_asset_is_not_ready_and_is_ready_again_when_it_comes_back(lib):
    """Issue 19, item 17: missing assets kept state=ready, so anything selecting ready assets
    for broadcast would pick a file that is gone.  Missing: new, approval cleared (approved
    implies ready); back unchanged: ready again (its facts still hold), approval not restored."""
    names = [f"e{i}.mkv" for i in range(6)]  # one of six gone: under the mass-missing guard
    for name in names:
        lib.add(name)
    lib.ingest()
    assert lib.run(FFPROBE).outcome.ok
    with lib.engine.begin() as conn:
        conn.execute(update(Asset).values(approved_for_broadcast=True))
    away = lib.base / "away.mkv"
    (lib.folder / "e0.mkv").rename(away)
    lib.ingest()
    gone = lib.assets()["e0.mkv"]
    assert gone["missing_since"] is not None
    assert (gone["state"], gone["approved_for_broadcast"]) == ("new", False)
    assert lib.states()["e1.mkv"] == "ready" and lib.assets()["e1.mkv"]["approved_for_broadcast"]
    listed = lib.rv("asset", "list", "--state", "ready", "--json", db=lib.db_url).json()
    assert sorted(a["canonical_uri"].rsplit("/", 1)[1] for a in listed["assets"]) == names[1:]

    away.rename(lib.folder / "e0.mkv")  # the same file: its change token is unchanged
    lib.ingest()
    back = lib.assets()["e0.mkv"]
    assert back["missing_since"] is None
    assert (back["state"], back["approved_for_broadcast"]) == ("ready", False)
