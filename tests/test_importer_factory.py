"""Issue 18: one importer factory.  Every importer made from a stored source (by a command or by
the executor) has its ``${VAR}`` secrets read, its stored config checked against the importer's
parameters, and its secret values learnt for redaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from retrovue.app.collection_read import show_collection
from retrovue.app.context import Context
from retrovue.database.tables import Collection, Source
from retrovue.errors import ImporterUnavailableError, SecretNotSetError, StoredConfigError
from retrovue.execute.executor import Executor
from retrovue.importers.factory import ImporterFactory
from retrovue.importers.registry import load_registry
from retrovue.model.actions import CollectionAddress, IngestCollection, Plan, SourceAddress
from retrovue.model.counts import IngestCounts
from retrovue.model.enums import RunStatus
from retrovue.redact import REDACTED
from tests.imperative_helpers import add_fs, media_fixture, one_json  # noqa: F401

PLEX = {"base_url": "http://plex.invalid:32400", "token": "${PLEX_TOKEN}"}


@pytest.fixture
def registry():
    return load_registry(include_plugins=False)


def _factory(registry, environ, learnt=None) -> ImporterFactory:
    return ImporterFactory(registry, environ, (learnt if learnt is not None else []).append)


# --- the factory --------------------------------------------------------------------------------


def test_it_reads_the_reference_and_learns_the_secret(registry):
    learnt: list[str] = []
    importer = _factory(registry, {"PLEX_TOKEN": "tok-123456"}, learnt).create("plex", PLEX, "Den")
    assert importer.config["token"] == "tok-123456" and learnt == ["tok-123456"]


def test_an_unset_reference_names_the_source_and_the_variable(registry):
    with pytest.raises(SecretNotSetError, match="source 'Den': its token comes from .*PLEX_TOKEN"):
        _factory(registry, {}).create("plex", PLEX, "Den")


def test_a_local_check_leaves_an_unset_reference_alone(registry):
    learnt: list[str] = []
    importer = _factory(registry, {}, learnt).for_local_checks("plex", PLEX, "Den")
    assert importer.config["token"] == "${PLEX_TOKEN}" and learnt == []  # a reference is no secret


def test_a_literal_secret_is_learnt_either_way(registry):
    learnt: list[str] = []
    factory = _factory(registry, {}, learnt)
    literal = {**PLEX, "token": "literal-token"}
    factory.create("plex", literal, "Den")
    factory.for_local_checks("plex", literal, "Den")
    assert learnt == ["literal-token", "literal-token"]


@pytest.mark.parametrize(
    "config, problem",
    [
        ({"base_path": "/m", "colour": "red"}, "unknown parameter 'colour'"),
        ({"extensions": ["mkv"]}, "missing required parameter 'base_path'"),
        ({"base_path": None}, "missing required parameter 'base_path'"),
    ],
)
def test_a_stored_config_that_does_not_fit_is_refused(registry, config, problem):
    for make in ("create", "for_local_checks"):
        with pytest.raises(StoredConfigError) as caught:
            getattr(_factory(registry, {}), make)("filesystem", config, "Films")
        error = caught.value
        assert error.message == (
            f"source 'Films': its stored config does not fit the filesystem importer: {problem}"
        )
        assert error.code == "STORED_CONFIG_INVALID" and "base_path (required)" in error.hint


def test_an_unavailable_type_is_refused_naming_the_source(registry):
    with pytest.raises(ImporterUnavailableError) as caught:
        _factory(registry, {}).create("kodi", {}, "Old")
    assert caught.value.hint == "source 'Old' has type 'kodi', which no loaded importer provides"


# --- its callers --------------------------------------------------------------------------------


@pytest.fixture
def library(rv, db_url, media, engine):
    """A filesystem source 'Library' with its collections discovered and Movies sync-enabled."""
    add_fs(rv, db_url, media)
    with engine.connect() as conn:
        sid, cid = conn.execute(
            select(Collection.c.source_id, Collection.c.id).where(Collection.c.name == "Movies")
        ).one()
    assert rv("collection", "update", str(cid), "--sync-enable", db=db_url).code == 0
    return sid, cid


def _store(engine, **changes) -> None:
    with engine.begin() as conn:
        config = dict(conn.execute(select(Source.c.config)).scalar_one())
        conn.execute(update(Source).values(config={**config, **changes}))


def test_the_executor_checks_the_stored_config(engine, library):
    """It used to hand the importer whatever the row held."""
    sid, cid = library
    _store(engine, colour="red")
    address = CollectionAddress(SourceAddress("Library", sid), "Movies", "Movies", cid)
    plan = Plan((IngestCollection(address, IngestCounts(new=2)),))
    (failed,) = Executor(engine, load_registry()).execute(plan).ingests
    assert failed.status == RunStatus.FAILED and isinstance(failed.error, StoredConfigError)


def test_the_executor_uses_the_factory_it_is_given(engine, library):
    sid, cid = library
    made = []

    class Recording(ImporterFactory):
        def create(self, type_id, stored, source):
            made.append(source)
            return super().create(type_id, stored, source)

    address = CollectionAddress(SourceAddress("Library", sid), "Movies", "Movies", cid)
    plan = Plan((IngestCollection(address, IngestCounts(new=2)),))
    registry = load_registry()
    executor = Executor(engine, registry, importers=Recording(registry))
    (done,) = executor.execute(plan).ingests
    assert done.status == RunStatus.OK and made == ["Library"]


def test_a_contexts_executor_makes_importers_with_the_contexts_factory(db_url, library):
    ctx = Context(db_url=db_url)
    try:
        assert ctx.executor().importers is ctx.importers
    finally:
        ctx.close()


def test_a_command_refuses_a_stored_config_that_does_not_fit(rv, db_url, engine, library):
    _store(engine, colour="red")
    result = rv("collection", "ingest", str(library[1]), "--json", db=db_url)
    assert result.code == 1
    doc = one_json(result.out)
    assert doc["code"] == "STORED_CONFIG_INVALID" and "unknown parameter 'colour'" in doc["message"]


def test_a_context_learns_the_secrets_of_the_importers_it_makes(
    db_url, engine, library, monkeypatch
):
    ctx = Context(db_url=db_url)
    try:
        with engine.begin() as conn:
            conn.execute(update(Source).values(type="plex", config=PLEX))
        monkeypatch.setenv("PLEX_TOKEN", "secret-from-env")
        (source,) = ctx.snapshot().sources
        assert ctx.scrub("secret-from-env") == "secret-from-env"  # a stored reference is shown
        ctx.importer_for(source)
        assert ctx.scrub("token secret-from-env") == f"token {REDACTED}"
    finally:
        ctx.close()


def test_collection_show_does_not_need_an_unset_secret(db_url, engine, library, monkeypatch):
    """Its ingestibility reason checks local paths only: an unset ${VAR} does not fail it."""
    with engine.begin() as conn:
        conn.execute(update(Source).values(type="plex", config=PLEX))
    monkeypatch.delenv("PLEX_TOKEN", raising=False)
    ctx = Context(db_url=db_url)
    try:
        detail = show_collection(ctx, str(library[1]))
        assert detail.ingestible_reason is not None  # plex: Movies has no path mapping
    finally:
        ctx.close()
