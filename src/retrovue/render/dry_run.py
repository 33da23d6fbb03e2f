"""What `--dry-run` prints: the plan as `retrovue plan` shows it, then what the command would do."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrovue.model.actions import Plan

DRY_RUN_FOOTER = "(No database changes made \u2014 dry-run mode)"


def dry_run_document(plan: Plan, document: dict) -> dict:
    from retrovue.render.json import plan_to_json

    return {**document, "dry_run": True, "plan": plan_to_json(plan)}


def dry_run_text(plan: Plan, lines: list[str] = ()) -> str:
    from retrovue.render.text import render_text

    text = render_text(plan)
    if lines:
        text += "\n".join(lines) + "\n"
    return text + DRY_RUN_FOOTER + "\n"
