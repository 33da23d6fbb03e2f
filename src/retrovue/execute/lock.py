"""The apply lock: one writer at a time, whichever way the mutation comes in.

PostgreSQL: a session-level advisory lock held on a session of its own for the duration.  The
server drops it when that session dies, so a killed apply never leaves PostgreSQL locked; the
``apply_locks`` row beside it only tells ``lock show`` who holds it.  The session is kept alive
on purpose: idle timeouts are switched off for it and TCP keepalives notice a dead network.

SQLite: the row is the lock.  Its primary key (``name='apply'``) makes the insert atomic.  The
holder keeps a heartbeat: a second row, ``name='apply.heartbeat'``, whose ``started_at`` it
refreshes every ``HEARTBEAT_SECONDS`` (from a background thread, and before each unit of work).
A lock is stale, and taken over, when its pid is gone on this host, or when its heartbeat is older
than ``STALE_AFTER_SECONDS`` whatever the host (a restarted container, a machine that died).
That assumes the hosts sharing a database file agree on the time within a few seconds.

While it is held, ``HeldLock.verify`` says whether the lock is still ours; the executor calls it
before each unit and just before each unit commits, and a lost lock raises ``LockLostError``.
Releasing never raises: a release that fails is logged, and the lock it leaves behind is stale.

Usage::

    with apply_lock(engine, "apply -c retrovue.yaml", timeout=30) as held:
        executor.execute(plan)  # with guard=held.verify
"""

from __future__ import annotations

import contextvars
import dataclasses
import getpass
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    delete,
    exists,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from retrovue.database.failures import database_error, describe
from retrovue.database.models import ApplyLock
from retrovue.errors import LockedError, LockLostError
from retrovue.execute.deferred_signals import DeferredSignals, signal_name
from retrovue.logs import get_logger
from retrovue.model.time import as_utc

log = get_logger("retrovue.lock")

LOCK_NAME = "apply"
#: the SQLite holder's heartbeat row (``started_at`` is the time of its last beat)
HEARTBEAT_NAME = "apply.heartbeat"
#: how often a SQLite holder refreshes its heartbeat
HEARTBEAT_SECONDS = 10.0
#: a SQLite lock whose heartbeat is older than this is stale, on any host
STALE_AFTER_SECONDS = 60.0
#: the advisory-lock key: fixed, so every retrovue process on a database contends for the same one
ADVISORY_KEY = 0x5256_4150_504C_5900  # "RVAPPLY"
POLL_SECONDS = 0.2
#: libpq keepalives for the lock's session: a silent network loss ends it within about a minute
_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


@dataclass(frozen=True)
class LockInfo:
    holder: str
    host: str
    pid: int
    command: str
    started_at: datetime
    #: True when the holder is gone (pid dead on this host, heartbeat too old on SQLite, or no
    #: advisory lock held on PostgreSQL)
    stale: bool = False
    #: the SQLite holder's last heartbeat (None on PostgreSQL, whose server tracks the holder)
    heartbeat_at: datetime | None = None

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
            "heartbeat_at": self.heartbeat_at.isoformat() if self.heartbeat_at else None,
            "stale": self.stale,
        }


class HeldLock:
    """The apply lock while this process holds it."""

    info: LockInfo

    def verify(self, conn: Connection | None = None) -> None:
        """Raise ``LockLostError`` unless the lock is still ours.  ``conn``: the unit about to
        commit (SQLite checks inside its transaction, so the check and the commit are one)."""
        raise NotImplementedError

    def release(self) -> None:
        """Let go; never raises (a failure is logged and leaves a lock that is stale)."""
        raise NotImplementedError


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


def _info(me: dict) -> LockInfo:
    return LockInfo(me["holder"], me["host"], me["pid"], me["command"], me["started_at"])


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
            ApplyLock.c.holder,
            ApplyLock.c.host,
            ApplyLock.c.pid,
            ApplyLock.c.command,
            ApplyLock.c.started_at,
        ).where(ApplyLock.c.name == LOCK_NAME)
    ).first()
    if row is None:
        return None
    return LockInfo(row.holder, row.host, row.pid, row.command, as_utc(row.started_at))


