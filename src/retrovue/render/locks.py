"""What `retrovue lock show | release` print: each lock, its holder, and whether it is alive."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrovue.model.locks import LockScope

# `lock` hands over ``execute.lock.LockInfo`` values: render/ does not import execute/


def lock_name(scope: LockScope) -> str:
    # the whole database's lock keeps its historical name
    return "apply lock" if scope.is_database else f"{scope} lock"


def describe(info) -> str:
    state = "stale: the holder is gone" if info.stale else "held"
    text = (
        f"{lock_name(info.scope)}: {state}\n"
        f"  holder:  {info.holder}\n"
        f"  host:    {info.host}\n"
        f"  pid:     {info.pid}\n"
        f"  command: {info.command}\n"
        f"  since:   {info.started_at.isoformat(timespec='seconds') if info.started_at else '?'}\n"
    )
    if info.heartbeat_at is not None:  # SQLite: the holder's last sign of life
        text += f"  heartbeat: {info.heartbeat_at.isoformat(timespec='seconds')}\n"
    return text


def _whole(locks: list):
    return next((i for i in locks if i.scope.is_database), None)


def show_document(locks: list) -> dict[str, Any]:
    whole = _whole(locks)
    return {
        "status": "ok",
        "locked": whole is not None,
        "lock": whole.to_json() if whole else None,
        "locks": [i.to_json() for i in locks],
    }


def show_text(locks: list) -> str:
    free = "apply lock: free\n" if _whole(locks) is None else ""
    return free + "".join(describe(info) for info in locks)


def release_document(info) -> dict[str, Any]:
    return {"status": "ok", "released": info is not None, "lock": info.to_json() if info else None}


def release_text(scope: LockScope, info) -> str:
    if info is None:
        return f"{lock_name(scope)}: free (nothing to release)\n"
    if scope.is_database:
        return f"released the apply lock of {info.describe()}\n"
    return f"released the lock on {scope} of {info.describe()}\n"
