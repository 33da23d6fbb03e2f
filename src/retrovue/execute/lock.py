"""The apply lock: one writer at a time per scope, whichever way the mutation comes in.

A lock is on a scope (``retrovue.model.locks.LockScope``): the whole database, or one source.
A whole-database holder excludes every source holder and each source holder excludes it;
holders of two different sources work side by side.  Every command takes the whole database
today; the ``watch`` loop and a parallel applier are to take sources.

PostgreSQL: session-level advisory locks held on a session of its own for the duration.  The
whole database takes the database key exclusively; a source takes the database key shared plus
its own key (a 64-bit digest of its id) exclusively.  Two sources whose digests collide would
only exclude each other, never share a lock.  The server drops the locks when that session dies,
so a killed apply never leaves PostgreSQL locked; the ``apply_locks`` row beside each only tells
``lock show`` who holds it.  The session is kept alive on purpose: idle timeouts are switched off
for it and TCP keepalives notice a dead network.

SQLite: the row is the lock.  Its primary key (``name``: ``'apply'`` for the whole database,
``'source:<id>'`` for a source) makes the insert atomic, and the same write transaction looks for
live rows of scopes it excludes.  The holder keeps a heartbeat: a second row (``'apply.heartbeat'``,
``'source:<id>.heartbeat'``) whose ``started_at`` it refreshes every ``HEARTBEAT_SECONDS`` (from a
background thread, and before each unit of work).  A lock is stale, and taken over, when its pid
is gone on this host, or when its heartbeat is older than ``STALE_AFTER_SECONDS`` whatever the
host (a restarted container, a machine that died).  That assumes the hosts sharing a database
file agree on the time within a few seconds.

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
import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
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
from retrovue.database.tables import ApplyLock, Source
from retrovue.errors import LockedError, LockLostError
from retrovue.execute.deferred_signals import DeferredSignals, deliver_late, signal_name
from retrovue.logs import get_logger
from retrovue.model.locks import LockScope
from retrovue.model.time import as_utc

log = get_logger("retrovue.lock")

#: the whole database's lock row (the name every retrovue before scopes used)
LOCK_NAME = "apply"
#: the SQLite holder's heartbeat row (``started_at`` is the time of its last beat)
HEARTBEAT_NAME = "apply.heartbeat"
#: a source's lock row is ``source:<id>`` (at most 43 characters: the column holds 64)
SOURCE_PREFIX = "source:"
HEARTBEAT_SUFFIX = ".heartbeat"
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
WHOLE_DATABASE = LockScope.database()


# --- scopes and their rows ------------------------------------------------------------------------


def lock_row_name(scope: LockScope) -> str:
    return LOCK_NAME if scope.is_database else f"{SOURCE_PREFIX}{scope.source_id}"


def heartbeat_row_name(scope: LockScope) -> str:
    return HEARTBEAT_NAME if scope.is_database else lock_row_name(scope) + HEARTBEAT_SUFFIX


def scope_of_row(name: str) -> LockScope | None:
    """The scope a lock row stands for (None: a heartbeat, or a name this retrovue does not know)."""
    if name == LOCK_NAME:
        return WHOLE_DATABASE
    if not name.startswith(SOURCE_PREFIX) or name.endswith(HEARTBEAT_SUFFIX):
        return None
    try:
        return LockScope.source(uuid.UUID(name.removeprefix(SOURCE_PREFIX)))
    except ValueError:
        return None


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
    scope: LockScope = WHOLE_DATABASE

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
            "scope": scope_json(self.scope),
        }


def scope_json(scope: LockScope) -> dict:
    if scope.is_database:
        return {"kind": "database"}
    return {"kind": "source", "source_id": str(scope.source_id), "name": scope.source_name}


class HeldLock:
    """A lock while this process holds it."""

    info: LockInfo

    @property
    def scope(self) -> LockScope:
        return self.info.scope

    @property
    def scopes(self) -> tuple[LockScope, ...]:
        return (self.scope,)

    def verify(self, conn: Connection | None = None) -> None:
        """Raise ``LockLostError`` unless the lock is still ours.  ``conn``: the unit about to
        commit (SQLite checks inside its transaction, so the check and the commit are one)."""
        raise NotImplementedError

    def release(self) -> None:
        """Let go; never raises (a failure is logged and leaves a lock that is stale)."""
        raise NotImplementedError


def _me(command: str, scope: LockScope) -> dict:
    try:
        holder = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        holder = f"uid {os.getuid()}"
    return {
        "name": lock_row_name(scope),
        "holder": holder,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "command": command[:1000],
        "started_at": datetime.now(UTC),
    }


def _info(me: dict, scope: LockScope) -> LockInfo:
    return LockInfo(
        me["holder"], me["host"], me["pid"], me["command"], me["started_at"], scope=scope
    )


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


# the holder comes first: `SELECT apply_locks.holder` is how a look at the lock reads in logs
_LOCK_COLUMNS = (
    ApplyLock.c.holder,
    ApplyLock.c.host,
    ApplyLock.c.pid,
    ApplyLock.c.command,
    ApplyLock.c.started_at,
    ApplyLock.c.name,
)


def _row_info(row, scope: LockScope) -> LockInfo:
    return LockInfo(row.holder, row.host, row.pid, row.command, as_utc(row.started_at), scope=scope)


def _row(conn: Connection, scope: LockScope = WHOLE_DATABASE) -> LockInfo | None:
    """The lock row of exactly this scope."""
    row = conn.execute(
        select(*_LOCK_COLUMNS).where(ApplyLock.c.name == lock_row_name(scope))
    ).first()
    return None if row is None else _row_info(row, scope)


def _rows(conn: Connection, where) -> list[LockInfo]:
    """The lock rows matching ``where`` (heartbeats and unknown names left out)."""
    found = []
    for row in conn.execute(select(*_LOCK_COLUMNS).where(where).order_by(ApplyLock.c.name)):
        scope = scope_of_row(row.name)
        if scope is not None:
            found.append(_row_info(row, scope))
    return found


def _every_lock_row():
    """Every row a retrovue lock writes (heartbeats included)."""
    return ApplyLock.c.name.in_((LOCK_NAME, HEARTBEAT_NAME)) | ApplyLock.c.name.startswith(
        SOURCE_PREFIX
    )


def _rows_it_excludes(conn: Connection, scope: LockScope) -> list[LockInfo]:
    """The rows of the other scopes this one cannot coexist with."""
    if scope.is_database:
        return _rows(conn, ApplyLock.c.name.startswith(SOURCE_PREFIX))
    return _rows(conn, ApplyLock.c.name == LOCK_NAME)


def _named(conn: Connection, infos: Iterable[LockInfo]) -> list[LockInfo]:
    """The source scopes of ``infos`` with their sources' names (a deleted source keeps its id)."""
    infos = list(infos)
    ids = [i.scope.source_id for i in infos if not i.scope.is_database]
    if not ids:
        return infos
    names = dict(conn.execute(select(Source.c.id, Source.c.name).where(Source.c.id.in_(ids))).all())
    return [
        i
        if i.scope.is_database or i.scope.source_name
        else dataclasses.replace(
            i, scope=LockScope.source(i.scope.source_id, names.get(i.scope.source_id))
        )
        for i in infos
    ]


