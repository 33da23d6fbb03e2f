"""`source add|update` flags generated from the importers' ``param_spec()``.

Every registered type's flags are accepted (so a flag of another type is refused by name, with
the type it does not belong to, rather than by click), but with ``--type X`` on the line,
``--help`` lists only X's flags.
"""

from __future__ import annotations

import click

from retrovue.app.source_params import loaded_specs
from retrovue.importers.base import ParamSpec
from retrovue.importers.kinds import rule_of

PREFIX = "param_"


def _peek_type(args: list[str]) -> str | None:
    for i, arg in enumerate(args):
        if arg == "--type" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--type="):
            return arg.split("=", 1)[1]
    return None


def _option(spec: ParamSpec, hidden: bool, partial: bool = False) -> click.Option:
    dest = PREFIX + spec.name
    name = spec.name.replace("_", "-")
    # a partial update changes only what is given: nothing is required there
    suffix = " (required)" if spec.required and not partial else ""
    if rule_of(spec.kind).switch:
        default = (
            f" [default: {'yes' if spec.default else 'no'}]" if spec.default is not None else ""
        )
        return click.Option(
            [f"--{name}/--no-{name}", dest],
            default=None,
            hidden=hidden,
            help=spec.help + default,
        )
    metavar = rule_of(spec.kind).metavar
    help_text = spec.help + suffix + (" (sensitive)" if spec.sensitive else "")
    return click.Option(
        [spec.flag, dest], default=None, metavar=metavar, hidden=hidden, help=help_text
    )


class TypeParamsCommand(click.Command):
    """A command whose extra options come from the importers' param_spec()."""

    partial = False  # `source update`: every parameter is optional

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["rv_type"] = _peek_type(args)
        return super().parse_args(ctx, args)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        base = super().get_params(ctx)
        help_option = self.get_help_option(ctx)
        extra = self._type_options(ctx)
        if help_option is not None and base and base[-1] is help_option:
            return base[:-1] + extra + [help_option]
        return base + extra

    def _type_options(self, ctx: click.Context) -> list[click.Option]:
        if "rv_type_options" in ctx.meta:
            return ctx.meta["rv_type_options"]
        specs = loaded_specs()
        chosen = ctx.meta.get("rv_type")
        shown = {s.name for s in specs.get(chosen, ())} if chosen in specs else None
        options: dict[str, click.Option] = {}
        for type_specs in specs.values():
            for spec in type_specs:
                if spec.name not in options:
                    options[spec.name] = _option(
                        spec,
                        hidden=shown is not None and spec.name not in shown,
                        partial=self.partial,
                    )
                elif shown is not None and spec.name in shown:
                    options[spec.name] = _option(spec, hidden=False, partial=self.partial)
        ctx.meta["rv_type_options"] = list(options.values())
        return ctx.meta["rv_type_options"]


class PartialParamsCommand(TypeParamsCommand):
    """`source update`: the type flags are optional, and ``--help`` lists them per type, since
    a source has one type and only that type's flags apply to it."""

    partial = True

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # `--help` exits while parsing, before SOURCE is processed: note it (and the database
        # options) first, so the help can show that source's own flags
        try:
            opts, positional, _order = self.make_parser(ctx).parse_args(args=list(args))
        except click.ClickException:
            opts, positional = {}, []
        ctx.meta["rv_help_target"] = (
            opts.get("selector") or (positional[0] if positional else None),
            bool(opts.get("test_db")),
            opts.get("db_url"),
        )
        return super().parse_args(ctx, args)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        typed = {o.name: o for o in self._type_options(ctx)}
        rows = [
            r
            for p in self.get_params(ctx)
            if isinstance(p, click.Option)
            and p.name not in typed
            and (r := p.get_help_record(ctx)) is not None
        ]
        with formatter.section("Options"):
            formatter.write_dl(rows)
        specs = loaded_specs()
        own = _stored_type(*ctx.meta.get("rv_help_target", (None, False, None)))
        for type_id, type_specs in specs.items():
            if own in specs and type_id != own:
                continue
            records = [typed[PREFIX + s.name].get_help_record(ctx) for s in type_specs]
            with formatter.section(f"Options for {type_id} sources"):
                formatter.write_dl([r for r in records if r is not None])


def _stored_type(selector: str | None, test_db: bool, db_url: str | None) -> str | None:
    """The type of the stored source SELECTOR names; None when it cannot be told, and the help
    then lists every type."""
    if not selector:
        return None
    from retrovue.app.completion import read_quietly
    from retrovue.app.selectors import stored_source_type

    return read_quietly(test_db, db_url, lambda ctx: stored_source_type(ctx, selector), None)


def given_params(kwargs: dict) -> dict:
    """The param_spec values the operator actually passed, by parameter name."""
    return {
        k[len(PREFIX) :]: v for k, v in kwargs.items() if k.startswith(PREFIX) and v is not None
    }
