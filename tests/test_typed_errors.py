"""Issue 18: an error raised deep in a unit of work keeps its class, code, hint and exit code up
to the command that reports it; nothing above it re-classifies it from its text."""

from __future__ import annotations

import pytest

from retrovue.app.collection_ingest import IngestRequest, ingest_collection
from retrovue.app.collection_read import list_collections
from retrovue.app.collection_update import UpdateRequest, commit_update, preview_update
from retrovue.app.collection_wipe import plan_wipe, wipe_collection
from retrovue.app.context import Context
from retrovue.app.source_add import AddRequest, add_source
from retrovue.app.source_delete import delete_sources, plan_delete
from retrovue.errors import (
    ConcurrentModificationError,
    ConfigError,
    DatabaseError,
    Diagnostic,
    ImporterUnreachableError,
    ProductionSafetyError,
    RetrovueError,
    rolled_back,
)
from tests.helpers import make_tree
from tests.imperative_helpers import LAYOUT, one_json

HINT = "run it again once the other writer is done"


@pytest.fixture
def ctx(db_url):
    context = Context(db_url=db_url)
    yield context
    context.close()


@pytest.fixture
def movies(ctx, tmp_path):
    """Sources 'Alpha' and 'Beta' with their collections discovered; Alpha's Movies id."""
    media = make_tree(tmp_path / "media", LAYOUT)
    for name in ("Alpha", "Beta"):
        add_source(ctx, AddRequest("filesystem", name, {"base_path": str(media)}, discover=True))
    return next(
        str(e.collection.id)
        for e in list_collections(ctx, "Alpha").entries
        if e.collection.name == "Movies"
    )


def _failing_units(monkeypatch, *errors: BaseException) -> None:
    """Every source-level unit from now on fails with the next of ``errors``."""
    pending = list(errors)

    def fail(*_args, **_kwargs):
        raise pending.pop(0) if len(pending) > 1 else pending[0]

    monkeypatch.setattr("retrovue.execute.executor.apply_source_action", fail)


# --- the error itself ---------------------------------------------------------------------------


def test_a_restated_error_keeps_its_class_code_and_exit_code():
    deep = ImporterUnreachableError("no route to host", hint="is it on?", context={"a": 1})
    deep.code = "PLUGIN_CODE"  # a code set on the instance stays too
    said = deep.prefixed("Failed to list")
    assert type(said) is ImporterUnreachableError and said is not deep
    assert (said.message, said.hint, said.code, said.exit_code, said.context) == (
        "Failed to list: no route to host",
        "is it on?",
        "PLUGIN_CODE",
        3,
        {"a": 1},
    )
    assert deep.message == "no route to host"  # the original is untouched


def test_an_error_whose_constructor_takes_other_arguments_can_be_restated():
    config = ConfigError([Diagnostic("bad", "f.yaml", 1)])
    said = config.restated("elsewhere")
    assert type(said) is ConfigError and said.diagnostics == config.diagnostics


def test_only_an_untyped_failure_is_said_to_have_failed_the_transaction():
    typed = DatabaseError("Database operation failed on x: locked", hint=HINT)
    assert rolled_back(typed) is typed
    untyped = rolled_back(RetrovueError("source 'a' no longer exists"))
    assert untyped.message == "Transaction failed: source 'a' no longer exists"
    assert untyped.code == "ERROR"


# --- through the use cases, on both backends ----------------------------------------------------


def test_a_source_unit_raises_the_typed_error_that_rolled_it_back(ctx, movies, monkeypatch):
    """It used to be a DatabaseError 'Transaction failed: …' without the code or the hint."""
    _failing_units(monkeypatch, ConcurrentModificationError("changed meanwhile", hint=HINT))
    preview = preview_update(ctx, UpdateRequest(movies, sync_enable=True))
    with pytest.raises(ConcurrentModificationError) as caught:
        commit_update(ctx, preview)
    assert (caught.value.code, caught.value.message, caught.value.hint) == (
        "CONCURRENT_MODIFICATION",
        "changed meanwhile",
        HINT,
    )


