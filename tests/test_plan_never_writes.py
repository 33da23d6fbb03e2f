"""`plan` never creates, migrates or writes a database; `validate` never opens one (issue 10,
"plan writes")."""

from __future__ import annotations

import pytest

from retrovue.database import migrate
from tests.empty_db import BACKENDS, empty_url, table_names
from tests.helpers import fs_config, make_tree


@pytest.fixture
def config(tmp_path):
    media = make_tree(tmp_path / "media", {"c": ["a.mkv", "b.mkv"]})
    return str(fs_config(tmp_path / "retrovue.yaml", media, {"c": True}))


@pytest.fixture(
    params=[b if b == "sqlite" else pytest.param(b, marks=pytest.mark.postgres) for b in BACKENDS]
)
def never_used(request, tmp_path) -> str:
    return empty_url(request, tmp_path, request.param)


def _untouched(url: str, tmp_path) -> bool:
    if url.startswith("sqlite"):
        return not (tmp_path / "never-used").exists()  # not even the directory
    return table_names(url) == set()


def test_plan_on_a_database_that_does_not_exist_plans_as_empty_and_creates_nothing(
    rv, never_used, config, tmp_path
):
    """Issue 10: a mistyped URL used to get a directory, a migrated database and exit 0; now the
    plan is made against an empty state with a note, and nothing is created."""
    result = rv("plan", "-c", config, db=never_used)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[-1].startswith("Plan: 1 source to create")
    assert lines[-2].startswith("Note: database ") and "planned as empty" in lines[-2]
    assert _untouched(never_used, tmp_path)


def test_the_note_is_in_json_and_markdown(rv, never_used, config, tmp_path):
    """Issue 10: the note is a field of the JSON plan and a line of the markdown plan."""
    doc = rv("plan", "-c", config, "--json", db=never_used).json()
    (note,) = doc["notes"]
    assert "planned as empty" in note
    markdown = rv("plan", "-c", config, "--format", "markdown", db=never_used).out
    assert f"> Note: {note}" in markdown
    assert _untouched(never_used, tmp_path)


def test_a_plan_of_an_existing_database_has_no_note(rv, db_url, config):
    """Issue 10: the note says something only when the database is not there."""
    doc = rv("plan", "-c", config, "--json", db=db_url).json()
    assert doc["notes"] == []
    assert "Note:" not in rv("plan", "-c", config, db=db_url).out


def test_plan_out_creates_no_database_either(rv, never_used, config, tmp_path):
    """Issue 10: saving the plan (`--out`) is still planning: the database stays as it was."""
    rv("plan", "-c", config, "--out", str(tmp_path / "plan.json"), db=never_used)
    assert _untouched(never_used, tmp_path)
    applied = rv("apply", "-c", config, "--auto-approve", db=never_used)
    assert applied.code == 0, applied.err  # apply is what creates it
    assert rv("plan", "-c", config, "--detailed-exitcode", db=never_used).code == 0


def test_validate_never_opens_a_database(rv, config, tmp_path):
    """Issue 10: validate touches no database, even an unreachable one."""
    assert rv("validate", "-c", config, db=f"sqlite:///{tmp_path}/none/x.db").code == 0
    assert not (tmp_path / "none").exists()
    unreachable = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    assert rv("validate", "-c", config, db=unreachable).code == 0


def test_db_current_creates_nothing(rv, tmp_path):
    """Issue 10: reading where the schema stands is a read."""
    doc = rv("db", "current", "--json", db=f"sqlite:///{tmp_path}/none/x.db").json()
    assert doc["current"] is None and doc["head"] == migrate.head_revision()
    assert doc["schema"] == "missing"
    assert not (tmp_path / "none").exists()
