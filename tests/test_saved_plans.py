"""Saved plans: `plan --out plan.json`, `apply plan.json`, and refusing a plan that went stale."""

from __future__ import annotations

import ast
import json
import uuid
from contextlib import contextmanager
from pathlib import Path

import jsonschema
import pytest
import yaml
from sqlalchemy import func, select, text, update

from retrovue.config.model import DesiredState
from retrovue.config.validate import load_config
from retrovue.database.engine import DatabaseTarget, open_database
from retrovue.database.tables import Asset, Collection, Source
from retrovue.errors import PlanError
from retrovue.importers.registry import load_registry
from retrovue.model.actions import (
    CollectionAddress,
    DeleteSource,
    IngestCollection,
    Plan,
    SetPathMappingLocal,
    SourceAddress,
    WipeCollection,
)
from retrovue.model.codec import FORMAT_VERSION, decode_plan
from retrovue.model.counts import IngestCounts
from retrovue.model.snapshots import DbState
from retrovue.observe.keys import database_key
from retrovue.plan.builder import PlanOptions
from retrovue.plan.document import plan_to_json
from retrovue.plan.saved import (
    SavedOptions,
    load_saved_plan,
    plan_from_json,
    saved_document,
    sealed,
    stale_reasons,
)
from tests.helpers import fs_config, make_tree, plan_on

ROOT = Path(__file__).resolve().parents[1]
TOKEN_VAR = "LIVING_ROOM_PLEX_TOKEN"


@pytest.fixture
def media(tmp_path) -> Path:
    return make_tree(
        tmp_path / "media",
        {
            "movies": ["Heat (1995).mkv", "Alien (1979).mkv"],
            "shows": ["Show/Season 01/Show - S01E01.mkv"],
        },
    )


@pytest.fixture
def cfg(tmp_path, media) -> Path:
    return fs_config(tmp_path / "retrovue.yaml", media, {"movies": True, "shows": False})


@pytest.fixture
def plex_setup(fake_plex, tmp_path):
    """A fake Plex with one movie section mapped to a local folder, and a config using ${VAR}."""
    local = tmp_path / "nas" / "Movies"
    local.mkdir(parents=True)
    section = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    fake_plex.add_movie(section, "Heat", year=1995)
    fake_plex.add_movie(section, "Alien", year=1979)
    doc = {
        "version": 1,
        "sources": [
            {
                "name": "Living Room Plex",
                "type": "plex",
                "config": {"base_url": fake_plex.url, "token": "${" + TOKEN_VAR + "}"},
                "collections": [
                    {
                        "name": "Movies",
                        "sync": True,
                        "path_mappings": [{"plex_path": "/data/Movies", "local_path": str(local)}],
                    },
                ],
            }
        ],
    }
    path = tmp_path / "plex.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path, {TOKEN_VAR: fake_plex.token}


@contextmanager
def open_engine(url):
    engine = open_database(DatabaseTarget(url, False))
    try:
        yield engine
    finally:
        engine.dispose()


def _count(engine, model) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def _plan_out(rv, cfg, db, tmp_path, *extra, env=None) -> Path:
    out = tmp_path / "plan.json"
    result = rv("plan", "-c", str(cfg), "--out", str(out), *extra, db=db, env=env)
    assert result.code == 0, result.err
    return out


# --- the file ------------------------------------------------------------------------------------


def test_saved_plan_records_what_it_was_made_against(rv, db_url, cfg, tmp_path):
    rv("apply", "-c", str(cfg), "--auto-approve", db=db_url)
    (tmp_path / "media" / "movies" / "Big (1988).mkv").write_bytes(b"")
    doc = json.loads(_plan_out(rv, cfg, db_url, tmp_path).read_text())
    schema = json.loads((ROOT / "src/retrovue/schemas/plan.schema.json").read_text())
    jsonschema.validate(doc, schema)
    assert doc["format_version"] == FORMAT_VERSION
    assert doc["config_file"] == str(cfg) and doc["config_hash"].startswith("sha256:")
    assert doc["schema_revision"] and doc["observed"]["schema_revision"] == doc["schema_revision"]
    (source,) = doc["observed"]["sources"].values()
    assert source["name"] == "Library" and set(source["collections"]) == {"movies", "shows"}
    ingest = next(a for a in doc["actions"] if a["kind"] == "ingest_collection")
    assert ingest["db_fingerprint"].startswith("sha256:") and ingest["counts"]["new"] == 1