def test_a_database_failure_in_a_source_unit_keeps_its_hint(ctx, movies, monkeypatch):
    deep = DatabaseError("Database operation failed on x: database is locked", hint=HINT)
    _failing_units(monkeypatch, deep)
    preview = preview_update(ctx, UpdateRequest(movies, sync_enable=True))
    with pytest.raises(DatabaseError) as caught:
        commit_update(ctx, preview)
    assert caught.value.message == deep.message and caught.value.hint == HINT


def test_a_delete_that_failed_keeps_its_error_and_names_the_source(ctx, movies, monkeypatch):
    _failing_units(monkeypatch, ConcurrentModificationError("changed meanwhile", hint=HINT))
    preview = plan_delete(ctx, "Alpha", force=False, dry_run=False)
    with pytest.raises(ConcurrentModificationError) as caught:
        delete_sources(ctx, preview)
    error = caught.value
    assert error.message == "Source 'Alpha' was not deleted: changed meanwhile"
    assert error.hint == HINT and error.details["targets_skipped"] == 1


def test_a_failure_is_not_production_safety_because_its_text_says_so(ctx, movies, monkeypatch):
    """Which error a refused delete raises comes from the units' error classes: a failure whose
    message happens to start like a safety refusal is no safety refusal."""
    _failing_units(
        monkeypatch,
        ProductionSafetyError("production safety: 1 aired asset(s)"),
        RetrovueError("production safety checks could not run: the row moved"),
    )
    preview = plan_delete(ctx, "*", force=False, dry_run=False)
    with pytest.raises(RetrovueError) as caught:
        delete_sources(ctx, preview)
    assert type(caught.value) is DatabaseError and caught.value.message == "No sources were deleted"


def test_a_wipe_that_failed_keeps_the_database_error_and_its_hint(ctx, movies, monkeypatch):
    wipe = plan_wipe(ctx, movies, force=False, dry_run=False)
    deep = DatabaseError("Database operation failed on x: database is locked", hint=HINT)
    _failing_units(monkeypatch, deep)
    with pytest.raises(DatabaseError) as caught:
        wipe_collection(ctx, wipe)
    assert caught.value.message == deep.message and caught.value.hint == HINT


def test_an_ingest_that_failed_keeps_the_database_errors_hint(ctx, movies, monkeypatch):
    commit_update(ctx, preview_update(ctx, UpdateRequest(movies, sync_enable=True)))
    deep = DatabaseError("Database operation failed on x: database is locked", hint=HINT)

    def fail(*_args, **_kwargs):
        raise deep

    monkeypatch.setattr("retrovue.execute.executor.ingest_collection", fail)
    with pytest.raises(DatabaseError) as caught:
        ingest_collection(ctx, IngestRequest(movies))
    assert caught.value.message == deep.message and caught.value.hint == HINT
    assert caught.value.details["collection_id"] == movies


def test_an_untyped_ingest_failure_is_no_database_error(ctx, movies, monkeypatch):
    commit_update(ctx, preview_update(ctx, UpdateRequest(movies, sync_enable=True)))

    def fail(*_args, **_kwargs):
        raise RuntimeError("the importer broke")

    monkeypatch.setattr("retrovue.execute.executor.ingest_collection", fail)
    with pytest.raises(RetrovueError) as caught:
        ingest_collection(ctx, IngestRequest(movies))
    assert type(caught.value) is RetrovueError and caught.value.code == "ERROR"
    assert caught.value.message == "Transaction failed: RuntimeError: the importer broke"


def test_the_cli_reports_the_deep_code_and_hint(rv, db_url, ctx, movies, monkeypatch):
    _failing_units(monkeypatch, ConcurrentModificationError("changed meanwhile", hint=HINT))
    result = rv("collection", "update", movies, "--sync-enable", "--json", db=db_url)
    assert result.code == 1
    assert one_json(result.out)["code"] == "CONCURRENT_MODIFICATION"
    assert result.err.splitlines()[-2:] == ["Error: changed meanwhile", f"  {HINT}"]
