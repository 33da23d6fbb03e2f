"""The plan as JSON: the renderers' name for the plan's own document, which is built beside the
plan (``retrovue.plan.document``) because `plan --out` saves the same document."""

from __future__ import annotations

from retrovue.plan.document import plan_to_json

__all__ = ["plan_to_json"]
