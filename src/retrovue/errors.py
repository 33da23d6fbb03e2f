"""Typed errors, raised deep and turned into exit codes only in the CLI layer.

Each error carries a stable ``code`` (the ``code`` of the JSON error document) and the exit code it
maps to.  Nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self


class RetrovueError(Exception):
    code = "ERROR"
    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        context: dict | None = None,
        details: dict | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.hint = hint
        #: machine-readable facts, under "context" in the JSON error document
        self.context = context or {}
        #: extra top-level keys of the JSON error document (e.g. the collection a command was on)
        self.details = details or {}

    def restated(self, message: str, *, hint: str | None = None) -> Self:
        """This error told in other words for the command that reports it: the same class,
        code, exit code, context and details (the caller's hint, when given, replaces its own),
        so nothing above it has to guess what it was from its text."""
        # not through __init__: a subclass may take other arguments (a ConfigError's diagnostics)
        other = type(self).__new__(type(self), message)
        other.__dict__.update(self.__dict__)
        other.message = message
        if hint is not None:
            other.hint = hint
        return other

    def prefixed(self, what: str) -> Self:
        """This error, its message led by what was not done because of it."""
        return self.restated(f"{what}: {self.message}")


class UsageError(RetrovueError):
    code = "USAGE_ERROR"


class ServerFailedError(RetrovueError):
    """A worker of `retrovue serve --workers N` could not start."""

    code = "SERVER_FAILED"


class WorkersNeedPostgresError(UsageError):
    """`retrovue worker` on SQLite: one machine, whose enrichment pool already uses every core."""

    code = "WORKERS_NEED_POSTGRESQL"


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a config file, located by file:line:column and/or JSON path."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str | None = None

    def location(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        return where

    def __str__(self) -> str:
        at = f" (at {self.path})" if self.path else ""
        return f"{self.location()}: {self.message}{at}"

    def to_json(self) -> dict:
        return {
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
        }


class ValidationError(RetrovueError):
    code = "VALIDATION_ERROR"


class ConfigError(ValidationError):
    """The config file is malformed or invalid; carries every diagnostic found in one pass."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        first = str(self.diagnostics[0]) if self.diagnostics else "invalid config"
        more = len(self.diagnostics) - 1
        super().__init__(first + (f" (and {more} more)" if more > 0 else ""))


class NotFoundError(RetrovueError):
    code = "NOT_FOUND"


class AmbiguousSelectorError(RetrovueError):
    code = "AMBIGUOUS_SELECTOR"


class PlanError(RetrovueError):
    code = "PLAN_ERROR"


class StalePlanError(PlanError):
    """The saved plan was made against a state that has since moved; apply refuses it."""

    code = "STALE_PLAN"


class PlanModifiedError(PlanError):
    """The saved plan's digest does not match its content: it was edited after it was made."""

    code = "PLAN_MODIFIED"


class SecretNotSetError(RetrovueError):
    """A stored ``${VAR}`` reference to a secret whose variable is not set where retrovue runs."""

    code = "SECRET_NOT_SET"


class DatabaseError(RetrovueError):
    code = "DATABASE_ERROR"


class SchemaOutOfDateError(DatabaseError):
    code = "SCHEMA_OUT_OF_DATE"


class SchemaTooNewError(DatabaseError):
    """The database carries a schema revision this retrovue does not know: a newer one made it."""

    code = "SCHEMA_TOO_NEW"


class SchemaMismatchError(DatabaseError):
    """The live schema differs from the one this retrovue's models declare."""

    code = "SCHEMA_MISMATCH"


class TestDbIsProductionError(RetrovueError):
    code = "TEST_DB_IS_PRODUCTION"
    __test__ = False  # not a pytest test class, despite its name


class TestDbUnverifiedError(RetrovueError):
    """--test-db could not reach one of the two databases, so it cannot prove they differ."""

    code = "TEST_DB_UNVERIFIED"
    __test__ = False


class LockedError(RetrovueError):
    code = "LOCKED"


class WatchClaimedError(LockedError):
    """A watch whose sources another running watch already watches: refused at start, nothing
    reconciled (exit 1, as any refusal that changed nothing)."""

    code = "WATCH_CLAIMED"


class LockLostError(RetrovueError):
    """The apply lock stopped being ours while we worked (its session died, or someone released
    or took it over): the unit in progress rolled back, committed ones stay, nothing else runs."""

    code = "LOCK_LOST"


class InterruptedByOperator(RetrovueError):
    """Ctrl-C: the unit in progress rolled back, committed ones stay."""

    code = "INTERRUPTED"
    exit_code = 130


class TerminatedBySignal(KeyboardInterrupt):
    """SIGTERM (a cancelled CI job, `docker stop`).  A ``KeyboardInterrupt`` so that it unwinds
    exactly like Ctrl-C (the unit in progress rolls back, committed ones stay, the lock is
    released); the run then exits 143 instead of 130."""

    code = "TERMINATED"
    exit_code = 143
    reason = "terminated by SIGTERM"


class ApprovalRequired(RetrovueError):
    code = "CONFIRMATION_REQUIRED"


# --- importer errors: raised by importers, never printed by them -----------------------------


class ImporterError(RetrovueError):
    code = "UPSTREAM_ERROR"
    exit_code = 3


class ImporterUnreachableError(ImporterError):
    code = "UPSTREAM_UNREACHABLE"
    exit_code = 3


class ImporterResponseError(ImporterError):
    """The upstream answered, but not with something usable (bad data, a short listing)."""


class ImporterAuthError(ImporterError):
    code = "UPSTREAM_AUTH_FAILED"
    exit_code = 1


class CollectionNotFoundError(ImporterError):
    code = "COLLECTION_GONE_UPSTREAM"
    exit_code = 1


class ImporterUnavailableError(RetrovueError):
    code = "IMPORTER_UNAVAILABLE"


class StoredConfigError(ValidationError):
    """A stored source's config does not fit its importer's parameters (a required one missing,
    a key it does not take): written by hand, or by a retrovue whose importer took others."""

    code = "STORED_CONFIG_INVALID"


class UnknownSourceTypeError(RetrovueError):
    code = "UNKNOWN_SOURCE_TYPE"


class DuplicateSourceTypeError(RetrovueError):
    code = "DUPLICATE_SOURCE_TYPE"


# --- errors of the imperative commands -------------------------------------------------------


class NotSyncEnabledError(RetrovueError):
    code = "NOT_SYNC_ENABLED"


class NotIngestibleError(RetrovueError):
    code = "NOT_INGESTIBLE"


class ScopeNotFoundError(RetrovueError):
    code = "SCOPE_NOT_FOUND"


class NoEligibleCollectionsError(RetrovueError):
    code = "NO_ELIGIBLE_COLLECTIONS"


class ProductionSafetyError(RetrovueError):
    code = "PRODUCTION_SAFETY_FAILED"


def safety_reason(aired: int) -> str:
    """Why a source or collection is kept: assets of it have aired."""
    return f"production safety: {aired} aired asset(s) referenced by playlog_events/as_run_log"


class ScratchSpaceError(RetrovueError):
    """The temporary folder a large listing spills to cannot be written (full, missing, read
    only): the unit being planned or applied fails whole, naming the folder."""

    code = "SCRATCH_SPACE"


class NotApprovableError(RetrovueError):
    """Only a ``ready`` asset (every attached enricher succeeded) may be approved for broadcast."""

    code = "NOT_APPROVABLE"


# --- errors of `retrovue serve`'s requests ------------------------------------------------------


class UnauthorizedError(RetrovueError):
    """No token, or not a token this server knows."""

    code = "UNAUTHORIZED"


class ForbiddenError(RetrovueError):
    """A token that may not do this (a read-only one writing), or a form without its CSRF token."""

    code = "FORBIDDEN"


class ConcurrentModificationError(RetrovueError):
    code = "CONCURRENT_MODIFICATION"


def rolled_back(error: BaseException | None) -> RetrovueError:
    """The typed error that rolled a unit of work back, as the command that ran the unit raises
    it: its class, code, hint and exit code kept.  Only an untyped failure (the plain
    ``RetrovueError`` the executor wraps anything unexpected in) is said to have failed the
    transaction; a typed one, a database failure included, says what happened itself."""
    if not isinstance(error, RetrovueError):  # the executor types every failure it records
        return RetrovueError(f"Transaction failed: {error or 'unknown error'}")
    if type(error) is RetrovueError:
        return error.prefixed("Transaction failed")
    return error
