"""What one server holds for all its requests: its settings, one database engine (each request
still gets a ``Context`` of its own: its own secrets, schema check and lock) and its templates."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING

import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from retrovue.app.asset_read import PageReader, open_page_reader
from retrovue.app.context import Context
from retrovue.redact import Redactor
from retrovue.render.values import terminal_text
from retrovue.web.settings import ServeSettings

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates


#: requests that run their (blocking) database work at once, each on a thread of the pool and a
#: pooled connection of its own: as many threads as connections, so none waits for one or opens
#: one per request.  On a 2-core machine more threads only take turns at the GIL.
DB_THREADS = 8

#: SQLite's reads run in this process, and sqlite3 lets go of the GIL and takes it back for every
#: row: past two threads on two cores they queue for it row by row (one process, 20 clients:
#: 8 threads 191-196 requests/s with a third of the CPU in futex calls, 4 273-300, 2 333-493)
SQLITE_THREADS = 2


class Server:
    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self._engine = None  # a SQLAlchemy engine, opened (and migrated) as any command would
        self._opening = threading.Lock()
        self._pages: PageReader | None = None  # PostgreSQL: pages read on the event loop
        self._pages_opened = False
        self._pages_loop: asyncio.AbstractEventLoop | None = None
        self._pages_opening = asyncio.Lock()

    def engine(self):
        """Opened (created and migrated if new, as any CLI command would) on first use."""
        with self._opening:
            if self._engine is None:
                self._engine = Context(
                    test_db=self.settings.test_db,
                    db_url=self.settings.db_url,
                    pool_size=DB_THREADS,
                ).engine
            return self._engine

    @property
    def is_open(self) -> bool:
        return self._engine is not None

    @property
    def threads(self) -> int:
        """Requests that run their blocking database work at once: the thread pool's size (the
        lifespan sets it at start, ``request_context`` again once the engine is open)."""
        if self._engine is not None and self._engine.dialect.name == "sqlite":
            return SQLITE_THREADS
        return DB_THREADS

    def context(self) -> Context:
        return Context(
            test_db=self.settings.test_db,
            db_url=self.settings.db_url,
            redactor=Redactor(),
            shared_engine=self.engine(),
            shared_registry=self.registry,
        )

    @cached_property
    def registry(self):
        """The importers, loaded once per server (a plugin installed later needs a restart)."""
        return Context().registry

    async def pages(self) -> PageReader | None:
        """Reads /api/v1/assets' pages on this event loop (opened on first use, after the
        engine, which checks and migrates the schema); None where the database has no asyncio
        driver (SQLite: its reads stay on the thread pool, a local file's read is short)."""
        if self._engine is None:
            return None
        if not self._pages_opened:
            async with self._pages_opening:
                if not self._pages_opened:
                    self._pages = await open_page_reader(self._engine, DB_THREADS)
                    self._pages_loop = asyncio.get_running_loop()
                    self._pages_opened = True
        if asyncio.get_running_loop() is not self._pages_loop:
            # its connections belong to the loop that opened them: a request on another loop
            # (a test client run without its lifespan makes one per request) reads on the
            # thread pool
            return None
        return self._pages

    async def aclose(self) -> None:
        """``close``, and the event loop's pool first (on the loop that opened it)."""
        if self._pages is not None:
            pages, self._pages, self._pages_opened = self._pages, None, False
            await pages.close()
        self._pages_loop = None
        self.close()

    def close(self) -> None:
        with self._opening:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    @cached_property
    def templates(self) -> Jinja2Templates:
        from fastapi.templating import Jinja2Templates
        from jinja2 import Environment, FileSystemLoader, select_autoescape

        folder = resources.files("retrovue.web") / "templates"
        env = Environment(
            loader=FileSystemLoader(str(folder)),
            autoescape=select_autoescape(default=True, default_for_string=True),
            # every value shown has its control and bidi characters escaped, as in a terminal:
            # a stored name cannot reorder or forge what the page says
            finalize=lambda v: terminal_text(v) if isinstance(v, str) else v,
        )
        return Jinja2Templates(env=env)


async def request_context(request: Request) -> AsyncIterator[Context]:
    """The request's unit of work: a context of its own, closed when the request ends (the
    error handlers still scrub with its redactor, through ``request.state.ctx``).  Async: a sync
    generator would cost two hops to the thread pool per request, and making a context waits on
    nothing once the engine is open (the first request opens it in the pool: that may migrate)."""
    server = request.app.state.server
    if not server.is_open:
        await run_in_threadpool(server.engine)
        anyio.to_thread.current_default_thread_limiter().total_tokens = server.threads
    ctx = server.context()
    request.state.ctx = ctx
    try:
        yield ctx
    finally:
        ctx.close()  # a shared engine stays open: nothing here blocks
