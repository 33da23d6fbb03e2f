"""The one place where how a command ended becomes a process exit code."""

from __future__ import annotations

from retrovue.errors import RetrovueError
from retrovue.model.enums import Outcome

INTERRUPTED = 130  # 128 + SIGINT
TERMINATED = 143  # 128 + SIGTERM

_BY_OUTCOME = {
    Outcome.OK: 0,
    Outcome.CANCELLED: 0,  # the operator said no: nothing failed
    Outcome.FAILED: 1,
    Outcome.CHANGES: 2,
    Outcome.PARTIAL: 2,
    Outcome.UNREACHABLE: 3,
    Outcome.INTERRUPTED: INTERRUPTED,
}


def exit_code(ended: Outcome | BaseException | None, *, terminated: bool = False) -> int:
    """``None`` is a command that simply finished (a read).  ``terminated``: the process got
    SIGTERM, which stops a run exactly as Ctrl-C does; whatever reported the interruption (an
    outcome, an error, the signal's own exception), the run then ends as 143."""
    code = _code(ended)
    return TERMINATED if terminated and code == INTERRUPTED else code


def _code(ended: Outcome | BaseException | None) -> int:
    if ended is None:
        return 0
    if isinstance(ended, int):  # click's own exits (--help, --version) hand back their code
        return ended
    if isinstance(ended, Outcome):
        return _BY_OUTCOME[ended]
    if isinstance(ended, RetrovueError):
        return ended.exit_code
    if isinstance(ended, KeyboardInterrupt):
        return getattr(ended, "exit_code", INTERRUPTED)
    return 1  # usage errors and anything unexpected: never 2, which means "changes" or "partial"