def _lost(why: str) -> LockLostError:
    return LockLostError(
        f"the apply lock was lost: {why}",
        hint="what committed before stands; another retrovue may be writing now: see "
        "`retrovue lock show`, then plan again",
    )


def _locked_error(info: LockInfo | None, waited: float, can_wait: bool) -> LockedError:
    waited_text = f" after waiting {waited:g}s" if waited else ""
    if info is None:
        message = f"apply lock is held by another retrovue process{waited_text}"
        context = {}
    else:
        message = f"apply lock is held by {info.describe()}{waited_text}"
        context = {"lock": info.to_json()}
    if can_wait:
        hint = "wait for it to finish, use --lock-timeout SECONDS, or see `retrovue lock show`"
    else:  # this command does not wait: say what the operator can do instead
        hint = (
            "run this again once that command has finished; `retrovue lock show` tells whether "
            "its holder is still alive"
        )
    return LockedError(message, hint=hint, context=context)


# --- SQLite: the row is the lock, kept fresh by a heartbeat ---------------------------------------

_heartbeats = ApplyLock.alias("heartbeats")


def _holder_is(table, pid: int, host: str) -> tuple:
    return (table.c.pid == pid, table.c.host == host)


def _heartbeat_at(conn: Connection, info: LockInfo) -> datetime | None:
    beat = conn.execute(
        select(ApplyLock.c.started_at).where(
            ApplyLock.c.name == HEARTBEAT_NAME, *_holder_is(ApplyLock, info.pid, info.host)
        )
    ).scalar()
    return as_utc(beat)


def _sqlite_holder(conn: Connection) -> LockInfo | None:
    info = _row(conn)
    if info is None:
        return None
    info = dataclasses.replace(info, heartbeat_at=_heartbeat_at(conn, info))
    return dataclasses.replace(info, stale=_sqlite_stale(info, datetime.now(UTC)))


def _dead_on_this_host(info: LockInfo) -> bool:
    return info.host == socket.gethostname() and not pid_alive(info.pid)


def _sqlite_stale(info: LockInfo, now: datetime) -> bool:
    if _dead_on_this_host(info):
        return True  # killed here: it cannot come back
    last = info.heartbeat_at or info.started_at  # a row without a heartbeat: its start
    return last is not None and (now - last).total_seconds() > STALE_AFTER_SECONDS


def _take_over(conn: Connection, info: LockInfo) -> None:
    """Delete a stale holder's rows.  Only the exact holder judged stale, and, when judged by its
    heartbeat, only if it has still not beaten: two contenders, or a holder that wakes up, cannot
    both end up holding the lock."""
    table = ApplyLock
    where = [table.c.name == LOCK_NAME, *_holder_is(table, info.pid, info.host)]
    if not _dead_on_this_host(info):
        cutoff = datetime.now(UTC) - timedelta(seconds=STALE_AFTER_SECONDS)
        where.append(
            ~exists().where(
                _heartbeats.c.name == HEARTBEAT_NAME,
                *_holder_is(_heartbeats, info.pid, info.host),
                _heartbeats.c.started_at > cutoff,
            )
        )
    if conn.execute(delete(table).where(*where)).rowcount:
        conn.execute(
            delete(table).where(
                table.c.name == HEARTBEAT_NAME, *_holder_is(table, info.pid, info.host)
            )
        )
        log.warning("took over a stale apply lock", stale_holder=info.describe())