def test_no_secret_value_in_a_saved_plan(rv, db_url, plex_setup, tmp_path, fake_plex):
    cfg, env = plex_setup
    out = _plan_out(rv, cfg, db_url, tmp_path, env=env)
    raw = out.read_text()
    assert fake_plex.token not in raw
    doc = json.loads(raw)
    # keyed with the database's key (issue 9, item 12): a guessed token cannot be checked offline
    assert doc["secret_fingerprints"]["Living Room Plex.token"].startswith("hmac-sha256:")
    assert (
        next(a for a in doc["actions"] if a["kind"] == "create_source")["config"]["token"]
        == "(sensitive)"
    )
    # a change of a sensitive field is an update of it: neither value lands in the file
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url, env=env).code == 0
    cfg.write_text(cfg.read_text().replace(TOKEN_VAR, "ROTATED_TOKEN"))
    rotated = {"ROTATED_TOKEN": "new-secret-value-42"}
    old_token, fake_plex.token = fake_plex.token, "new-secret-value-42"  # the token was rotated
    result = rv("plan", "-c", str(cfg), "--out", str(out), db=db_url, env=rotated)
    assert result.code == 0 and "config.token: (sensitive) -> (sensitive)" in result.out
    raw = out.read_text()
    assert "new-secret-value-42" not in raw and old_token not in raw
    assert "new-secret-value-42" not in result.out + result.err
    assert '"sensitive": true' in raw
    # and the saved plan carries the change out: the new reference is stored, never the value
    applied = rv("apply", str(out), "--auto-approve", db=db_url, env=rotated)
    assert applied.code == 0, applied.err
    with open_engine(db_url) as engine, engine.connect() as conn:
        assert conn.execute(select(Source.c.config)).scalar_one()["token"] == "${ROTATED_TOKEN}"


def test_plan_from_json_rebuilds_the_same_plan(db_url, engine, plex_setup, monkeypatch):
    cfg, env = plex_setup
    monkeypatch.setenv(TOKEN_VAR, env[TOKEN_VAR])
    registry = load_registry()
    desired = load_config(str(cfg), registry)
    plan = plan_on(engine, desired, registry, PlanOptions(fingerprint=True))
    rebuilt = plan_from_json(json.loads(json.dumps(plan_to_json(plan))), desired)
    assert rebuilt == plan
    create = rebuilt.actions[0]
    # the reference is what is stored (issue 9, item 12); the importer reads the variable
    assert create.config["token"] == "${" + TOKEN_VAR + "}" and create.sensitive_keys == {"token"}


# --- apply PLAN ---------------------------------------------------------------------------------


def test_apply_saved_plan_then_refuse_it_the_second_time(rv, db_url, engine, cfg, tmp_path):
    out = _plan_out(rv, cfg, db_url, tmp_path)
    first = rv("apply", str(out), "--auto-approve", db=db_url)
    assert first.code == 0, first.err
    assert "Apply complete!" in first.out
    assert _count(engine, Source) == 1 and _count(engine, Asset) == 2
    second = rv("apply", str(out), "--auto-approve", db=db_url)
    assert second.code == 1
    assert (
        "is stale" in second.err
        and 'source "Library" was created in the database since the plan' in second.err
    )
    assert _count(engine, Asset) == 2


def test_double_apply_of_an_ingest_only_plan_is_refused(rv, db_url, cfg, tmp_path):
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    (tmp_path / "media" / "movies" / "Big (1988).mkv").write_bytes(b"")
    out = _plan_out(rv, cfg, db_url, tmp_path)
    assert rv("apply", str(out), "--auto-approve", db=db_url).code == 0
    second = rv("apply", str(out), "--auto-approve", db=db_url)
    assert second.code == 1
    assert 'collection "Library"/"movies"' in second.err


def test_plan_made_on_an_empty_database_is_stale_after_an_apply(rv, db_url, engine, cfg, tmp_path):
    out = _plan_out(rv, cfg, db_url, tmp_path)
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code == 1
    assert 'source "Library" was created in the database since the plan' in result.err
    assert _count(engine, Source) == 1


