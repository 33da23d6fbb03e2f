"""Saved-plan staleness is judged per source the plan changes (issue 18): another source's apply
since the plan does not make it stale; a change to a source it acts on still does."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import yaml
from sqlalchemy import func, select

from retrovue.config.model import DesiredState
from retrovue.database.tables import Asset, Collection, Source
from retrovue.model.actions import (
    CollectionAddress,
    CreateSource,
    IngestCollection,
    Plan,
    SourceAddress,
    source_of,
)
from retrovue.model.counts import IngestCounts
from retrovue.model.snapshots import CollectionFingerprint, DbState, SourceFingerprint
from retrovue.plan.saved import SavedOptions, load_saved_plan, saved_document, stale_reasons
from retrovue.render.json import plan_to_json
from tests.helpers import make_tree


def _config(tmp_path) -> Path:
    """Two filesystem sources, Alpha and Beta, each with one synced collection."""
    sources = []
    for name in ("Alpha", "Beta"):
        base = make_tree(tmp_path / name.lower(), {"movies": [f"{name} One (1999).mkv"]})
        sources.append(
            {
                "name": name,
                "type": "filesystem",
                "config": {"base_path": str(base)},
                "collections": [{"name": "movies", "sync": True}],
            }
        )
    path = tmp_path / "retrovue.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "sources": sources}, sort_keys=False))
    return path


def _new_file(tmp_path, source: str, title: str) -> None:
    (tmp_path / source.lower() / "movies" / f"{title} (2001).mkv").write_bytes(b"")


def _assets_of(engine, source: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(Asset)
            .join(Collection, Collection.c.id == Asset.c.collection_id)
            .join(Source, Source.c.id == Collection.c.source_id)
            .where(Source.c.name == source)
        ).scalar_one()


def _plan_for_alpha(rv, db_url, config, tmp_path) -> Path:
    out = tmp_path / "alpha-plan.json"
    made = rv("plan", "-c", str(config), "--source", "Alpha", "--out", str(out), db=db_url)
    assert made.code == 0, made.err
    return out


def test_a_plan_for_one_source_applies_after_another_source_was_applied(
    rv, db_url, engine, tmp_path
):
    config = _config(tmp_path)
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    _new_file(tmp_path, "Alpha", "Alpha Two")
    _new_file(tmp_path, "Beta", "Beta Two")
    out = _plan_for_alpha(rv, db_url, config, tmp_path)
    beta = rv("apply", "-c", str(config), "--source", "Beta", "--auto-approve", db=db_url)
    assert beta.code == 0, beta.err
    assert _assets_of(engine, "Beta") == 2  # Beta moved in the database since Alpha's plan
    applied = rv("apply", str(out), "--auto-approve", db=db_url)
    assert applied.code == 0, applied.err
    assert _assets_of(engine, "Alpha") == 2


def test_a_plan_for_one_source_is_stale_once_that_source_changed(rv, db_url, engine, tmp_path):
    config = _config(tmp_path)
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    _new_file(tmp_path, "Alpha", "Alpha Two")
    out = _plan_for_alpha(rv, db_url, config, tmp_path)
    alpha = rv("apply", "-c", str(config), "--source", "Alpha", "--auto-approve", db=db_url)
    assert alpha.code == 0, alpha.err
    refused = rv("apply", str(out), "--auto-approve", "--json", db=db_url)
    assert refused.code == 1
    doc = refused.json()
    assert doc["code"] == "STALE_PLAN"
    assert doc["context"]["moved"] == [
        'collection "Alpha"/"movies" changed in the database since the plan',
        'collection "Alpha"/"movies": its assets changed in the database since the plan',
    ]


def test_a_plan_that_creates_a_source_ignores_other_new_sources(rv, db_url, engine, tmp_path):
    """Made on an empty database for Alpha only: Beta's apply since creates a source the plan
    does not touch; applying Alpha's plan again after that would create Alpha twice: refused."""
    config = _config(tmp_path)
    out = _plan_for_alpha(rv, db_url, config, tmp_path)
    beta = rv("apply", "-c", str(config), "--source", "Beta", "--auto-approve", db=db_url)
    assert beta.code == 0, beta.err
    applied = rv("apply", str(out), "--auto-approve", db=db_url)
    assert applied.code == 0, applied.err
    again = rv("apply", str(out), "--auto-approve", db=db_url)
    assert again.code == 1
    assert 'source "Alpha" was created in the database since the plan' in again.err


