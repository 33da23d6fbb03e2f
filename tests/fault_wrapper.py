"""Run the real `retrovue` CLI with a fault injected after the N-th matching SQL statement.

Used by tests/test_faults.py (issue 9, fault-injection suite); nothing in the product knows about
it.  It registers a SQLAlchemy ``Engine`` cursor listener, then calls ``retrovue.cli.main.main()``
with the remaining arguments, so the process is the CLI as an operator runs it.  On PostgreSQL
the bulk insert's ``COPY`` statements count too (see ``_watch_copy``).

Environment:
    RV_FAULT_PATTERN  regular expression searched in each statement (case-insensitive)
    RV_FAULT_NTH      which match triggers the fault (1 = the first; default 1)
    RV_FAULT_ACTION   SIGINT | SIGTERM | SIGKILL: the signal the process sends itself;
                      PAUSE: print ``FAULT-PAUSED`` on stderr, then carry on once the file
                      RV_FAULT_RESUME exists (at most RV_FAULT_SECONDS, default 30), so the
                      test can act from outside meanwhile (terminate a session, release the lock)
    RV_FAULT_WHEN     before | after | commit: fire before the statement runs, once it has run
                      (default after: the statement's work is in the transaction, not committed),
                      or just after the transaction that ran it has committed (the window
                      between a COMMIT returning and the run recording that it did)
    RV_FAULT_DELAY    seconds to wait before sending the signal, from another thread, so it
                      lands while the main thread is busy (a long scan, a bulk insert)

Without RV_FAULT_PATTERN the CLI runs untouched.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from contextlib import contextmanager

from sqlalchemy import Engine, event
from sqlalchemy.engine.default import DefaultDialect

_SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}


def _install() -> None:
    pattern = os.environ.get("RV_FAULT_PATTERN")
    if not pattern:
        return
    matcher = re.compile(pattern, re.IGNORECASE)
    nth = int(os.environ.get("RV_FAULT_NTH", "1"))
    action = os.environ.get("RV_FAULT_ACTION", "SIGKILL")
    when = os.environ.get("RV_FAULT_WHEN", "after")
    seen = 0
    armed: list = []  # the connection whose next commit fires (when == "commit")

    def fault(statement: str, connection) -> None:
        nonlocal seen
        if not matcher.search(statement):
            return
        seen += 1
        if seen != nth:
            return
        if when == "commit":
            armed.append(connection)
            return
        fire()

    def fire() -> None:
        if action == "PAUSE":
            _pause()
            return
        delay = float(os.environ.get("RV_FAULT_DELAY", "0"))
        if delay:
            threading.Timer(delay, os.kill, (os.getpid(), _SIGNALS[action])).start()
        else:
            os.kill(os.getpid(), _SIGNALS[action])

    def _pause() -> None:
        print("FAULT-PAUSED", file=sys.stderr, flush=True)
        resume = os.environ.get("RV_FAULT_RESUME", "")
        deadline = time.monotonic() + float(os.environ.get("RV_FAULT_SECONDS", "30"))
        while time.monotonic() < deadline and not (resume and os.path.exists(resume)):
            time.sleep(0.02)

    if os.environ.get("RETROVUE_DATABASE_URL", "").startswith("postgresql"):
        _watch_copy(fault)  # it loads psycopg: only where the CLI loads it anyway
    event_name = "before_cursor_execute" if when == "before" else "after_cursor_execute"

    @event.listens_for(Engine, event_name)
    def _on_statement(conn, _cursor, statement, _params, _context, _many):
        fault(statement, conn.connection)  # the pooled connection do_commit is handed

    if when == "commit":  # SQLAlchemy's commit event fires before the COMMIT: wrap the dialect's
        original = DefaultDialect.do_commit

        def do_commit(self, dbapi_connection):
            original(self, dbapi_connection)
            if armed and armed[0] is dbapi_connection:
                armed.clear()
                fire()

        DefaultDialect.do_commit = do_commit


def _watch_copy(fault) -> None:
    """Count psycopg's ``COPY`` statements too: the bulk insert runs them on the driver's own
    cursor, which SQLAlchemy's cursor events never see.  The fault fires once the COPY has
    begun (the server is waiting for its rows), so a test can act in the middle of it; with
    RV_FAULT_WHEN=commit it never fires (the commit hook knows SQLAlchemy's connections only)."""
    import psycopg

    original = psycopg.Cursor.copy

    @contextmanager
    def copy(self, statement, *args, **kwargs):
        with original(self, statement, *args, **kwargs) as copying:
            fault(str(statement), self.connection)
            yield copying

    psycopg.Cursor.copy = copy


if __name__ == "__main__":
    _install()
    from retrovue.cli.main import main

    main(sys.argv[1:])