def _lost(why: str, scope: LockScope) -> LockLostError:
    what = "the apply lock" if scope.is_database else f"the lock on {scope}"
    return LockLostError(
        f"{what} was lost: {why}",
        hint="what committed before stands; another retrovue may be writing now: see "
        "`retrovue lock show`, then plan again",
    )


def _refusal(holder: LockInfo | None, wanted: LockScope) -> str:
    who = holder.describe() if holder is not None else "another retrovue process"
    if holder is not None and holder.scope != wanted:
        who += f" (it holds {holder.scope})"
    if wanted.is_database:
        return f"apply lock is held by {who}"
    return f"{wanted} is locked by {who}"


def _locked_error(
    holder: LockInfo | None, wanted: LockScope, waited: float, can_wait: bool
) -> LockedError:
    waited_text = f" after waiting {waited:g}s" if waited else ""
    context = {} if holder is None else {"lock": holder.to_json()}
    if can_wait:
        hint = "wait for it to finish, use --lock-timeout SECONDS, or see `retrovue lock show`"
    else:  # this command does not wait: say what the operator can do instead
        hint = (
            "run this again once that command has finished; `retrovue lock show` tells whether "
            "its holder is still alive"
        )
    return LockedError(_refusal(holder, wanted) + waited_text, hint=hint, context=context)


# --- SQLite: the row is the lock, kept fresh by a heartbeat ---------------------------------------

