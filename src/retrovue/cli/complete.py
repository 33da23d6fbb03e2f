"""Shell completion of SOURCE and COLLECTION arguments from the stored names.

click calls these on Tab (``_RETROVUE_COMPLETE=bash_source retrovue`` prints the shell's hook);
the ``--db``/``--test-db`` already typed on the line pick the database, as they would for the
command itself.  The names come from upstream, so two guards stand between them and the shell:
no candidate carries a control character, and bash gets each one quoted as one word.
"""

from __future__ import annotations

import click
from click.shell_completion import BashComplete, CompletionItem

from retrovue.render.values import bash_word, one_line


def _items(names: list[str]) -> list[CompletionItem]:
    # A name holding a control character (a line break, ESC, BEL, CR, a bidi override) is left
    # out, not escaped: shells list candidates on the terminal as they are, click's protocols
    # are line-based (a line break would forge a candidate of its own), and an escaped spelling
    # ("zz\n…") would name nothing when run.  Its UUID, which `list` shows, still selects it.
    return [CompletionItem(name) for name in names if one_line(name) == name]


def _complete(ctx: click.Context, incomplete: str, names_of) -> list[CompletionItem]:
    from retrovue.app.completion import read_quietly

    test_db, db_url = bool(ctx.params.get("test_db")), ctx.params.get("db_url")
    return _items(read_quietly(test_db, db_url, lambda app: names_of(app, incomplete), []))


def complete_source(ctx: click.Context, _param, incomplete: str) -> list[CompletionItem]:
    from retrovue.app.completion import source_names

    return _complete(ctx, incomplete, source_names)


def complete_collection(ctx: click.Context, _param, incomplete: str) -> list[CompletionItem]:
    from retrovue.app.completion import collection_names

    return _complete(ctx, incomplete, collection_names)


def complete_enricher_type(ctx: click.Context, _param, incomplete: str) -> list[CompletionItem]:
    from retrovue.app.completion import enricher_types

    return _items(enricher_types(incomplete))


class QuotedBashComplete(BashComplete):
    """click's bash protocol with every candidate quoted as one shell word.

    bash puts a candidate on the command line exactly as received, so a name holding ``$(…)``,
    a space or a quote would run, or split, when the line is entered.  zsh (``compadd``) and
    fish quote what they insert themselves, so their classes stay click's.
    """

    def format_completion(self, item: CompletionItem) -> str:
        return f"{item.type},{bash_word(str(item.value))}"
