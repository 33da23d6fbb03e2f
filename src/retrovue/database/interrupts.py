"""An interrupted SQLite statement must not keep its transaction open.

When Ctrl-C (or SIGTERM) lands in a statement, SQLAlchemy invalidates the connection, which closes
it.  SQLite cannot close a connection while one of its statements is still unfinalized: it keeps
it open, transaction and write lock included, until that statement goes.  The cursor holding the
statement lives on in the exception's traceback, so until the unwinding ends every cleanup write
(the interrupted run's row, releasing the apply lock) waits out the busy timeout and fails with
"database is locked".  Closing the cursor first finalizes the statement, and the close that
follows rolls the transaction back at once.
"""

from __future__ import annotations

from sqlalchemy.engine import ExceptionContext


def finalize_interrupted_statement(context: ExceptionContext) -> None:
    """``handle_error`` listener: close the cursor of a statement an interruption stopped."""
    if isinstance(context.original_exception, Exception):
        return  # an error, not an interruption: SQLAlchemy closes the cursor itself
    cursor = getattr(context.execution_context, "cursor", None)
    if cursor is None:
        return
    try:
        cursor.close()
    except Exception:  # noqa: BLE001, S110 - the connection is being closed anyway
        pass