_heartbeats = ApplyLock.alias("heartbeats")


def _holder_is(table, pid: int, host: str) -> tuple:
    return (table.c.pid == pid, table.c.host == host)


def _heartbeat_at(conn: Connection, info: LockInfo) -> datetime | None:
    beat = conn.execute(
        select(ApplyLock.c.started_at).where(
            ApplyLock.c.name == heartbeat_row_name(info.scope),
            *_holder_is(ApplyLock, info.pid, info.host),
        )
    ).scalar()
    return as_utc(beat)


def _judged(conn: Connection, info: LockInfo) -> LockInfo:
    """``info`` with its heartbeat, marked stale when its holder is gone."""
    info = dataclasses.replace(info, heartbeat_at=_heartbeat_at(conn, info))
    return dataclasses.replace(info, stale=_sqlite_stale(info, datetime.now(UTC)))


def _sqlite_holder(conn: Connection, scope: LockScope = WHOLE_DATABASE) -> LockInfo | None:
    info = _row(conn, scope)
    return None if info is None else _judged(conn, info)


def _live_holder(conn: Connection, scope: LockScope) -> LockInfo | None:
    """Who holds this scope, or one it cannot coexist with, and is alive (None: nobody)."""
    same = _sqlite_holder(conn, scope)
    if same is not None and not same.stale:
        return same  # the one look a contender for a held lock makes
    return next(
        (i for i in (_judged(conn, r) for r in _rows_it_excludes(conn, scope)) if not i.stale),
        None,
    )


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
    beat_name = heartbeat_row_name(info.scope)
    where = [table.c.name == lock_row_name(info.scope), *_holder_is(table, info.pid, info.host)]
    if not _dead_on_this_host(info):
        cutoff = datetime.now(UTC) - timedelta(seconds=STALE_AFTER_SECONDS)
        where.append(
            ~exists().where(
                _heartbeats.c.name == beat_name,
                *_holder_is(_heartbeats, info.pid, info.host),
                _heartbeats.c.started_at > cutoff,
            )
        )
    if conn.execute(delete(table).where(*where)).rowcount:
        conn.execute(
            delete(table).where(table.c.name == beat_name, *_holder_is(table, info.pid, info.host))
        )
        log.warning(
            "took over a stale apply lock", stale_holder=info.describe(), scope=str(info.scope)
        )


def _clear_the_way(conn: Connection, scope: LockScope) -> LockInfo | None:
    """Inside the transaction that inserted our row: the first live holder of a scope ours
    excludes (None: none; the stale ones are taken over)."""
    for info in _named(conn, _rows_it_excludes(conn, scope)):
        info = _judged(conn, info)
        if not info.stale:
            return info
        _take_over(conn, info)
    return None


def _sqlite_insert(
    engine: Engine, me: dict, scope: LockScope, hold: Callable[[], None]
) -> LockInfo | None:
    """One write transaction: our row (IntegrityError when this scope's row exists), then no
    live row of a scope ours excludes, then our heartbeat.  Returns the holder when refused.
    The insert comes first so that the transaction holds SQLite's write lock for its reads."""
    with engine.connect() as conn, conn.begin() as tx:
        conn.execute(insert(ApplyLock).values(**me))
        holder = _clear_the_way(conn, scope)
        if holder is not None:
            tx.rollback()
            return holder
        beat = heartbeat_row_name(scope)
        # we hold the lock, so any heartbeat row left is from a holder that is gone
        conn.execute(delete(ApplyLock).where(ApplyLock.c.name == beat))
        conn.execute(insert(ApplyLock).values(**{**me, "name": beat}))
        hold()
    return None


def _sqlite_try(
    engine: Engine, me: dict, scope: LockScope, hold: Callable[[], None]
) -> LockInfo | None:
    """Insert our row; on conflict take over a stale one.  Returns the holder when refused.
    ``hold`` runs just before our row commits (signals wait until the lock is in use)."""
    with engine.connect() as conn:  # a read first: it never waits for a writer in WAL mode
        holder = _live_holder(conn, scope)
    if holder is not None:
        return holder
    for _ in range(3):
        try:
            return _sqlite_insert(engine, me, scope, hold)
        except IntegrityError:
            pass
        with engine.begin() as conn:
            info = _sqlite_holder(conn, scope)
            if info is None:
                continue  # released between our insert and our read: try again
            if not info.stale:
                return info
            _take_over(conn, info)
    with engine.connect() as conn:
        # still not ours: whoever won the races holds it (or the next round will tell)
        return _live_holder(conn, scope) or _sqlite_holder(conn, scope) or _nobody(scope)


