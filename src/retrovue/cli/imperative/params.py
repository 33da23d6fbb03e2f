"""`source add|update` flags generated from the importers' ``param_spec()``.

Every registered type's flags are accepted (so a flag of another type is refused by name, with
the type it does not belong to, rather than by click), but with ``--type X`` on the line,
``--help`` lists only X's flags.
"""

from __future__ import annotations

import click

from retrovue.app.source_params import registry_specs
from retrovue.importers.base import ParamSpec
from retrovue.importers.registry import load_registry

PREFIX = "param_"


def _peek_type(args: list[str]) -> str | None:
    for i, arg in enumerate(args):
        if arg == "--type" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--type="):
            return arg.split("=", 1)[1]
    return None


def _option(spec: ParamSpec, hidden: bool) -> click.Option:
    dest = PREFIX + spec.name
    name = spec.name.replace("_", "-")
    suffix = " (required)" if spec.required else ""
    if spec.kind == "bool":
        default = (
            f" [default: {'yes' if spec.default else 'no'}]" if spec.default is not None else ""
        )
        return click.Option(
            [f"--{name}/--no-{name}", dest],
            default=None,
            hidden=hidden,
            help=spec.help + default,
        )
    metavar = {"url": "URL", "path": "PATH", "list": "A,B,…", "number": "N"}.get(spec.kind, "TEXT")
    help_text = spec.help + suffix + (" (sensitive)" if spec.sensitive else "")
    return click.Option(
        [spec.flag, dest], default=None, metavar=metavar, hidden=hidden, help=help_text
    )


class TypeParamsCommand(click.Command):
    """A command whose extra options come from the importers' param_spec()."""

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
        try:
            specs = registry_specs(load_registry())
        except Exception:  # noqa: BLE001 - the command itself reports registry failures
            specs = {}
        chosen = ctx.meta.get("rv_type")
        shown = {s.name for s in specs.get(chosen, ())} if chosen in specs else None
        options: dict[str, click.Option] = {}
        for type_specs in specs.values():
            for spec in type_specs:
                if spec.name not in options:
                    options[spec.name] = _option(
                        spec, hidden=shown is not None and spec.name not in shown
                    )
                elif shown is not None and spec.name in shown:
                    options[spec.name] = _option(spec, hidden=False)
        ctx.meta["rv_type_options"] = list(options.values())
        return ctx.meta["rv_type_options"]


def given_params(kwargs: dict) -> dict:
    """The param_spec values the operator actually passed, by parameter name."""
    return {
        k[len(PREFIX) :]: v for k, v in kwargs.items() if k.startswith(PREFIX) and v is not None
    }
