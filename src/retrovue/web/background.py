"""The web view served from a thread of another long-running command (`watch --serve`).

Uvicorn runs its own event loop in that thread and installs no signal handlers there (only the
main thread may): the owning command keeps SIGTERM/SIGINT and stops the server when it ends.
"""

from __future__ import annotations

import threading

from retrovue.web.settings import ServeSettings


class BackgroundServer:
    def __init__(self, settings: ServeSettings):
        import uvicorn

        from retrovue.web.app import create_app

        config = uvicorn.Config(
            create_app(settings), host=settings.host, port=settings.port, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="serve", daemon=True)

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        """Returns once the socket listens; raises OSError when the address cannot be bound."""
        self._thread.start()
        waited = 0.0
        while not self._server.started:
            if not self._thread.is_alive():  # uvicorn logs the bind error and its thread ends
                raise OSError("the server did not start (address in use or not available?)")
            if waited >= timeout:
                raise OSError(f"the server did not start within {timeout:g} s")
            self._thread.join(0.05)
            waited += 0.05
        return self

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