# --- the comparison alone (no database) -----------------------------------------------------------


def _saved(tmp_path, actions, state: DbState):
    plan = Plan(
        actions=tuple(actions),
        config_file="retrovue.yaml",
        config_hash="sha256:00",
        db_state=state,
    )
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(saved_document(plan_to_json(plan), plan, SavedOptions())))
    return load_saved_plan(str(path))


class _Observer:
    def __init__(self, state: DbState) -> None:
        self.state = state

    def db_state(self) -> DbState:
        return self.state

    def asset_fingerprint(self, collection_id) -> str:
        return "sha256:aa"

    def key(self) -> bytes:
        return b"k" * 32


DESIRED = DesiredState("retrovue.yaml", (), config_hash="sha256:00")
CREATE_X = CreateSource(SourceAddress("X"), "filesystem", "fs:/media/x", config={})


def _with(state: DbState, fingerprint: str, **sources: SourceFingerprint) -> DbState:
    return DbState(state.schema_revision, fingerprint, {**state.sources, **sources})


def test_a_created_source_is_stale_when_its_name_or_external_id_was_taken(tmp_path):
    before = DbState("rev-1", "sha256:11")
    saved = _saved(tmp_path, [CREATE_X], before)
    other = _with(before, "sha256:22", a=SourceFingerprint("Other", "sha256:o", {}, "fs:/other"))
    assert stale_reasons(saved, DESIRED, _Observer(other)) == []
    same_name = _with(before, "sha256:33", b=SourceFingerprint("x", "sha256:x", {}, "fs:/else"))
    assert stale_reasons(saved, DESIRED, _Observer(same_name)) == [
        'source "x" was created in the database since the plan'
    ]
    same_id = _with(before, "sha256:44", c=SourceFingerprint("Y", "sha256:y", {}, "fs:/media/x"))
    assert stale_reasons(saved, DESIRED, _Observer(same_id)) == [
        'source "Y" was created in the database since the plan'
    ]


def test_only_the_touched_source_counts_and_the_catch_all_stays(tmp_path):
    alpha_id, beta_id = uuid.uuid4(), uuid.uuid4()
    movies = CollectionAddress(SourceAddress("Alpha", alpha_id), "m", "movies", uuid.uuid4())
    shows = CollectionAddress(SourceAddress("Beta", beta_id), "s", "shows", uuid.uuid4())
    ingests = [
        IngestCollection(movies, IngestCounts(new=1), db_fingerprint="sha256:aa"),
        IngestCollection(shows, IngestCounts(), db_fingerprint="sha256:bb"),  # no change
    ]
    coll = {"m": CollectionFingerprint("movies", "sha256:m")}
    before = DbState(
        "rev-1",
        "sha256:11",
        {
            str(alpha_id): SourceFingerprint("Alpha", "sha256:a", coll),
            str(beta_id): SourceFingerprint("Beta", "sha256:b", {}),
        },
    )
    saved = _saved(tmp_path, ingests, before)
    beta_moved = _with(before, "sha256:22", **{str(beta_id): SourceFingerprint("Beta", "sha256:B")})
    # Beta's assets moved too (its fingerprint is not sha256:bb): no change of the plan's there
    assert stale_reasons(saved, DESIRED, _Observer(beta_moved)) == []
    alpha_moved = _with(
        before, "sha256:33", **{str(alpha_id): SourceFingerprint("Alpha", "sha256:A", coll)}
    )
    assert stale_reasons(saved, DESIRED, _Observer(alpha_moved)) == [
        'source "Alpha" changed in the database since the plan'
    ]
    digest_only = _with(before, "sha256:44")
    assert stale_reasons(saved, DESIRED, _Observer(digest_only)) == [
        "the database changed since the plan"
    ]


def test_every_action_names_its_source():
    alpha = SourceAddress("Alpha", uuid.uuid4())
    movies = CollectionAddress(alpha, "m", "movies")
    assert source_of(CREATE_X) == SourceAddress("X")
    assert source_of(IngestCollection(movies, IngestCounts())) == alpha
