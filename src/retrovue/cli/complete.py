"""Shell completion of SOURCE and COLLECTION arguments from the stored names.

click calls these on Tab (``_RETROVUE_COMPLETE=bash_source retrovue`` prints the shell's hook);
the ``--db``/``--test-db`` already typed on the line pick the database, as they would for the
command itself.
"""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem

from retrovue.app.context import Context


def _context(ctx: click.Context) -> Context:
    return Context(test_db=bool(ctx.params.get("test_db")), db_url=ctx.params.get("db_url"))


def _items(names: list[str]) -> list[CompletionItem]:
    return [CompletionItem(name) for name in names]


def _complete(ctx: click.Context, incomplete: str, names_of) -> list[CompletionItem]:
    app = _context(ctx)
    try:
        return _items(names_of(app, incomplete))
    except Exception:  # noqa: BLE001 - a bad --db on the line completes nothing, quietly
        return []
    finally:
        app.close()


def complete_source(ctx: click.Context, _param, incomplete: str) -> list[CompletionItem]:
    from retrovue.app.completion import source_names

    return _complete(ctx, incomplete, source_names)


def complete_collection(ctx: click.Context, _param, incomplete: str) -> list[CompletionItem]:
    from retrovue.app.completion import collection_names

    return _complete(ctx, incomplete, collection_names)


def complete_enricher_type(ctx: click.Context, _param, incomplete: str) -> list[CompletionItem]:
    from retrovue.app.completion import enricher_types

    try:
        return _items(enricher_types(incomplete))
    except Exception:  # noqa: BLE001 - a broken plugin completes nothing, quietly
        return []
