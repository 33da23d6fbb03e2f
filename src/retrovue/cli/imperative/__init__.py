"""The imperative commands: `retrovue source|collection|asset …`.

Each command calls a use case of ``retrovue.app``, which builds the same plan actions `retrovue
plan` builds and runs them through the one executor; `--dry-run` prints that plan and writes
nothing.  ``retrovue.cli.main`` loads each group when it is used.
"""