def _nobody(scope: LockScope) -> LockInfo:
    """A refusal with no holder left to name: contenders took and released it meanwhile."""
    return LockInfo("?", "?", 0, "?", datetime.now(UTC), scope=scope)


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
    def __init__(self, engine: Engine, me: dict, scope: LockScope) -> None:
        self.engine = engine
        self.me = me
        self.info = _info(me, scope)
        self._beat_name = heartbeat_row_name(scope)
        self._heartbeat = _Heartbeat(self.beat)

    def _mine(self, table=ApplyLock) -> tuple:
        return _holder_is(table, self.me["pid"], self.me["host"])

    def _our_lock_row(self) -> tuple:
        # pid and host name this process; the start stamp names this hold of the lock
        return (
            ApplyLock.c.name == self.me["name"],
            ApplyLock.c.started_at == self.me["started_at"],
            *self._mine(),
        )

    def beat(self) -> None:
        with self.engine.begin() as conn:
            self._beat_on(conn)

    def _beat_on(self, conn: Connection) -> None:
        conn.execute(
            update(ApplyLock)
            .where(ApplyLock.c.name == self._beat_name, *self._mine())
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
            raise _lost(f"it could not be checked ({describe(exc)})", self.scope) from exc

    def _check(self, conn: Connection) -> None:
        # our row stands for the whole hold: a contender of any scope must take it over first
        holder = _row(conn, self.scope)
        if holder is None:
            raise _lost("its row was removed (`retrovue lock release --force`?)", self.scope)
        mine = (self.me["pid"], self.me["host"], self.me["started_at"])
        if (holder.pid, holder.host, holder.started_at) != mine:
            raise _lost(f"it is now held by {holder.describe()}", self.scope)

    def release(self) -> None:
        self._heartbeat.stop()
        try:
            with self.engine.begin() as conn:
                # only our own rows: after a takeover the lock is someone else's
                if conn.execute(delete(ApplyLock).where(*self._our_lock_row())).rowcount:
                    conn.execute(
                        delete(ApplyLock).where(ApplyLock.c.name == self._beat_name, *self._mine())
                    )
        except Exception as exc:  # noqa: BLE001 - never replace the outcome of the run
            log.warning(
                "could not release the apply lock; the next run takes it over",
                error=describe(exc),
                scope=str(self.scope),
            )


def _acquire_sqlite(
    engine: Engine,
    me: dict,
    scope: LockScope,
    deadline: float,
    can_wait: bool,
    hold: Callable[[], None],
) -> HeldLock:
    started = time.monotonic()
    while True:
        holder = _sqlite_try(engine, me, scope, hold)
        if holder is None:
            return _SqliteHold(engine, me, scope)
        if time.monotonic() >= deadline:
            with engine.connect() as conn:
                holder = _named(conn, [holder])[0]
            raise _locked_error(holder, scope, _waited(started, deadline), can_wait)
        time.sleep(POLL_SECONDS)


def _waited(started: float, deadline: float) -> float:
    return round(time.monotonic() - started, 1) if deadline > started else 0


# --- PostgreSQL: advisory locks on a session of their own + informational rows ----------------------

EXCLUSIVE, SHARED = "ExclusiveLock", "ShareLock"  # as pg_locks names the modes

_HELD_HERE = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND mode = :mode"
    " AND pid = pg_backend_pid() AND classid = :hi AND objid = :lo AND objsubid = 1"
)


def source_key(source_id: uuid.UUID) -> int:
    """A source's advisory key: a signed 64-bit digest of its id.  A collision (odds 2**-64 for
    a pair) makes two sources exclude each other; it never lets two writers share one."""
    digest = hashlib.blake2b(source_id.bytes, digest_size=8, person=b"rv-src-lock").digest()
    return int.from_bytes(digest, "big", signed=True)


def _pg_keys(scope: LockScope) -> tuple[tuple[int, str], ...]:
    """The advisory keys a scope holds, with their modes, in the order they are taken."""
    if scope.is_database:
        return ((ADVISORY_KEY, EXCLUSIVE),)
    return ((ADVISORY_KEY, SHARED), (source_key(scope.source_id), EXCLUSIVE))


