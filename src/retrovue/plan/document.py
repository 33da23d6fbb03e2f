"""The plan as its JSON document, per ``schemas/plan.schema.json``: `plan --json` prints it and
`plan --out` saves it.  No secret value is ever written here.

The wire format itself is ``retrovue.model.codec`` (saved plans read it back through the same
table); this adds what a reader wants derived: the summary.
"""

from __future__ import annotations

from retrovue.model.actions import Plan
from retrovue.model.codec import encode_plan
from retrovue.plan.summary import summarize


def plan_to_json(plan: Plan) -> dict:
    return encode_plan(plan) | {"summary": summarize(plan).to_json()}
