"""`retrovue lock show | release [--scope database|source NAME] [--force]`: inspect and clear
stuck locks (the whole database's, or one source's)."""

from __future__ import annotations

import click

from retrovue.app import admin
from retrovue.cli.console import Console
from retrovue.cli.options import common_options
from retrovue.render import locks as view


@click.group()
def lock() -> None:
    """Inspect or release the apply lock."""


@lock.command("show")
@common_options
def show(console: Console) -> None:
    """Show who holds the apply lock and each source's lock, and whether each holder is alive."""
    console.show(admin.list_locks(console.ctx), view.show_document, view.show_text)


@lock.command("release")
@click.option(
    "--scope",
    "scope_kind",
    type=click.Choice(["database", "source"]),
    default="database",
    show_default=True,
    help="Which lock: the whole database's, or the source NAME's.",
)
@click.argument("name", required=False)
@click.option("--force", is_flag=True, help="Release even when the holder looks alive.")
@common_options
def release(console: Console, scope_kind: str, name: str | None, force: bool) -> None:
    """Release a stale lock (a live one only with --force).  NAME: with --scope source, the
    source (id, external_id or name)."""
    if (scope_kind == "source") != (name is not None):
        raise click.UsageError(
            "--scope source takes the source's NAME; the whole database's lock takes none"
        )
    scope = admin.lock_scope(console.ctx, name)
    info = admin.release_lock(console.ctx, force, scope)
    if console.json_output:
        console.emit_json(view.release_document(info))
    else:
        console.out(view.release_text(scope, info))