def _own_key(scope: LockScope) -> int:
    """The key only this scope's holder holds exclusively."""
    return _pg_keys(scope)[-1][0]


def _key_parts(key: int = ADVISORY_KEY) -> dict:
    """The bigint key as pg_locks shows it: split into classid (high) and objid (low)."""
    return {"hi": (key >> 32) & 0xFFFFFFFF, "lo": key & 0xFFFFFFFF}


_TRY = {EXCLUSIVE: "pg_try_advisory_lock", SHARED: "pg_try_advisory_lock_shared"}
_UNLOCK = {EXCLUSIVE: "pg_advisory_unlock", SHARED: "pg_advisory_unlock_shared"}


def _pg_take(conn: Connection, scope: LockScope) -> bool:
    """Take every key of the scope, or none of them."""
    taken: list[tuple[int, str]] = []
    for key, mode in _pg_keys(scope):
        if not conn.execute(text(f"SELECT {_TRY[mode]}(:k)"), {"k": key}).scalar():
            _pg_let_go(conn, taken)
            return False
        taken.append((key, mode))
    return True


def _pg_let_go(conn: Connection, taken: Iterable[tuple[int, str]]) -> None:
    for key, mode in reversed(list(taken)):
        conn.execute(text(f"SELECT {_UNLOCK[mode]}(:k)"), {"k": key})


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


def _rows_left_by_the_dead(scope: LockScope):
    """Rows nobody alive can own once we hold the scope: the whole database excludes everyone,
    so every lock row is a dead holder's; a source, its own, and the whole database's (we hold
    its key shared, so no whole-database holder is alive: a row of one is a killed holder's)."""
    if scope.is_database:
        return _every_lock_row()
    return ApplyLock.c.name.in_(
        (
            lock_row_name(scope),
            heartbeat_row_name(scope),
            lock_row_name(WHOLE_DATABASE),
            heartbeat_row_name(WHOLE_DATABASE),
        )
    )


def _pg_try(conn: Connection, me: dict, scope: LockScope, hold: Callable[[], None]) -> bool:
    if not _pg_take(conn, scope):
        conn.rollback()
        return False
    conn.execute(delete(ApplyLock).where(_rows_left_by_the_dead(scope)))
    conn.execute(insert(ApplyLock).values(**me))
    hold()
    conn.commit()
    return True


class _PgHold(HeldLock):
    def __init__(
        self, session_engine: Engine, session: Connection, me: dict, scope: LockScope
    ) -> None:
        self.session_engine = session_engine
        self.session = session  # the advisory locks live exactly as long as this session
        self.me = me
        self.info = _info(me, scope)

    def verify(self, conn: Connection | None = None) -> None:
        # the lock's own session answers, whatever unit is about to commit
        try:
            held = all(
                self.session.execute(_HELD_HERE, {"mode": mode, **_key_parts(key)}).scalar()
                for key, mode in _pg_keys(self.scope)
            )
            self.session.rollback()  # no transaction left open on the idle session
        except SQLAlchemyError as exc:
            raise _lost(f"its database session ended ({describe(exc)})", self.scope) from exc
        if not held:
            raise _lost("the server no longer holds it for this session", self.scope)

    def release(self) -> None:
        if self.session.invalidated:  # the session died, and the advisory locks with it
            self._close()
            self._delete_row_afresh()  # not the row
            return
        try:
            self.session.rollback()
            self.session.execute(delete(ApplyLock).where(*self._our_row()))
            _pg_let_go(self.session, _pg_keys(self.scope))
            self.session.commit()
        except Exception as exc:  # noqa: BLE001 - never replace the outcome of the run
            log.warning(
                "could not release the apply lock cleanly; the server drops it with its session",
                error=describe(exc),
                scope=str(self.scope),
            )
            self._close()
            self._delete_row_afresh()
        else:
            self._close()

    def _delete_row_afresh(self) -> None:
        """Our row, deleted on a new connection: a session a signal interrupted mid-command
        ("another command is already in progress") can no longer delete it, and a row left
        behind is reported by `status` and `lock show` as held until a writer clears it."""
        try:
            with self.session_engine.begin() as conn:
                conn.execute(delete(ApplyLock).where(*self._our_row()))
        except Exception as exc:  # noqa: BLE001 - the next writer judges the row stale
            log.debug("deleting the apply lock row afresh failed", error=describe(exc))
        finally:
            self.session_engine.dispose()

    def _our_row(self):
        me = self.me
        return (
            ApplyLock.c.name == me["name"],
            ApplyLock.c.pid == me["pid"],
            ApplyLock.c.host == me["host"],
            ApplyLock.c.started_at == me["started_at"],
        )

    def _close(self) -> None:
        try:
            self.session.close()  # ending the session drops the advisory locks in any case
        except Exception as exc:  # noqa: BLE001 - a dead session has nothing left to close
            log.debug("closing the apply lock session failed", error=describe(exc))
        self.session_engine.dispose()


