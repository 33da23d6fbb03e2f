"""Loggers whose settings belong to the caller, and that load structlog only when first used.

What a log line shows (its lowest level, JSON or text, colour, the redaction of secrets) is a
``LogSettings`` value that a caller constructs and makes active for the work it does
(``with settings.active(): …``); ``log_settings`` gives the value the environment asks for, the
caller's own choices winning.  The active value travels in a ``ContextVar``, so two contexts
in one process (two threads, two requests of a server) each log their own way and never see each
other's secrets list.  structlog itself is configured once and the same for everyone: its
processors ask the active settings what to do.

Fast start (issue 12): importing structlog costs ~85 ms (its console renderer loads rich and
pygments): a call below the active level is dropped before structlog is loaded, so a command that
logs nothing, such as a no-change ``plan``, never pays it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

#: logging's level numbers, by structlog method name
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
WARNING = _LEVELS["warning"]


def level_number(name: str | None, default: int = WARNING) -> int:
    return _LEVELS.get((name or "").lower(), default)


@dataclass(frozen=True)
class LogSettings:
    #: the lowest level shown (logging's numbers)
    level: int = WARNING
    json: bool = False
    colors: bool = False
    #: applied to every string value of a line: the secrets of this context never show
    scrub: Callable[[str], str] = str
    #: the renderer built on first use, per settings value (never shared between two)
    _renderers: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @contextmanager
    def active(self) -> Iterator[LogSettings]:
        """Log with these settings inside the block (in this thread or task and what it runs)."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    def shows(self, method: str) -> bool:
        return _LEVELS.get(method, 100) >= self.level

    def renderer(self) -> Any:
        kind = "json" if self.json else "text"
        if kind not in self._renderers:
            import structlog

            self._renderers[kind] = (
                structlog.processors.JSONRenderer()
                if self.json
                else structlog.dev.ConsoleRenderer(colors=self.colors)
            )
        return self._renderers[kind]


def log_settings(
    log_format: str | None,
    scrub: Callable[[str], str],
    level: str | None = None,
    no_color: bool = False,
) -> LogSettings:
    """``log_format``, ``level`` and ``no_color`` (a command's --log-format, -q/-v, --no-color)
    win over RETROVUE_LOG_FORMAT, RETROVUE_LOG_LEVEL and NO_COLOR; human text by default."""
    fmt = (log_format or os.environ.get("RETROVUE_LOG_FORMAT") or "text").lower()
    return LogSettings(
        level=level_number(level or os.environ.get("RETROVUE_LOG_LEVEL")),
        json=fmt == "json",
        # decided now: stderr may be swapped before the first line
        colors=_stderr_color(no_color),
        scrub=scrub,
    )


def _stderr_color(no_color: bool) -> bool:
    # the same rule as stdout's colour: a terminal, and neither NO_COLOR nor --no-color
    return sys.stderr.isatty() and not no_color and not os.environ.get("NO_COLOR")


_ACTIVE: ContextVar[LogSettings | None] = ContextVar("retrovue_log_settings", default=None)
#: what logs when no caller made settings active (a library use): warnings, to stderr
_DEFAULT = LogSettings()


def active_settings() -> LogSettings:
    return _ACTIVE.get() or _DEFAULT


class _Logger:
    """A logger by name; each call goes through the settings active at that moment."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, method: str) -> Any:
        if not active_settings().shows(method):
            return _dropped
        return getattr(_structlog().get_logger(self._name), method)


def _dropped(*_args: Any, **_kwargs: Any) -> None:
    """A call below the active level: structlog is not even loaded for it."""


def get_logger(name: str) -> Any:
    return _Logger(name)


def configure_if_loaded() -> None:
    """After plugins load: one that imported structlog logs as retrovue does."""
    if "structlog" in sys.modules:
        _structlog()


# --- the one structlog configuration -------------------------------------------------------------


class _StderrLogger:
    """Writes to whatever sys.stderr is at the time (tests and pipes swap it)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _stderr_logger(*_args: Any) -> _StderrLogger:
    return _StderrLogger()


def _structlog() -> Any:
    """structlog, configured: the same configuration for every context, set once (again only
    if something else replaced it)."""
    import structlog

    if structlog.get_config().get("logger_factory") is not _stderr_logger:
        structlog.configure(
            processors=[
                _below_level,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                _redact,
                _render,
            ],
            logger_factory=_stderr_logger,
            cache_logger_on_first_use=False,
        )
    return structlog


def _below_level(_logger: Any, method: str, event_dict: dict) -> dict:
    # a plugin's own structlog logger bypasses _Logger: filter here too
    if not active_settings().shows(method):
        import structlog

        raise structlog.DropEvent
    return event_dict


def _redact(_logger: Any, _method: str, event_dict: dict) -> dict:
    from retrovue.render.values import one_line

    scrub = active_settings().scrub
    # names from upstream reach log lines too: no control character reaches the terminal
    return {k: one_line(scrub(v)) if isinstance(v, str) else v for k, v in event_dict.items()}


def _render(logger: Any, method: str, event_dict: dict) -> str:
    return active_settings().renderer()(logger, method, event_dict)
