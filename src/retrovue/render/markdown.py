"""The plan as Markdown, for a pull-request comment or a CI job summary.

The summary line comes first (it is what a reviewer reads in a notification); each source is a
collapsible ``<details>`` block holding the text plan's lines as a ``diff`` code block, so the
+/-/~ markers get colour.  GitHub refuses comments over 65,536 characters, so the output is
capped: long sources are cut with a "… N more lines" line and, past the overall budget, the
remaining sources are listed as "… N more sources".
"""

from __future__ import annotations

from dataclasses import dataclass

from retrovue.model.actions import Action, Plan, is_change, is_warning
from retrovue.render.summary import plural
from retrovue.render.text import source_blocks, source_parts, summary_line

MARKERS = "+-~!="


@dataclass(frozen=True)
class MarkdownLimits:
    max_chars: int = 60_000  # below GitHub's 65,536-character comment limit, with room for a footer
    max_lines_per_source: int = 200


def render_markdown(
    plan: Plan, limits: MarkdownLimits = MarkdownLimits(), title: str = "retrovue plan"
) -> str:
    head = [f"### {title}", "", f"**{summary_line(plan)}**", ""]
    head += [f"> Note: {_escape(note)}\n" for note in plan.notes]
    blocks = [
        _source_details(name, actions, lines, limits)
        for name, actions, lines in source_blocks(plan)
    ]
    tail = _problems(plan)
    out = list(head)
    budget = limits.max_chars - len("\n".join(head + tail)) - 200  # 200: room for the "more" line
    for i, block in enumerate(blocks):
        if len(block) > budget:
            left = len(blocks) - i
            more = (
                f"_… {left} more source{'s' if left != 1 else ''} not shown (output capped at "
                f"{limits.max_chars:,} characters); run `retrovue plan` for the full plan._"
            )
            out += [more, ""]
            break
        out.append(block)
        budget -= len(block) + 1
    if not blocks:
        out += ["_Nothing to do: the database matches the config._", ""]
    out += tail
    return "\n".join(out).rstrip("\n") + "\n"


def _verb(actions: list[Action]) -> str:
    parts = source_parts(actions)
    if parts:  # what the source's own block says of it: created, deleted, kept, updated
        return parts[0].verb
    changes = sum(is_change(a) for a in actions)
    verb = f"{changes} change{'s' if changes != 1 else ''}" if changes else "no changes"
    flags = _flags(actions)
    return f"{verb}, {flags}" if flags else verb


def _flags(actions: list[Action]) -> str:
    """Degraded collections and warnings of one source: a collapsed block must not look clean."""
    degraded = sum(bool(getattr(a, "degraded", False)) for a in actions)
    warnings = sum(is_warning(a) for a in actions)
    parts = [f"{degraded} degraded"] if degraded else []
    if warnings:
        parts.append(plural(warnings, "warning"))
    return ", ".join(parts)


def _diff_line(line: str) -> str:
    """Move the Terraform-style marker to column 0, where ```diff colours it."""
    body = line.lstrip(" ")
    indent = line[2 : len(line) - len(body)]  # the text plan's 2-space margin is not needed here
    if body[:1] in MARKERS and body[1:2] == " ":
        return f"{body[0]} {indent}{body[2:]}"
    return f"  {indent}{body}"


def _source_details(
    name: str, actions: list[Action], block: list[str], limits: MarkdownLimits
) -> str:
    lines = [_diff_line(line) for line in block]
    if len(lines) > limits.max_lines_per_source:
        more = len(lines) - limits.max_lines_per_source
        lines = lines[: limits.max_lines_per_source] + [
            f"  … {more} more line{'s' if more != 1 else ''}"
        ]
    body = "\n".join(lines).replace("```", "`\u200b``")  # a name holding ``` must not end the block
    summary = f"<code>{_escape(name)}</code>: {_verb(actions)}"
    return f"<details><summary>{summary}</summary>\n\n```diff\n{body}\n```\n\n</details>\n"


def _problems(plan: Plan) -> list[str]:
    if not plan.problems:
        return []
    out = ["**Problems** (the rest of the plan was still made):", ""]
    for p in plan.problems:
        where = f"`{p.source}`" + (f" / `{p.collection}`" if p.collection else "")
        out.append(f"- :warning: {where}: {p.kind}: {_escape(p.message)}")
    return out + [""]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
