"""`retrovue lock show | release [--force]`: inspect and clear a stuck apply lock."""

from __future__ import annotations

import click

from retrovue.app import admin
from retrovue.cli.console import Console
from retrovue.cli.options import common_options


@click.group()
def lock() -> None:
    """Inspect or release the apply lock."""


def _describe(info) -> str:
    state = "stale: the holder is gone" if info.stale else "held"
    text = (
        f"apply lock: {state}\n"
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
    """Show who holds the apply lock, and whether that holder is still alive."""
    info = admin.show_lock(console.ctx)
    if console.json_output:
        console.emit_json(
            {"status": "ok", "locked": info is not None, "lock": info.to_json() if info else None}
        )
    elif info is None:
        console.out("apply lock: free\n")
    else:
        console.out(_describe(info))


@lock.command("release")
@click.option("--force", is_flag=True, help="Release even when the holder looks alive.")
@common_options
def release(console: Console, force: bool) -> None:
    """Release a stale apply lock (a live one only with --force)."""
    info = admin.release_lock(console.ctx, force)
    if console.json_output:
        console.emit_json(
            {"status": "ok", "released": info is not None, "lock": info.to_json() if info else None}
        )
    elif info is None:
        console.out("apply lock: free (nothing to release)\n")
    else:
        console.out(f"released the apply lock of {info.describe()}\n")
