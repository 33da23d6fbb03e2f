"""What `validate` and `apply` print of their own (the plan has its renderers)."""

from __future__ import annotations

from retrovue.errors import ConfigError
from retrovue.model.enums import Outcome
from retrovue.render.json import plan_to_json
from retrovue.render.results import results_to_json


def validate_document(validated) -> dict:
    return {
        "status": "ok",
        "valid": True,
        "file": validated.path,
        "sources": len(validated.desired.sources),
        "diagnostics": [],
    }


def validate_text(validated) -> str:
    count = len(validated.desired.sources)
    return f"{validated.path}: valid ({count} source{'s' if count != 1 else ''})\n"


def validate_failure_document(exc: ConfigError, path: str) -> dict:
    return {
        "status": "error",
        "code": exc.code,
        "valid": False,
        "file": path,
        "diagnostics": [d.to_json() for d in exc.diagnostics],
    }


def applied_document(applied) -> dict:
    if applied.result is None:
        return {"status": "ok", "plan": plan_to_json(applied.plan), "results": None}
    status = {Outcome.OK: "ok", Outcome.PARTIAL: "partial"}.get(applied.outcome, "error")
    return {
        "status": status,
        "plan": plan_to_json(applied.plan),
        "results": results_to_json(applied.result, applied.plan),
    }
