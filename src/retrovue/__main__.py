"""`python -m retrovue` runs the CLI."""

from retrovue.cli.main import main

main()