def _pg_judged(conn: Connection, info: LockInfo) -> LockInfo:
    """A row is stale when no session holds its scope's own key any more."""
    return dataclasses.replace(info, stale=not _pg_advisory_held(conn, _own_key(info.scope)))


def _pg_unwritten(conn: Connection, scope: LockScope) -> LockInfo | None:
    """A holder that has taken the key and not written its row yet (None: no such holder)."""
    if not _pg_advisory_held(conn, _own_key(scope)):
        return None
    return LockInfo("?", "?", 0, "?", datetime.now(UTC), scope=scope)


def _pg_holder(conn: Connection, scope: LockScope) -> LockInfo | None:
    """Who stands in the way of ``scope``, as the rows tell: a live holder before a row a dead
    one left (None: a holder with no row yet)."""
    same = _row(conn, scope)
    candidates = ([same] if same is not None else []) + _rows_it_excludes(conn, scope)
    # sorted is stable: this scope's own row comes first among the live ones
    judged = sorted((_pg_judged(conn, i) for i in candidates), key=lambda i: i.stale)
    return _named(conn, judged[:1])[0] if judged else None


def _acquire_pg(
    engine: Engine,
    me: dict,
    scope: LockScope,
    deadline: float,
    can_wait: bool,
    hold: Callable[[], None],
) -> HeldLock:
    started = time.monotonic()
    session_engine = _session_engine(engine)
    try:
        session = session_engine.connect()
    except BaseException:
        session_engine.dispose()
        raise
    held = _PgHold(session_engine, session, me, scope)
    try:
        _keep_alive(session)
        while not _pg_try(session, me, scope, hold):
            if time.monotonic() >= deadline:
                holder = _pg_holder(session, scope)
                session.rollback()
                raise _locked_error(holder, scope, _waited(started, deadline), can_wait)
            time.sleep(POLL_SECONDS)
    except BaseException:
        held._close()
        raise
    return held


def _pg_advisory_held(
    conn: Connection, key: int = ADVISORY_KEY, mode: str = EXCLUSIVE
) -> list[int]:
    """Backend pids holding an advisory key of ours in ``mode`` in this database."""
    rows = conn.execute(
        text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = :hi AND objid = :lo AND objsubid = 1 AND mode = :mode AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"mode": mode, **_key_parts(key)},
    ).all()
    return [r.pid for r in rows]


# --- public API -------------------------------------------------------------------------------------


@contextmanager
def apply_lock(
    engine: Engine,
    command: str,
    timeout: float = 0.0,
    *,
    can_wait: bool = False,
    scope: LockScope = WHOLE_DATABASE,
) -> Iterator[HeldLock]:
    """Hold the lock on ``scope`` for the body; wait up to ``timeout`` seconds for it, then raise
    ``LockedError`` naming the holder and what it holds (``can_wait``: the command offers
    --lock-timeout, and the refusal says so).  Released on exit, on exceptions and on Ctrl-C."""
    me = _me(command, scope)
    deadline = time.monotonic() + max(timeout, 0.0)
    acquire = _acquire_pg if _is_postgres(engine) else _acquire_sqlite
    # a Ctrl-C between our lock row's commit and the try below would leave the row behind:
    # signals wait from that commit until the release below is certain to run
    taking = DeferredSignals()
    try:
        held = acquire(engine, me, scope, deadline, can_wait, taking.hold)
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


