"""structlog to stderr, human on a terminal, JSON with --log-format json; every line scrubbed.

structlog is imported when something is first logged (``retrovue.logs``): a command that logs
nothing does not load it, nor the rich and pygments its console renderer brings.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from retrovue import logs
from retrovue.render.values import one_line


class _StderrLogger:
    """Writes to whatever sys.stderr is at the time (tests and pipes swap it)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def configure_logging(
    log_format: str | None,
    scrub: Callable[[str], str],
    level: str | None = None,
    no_color: bool = False,
) -> None:
    """``level`` comes from -q/-v and wins over RETROVUE_LOG_LEVEL; ``no_color`` is --no-color."""
    fmt = (log_format or os.environ.get("RETROVUE_LOG_FORMAT") or "text").lower()
    level_name = (level or os.environ.get("RETROVUE_LOG_LEVEL", "warning")).upper()
    level = getattr(logging, level_name, logging.WARNING)

    def redact(_logger, _method, event_dict):
        # names from upstream reach log lines too: no control character reaches the terminal
        return {k: one_line(scrub(v)) if isinstance(v, str) else v for k, v in event_dict.items()}

    colors = _stderr_color(no_color)  # decided now: stderr may be swapped before the first line

    def apply() -> None:
        import structlog

        renderer = (
            structlog.processors.JSONRenderer()
            if fmt == "json"
            else structlog.dev.ConsoleRenderer(colors=colors)
        )
        structlog.configure(
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                redact,
                renderer,
            ],
            wrapper_class=structlog.make_filtering_bound_logger(level),
            logger_factory=lambda *_args: _StderrLogger(),
            cache_logger_on_first_use=False,
        )

    logs.configure(apply, level)


def _stderr_color(no_color: bool) -> bool:
    # the same rule as stdout's colour: a terminal, and neither NO_COLOR nor --no-color
    return sys.stderr.isatty() and not no_color and not os.environ.get("NO_COLOR")
