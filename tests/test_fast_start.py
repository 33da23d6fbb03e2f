"""The CLI starts fast: commands load only when they run (issue 12, fast start)."""

from __future__ import annotations

import subprocess
import sys

import click

from retrovue.cli.main import COMMANDS, cli


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
