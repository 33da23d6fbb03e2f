"""The CLI starts fast: commands load only when they run (issue 12, fast start)."""

from __future__ import annotations

import os
import subprocess
import sys

import click

from retrovue.cli.main import COMMANDS, cli
from tests.helpers import fs_config, make_tree


def test_every_command_is_listed_with_its_own_help():
    ctx = click.Context(cli)
    for name, (_module, _attribute, summary) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(limit=1000) == summary, name


def test_version_imports_no_orm_no_alembic_no_plexapi():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "retrovue", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "version" in result.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    heavy = {"plexapi", "alembic", "sqlalchemy.orm", "sqlalchemy", "jsonschema", "structlog"}
    assert imported & heavy == set()


def test_help_lists_commands_without_importing_them():
    code = (
        "import sys; from click.testing import CliRunner; from retrovue.cli.main import cli; "
        "r = CliRunner().invoke(cli, ['--help']); assert 'validate' in r.output, r.output; "
        "print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'plexapi', 'alembic'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _imported(stderr: str) -> set[str]:
    """Modules named by -X importtime (``importlib.import_module`` ones are not listed, their
    own imports are)."""
    return {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if "|" in line}


def _run_timed_imports(tmp_path, *args: str) -> tuple[str, set[str]]:
    """``retrovue ARGS`` under -X importtime at the default log level: (stdout, imported)."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    env.pop("RETROVUE_LOG_LEVEL", None)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "retrovue", *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return result.stdout, _imported(result.stderr)


def _one_file_config(tmp_path):
    return fs_config(tmp_path / "r.yaml", make_tree(tmp_path / "m", {"c": ["a.mkv"]}), {"c": True})


def test_no_change_plan_imports_no_alembic_no_plexapi_no_rich(tmp_path):
    """Issue 12: a no-change plan of a filesystem source on a migrated database reads the schema
    revision without Alembic, loads no Plex importer and, logging nothing, no structlog/rich;
    the tables are Core tables, so no ``sqlalchemy.orm`` either."""
    config = _one_file_config(tmp_path)
    db = f"sqlite:///{tmp_path}/db.sqlite"
    _run_timed_imports(tmp_path, "apply", "-c", str(config), "--auto-approve", "--db", db)
    out, imported = _run_timed_imports(tmp_path, "plan", "-c", str(config), "--db", db)
    assert "No changes." in out
    assert "sqlalchemy" in imported and "retrovue.importers.naming" in imported  # it did plan
    heavy = {
        "alembic",
        "plexapi",
        "requests",
        "structlog",
        "rich",
        "pygments",
        "mako",
        "sqlalchemy.orm",
    }
    assert imported & heavy == set()


def test_apply_at_the_default_level_drops_info_lines_without_loading_structlog(tmp_path):
    """The executor logs each committed unit at info; below the level shown (warning unless
    -v or RETROVUE_LOG_LEVEL says otherwise) such a call must not cost structlog's ~30 ms import.
    test_logging_progress shows the same lines do appear at info."""
    config = _one_file_config(tmp_path)
    out, imported = _run_timed_imports(
        tmp_path, "apply", "-c", str(config), "--auto-approve", "--db", f"sqlite:///{tmp_path}/db"
    )
    assert "Apply complete!" in out
    assert "retrovue.execute.executor" in imported  # it did write
    assert "structlog" not in imported
