"""`retrovue lock show | release [--scope database|source NAME] [--force]`: inspect and clear
stuck locks (the whole database's, or one source's)."""

from __future__ import annotations

import click

from retrovue.app import admin
from retrovue.cli.console import Console
from retrovue.cli.options import common_options


@click.group()
def lock() -> None:
    """Inspect or release the apply lock."""


def _title(info) -> str:
    # the whole database's lock keeps its historical name
    return "apply lock" if info.scope.is_database else f"{info.scope} lock"


def _describe(info) -> str:
    state = "stale: the holder is gone" if info.stale else "held"
    text = (
        f"{_title(info)}: {state}\n"
        f"  holder:  {info.holder}\n"
        f"  host:    {info.host}\n"
        f"  pid:     {info.pid}\n"
        f"  command: {info.command}\n"
        f"  since:   {info.started_at.isoformat(timespec='seconds') if info.started_at else '?'}\n"
    )
    if info.heartbeat_at is not None:  # SQLite: the holder's last sign of life
        text += f"  heartbeat: {info.heartbeat_at.isoformat(timespec='seconds')}\n"
    return text


@lock.command("show")
@common_options
def show(console: Console) -> None:
    """Show who holds the apply lock and each source's lock, and whether each holder is alive."""
    locks = admin.list_locks(console.ctx)
    whole = next((i for i in locks if i.scope.is_database), None)
    if console.json_output:
        console.emit_json(
            {
                "status": "ok",
                "locked": whole is not None,
                "lock": whole.to_json() if whole else None,
                "locks": [i.to_json() for i in locks],
            }
        )
        return
    if whole is None:
        console.out("apply lock: free\n")
    for info in locks:
        console.out(_describe(info))


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
        console.emit_json(
            {"status": "ok", "released": info is not None, "lock": info.to_json() if info else None}
        )
    elif info is None:
        what = "apply lock" if scope.is_database else f"{scope} lock"
        console.out(f"{what}: free (nothing to release)\n")
    elif scope.is_database:
        console.out(f"released the apply lock of {info.describe()}\n")
    else:
        console.out(f"released the lock on {scope} of {info.describe()}\n")
