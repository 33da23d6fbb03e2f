"""`retrovue collection wipe`."""

from __future__ import annotations

import click

from retrovue.app.collection_wipe import plan_wipe, wipe_collection
from retrovue.cli.complete import complete_collection
from retrovue.cli.console import Console
from retrovue.cli.imperative import shared
from retrovue.cli.imperative.collection import collection
from retrovue.cli.imperative.shared import confirmation_options, dry_run_option, emit_dry_run
from retrovue.cli.options import common_options
from retrovue.model.enums import Outcome
from retrovue.render import deletes as view


@collection.command("wipe")
@click.argument("selector", metavar="COLLECTION", shell_complete=complete_collection)
@confirmation_options
@dry_run_option
@common_options
def wipe(
    console: Console, selector: str, force: bool, confirmed: bool, dry_run: bool
) -> Outcome | None:
    """Delete every asset of a collection; its settings and path mappings are kept."""
    planned = plan_wipe(console.ctx, selector, force=force, dry_run=dry_run)
    if dry_run:
        doc = view.wipe_preview_document(planned, confirmation_required=not (force or confirmed))
        emit_dry_run(console, planned.plan, doc, view.wipe_preview_lines(planned))
        return None
    if not shared.confirmed(console, view.wipe_prompt(planned), force=force, confirmed=confirmed):
        console.show(view.WIPE_CANCELLED, view.cancelled_document, view.cancelled_text)
        return Outcome.CANCELLED
    done = wipe_collection(console.ctx, planned)
    console.show(done, view.wipe_document, view.wipe_lines)
    return None
