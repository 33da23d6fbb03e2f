"""psycopg's COPY writer, except that it does not try to end a COPY on a connection already lost.

Loaded for PostgreSQL only (it imports psycopg).
"""

from __future__ import annotations

from psycopg.copy import LibpqWriter


class CopyWriter(LibpqWriter):
    """When the connection drops mid-COPY, psycopg still tries to end the COPY on it, fails
    again, and logs ``error ignored terminating <psycopg.Copy [BAD]>`` through the logging
    module, straight to stderr past retrovue's one-line error.  A broken connection has no COPY
    left to end: skipping it leaves the first failure, which says what happened, as the only
    one reported."""

    def finish(self, exc: BaseException | None = None) -> None:
        if exc is not None and self.connection.broken:
            return
        super().finish(exc)
