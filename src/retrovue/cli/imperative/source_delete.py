"""`retrovue source delete`."""

from __future__ import annotations

import click

from retrovue.app.source_delete import delete_sources, plan_delete
from retrovue.cli.complete import complete_source
from retrovue.cli.console import Console
from retrovue.cli.imperative import shared
from retrovue.cli.imperative.shared import confirmation_options, dry_run_option, emit_dry_run
from retrovue.cli.imperative.source import source
from retrovue.cli.options import common_options
from retrovue.model.enums import Outcome
from retrovue.render import deletes as view


@source.command("delete")
@click.argument("selector", metavar="SELECTOR", shell_complete=complete_source)
@confirmation_options
@dry_run_option
@common_options
def delete(
    console: Console, selector: str, force: bool, confirmed: bool, dry_run: bool
) -> Outcome | None:
    """Delete the source SELECTOR names, with its collections, path mappings and assets.

    SELECTOR is one UUID, external_id or name; with `*` or `?` in it, it is a pattern that may
    match several sources, and every match is deleted after one confirmation."""
    preview = plan_delete(console.ctx, selector, force=force, dry_run=dry_run)
    if not preview.targets:
        if console.json_output:
            console.emit_json(view.no_match_document(dry_run))
        else:
            console.lines(view.no_match_lines(preview))
        return None
    if dry_run:
        doc = view.delete_preview_document(preview, confirmation_required=not (force or confirmed))
        emit_dry_run(console, preview.plan, doc, view.delete_preview_lines(preview))
        return None
    if not shared.confirmed(console, view.delete_prompt(preview), force=force, confirmed=confirmed):
        console.show(view.DELETE_CANCELLED, view.cancelled_document, view.cancelled_text)
        return Outcome.CANCELLED
    report = delete_sources(console.ctx, preview)
    console.show(report, view.delete_document, view.delete_lines)
    return report.outcome
