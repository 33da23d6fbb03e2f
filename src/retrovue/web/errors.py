"""The one place where a typed error becomes an HTTP status; the body is the CLI's JSON error
document (``{"status": "error", "code": …, "message": …}``) with the same codes."""

from __future__ import annotations

from retrovue import errors as e

#: the most specific class in an error's MRO decides; anything unlisted is a 500
_STATUS: dict[type, int] = {
    e.UsageError: 400,
    e.ValidationError: 422,
    e.SecretNotSetError: 422,
    e.UnknownSourceTypeError: 422,
    e.ImporterUnavailableError: 422,
    e.UnauthorizedError: 401,
    e.ForbiddenError: 403,
    e.NotFoundError: 404,
    e.ScopeNotFoundError: 404,
    e.CollectionNotFoundError: 404,
    e.AmbiguousSelectorError: 409,
    e.LockedError: 409,
    e.LockLostError: 409,
    e.ConcurrentModificationError: 409,
    e.ProductionSafetyError: 409,
    e.NotApprovableError: 409,
    e.NotSyncEnabledError: 409,
    e.NotIngestibleError: 409,
    e.NoEligibleCollectionsError: 409,
    e.PlanError: 409,
    e.ApprovalRequired: 409,
    e.ImporterError: 502,
    e.ImporterUnreachableError: 504,
    e.DatabaseError: 503,
    e.InterruptedByOperator: 503,
}


def http_status(error: BaseException) -> int:
    for cls in type(error).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500
