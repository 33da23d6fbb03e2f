"""Typed errors, raised deep and turned into exit codes only in the CLI layer.

Each error carries a stable ``code`` (the JSON error code of contracts.md §0.3) and the exit code it
maps to (DESIGN §6).  Nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass


class RetrovueError(Exception):
    code = "ERROR"
    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, context: dict | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.context = context or {}


class UsageError(RetrovueError):
    code = "USAGE_ERROR"


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


class ConfigError(RetrovueError):
    """The config file is malformed or invalid; carries every diagnostic found in one pass."""

    code = "VALIDATION_ERROR"

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        first = str(self.diagnostics[0]) if self.diagnostics else "invalid config"
        more = len(self.diagnostics) - 1
        super().__init__(first + (f" (and {more} more)" if more > 0 else ""))


class ValidationError(RetrovueError):
    code = "VALIDATION_ERROR"


class NotFoundError(RetrovueError):
    code = "NOT_FOUND"


class AmbiguousSelectorError(RetrovueError):
    code = "AMBIGUOUS_SELECTOR"


class PlanError(RetrovueError):
    code = "PLAN_ERROR"


class StalePlanError(PlanError):
    """The saved plan was made against a state that has since moved; apply refuses it."""

    code = "STALE_PLAN"


class DatabaseError(RetrovueError):
    code = "DATABASE_ERROR"


class SchemaOutOfDateError(DatabaseError):
    code = "SCHEMA_OUT_OF_DATE"


class TestDbIsProductionError(RetrovueError):
    code = "TEST_DB_IS_PRODUCTION"
    __test__ = False  # not a pytest test class, despite its name


class LockedError(RetrovueError):
    code = "LOCKED"


class ApprovalRequired(RetrovueError):
    code = "CONFIRMATION_REQUIRED"


# --- importer errors (DESIGN §9): raised by importers, never printed by them -----------------


class ImporterError(RetrovueError):
    code = "UPSTREAM_ERROR"
    exit_code = 3


class ImporterUnreachableError(ImporterError):
    code = "UPSTREAM_UNREACHABLE"
    exit_code = 3


class ImporterResponseError(ImporterError):
    code = "UPSTREAM_ERROR"
    exit_code = 3


class ImporterAuthError(ImporterError):
    code = "UPSTREAM_AUTH_FAILED"
    exit_code = 1


class CollectionNotFoundError(ImporterError):
    code = "COLLECTION_GONE_UPSTREAM"
    exit_code = 1


class ImporterUnavailableError(RetrovueError):
    code = "IMPORTER_UNAVAILABLE"


class UnknownSourceTypeError(RetrovueError):
    code = "UNKNOWN_SOURCE_TYPE"


class DuplicateSourceTypeError(RetrovueError):
    code = "DUPLICATE_SOURCE_TYPE"


# --- imperative commands (contracts.md §0.3) -------------------------------------------------


class NotSyncEnabledError(RetrovueError):
    code = "NOT_SYNC_ENABLED"


class NotIngestibleError(RetrovueError):
    code = "NOT_INGESTIBLE"


class ScopeNotFoundError(RetrovueError):
    code = "SCOPE_NOT_FOUND"


class NoEligibleCollectionsError(RetrovueError):
    code = "NO_ELIGIBLE_COLLECTIONS"


class AllCollectionsFailedError(RetrovueError):
    code = "ALL_COLLECTIONS_FAILED"


class ProductionSafetyError(RetrovueError):
    code = "PRODUCTION_SAFETY_FAILED"


class ConcurrentModificationError(RetrovueError):
    code = "CONCURRENT_MODIFICATION"
