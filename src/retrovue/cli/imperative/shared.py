"""What the imperative commands share at the terminal: --dry-run output, the confirmation prompt
and the flags that go with them."""

from __future__ import annotations

import sys

import click

from retrovue.cli import console as terminal
from retrovue.cli.console import Console
from retrovue.errors import ApprovalRequired
from retrovue.model.actions import Plan
from retrovue.render.dry_run import dry_run_document, dry_run_text

dry_run_option = click.option("--dry-run", is_flag=True, help="Show the plan; write nothing.")


def confirmation_options(func):
    """--force / --confirm of the destructive commands."""
    func = click.option(
        "--confirm", "confirmed", is_flag=True, help="Answer 'yes' non-interactively."
    )(func)
    return click.option(
        "--force",
        is_flag=True,
        help="Skip the prompt (under --test-db also overrides production safety).",
    )(func)


def emit_dry_run(console: Console, plan: Plan, document: dict, lines: list[str] = ()) -> None:
    """The plan as `retrovue plan` renders it, then the footer; JSON gets dry_run + plan."""
    if console.json_output:
        console.emit_json(dry_run_document(plan, document))
    else:
        console.out(dry_run_text(plan, lines))


def confirmed(console: Console, prompt_lines: list[str], *, force: bool, confirmed: bool) -> bool:
    """True when the operator typed `yes` (or passed --force/--confirm).  Without a terminal to
    ask on, the command is refused rather than guessed."""
    if force or confirmed:
        return True
    if not terminal.stdin_is_tty():  # looked up at call time: tests stand in a terminal
        raise ApprovalRequired(
            "Confirmation required but stdin is not a terminal; re-run with --confirm (or --force)"
        )
    for line in prompt_lines:
        console.err(line)
    console.err("This action cannot be undone.")
    try:
        # the prompt is written inside the try: a Ctrl-C typed as soon as it shows is a "no"
        click.echo("Type 'yes' to confirm: ", err=True, nl=False)
        answer = sys.stdin.readline()
    except (KeyboardInterrupt, EOFError):
        answer = ""
    click.echo("", err=True)
    return answer.strip() == "yes"
