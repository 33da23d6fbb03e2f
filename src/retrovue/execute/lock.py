"""The apply lock: one writer at a time, whichever way the mutation comes in.

PostgreSQL: a session-level advisory lock held on a dedicated connection for the duration.  The
server drops it when that connection dies, so a killed apply never leaves PostgreSQL locked; the
``apply_locks`` row beside it only tells ``lock show`` who holds it.

SQLite: the row *is* the lock.  Its primary key (``name='apply'``) makes the insert atomic; a row
whose pid is gone on this host is stale and taken over (a SIGKILLed apply cannot clean up).

Usage::

    with apply_lock(engine, "apply -c retrovue.yaml", timeout=30):
        executor.execute(plan)
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, delete, insert, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from retrovue.database.models import ApplyLock
from retrovue.errors import DatabaseError, LockedError
from retrovue.model.time import as_utc

LOCK_NAME = "apply"
#: the advisory-lock key: fixed, so every retrovue process on a database contends for the same one
ADVISORY_KEY = 0x5256_4150_504C_5900  # "RVAPPLY"
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class LockInfo:
    holder: str
    host: str
    pid: int
    command: str
    started_at: datetime
    #: True when the holder is gone (pid dead on this host, or no advisory lock held on PostgreSQL)
    stale: bool = False

    def describe(self) -> str:
        started = self.started_at.isoformat(timespec="seconds") if self.started_at else "?"
        return f"{self.holder} on {self.host} (pid {self.pid}) running `{self.command}` since {started}"

    def to_json(self) -> dict:
        return {
            "holder": self.holder,
            "host": self.host,
            "pid": self.pid,
            "command": self.command,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "stale": self.stale,
        }


def _me(command: str) -> dict:
    try:
        holder = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        holder = f"uid {os.getuid()}"
    return {
        "name": LOCK_NAME,
        "holder": holder,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "command": command[:1000],
        "started_at": datetime.now(UTC),
    }


def pid_alive(pid: int) -> bool:
    """Is this pid a live process on this host?  A zombie (killed, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        with open(f"/proc/{pid}/stat") as fh:
            # the state letter follows the parenthesised command name
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _row(conn: Connection) -> LockInfo | None:
    row = conn.execute(
        select(
            ApplyLock.holder, ApplyLock.host, ApplyLock.pid, ApplyLock.command, ApplyLock.started_at
        ).where(ApplyLock.name == LOCK_NAME)
    ).first()
    if row is None:
        return None
    return LockInfo(row.holder, row.host, row.pid, row.command, as_utc(row.started_at))


def _locked_error(info: LockInfo | None, waited: float) -> LockedError:
    waited_text = f" after waiting {waited:g}s" if waited else ""
    if info is None:
        message = f"apply lock is held by another retrovue process{waited_text}"
        context = {}
    else:
        message = f"apply lock is held by {info.describe()}{waited_text}"
        context = {"lock": info.to_json()}
    return LockedError(
        message,
        hint="wait for it to finish, use --lock-timeout SECONDS, or see `retrovue lock show`",
        context=context,
    )


# --- SQLite: the row is the lock ------------------------------------------------------------------


def _sqlite_try(engine: Engine, me: dict) -> LockInfo | None:
    """Insert our row; on conflict take over a stale one.  Returns the holder when refused."""
    for _ in range(3):
        try:
            with engine.begin() as conn:
                conn.execute(insert(ApplyLock).values(**me))
            return None
        except IntegrityError:
            pass
        with engine.begin() as conn:
            info = _row(conn)
            if info is None:
                continue  # released between our insert and our read: try again
            if not _stale_on_this_host(info):
                return info
            # delete only the exact row we judged stale, so two contenders cannot both take over
            conn.execute(
                delete(ApplyLock).where(
                    ApplyLock.name == LOCK_NAME,
                    ApplyLock.pid == info.pid,
                    ApplyLock.host == info.host,
                )
            )
    with engine.connect() as conn:
        return _row(conn)


def _stale_on_this_host(info: LockInfo) -> bool:
    return info.host == socket.gethostname() and not pid_alive(info.pid)


def _sqlite_release(engine: Engine, me: dict) -> None:
    with engine.begin() as conn:
        conn.execute(
            delete(ApplyLock).where(
                ApplyLock.name == LOCK_NAME,
                ApplyLock.pid == me["pid"],
                ApplyLock.host == me["host"],
            )
        )


# --- PostgreSQL: advisory lock + informational row ------------------------------------------------


def _pg_try(conn: Connection, me: dict) -> bool:
    got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
    if not got:
        conn.rollback()
        return False
    # we hold the lock, so any row left is from a holder that died: replace it
    conn.execute(delete(ApplyLock).where(ApplyLock.name == LOCK_NAME))
    conn.execute(insert(ApplyLock).values(**me))
    conn.commit()
    return True


def _pg_release(conn: Connection, me: dict) -> None:
    try:
        conn.rollback()
        conn.execute(
            delete(ApplyLock).where(ApplyLock.name == LOCK_NAME, ApplyLock.pid == me["pid"])
        )
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
        conn.commit()
    finally:
        conn.close()  # closing the session would drop the advisory lock anyway


def _pg_advisory_held(conn: Connection) -> list[int]:
    """Backend pids holding our advisory lock (bigint keys split into classid/objid in pg_locks)."""
    rows = conn.execute(
        text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = :hi AND objid = :lo AND objsubid = 1 AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"hi": (ADVISORY_KEY >> 32) & 0xFFFFFFFF, "lo": ADVISORY_KEY & 0xFFFFFFFF},
    ).all()
    return [r.pid for r in rows]


