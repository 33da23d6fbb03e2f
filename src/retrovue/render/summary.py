"""The words the renderers share for a plan's counts (``retrovue.plan.summary`` makes them)."""

from __future__ import annotations

from retrovue.plan.summary import PlanSummary


def notes(s: PlanSummary) -> str:
    """What the plan found that is not a change: empty when there is nothing of the kind."""
    parts = []
    if s.collections_degraded:
        parts.append(f"{plural(s.collections_degraded, 'collection')} degraded")
    if s.warnings:
        parts.append(plural(s.warnings, "warning"))
    if s.problems:
        parts.append(f"{plural(s.problems, 'problem')} (the rest was planned)")
    return ", ".join(parts)


def plural(n: int, noun: str, plural_noun: str | None = None) -> str:
    return f"{n:,} {noun if n == 1 else (plural_noun or noun + 's')}"
