"""The imperative commands: `retrovue source|collection|asset …`.

Each command calls a use case of ``retrovue.app``, which builds the same plan actions `retrovue
plan` builds and runs them through the one executor; `--dry-run` prints that plan and writes
nothing.
"""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    from retrovue.cli.imperative.asset import asset
    from retrovue.cli.imperative.collection import collection
    from retrovue.cli.imperative.source import source

    cli.add_command(source)
    cli.add_command(collection)
    cli.add_command(asset)