def _sqlite_try(engine: Engine, me: dict, hold: Callable[[], None]) -> LockInfo | None:
    """Insert our row; on conflict take over a stale one.  Returns the holder when refused.
    ``hold`` runs just before our row commits (signals wait until the lock is in use)."""
    with engine.connect() as conn:  # a read first: it never waits for a writer in WAL mode
        holder = _sqlite_holder(conn)
    if holder is not None and not holder.stale:
        return holder
    for _ in range(3):
        try:
            with engine.begin() as conn:
                conn.execute(insert(ApplyLock).values(**me))
                # we hold the lock, so any heartbeat row left is from a holder that is gone
                conn.execute(delete(ApplyLock).where(ApplyLock.c.name == HEARTBEAT_NAME))
                conn.execute(insert(ApplyLock).values(**{**me, "name": HEARTBEAT_NAME}))
                hold()
            return None
        except IntegrityError:
            pass
        with engine.begin() as conn:
            info = _sqlite_holder(conn)
            if info is None:
                continue  # released between our insert and our read: try again
            if not info.stale:
                return info
            _take_over(conn, info)
    with engine.connect() as conn:
        return _sqlite_holder(conn)


class _Heartbeat:
    """Calls ``beat`` every ``HEARTBEAT_SECONDS`` on a daemon thread until stopped.  A unit of
    work can outlast ``STALE_AFTER_SECONDS`` (a long scan); the lock must not look stale then."""

    def __init__(self, beat) -> None:
        self._beat = beat
        self._stop = threading.Event()
        # run in a copy of the caller's context: its lines log with the caller's settings
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._run,), name="apply-lock-heartbeat", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self._beat()
            except Exception as exc:  # noqa: BLE001 - the next beat, or verify(), tries again
                # expected now and then: a unit's long write keeps SQLite's write lock busy
                log.info("apply lock heartbeat skipped", error=describe(exc))

    def stop(self) -> None:
        self._stop.set()
        # a beat in flight is one short UPDATE; do not let it hold up a shutdown
        self._thread.join(timeout=1.0)


class _SqliteHold(HeldLock):
    def __init__(self, engine: Engine, me: dict) -> None:
        self.engine = engine
        self.me = me
        self.info = _info(me)
        self._heartbeat = _Heartbeat(self.beat)

    def _mine(self, table=ApplyLock) -> tuple:
        return _holder_is(table, self.me["pid"], self.me["host"])

    def _our_lock_row(self) -> tuple:
        # pid and host name this process; the start stamp names this hold of the lock
        return (
            ApplyLock.c.name == LOCK_NAME,
            ApplyLock.c.started_at == self.me["started_at"],
            *self._mine(),
        )

    def beat(self) -> None:
        with self.engine.begin() as conn:
            self._beat_on(conn)

    def _beat_on(self, conn: Connection) -> None:
        conn.execute(
            update(ApplyLock)
            .where(ApplyLock.c.name == HEARTBEAT_NAME, *self._mine())
            .values(started_at=datetime.now(UTC))
        )

    def verify(self, conn: Connection | None = None) -> None:
        if conn is not None:
            # inside the unit's write transaction: nobody can change the row before it commits
            self._check(conn)
            return
        try:
            with self.engine.begin() as own:
                self._check(own)
                self._beat_on(own)
        except SQLAlchemyError as exc:
            raise _lost(f"it could not be checked ({describe(exc)})") from exc

    def _check(self, conn: Connection) -> None:
        holder = _row(conn)
        if holder is None:
            raise _lost("its row was removed (`retrovue lock release --force`?)")
        mine = (self.me["pid"], self.me["host"], self.me["started_at"])
        if (holder.pid, holder.host, holder.started_at) != mine:
            raise _lost(f"it is now held by {holder.describe()}")

    def release(self) -> None:
        self._heartbeat.stop()
        try:
            with self.engine.begin() as conn:
                # only our own rows: after a takeover the lock is someone else's
                if conn.execute(delete(ApplyLock).where(*self._our_lock_row())).rowcount:
                    conn.execute(
                        delete(ApplyLock).where(ApplyLock.c.name == HEARTBEAT_NAME, *self._mine())
                    )
        except Exception as exc:  # noqa: BLE001 - never replace the outcome of the run
            log.warning(
                "could not release the apply lock; the next run takes it over",
                error=describe(exc),
            )