def test_changed_config_is_named(rv, db_url, cfg, tmp_path):
    out = _plan_out(rv, cfg, db_url, tmp_path)
    cfg.write_text(cfg.read_text() + "# a reviewer's comment\n")
    result = rv("apply", str(out), "--auto-approve", "--json", db=db_url)
    assert result.code == 1
    doc = result.json()
    assert doc["code"] == "STALE_PLAN"
    assert doc["context"]["moved"] == [f"config {cfg} changed since the plan"]


def test_changed_secret_is_named(rv, db_url, plex_setup, tmp_path):
    cfg, env = plex_setup
    out = _plan_out(rv, cfg, db_url, tmp_path, env=env)
    result = rv(
        "apply", str(out), "--auto-approve", db=db_url, env={TOKEN_VAR: "rotated-token-value"}
    )
    assert result.code == 1
    assert "secret Living Room Plex.token changed since the plan" in result.err
    assert "rotated-token-value" not in result.err + result.out
    ok = rv("apply", str(out), "--auto-approve", db=db_url, env=env)
    assert ok.code == 0, ok.err


def test_database_change_in_one_collection_is_named(rv, db_url, engine, cfg, tmp_path):
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    (tmp_path / "media" / "movies" / "Big (1988).mkv").write_bytes(b"")
    out = _plan_out(rv, cfg, db_url, tmp_path)
    with engine.begin() as conn:  # an imperative `collection update` meanwhile
        conn.execute(
            update(Collection).where(Collection.c.name == "shows").values(ingestible_reason="poked")
        )
    result = rv("apply", str(out), "--auto-approve", "--json", db=db_url)
    assert result.code == 1
    assert result.json()["context"]["moved"] == [
        'collection "Library"/"shows" changed in the database since the plan'
    ]


def test_asset_change_in_an_ingested_collection_is_named(rv, db_url, engine, cfg, tmp_path):
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    (tmp_path / "media" / "movies" / "Big (1988).mkv").write_bytes(b"")
    out = _plan_out(rv, cfg, db_url, tmp_path)
    with engine.begin() as conn:  # touches assets only, not the collection row
        conn.execute(update(Asset).where(Asset.c.title == "Heat").values(change_token="edited"))
    result = rv("apply", str(out), "--auto-approve", "--json", db=db_url)
    assert result.code == 1
    assert result.json()["context"]["moved"] == [
        'collection "Library"/"movies": its assets changed in the database since the plan'
    ]


def _resealed(engine, out: Path, doc: dict) -> None:
    """Write an edited plan with a valid digest, as only a holder of the database key could."""
    with engine.connect() as conn:
        out.write_text(json.dumps(sealed(doc, database_key(conn))))


def test_schema_revision_is_checked(rv, db_url, engine, cfg, tmp_path):
    out = _plan_out(rv, cfg, db_url, tmp_path)
    doc = json.loads(out.read_text())
    doc["observed"]["schema_revision"] = "0000_older"
    _resealed(engine, out, doc)
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code == 1 and "database schema revision changed (0000_older ->" in result.err


def test_upstream_moving_is_not_staleness(rv, db_url, engine, cfg, tmp_path):
    out = _plan_out(rv, cfg, db_url, tmp_path)
    (tmp_path / "media" / "movies" / "Big (1988).mkv").write_bytes(b"")  # after the plan
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code == 0, result.err
    assert "ingested +3" in result.out and "upstream moved since the plan" in result.out
    assert _count(engine, Asset) == 3


def test_apply_plan_with_a_config_checked_out_elsewhere(rv, db_url, engine, cfg, tmp_path):
    out = _plan_out(rv, cfg, db_url, tmp_path)
    moved = tmp_path / "checkout" / "retrovue.yaml"
    moved.parent.mkdir()
    moved.write_bytes(cfg.read_bytes())
    cfg.unlink()
    missing = rv("apply", str(out), "--auto-approve", db=db_url)
    assert missing.code == 1 and "config file not found" in missing.err
    result = rv("apply", str(out), "-c", str(moved), "--auto-approve", db=db_url)
    assert result.code == 0, result.err


