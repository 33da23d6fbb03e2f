"""Loggers that load structlog only when something is first logged (issue 12, fast start).

Importing structlog costs ~85 ms here (it loads its console renderer, which loads rich and
pygments, and asyncio): a command that logs nothing, such as a no-change ``plan``, should not pay
it.  Retrovue's modules take their loggers from ``get_logger``; the CLI hands its configuration
to ``configure``, which applies it at once when structlog is already loaded, else when it is first
needed: by a logger's first call, or by a plugin loader that found a plugin importing structlog.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

#: the configuration the CLI chose, not applied yet because structlog is not loaded yet
_pending: Callable[[], None] | None = None


def configure(apply: Callable[[], None]) -> None:
    """``apply`` configures structlog (importing it): now if structlog is loaded, else later."""
    global _pending
    _pending = apply
    settle(if_loaded=True)


def settle(*, if_loaded: bool = False) -> None:
    """Apply the pending configuration (``if_loaded``: only when structlog is loaded already, so
    that a plugin that imported it logs as retrovue does)."""
    global _pending
    if _pending is None or (if_loaded and "structlog" not in sys.modules):
        return
    apply, _pending = _pending, None
    apply()


class _Logger:
    """A structlog logger made on first use, after the pending configuration is applied."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, method: str) -> Any:
        if self._logger is None:
            settle()
            import structlog

            self._logger = structlog.get_logger(self._name)
        return getattr(self._logger, method)


def get_logger(name: str) -> Any:
    return _Logger(name)
