"""Plugin enrichers for tests/test_enrich_execute.py and tests/test_faults.py.

They live in their own module (not in the test file) so the worker processes, which import an
enricher class by its module path with the parent's ``sys.path``, can load them without importing
pytest fixtures.  Each one misbehaves according to the file name it is given, so one collection
can hold a raising, a hanging and an aborting file beside good ones.
"""

from __future__ import annotations

import os
import resource
import time

from retrovue.enrichers.base import BaseEnricher, EnrichInput


class MisbehavingEnricher(BaseEnricher):
    """``raise*`` raises, ``hang*`` sleeps past the timeout, ``abort*`` kills its worker with
    os.abort(); anything else succeeds with the file's name and size."""

    type_id = "misbehave"
    version = "1"
    display_name = "Misbehaving test plugin"
    #: small, so a hanging file costs the test about a second
    default_timeout_s = 1.0

    @classmethod
    def param_spec(cls):
        return ()

    def enrich(self, asset: EnrichInput) -> dict:
        name = os.path.basename(asset.path)
        if name.startswith("raise"):
            raise ValueError("plugin bug on purpose")
        if name.startswith("hang"):
            time.sleep(600)
        if name.startswith("abort"):
            # no core file in the working directory, whatever the machine's limit
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            os.abort()
        return {"name": name, "size": os.path.getsize(asset.path)}


class SlowEnricher(BaseEnricher):
    """A file whose name holds ``slow`` takes ten minutes (well within its timeout); anything
    else succeeds at once: one slow file among quick ones."""

    type_id = "slow"
    version = "1"
    display_name = "Slow test plugin"
    default_timeout_s = 900.0

    @classmethod
    def param_spec(cls):
        return ()

    def enrich(self, asset: EnrichInput) -> dict:
        name = os.path.basename(asset.path)
        if "slow" in name:
            time.sleep(600)
        return {"name": name}


PLUGINS = (MisbehavingEnricher, SlowEnricher)


def plugin_registry():
    """The built-ins plus the plugins above (no entry points: the machine's plugins stay out)."""
    from retrovue.enrichers.registry import load_registry

    registry = load_registry(include_plugins=False)
    for cls in PLUGINS:
        registry.register(cls, f"test = tests.enrich_plugins:{cls.__name__}")
    return registry
