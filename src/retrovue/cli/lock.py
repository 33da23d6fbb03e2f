"""`retrovue lock show | release [--force]`: inspect and clear a stuck apply lock (DESIGN §5)."""

from __future__ import annotations

import click

from retrovue.cli.context import AppContext
from retrovue.cli.options import common_options
from retrovue.execute.lock import LockInfo, release_lock, show_lock


@click.group()
def lock() -> None:
    """Inspect or release the apply lock."""


def _describe(info: LockInfo) -> str:
    state = "stale: the holder is gone" if info.stale else "held"
    return (
        f"apply lock: {state}\n"
        f"  holder:  {info.holder}\n"
        f"  host:    {info.host}\n"
        f"  pid:     {info.pid}\n"
        f"  command: {info.command}\n"
        f"  since:   {info.started_at.isoformat(timespec='seconds') if info.started_at else '?'}\n"
    )


@lock.command("show")
@common_options
def show(app: AppContext) -> None:
    """Show who holds the apply lock, and whether that holder is still alive."""
    info = show_lock(app.engine)
    if app.json_output:
        app.emit_json(
            {"status": "ok", "locked": info is not None, "lock": info.to_json() if info else None}
        )
    elif info is None:
        app.out("apply lock: free\n")
    else:
        app.out(_describe(info))


@lock.command("release")
@click.option("--force", is_flag=True, help="Release even when the holder looks alive.")
@common_options
def release(app: AppContext, force: bool) -> None:
    """Release a stale apply lock (a live one only with --force)."""
    info = release_lock(app.engine, force=force)
    if app.json_output:
        app.emit_json(
            {"status": "ok", "released": info is not None, "lock": info.to_json() if info else None}
        )
    elif info is None:
        app.out("apply lock: free (nothing to release)\n")
    else:
        app.out(f"released the apply lock of {info.describe()}\n")
