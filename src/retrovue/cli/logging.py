"""The log settings of one command: from -q/-v, --log-format and --no-color, else the environment.

Human text on a terminal, JSON with --log-format json or RETROVUE_LOG_FORMAT=json; every line is
scrubbed with the command's own redactor (``retrovue.logs``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from retrovue.logs import LogSettings, level_number


def log_settings(
    log_format: str | None,
    scrub: Callable[[str], str],
    level: str | None = None,
    no_color: bool = False,
) -> LogSettings:
    """``level`` comes from -q/-v and wins over RETROVUE_LOG_LEVEL; ``no_color`` is --no-color."""
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
