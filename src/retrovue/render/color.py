"""Terraform's colours on a plan's text: each line in the colour of its leading symbol."""

from __future__ import annotations

# a plan line's leading symbol (after its indentation) -> its style
_SYMBOL_STYLES = {"+": "green", "~": "yellow", "-": "red", "!": "bold red"}


def colorize(text: str) -> str:
    """Each line whose first non-blank character is a plan symbol, in that symbol's colour."""
    from rich.color import ColorSystem  # only for a person at a terminal: plans in CI skip rich
    from rich.style import Style

    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        style = _SYMBOL_STYLES.get(body.lstrip(" ")[:1])
        if style and body:
            line = (
                Style.parse(style).render(body, color_system=ColorSystem.STANDARD)
                + line[len(body) :]
            )
        out.append(line)
    return "".join(out)