# --- public API -------------------------------------------------------------------------------------


@contextmanager
def apply_lock(engine: Engine, command: str, timeout: float = 0.0) -> Iterator[LockInfo]:
    """Hold the apply lock for the body; wait up to ``timeout`` seconds for it, then raise
    ``LockedError`` naming the holder.  Released on exit, on exceptions and on Ctrl-C."""
    me = _me(command)
    deadline = time.monotonic() + max(timeout, 0.0)
    started = time.monotonic()
    try:
        if _is_postgres(engine):
            yield from _hold_pg(engine, me, deadline, started)
        else:
            yield from _hold_sqlite(engine, me, deadline, started)
    except SQLAlchemyError as exc:
        raise DatabaseError(
            f"Database operation failed while taking the apply lock: {exc}"
        ) from exc


def _info(me: dict) -> LockInfo:
    return LockInfo(me["holder"], me["host"], me["pid"], me["command"], me["started_at"])


def _hold_sqlite(engine: Engine, me: dict, deadline: float, started: float) -> Iterator[LockInfo]:
    while True:
        holder = _sqlite_try(engine, me)
        if holder is None:
            break
        if time.monotonic() >= deadline:
            raise _locked_error(
                holder, round(time.monotonic() - started, 1) if deadline > started else 0
            )
        time.sleep(POLL_SECONDS)
    try:
        yield _info(me)
    finally:
        _sqlite_release(engine, me)


def _hold_pg(engine: Engine, me: dict, deadline: float, started: float) -> Iterator[LockInfo]:
    conn = engine.connect()
    try:
        while not _pg_try(conn, me):
            if time.monotonic() >= deadline:
                holder = _row(conn)
                conn.rollback()
                raise _locked_error(
                    holder, round(time.monotonic() - started, 1) if deadline > started else 0
                )
            time.sleep(POLL_SECONDS)
    except BaseException:
        conn.close()
        raise
    try:
        yield _info(me)
    finally:
        _pg_release(conn, me)


def show_lock(engine: Engine) -> LockInfo | None:
    """The current holder, if any, marked stale when it is gone."""
    with engine.connect() as conn:
        info = _row(conn)
        if _is_postgres(engine):
            held = bool(_pg_advisory_held(conn))
            if info is None:
                if held:  # held by a process that has not written its row yet
                    return LockInfo("?", "?", 0, "?", datetime.now(UTC))
                return None
            return _with_stale(info, not held)
    if info is None:
        return None
    return _with_stale(info, _stale_on_this_host(info))


def _with_stale(info: LockInfo, stale: bool) -> LockInfo:
    return LockInfo(info.holder, info.host, info.pid, info.command, info.started_at, stale)


def release_lock(engine: Engine, force: bool = False) -> LockInfo | None:
    """Remove a stale lock (or, with ``force``, a live one).  Returns what was released.

    Raises ``LockedError`` when the holder is alive and ``force`` is not given.  On PostgreSQL a
    forced release terminates the backend that holds the advisory lock: nothing else can free it.
    """
    info = show_lock(engine)
    if info is None:
        return None
    if not info.stale and not force:
        raise LockedError(
            f"apply lock is held by a live process: {info.describe()}",
            hint="use `retrovue lock release --force` only if you are sure it is stuck",
            context={"lock": info.to_json()},
        )
    with engine.begin() as conn:
        if _is_postgres(engine) and force:
            for pid in _pg_advisory_held(conn):
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.execute(delete(ApplyLock).where(ApplyLock.name == LOCK_NAME))
    return info
