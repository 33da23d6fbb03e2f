"""Loading plugin classes from an entry-point group: the one loop both registries share.

A plugin that fails to import is listed as broken with the reason, never fatal; the registry's
own ``register`` decides what a loaded class may be (and fails loudly on a duplicate type).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint

from retrovue import logs


def load_plugins(
    found: Iterable[EntryPoint],
    register: Callable[[type, str], None],
    broken: dict[str, str],
) -> None:
    """``register(cls, "name = module:attr")`` each entry point's class; ``broken[name]`` says
    why one did not import."""
    for ep in found:
        provider = f"{ep.name} = {ep.value}"
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin is listed as unavailable, not fatal
            broken[ep.name] = f"{type(exc).__name__}: {exc}"
            continue
        register(cls, provider)
    logs.configure_if_loaded()  # a plugin that imported structlog logs as retrovue does
