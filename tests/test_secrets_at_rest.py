"""Secrets at rest (issue 9, item 12): a token the config gives as ``${VAR}`` is stored as that
reference and read from the environment when an importer is made; a literal one is stored as
written and ``validate`` warns about it; fingerprints of secrets are keyed with the database's
key, never a bare hash."""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml
from sqlalchemy import select

from retrovue.config.validate import load_config
from retrovue.database.tables import Asset, Collection, Source
from retrovue.execute.executor import Executor
from retrovue.importers.registry import load_registry
from retrovue.model.actions import CollectionAddress, IngestCollection, Plan, SourceAddress
from retrovue.model.counts import IngestCounts
from retrovue.model.enums import RunStatus
from tests.imperative_helpers import snapshot_tables

VAR = "PLEX_TOKEN"
SOURCE = "Living Room Plex"


@pytest.fixture
def plex(fake_plex, tmp_path):
    """A fake Plex with one movie section mapped to a local folder."""
    local = tmp_path / "nas" / "Movies"
    local.mkdir(parents=True)
    fake_plex.section = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    fake_plex.add_movie(fake_plex.section, "Heat", year=1995)
    fake_plex.add_movie(fake_plex.section, "Alien", year=1979)
    fake_plex.local = local
    return fake_plex


def _config(tmp_path, plex, token, name="retrovue.yaml"):
    doc = {
        "version": 1,
        "sources": [
            {
                "name": SOURCE,
                "type": "plex",
                "config": {"base_url": plex.url, "token": token},
                "collections": [
                    {
                        "name": "Movies",
                        "sync": True,
                        "path_mappings": [
                            {"plex_path": "/data/Movies", "local_path": str(plex.local)}
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _stored_token(engine):
    with engine.connect() as conn:
        return conn.execute(select(Source.c.config)).scalar_one()["token"]


def _assets(engine) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(Asset.c.id)).all())


@pytest.fixture
def applied(rv, db_url, engine, tmp_path, plex):
    """The source applied from a config that says ${PLEX_TOKEN}."""
    cfg = _config(tmp_path, plex, "${" + VAR + "}")
    result = rv("apply", "-c", str(cfg), "--auto-approve", db=db_url, env={VAR: plex.token})
    assert result.code == 0, result.err
    return cfg


# --- the reference is what is stored -------------------------------------------------------------


@pytest.mark.parametrize("saved", [False, True], ids=["apply-config", "apply-saved-plan"])
def test_a_referenced_token_is_stored_as_its_reference(rv, db_url, engine, tmp_path, plex, saved):
    """issue 9, item 12: the database holds ${PLEX_TOKEN}, not the token, on either path."""
    cfg = _config(tmp_path, plex, "${" + VAR + "}")
    env = {VAR: plex.token}
    if saved:
        out = tmp_path / "plan.json"
        assert rv("plan", "-c", str(cfg), "--out", str(out), db=db_url, env=env).code == 0
        result = rv("apply", str(out), "--auto-approve", db=db_url, env=env)
    else:
        result = rv("apply", "-c", str(cfg), "--auto-approve", db=db_url, env=env)
    assert result.code == 0, result.err
    assert _stored_token(engine) == "${PLEX_TOKEN}"
    assert plex.token not in json.dumps(snapshot_tables(db_url))
    assert _assets(engine) == 2  # and the importer read the token from the environment


def test_a_rotated_token_changes_nothing_in_the_database(rv, db_url, engine, applied, plex):
    """issue 9, item 12: rotating the secret is an environment change only."""
    plex.token = "rotated-token-0123456789"
    plex.add_movie(plex.section, "Big", year=1988)
    env = {VAR: plex.token}
    plan = rv("plan", "-c", str(applied), db=db_url, env=env)
    assert plan.code == 0 and "config.token" not in plan.out
    assert rv("apply", "-c", str(applied), "--auto-approve", db=db_url, env=env).code == 0
    assert _stored_token(engine) == "${PLEX_TOKEN}" and _assets(engine) == 3


def test_an_imperative_ingest_reads_the_variable_at_run_time(rv, db_url, engine, applied, plex):
    """issue 9, item 12: commands without the config resolve the stored reference; an unset
    variable is one clear error naming it."""
    plex.add_movie(plex.section, "Big", year=1988)
    unset = rv("source", "ingest", SOURCE, db=db_url)
    assert unset.code == 1
    assert [line for line in unset.err.splitlines() if line.startswith("Error:")] == [
        f"Error: source '{SOURCE}': its token comes from the environment variable PLEX_TOKEN, "
        "which is not set"
    ]
    assert "Traceback" not in unset.err and _assets(engine) == 2
    ok = rv("source", "ingest", SOURCE, db=db_url, env={VAR: plex.token})
    assert ok.code == 0, ok.err
    assert _assets(engine) == 3
    assert plex.token not in ok.out + ok.err


def test_the_executor_resolves_the_reference_itself(rv, db_url, engine, applied, plex, monkeypatch):
    """issue 9, item 12: the one importer the executor makes from a stored row reads the
    variable too, and an unset one fails that collection with its name."""
    plex.add_movie(plex.section, "Big", year=1988)
    with engine.connect() as conn:
        sid, cid = conn.execute(select(Collection.c.source_id, Collection.c.id)).one()
    ingest = IngestCollection(
        CollectionAddress(SourceAddress(SOURCE, sid), "1", "Movies", cid), IngestCounts(new=1)
    )
    monkeypatch.delenv(VAR, raising=False)
    (failed,) = Executor(engine, load_registry()).execute(Plan((ingest,))).ingests
    assert failed.status == RunStatus.FAILED
    assert "environment variable PLEX_TOKEN, which is not set" in failed.error.message
    monkeypatch.setenv(VAR, plex.token)
    (done,) = Executor(engine, load_registry()).execute(Plan((ingest,))).ingests
    assert done.status == RunStatus.OK and _assets(engine) == 3


def test_source_show_and_export_name_the_variable(rv, db_url, applied, plex):
    """issue 9, item 12: the stored reference is no secret; the token never shows."""
    shown = rv("source", "show", SOURCE, db=db_url, env={VAR: plex.token})
    assert shown.code == 0, shown.err
    assert plex.token not in shown.out
    exported = rv("export", db=db_url)
    assert 'token: "${PLEX_TOKEN}"' in exported.out


# --- literal tokens --------------------------------------------------------------------------------


def test_validate_warns_about_a_literal_token(rv, tmp_path, plex):
    """issue 9, item 12: valid (exit 0), but said on stderr, without the value."""
    literal = _config(tmp_path, plex, "literal-token-value-42")
    result = rv("validate", "-c", str(literal))
    assert result.code == 0
    (warning,) = [line for line in result.err.splitlines() if line.startswith("Warning:")]
    assert f"{literal}:" in warning and "token: a secret written in clear" in warning
    assert "$.sources[0].config.token" in warning
    assert "literal-token-value-42" not in result.out + result.err
    referenced = _config(tmp_path, plex, "${" + VAR + "}", "referenced.yaml")
    quiet = rv("validate", "-c", str(referenced), env={VAR: "x" * 20})
    assert quiet.code == 0 and "Warning" not in quiet.err


def test_validate_warns_about_references_that_cannot_stay_references(tmp_path, plex):
    """issue 9, item 12: a default written in clear, or a reference inside a longer value."""
    registry = load_registry()
    with_default = _config(tmp_path, plex, "${PLEX_TOKEN:-fallback-token}", "a.yaml")
    (warning,) = load_config(str(with_default), registry, {}).warnings
    assert "default of this reference is a secret written in clear" in warning.message
    mixed = _config(tmp_path, plex, "Bearer ${PLEX_TOKEN}", "b.yaml")
    (warning,) = load_config(str(mixed), registry, {VAR: "t"}).warnings
    assert "only a value that is one ${VAR}" in warning.message
    escaped = _config(tmp_path, plex, "$${NOT_A_REFERENCE}", "c.yaml")
    (warning,) = load_config(str(escaped), registry, {}).warnings
    assert "a secret written in clear" in warning.message


def test_a_literal_token_is_stored_as_written_until_the_file_says_var(
    rv, db_url, engine, tmp_path, plex
):
    """issue 9, item 12: a literal is stored as written (documented); switching the file to a
    reference is a sensitive update that moves the secret out of the database."""
    literal = _config(tmp_path, plex, plex.token)
    assert rv("apply", "-c", str(literal), "--auto-approve", db=db_url).code == 0
    assert _stored_token(engine) == plex.token
    referenced = _config(tmp_path, plex, "${" + VAR + "}")
    env = {VAR: plex.token}
    plan = rv("plan", "-c", str(referenced), db=db_url, env=env)
    assert "~ config.token: (sensitive) -> (sensitive)" in plan.out
    assert rv("apply", "-c", str(referenced), "--auto-approve", db=db_url, env=env).code == 0
    assert _stored_token(engine) == "${PLEX_TOKEN}"


# --- keyed fingerprints ----------------------------------------------------------------------------


def test_secret_fingerprints_are_keyed_by_the_database(rv, db_url, tmp_path, plex):
    """issue 9, item 12: no bare hash of the token; each database keys its own."""
    cfg = _config(tmp_path, plex, "${" + VAR + "}")
    env = {VAR: plex.token}
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert rv("db", "upgrade", db=other).code == 0
    prints = []
    for i, url in enumerate((db_url, other)):
        out = tmp_path / f"plan{i}.json"
        assert rv("plan", "-c", str(cfg), "--out", str(out), db=url, env=env).code == 0
        prints.append(json.loads(out.read_text())["secret_fingerprints"][f"{SOURCE}.token"])
    bare = hashlib.sha256(plex.token.encode()).hexdigest()
    assert all(p.startswith("hmac-sha256:") and p.split(":")[1] not in bare for p in prints)
    assert prints[0] != prints[1]


def test_a_stored_source_is_fingerprinted_with_the_key(rv, db_url, tmp_path, plex):
    """issue 9, item 12: a source row's fingerprint covers its config (a literal token may be in
    it), so it is keyed too; plan --json carries no secret fingerprint at all."""
    literal = _config(tmp_path, plex, plex.token)
    assert rv("apply", "-c", str(literal), "--auto-approve", db=db_url).code == 0
    out = tmp_path / "plan.json"
    assert rv("plan", "-c", str(literal), "--out", str(out), db=db_url).code == 0
    (source,) = json.loads(out.read_text())["observed"]["sources"].values()
    assert source["fingerprint"].startswith("hmac-sha256:")
    printed = rv("plan", "-c", str(literal), "--json", db=db_url).json()
    assert printed["secret_fingerprints"] == {}


def test_the_database_key_is_made_with_the_schema(engine):
    """issue 9, items 1 and 12: every migrated database has its own 32-byte key."""
    from retrovue.observe.keys import database_key

    with engine.connect() as conn:
        key = database_key(conn)
    assert len(key) == 32 and key != bytes(32)