def test_saved_plan_with_flags_or_a_non_plan_file_is_refused(rv, db_url, cfg, tmp_path):
    out = _plan_out(rv, cfg, db_url, tmp_path)
    flagged = rv("apply", str(out), "--source", "Library", "--auto-approve", db=db_url)
    assert flagged.code == 1 and "fixed by the saved plan" in flagged.err
    printed = tmp_path / "printed.json"
    printed.write_text(rv("plan", "-c", str(cfg), "--json", db=db_url).out)
    result = rv("apply", str(printed), "--auto-approve", db=db_url)
    assert result.code == 1 and "is not a saved plan" in result.err
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{nope")
    assert "not valid JSON" in rv("apply", str(garbage), "--auto-approve", db=db_url).err


def test_a_saved_plan_applies_without_asking(rv, db_url, engine, cfg, tmp_path):
    """Issue 19, item 20 (this test once pinned the opposite): the saved plan is the reviewed
    artifact, so apply PLAN asks nothing, as Terraform does; `apply -c` still asks."""
    out = _plan_out(rv, cfg, db_url, tmp_path)
    result = rv("apply", str(out), db=db_url)
    assert result.code == 0, result.err
    assert "Do you want to perform these actions" not in result.err
    assert _count(engine, Source) == 1
    unsaved = rv("apply", "-c", str(cfg), db=db_url)  # nothing left to do: no question either
    assert unsaved.code == 0
    with engine.connect() as conn:  # and the lock was released on the way out
        assert conn.execute(text("select count(*) from apply_locks")).scalar_one() == 0


def test_apply_from_the_config_still_needs_approval_without_a_tty(rv, db_url, engine, cfg):
    result = rv("apply", "-c", str(cfg), db=db_url)
    assert result.code == 1 and "--auto-approve" in result.err
    assert _count(engine, Source) == 0


# --- the example pipeline -----------------------------------------------------------------------


def test_gitops_example_pipeline_steps(rv, db_url, cfg, tmp_path):
    example = ROOT / "examples" / "gitops"
    assert (
        rv(
            "validate",
            "-c",
            str(example / "retrovue.yaml"),
            env={"LIVING_ROOM_PLEX_TOKEN": "x" * 20},
        ).code
        == 0
    )
    workflow = yaml.safe_load((example / ".github" / "workflows" / "retrovue.yml").read_text())
    plan_steps = " ".join(s.get("run", "") for s in workflow["jobs"]["plan"]["steps"])
    apply_steps = " ".join(s.get("run", "") for s in workflow["jobs"]["apply"]["steps"])
    assert "retrovue validate" in plan_steps and "--out plan.json --format markdown" in plan_steps
    assert "retrovue apply plan.json --auto-approve" in apply_steps
    # the pipeline's two commands, as CI runs them: one observation gives plan.json and plan.md
    out = tmp_path / "plan.json"
    planned = rv(
        "plan",
        "-c",
        str(cfg),
        "--out",
        str(out),
        "--format",
        "markdown",
        "--detailed-exitcode",
        db=db_url,
    )
    assert planned.code == 2 and planned.out.startswith("### retrovue plan")
    assert json.loads(out.read_text())["has_changes"] is True
    applied = rv("apply", str(out), "--auto-approve", "--lock-timeout", "5", db=db_url)
    assert applied.code == 0, applied.err


# --- every action kind reloads as itself (the codec) -----------------------------------------------


def _saved_file(tmp_path, actions) -> Path:
    """A saved plan of these actions, written the way `plan --out` writes one."""
    plan = Plan(
        actions=tuple(actions),
        config_file="retrovue.yaml",
        config_hash="sha256:00",
        db_state=DbState("rev-1", "sha256:11"),
    )
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(saved_document(plan_to_json(plan), plan, SavedOptions())))
    return path


def test_imperative_actions_reload_as_themselves(tmp_path):
    """A one-row local_path edit once came back as a whole-set SetPathMappings (which would
    delete the collection's other mapping rows); deletes and wipes did not come back at all."""
    source = SourceAddress("Den Plex", uuid.uuid4())
    movies = CollectionAddress(source, "1", "Movies", uuid.uuid4())
    actions = (
        SetPathMappingLocal(movies, "/data/Movies", "/mnt/old", "/mnt/new"),
        WipeCollection(movies, assets=12, override_safety=True),
        DeleteSource(source, "plex", collections=1, path_mappings=2, assets=12),
    )
    saved = load_saved_plan(str(_saved_file(tmp_path, actions)))
    assert [a["kind"] for a in saved.document["actions"]] == [
        "set_path_mapping_local",
        "wipe_collection",
        "delete_source",
    ]
    rebuilt = decode_plan(saved.document)
    assert rebuilt.actions == actions
    assert type(rebuilt.actions[0]) is SetPathMappingLocal