def _acquire_sqlite(
    engine: Engine, me: dict, deadline: float, can_wait: bool, hold: Callable[[], None]
) -> HeldLock:
    started = time.monotonic()
    while True:
        holder = _sqlite_try(engine, me, hold)
        if holder is None:
            return _SqliteHold(engine, me)
        if time.monotonic() >= deadline:
            raise _locked_error(holder, _waited(started, deadline), can_wait)
        time.sleep(POLL_SECONDS)


def _waited(started: float, deadline: float) -> float:
    return round(time.monotonic() - started, 1) if deadline > started else 0


# --- PostgreSQL: advisory lock on a session of its own + informational row -------------------------

_HELD_HERE = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid = :hi AND objid = :lo AND objsubid = 1"
)


def _key_parts() -> dict:
    """The bigint key as pg_locks shows it: split into classid (high) and objid (low)."""
    return {"hi": (ADVISORY_KEY >> 32) & 0xFFFFFFFF, "lo": ADVISORY_KEY & 0xFFFFFFFF}


def _session_engine(engine: Engine) -> Engine:
    """A one-connection engine for the lock's session, with TCP keepalives."""
    return create_engine(
        engine.url, poolclass=NullPool, connect_args={"connect_timeout": 10, **_KEEPALIVES}
    )


def _keep_alive(session: Connection) -> None:
    """The session only waits while the work runs on others: a server's idle timeouts must not
    end it (that would drop the lock in the middle of an apply)."""
    session.execute(text("SET idle_in_transaction_session_timeout = 0"))
    if (session.dialect.server_version_info or (0,)) >= (14,):
        session.execute(text("SET idle_session_timeout = 0"))
    session.commit()


def _pg_try(conn: Connection, me: dict, hold: Callable[[], None]) -> bool:
    got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
    if not got:
        conn.rollback()
        return False
    # we hold the lock, so any row left is from a holder that died: replace it
    conn.execute(delete(ApplyLock).where(ApplyLock.c.name.in_((LOCK_NAME, HEARTBEAT_NAME))))
    conn.execute(insert(ApplyLock).values(**me))
    hold()
    conn.commit()
    return True


class _PgHold(HeldLock):
    def __init__(self, session_engine: Engine, session: Connection, me: dict) -> None:
        self.session_engine = session_engine
        self.session = session  # the advisory lock lives exactly as long as this session
        self.me = me
        self.info = _info(me)

    def verify(self, conn: Connection | None = None) -> None:
        # the lock's own session answers, whatever unit is about to commit
        try:
            held = self.session.execute(_HELD_HERE, _key_parts()).scalar()
            self.session.rollback()  # no transaction left open on the idle session
        except SQLAlchemyError as exc:
            raise _lost(f"its database session ended ({describe(exc)})") from exc
        if not held:
            raise _lost("the server no longer holds it for this session")

    def release(self) -> None:
        if self.session.invalidated:  # the session died, and the advisory lock with it
            self._close()
            return
        try:
            self.session.rollback()
            self.session.execute(
                delete(ApplyLock).where(
                    ApplyLock.c.name == LOCK_NAME,
                    ApplyLock.c.pid == self.me["pid"],
                    ApplyLock.c.host == self.me["host"],
                    ApplyLock.c.started_at == self.me["started_at"],
                )
            )
            self.session.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            self.session.commit()
        except Exception as exc:  # noqa: BLE001 - never replace the outcome of the run
            log.warning(
                "could not release the apply lock cleanly; the server drops it with its session",
                error=describe(exc),
            )
        finally:
            self._close()

    def _close(self) -> None:
        try:
            self.session.close()  # ending the session drops the advisory lock in any case
        except Exception as exc:  # noqa: BLE001 - a dead session has nothing left to close
            log.debug("closing the apply lock session failed", error=describe(exc))
        self.session_engine.dispose()