class HeldLocks(HeldLock):
    """Several scopes held together (an apply writing two sources): verified and reported as
    one; each scope is released by the ``apply_lock`` that took it."""

    def __init__(self, held: list[HeldLock]) -> None:
        self.held = held
        self.info = held[0].info

    @property
    def scopes(self) -> tuple[LockScope, ...]:
        return tuple(h.scope for h in self.held)

    def verify(self, conn: Connection | None = None) -> None:
        for held in self.held:
            held.verify(conn)

    def release(self) -> None:  # the stack in ``apply_locks`` releases each one
        return None


def lock_order(scopes: Iterable[LockScope]) -> tuple[LockScope, ...]:
    """The scopes to take, in the one order every writer takes them (by source id), so two
    writers of overlapping sets never each hold half of the other's; the whole database
    stands alone, as it covers every source."""
    scopes = set(scopes)
    if not scopes or any(s.is_database for s in scopes):
        return (WHOLE_DATABASE,)
    return tuple(sorted(scopes, key=lambda s: str(s.source_id)))


@contextmanager
def apply_locks(
    engine: Engine,
    command: str,
    timeout: float = 0.0,
    *,
    can_wait: bool = False,
    scopes: Iterable[LockScope] = (WHOLE_DATABASE,),
) -> Iterator[HeldLock]:
    """Hold every scope of ``scopes`` for the body (see ``apply_lock``): all of them or, after
    ``timeout`` seconds in all, none, with the refusal naming the holder of the one missed."""
    ordered = lock_order(scopes)
    if len(ordered) == 1:
        with apply_lock(engine, command, timeout, can_wait=can_wait, scope=ordered[0]) as held:
            yield held
        return
    deadline = time.monotonic() + max(timeout, 0.0)
    with ExitStack() as stack:
        held = [
            stack.enter_context(
                apply_lock(
                    engine,
                    command,
                    max(deadline - time.monotonic(), 0.0),
                    can_wait=can_wait,
                    scope=scope,
                )
            )
            for scope in ordered
        ]
        yield HeldLocks(held)


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
    if came is not None and not deliver_late(came):
        log.warning(
            "a signal came while the lock was being released; the command had already finished",
            signal=signal_name(came),
            command=command,
        )


def show_lock(engine: Engine, scope: LockScope = WHOLE_DATABASE) -> LockInfo | None:
    """The holder of this scope's lock, if any, marked stale when it is gone."""
    with engine.connect() as conn:
        if not _is_postgres(engine):
            return _sqlite_holder(conn, scope)
        info = _row(conn, scope)
        if info is None:
            return _pg_unwritten(conn, scope)
        return _pg_judged(conn, info)


def list_locks(engine: Engine) -> list[LockInfo]:
    """Every lock, the whole database's first, then the sources' by name; each marked stale
    when its holder is gone."""
    with engine.connect() as conn:
        infos = _rows(conn, _every_lock_row())
        if _is_postgres(engine):
            infos = [_pg_judged(conn, i) for i in infos]
            if not any(i.scope.is_database for i in infos):
                infos += filter(None, [_pg_unwritten(conn, WHOLE_DATABASE)])
        else:
            infos = [_judged(conn, i) for i in infos]
        infos = _named(conn, infos)
    return sorted(infos, key=lambda i: (not i.scope.is_database, str(i.scope).casefold()))


def release_lock(
    engine: Engine, force: bool = False, scope: LockScope = WHOLE_DATABASE
) -> LockInfo | None:
    """Remove a stale lock on ``scope`` (or, with ``force``, a live one).  Returns what was
    released.

    Raises ``LockedError`` when the holder is alive and ``force`` is not given.  On PostgreSQL a
    forced release terminates the backend that holds the scope's advisory lock: nothing else can
    free it.  Either way the holder notices before its next unit of work and stops.
    """
    info = show_lock(engine, scope)
    if info is None:
        return None
    if not info.stale and not force:
        raise LockedError(
            _live_refusal(info, scope),
            hint="use `retrovue lock release --force` only if you are sure it is stuck",
            context={"lock": info.to_json()},
        )
    with engine.begin() as conn:
        if _is_postgres(engine) and force:
            for pid in _pg_advisory_held(conn, _own_key(scope)):
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        names = (lock_row_name(scope), heartbeat_row_name(scope))
        conn.execute(delete(ApplyLock).where(ApplyLock.c.name.in_(names)))
    return info


def _live_refusal(info: LockInfo, scope: LockScope) -> str:
    if scope.is_database:
        return f"apply lock is held by a live process: {info.describe()}"
    return f"{scope} is locked by a live process: {info.describe()}"
