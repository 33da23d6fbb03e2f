"""The one place where how a command ended becomes a process exit code."""

from __future__ import annotations

from retrovue.errors import RetrovueError
from retrovue.model.enums import Outcome

INTERRUPTED = 130

_BY_OUTCOME = {
    Outcome.OK: 0,
    Outcome.CANCELLED: 0,  # the operator said no: nothing failed
    Outcome.FAILED: 1,
    Outcome.CHANGES: 2,
    Outcome.PARTIAL: 2,
    Outcome.UNREACHABLE: 3,
    Outcome.INTERRUPTED: INTERRUPTED,
}


def exit_code(ended: Outcome | BaseException | None) -> int:
    """``None`` is a command that simply finished (a read)."""
    if ended is None:
        return 0
    if isinstance(ended, int):  # click's own exits (--help, --version) hand back their code
        return ended
    if isinstance(ended, Outcome):
        return _BY_OUTCOME[ended]
    if isinstance(ended, RetrovueError):
        return ended.exit_code
    if isinstance(ended, KeyboardInterrupt):
        return INTERRUPTED
    return 1  # usage errors and anything unexpected: never 2, which means "changes" or "partial"