def _acquire_pg(
    engine: Engine, me: dict, deadline: float, can_wait: bool, hold: Callable[[], None]
) -> HeldLock:
    started = time.monotonic()
    session_engine = _session_engine(engine)
    try:
        session = session_engine.connect()
    except BaseException:
        session_engine.dispose()
        raise
    held = _PgHold(session_engine, session, me)
    try:
        _keep_alive(session)
        while not _pg_try(session, me, hold):
            if time.monotonic() >= deadline:
                holder = _row(session)
                session.rollback()
                raise _locked_error(holder, _waited(started, deadline), can_wait)
            time.sleep(POLL_SECONDS)
    except BaseException:
        held._close()
        raise
    return held


def _pg_advisory_held(conn: Connection) -> list[int]:
    """Backend pids holding our advisory lock (bigint keys split into classid/objid in pg_locks)."""
    rows = conn.execute(
        text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = :hi AND objid = :lo AND objsubid = 1 AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        _key_parts(),
    ).all()
    return [r.pid for r in rows]


# --- public API -------------------------------------------------------------------------------------


@contextmanager
def apply_lock(
    engine: Engine, command: str, timeout: float = 0.0, *, can_wait: bool = False
) -> Iterator[HeldLock]:
    """Hold the apply lock for the body; wait up to ``timeout`` seconds for it, then raise
    ``LockedError`` naming the holder (``can_wait``: the command offers --lock-timeout, and the
    refusal says so).  Released on exit, on exceptions and on Ctrl-C."""
    me = _me(command)
    deadline = time.monotonic() + max(timeout, 0.0)
    acquire = _acquire_pg if _is_postgres(engine) else _acquire_sqlite
    # a Ctrl-C between our lock row's commit and the try below would leave the row behind:
    # signals wait from that commit until the release below is certain to run
    taking = DeferredSignals()
    try:
        held = acquire(engine, me, deadline, can_wait, taking.hold)
    except SQLAlchemyError as exc:
        taking.release()
        raise database_error(exc, engine.url) from exc
    except BaseException:
        taking.release()
        raise
    try:
        taking.release()
        yield held
    except SQLAlchemyError as exc:
        # also what the body raised: naming the lock here could name the wrong step
        raise database_error(exc, engine.url) from exc
    finally:
        _release_whole(held, command)


def _release_whole(held: HeldLock, command: str) -> None:
    """Release without being cut short: the command's work is over (done, failed or stopped)
    and its outcome is what gets reported, so a signal that lands now only ends the process
    after it, as the command ends anyway."""
    signals = DeferredSignals()
    signals.hold()
    try:
        held.release()
    finally:
        came = signals.release(deliver=False)
    if came is not None:
        log.warning(
            "a signal came while the lock was being released; the command had already finished",
            signal=signal_name(came),
            command=command,
        )


def show_lock(engine: Engine) -> LockInfo | None:
    """The current holder, if any, marked stale when it is gone."""
    with engine.connect() as conn:
        if not _is_postgres(engine):
            return _sqlite_holder(conn)
        info = _row(conn)
        held = bool(_pg_advisory_held(conn))
    if info is None:
        if held:  # held by a process that has not written its row yet
            return LockInfo("?", "?", 0, "?", datetime.now(UTC))
        return None
    return dataclasses.replace(info, stale=not held)


def release_lock(engine: Engine, force: bool = False) -> LockInfo | None:
    """Remove a stale lock (or, with ``force``, a live one).  Returns what was released.

    Raises ``LockedError`` when the holder is alive and ``force`` is not given.  On PostgreSQL a
    forced release terminates the backend that holds the advisory lock: nothing else can free it.
    Either way the holder notices before its next unit of work and stops.
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
        conn.execute(delete(ApplyLock).where(ApplyLock.c.name.in_((LOCK_NAME, HEARTBEAT_NAME))))
    return info
