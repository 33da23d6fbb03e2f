"""Aligned, borderless tables for the list commands, laid out by rich as plain text.

The text carries no colour or escape codes: it goes through the console like every other line,
and a pipe gets the same columns a terminal does.
"""

from __future__ import annotations

import io

from retrovue.render.values import one_line


def table_lines(headers: list[str], rows: list[list[str]]) -> list[str]:
    """One line for the header and one for each row, columns aligned; never wrapped."""
    # rich is imported here, not at module level, so commands that print no table start fast
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, show_edge=False, padding=(0, 2, 0, 0))
    for header in headers:
        table.add_column(header, no_wrap=True, overflow="ignore")
    for row in rows:
        # Text cells: a name holding "[bold]" is printed as typed, not read as markup; names
        # are escaped first so an escape sequence cannot shift the columns
        table.add_row(*(Text(one_line(cell)) for cell in row))
    buffer = io.StringIO()
    console = Console(file=buffer, width=100_000, color_system=None, highlight=False)
    console.print(table, soft_wrap=True)
    return [line.rstrip() for line in buffer.getvalue().splitlines()]
