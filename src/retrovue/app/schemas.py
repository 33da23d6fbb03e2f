"""The JSON Schemas retrovue ships: of retrovue.yaml (config) and of `plan --json` (plan).

They are package data, so an editor can be pointed at a file written from them
(``retrovue schema config > retrovue.schema.json``) with no network and no checkout.
"""

from __future__ import annotations

from importlib import resources

#: what each name gives, as the file shipped in ``retrovue/schemas``
SCHEMA_FILES = {"config": "retrovue.schema.json", "plan": "plan.schema.json"}


def schema_text(which: str) -> str:
    if which == "plan":  # its actions part comes from the registered kinds (plugins' too)
        from retrovue.model.plan_schema import plan_schema_text

        return plan_schema_text()
    return resources.files("retrovue.schemas").joinpath(SCHEMA_FILES[which]).read_text("utf-8")
