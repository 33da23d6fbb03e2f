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
#: the lowest level that configuration shows: a call below it is dropped without loading
#: structlog (an apply logs each committed unit at info, which the default level hides)
_threshold = 0
_LEVELS = {
    "debug": 10,
    "info": 20,
    "warning": 30,
    "warn": 30,
    "error": 40,
    "exception": 40,
    "critical": 50,
    "fatal": 50,
}


def configure(apply: Callable[[], None], level: int = 0) -> None:
    """``apply`` configures structlog (importing it): now if structlog is loaded, else later.
    ``level`` is the lowest level it shows (``logging``'s numbers)."""
    global _pending, _threshold
    _pending, _threshold = apply, level
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
            if _LEVELS.get(method, 100) < _threshold and "structlog" not in sys.modules:
                return _dropped
            settle()
            import structlog

            self._logger = structlog.get_logger(self._name)
        return getattr(self._logger, method)


def _dropped(*_args: Any, **_kwargs: Any) -> None:
    """A call below the configured level, made before structlog was needed."""


def get_logger(name: str) -> Any:
    return _Logger(name)