@pytest.mark.parametrize("kind", ["set_path_mapping_local", "wipe_collection", "delete_source"])
def test_a_saved_plan_never_runs_an_imperative_only_action(tmp_path, kind):
    """issue 9, item 1: `plan --out` never writes these; one in the file was put there by hand
    (a delete_source with override_safety would remove aired assets), so it is refused."""
    source = SourceAddress("Den Plex", uuid.uuid4())
    movies = CollectionAddress(source, "1", "Movies", uuid.uuid4())
    action = {
        "set_path_mapping_local": SetPathMappingLocal(movies, "/data/Movies", None, "/mnt/x"),
        "wipe_collection": WipeCollection(movies, assets=12, override_safety=True),
        "delete_source": DeleteSource(source, "plex", override_safety=True),
    }[kind]
    saved = load_saved_plan(str(_saved_file(tmp_path, (action,))))
    with pytest.raises(PlanError, match=f"holds a {kind} action, which `retrovue plan` never"):
        plan_from_json(saved.document, DesiredState("retrovue.yaml", ()))


def test_unknown_action_kind_in_a_saved_plan_is_refused(tmp_path):
    path = _saved_file(tmp_path, ())
    doc = json.loads(path.read_text())
    doc["actions"] = [{"kind": "teleport_source", "change": True, "address": "x"}]
    path.write_text(json.dumps(doc))
    with pytest.raises(PlanError, match="unknown kind 'teleport_source'") as caught:
        load_saved_plan(str(path))
    assert caught.value.hint == "make the plan with this retrovue version"


def test_staleness_is_a_pure_comparison(tmp_path):
    """check_fresh compares against whatever observer it is handed: no database needed."""
    movies = CollectionAddress(SourceAddress("Library", uuid.uuid4()), "m", "movies", uuid.uuid4())
    ingest = IngestCollection(movies, IngestCounts(new=1), db_fingerprint="sha256:aa")
    saved = load_saved_plan(str(_saved_file(tmp_path, (ingest,))))
    desired = DesiredState("retrovue.yaml", (), config_hash="sha256:00")

    class Observer:
        def __init__(self, state: DbState, assets: str):
            self.state, self.assets, self.asked = state, assets, []

        def db_state(self) -> DbState:
            return self.state

        def asset_fingerprint(self, collection_id):
            self.asked.append(collection_id)
            return self.assets

        def key(self) -> bytes:
            return b"k" * 32

    same = Observer(DbState("rev-1", "sha256:11"), "sha256:aa")
    assert stale_reasons(saved, desired, same) == [] and same.asked == [movies.id]
    moved = Observer(DbState("rev-2", "sha256:11"), "sha256:bb")
    assert stale_reasons(saved, desired, moved) == [
        "database schema revision changed (rev-1 -> rev-2)",
        'collection "Library"/"movies": its assets changed in the database since the plan',
    ]


def test_saved_plan_module_runs_no_sql():
    tree = ast.parse((ROOT / "src" / "retrovue" / "plan" / "saved.py").read_text())
    modules = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {m for m in modules if m.split(".")[0] == "sqlalchemy"}
    assert not {m for m in modules if m.startswith("retrovue.database")}


@pytest.mark.parametrize("where", ["no/such/dir/plan.json", "a-file/plan.json"])
def test_a_plan_out_that_cannot_be_written_is_a_clear_error(rv, cfg, db_url, tmp_path, where):
    """Issue 19, item 16: `plan --out no/such/dir/p.plan` ended in `unexpected error:
    FileNotFoundError`."""
    (tmp_path / "a-file").write_text("")
    out = tmp_path / where
    result = rv("plan", "-c", str(cfg), "--out", str(out), db=db_url)
    assert result.code == 1
    assert f"cannot write the plan to {out}" in result.err and "unexpected" not in result.err
