"""Connections to PostgreSQL for asyncio, beside an engine's: ``retrovue serve`` reads its busiest
page on the event loop, where a thread-pool hop per request cost more than the read (the GIL
passed between the loop and eight threads: 1.5-2 ms of CPU a request under 20 clients against
1.2-1.5, measured).  psycopg's own pool: it checks a connection returned mid-transaction or
broken before anyone gets it again, and replaces one the server ended."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool
    from sqlalchemy import Engine

#: seconds a request waits for a connection (the engine's connect_timeout: one answer to "the
#: database is gone", whichever way a request reads it)
WAIT = 10


async def open_async_pool(engine: Engine, size: int) -> AsyncConnectionPool:
    """Up to ``size`` autocommit connections to the database ``engine`` connects to, with the
    same connection arguments (SQLAlchemy's own translation of its URL, adapters included, so
    a row reads as the engine's driver cursor reads it).  Open: close it with ``await
    pool.close()`` on the loop that opened it."""
    from psycopg_pool import AsyncConnectionPool

    _, params = engine.dialect.create_connect_args(engine.url)
    # timestamps in UTC: with the server's own zone name (often "Etc/UTC") psycopg converts each
    # through zoneinfo (a page's rows 0.10 -> 0.055 ms to load, measured); what the API writes
    # is UTC either way (render.values.iso)
    options = " ".join(filter(None, (params.get("options"), "-c TimeZone=UTC")))
    pool = AsyncConnectionPool(
        kwargs={**params, "options": options, "connect_timeout": WAIT, "autocommit": True},
        min_size=1,
        max_size=size,
        timeout=WAIT,
        open=False,
        name="retrovue-serve",
    )
    await pool.open()
    return pool
