"""`retrovue source list-types | list | show` and the `source` group.

The mutating verbs live in their own modules (source_add, source_update, source_discover,
source_ingest, source_delete); they are attached to this group at the end.
"""

from __future__ import annotations

import click

from retrovue.app import source_read as read
from retrovue.cli.complete import complete_source
from retrovue.cli.console import Console
from retrovue.cli.options import common_options
from retrovue.render import sources as render


@click.group()
def source() -> None:
    """Sources: configured importer instances (`source list-types` lists the types)."""


@source.command("list-types")
@common_options
def list_types(console: Console) -> None:
    """List the registered source types and their parameters."""
    types = read.list_source_types(console.ctx)
    if console.json_output:
        console.emit_json(render.source_types_document(types))
    else:
        console.lines(_with_type_detail(types, render.source_types_lines(types)))


def _with_type_detail(types: list[read.SourceType], lines: list[str]) -> list[str]:
    """Under each type's line, whether it is compliant and its parameters, so the text says what
    --json says (the heading and the Total line frame one line per type)."""
    if not types:
        return lines
    out = [lines[0]]
    for t, line in zip(types, lines[1:-1], strict=True):
        out += [line, f"      Compliant: {'Yes' if t.compliant else 'No'}"]
        out += [f"      {_param(p)}" for p in t.parameters]
    return out + [lines[-1]]


def _param(p) -> str:
    notes = [n for n, on in (("required", p.required), ("sensitive", p.sensitive)) if on]
    head = f"{p.flag} ({', '.join(notes)})" if notes else p.flag
    return f"{head}: {p.help}" if p.help else head


@source.command("list")
@click.option("--type", "type_id", metavar="TYPE", help="Only sources of this type.")
@common_options
def list_sources(console: Console, type_id) -> None:
    """List sources (read-only)."""
    listing = read.list_sources(console.ctx, type_id)
    if console.json_output:
        console.emit_json(render.sources_document(listing))
    else:
        console.lines(render.sources_lines(listing))


@source.command("show")
@click.argument("selector", metavar="SOURCE", shell_complete=complete_source)
@common_options
def show(console: Console, selector: str) -> None:
    """Show one source with its collections (read-only)."""
    detail = read.show_source(console.ctx, selector)
    if console.json_output:
        console.emit_json(render.source_document(detail))
    else:
        console.lines(render.source_lines(detail))


# The other verbs live in their own modules; importing them attaches them to `source`.
from retrovue.cli.imperative import (  # noqa: E402, F401
    source_add,
    source_delete,
    source_discover,
    source_enrichers,
    source_ingest,
    source_update,
)
