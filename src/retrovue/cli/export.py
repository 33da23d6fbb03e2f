"""`retrovue export [--source NAME]…`: print the retrovue.yaml that describes the database."""

from __future__ import annotations

import click

from retrovue.cli.context import AppContext
from retrovue.cli.options import common_options
from retrovue.errors import NotFoundError
from retrovue.observe.db import load_snapshot
from retrovue.render.export import export_yaml


@click.command("export")
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="NAME",
    help="Only this stored source (repeatable).",
)
@common_options
def export(app: AppContext, sources: tuple[str, ...]) -> None:
    """Print retrovue.yaml for the current database (secrets become ${VAR} references)."""
    with app.engine.connect() as conn:
        snapshot = load_snapshot(conn)
    known = {s.name.casefold() for s in snapshot.sources}
    unknown = [n for n in sources if n.casefold() not in known]
    if unknown:
        raise NotFoundError(
            f"no stored source named {', '.join(repr(n) for n in unknown)}",
            hint="see `retrovue source list`",
        )
    result = export_yaml(snapshot, app.registry, tuple(sources))
    if app.json_output:
        app.emit_json(
            {
                "status": "ok",
                "yaml": result.text,
                "variables": [
                    {"name": s.variable, "source": s.source, "key": s.key} for s in result.secrets
                ],
            }
        )
    else:
        app.out(result.text)
    for secret in result.secrets:
        app.err(
            f'note: set {secret.variable} (the {secret.key} of source "{secret.source}") before using this file'
        )
