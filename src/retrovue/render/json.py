"""The plan as JSON, per ``schemas/plan.schema.json``.  No secret value is ever written here.

The wire format itself is ``retrovue.model.codec`` (saved plans read it back through the same
table); this module only adds what a reader wants derived: the summary.
"""

from __future__ import annotations

from retrovue.model.actions import Plan
from retrovue.model.codec import encode_plan
from retrovue.render.summary import summarize


def plan_to_json(plan: Plan) -> dict:
    return encode_plan(plan) | {"summary": summarize(plan).to_json()}
