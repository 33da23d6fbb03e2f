"""The enricher tests/test_worker.py's workers run, and the wrapper that lets the real CLI load
it (no entry point needed): ``python -m tests.worker_plugins ARGS…`` is ``retrovue ARGS…`` with
this enricher registered beside the built-ins.

``TallyEnricher`` takes ``RV_TALLY_SLEEP`` seconds per file (so that a kill lands mid-batch) and
appends ``<asset id> <pid of the retrovue process>`` to ``$RV_TALLY_DIR/runs.log`` for every run,
so a test can tell which worker ran what, and how often.
"""

from __future__ import annotations

import os
import time

from retrovue.enrichers.base import BaseEnricher, EnrichInput


class TallyEnricher(BaseEnricher):
    type_id = "tally"
    version = "1"
    display_name = "Counting test plugin"
    default_timeout_s = 60.0

    @classmethod
    def param_spec(cls):
        return ()

    def enrich(self, asset: EnrichInput) -> dict:
        time.sleep(float(os.environ.get("RV_TALLY_SLEEP", "0")))
        where = os.environ.get("RV_TALLY_DIR")
        if where:
            line = f"{asset.asset_id} {os.getppid()}\n".encode()
            fd = os.open(os.path.join(where, "runs.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(fd, line)  # one write in append mode: lines never interleave
            finally:
                os.close(fd)
        return {"name": os.path.basename(asset.path), "size": os.path.getsize(asset.path)}


def register(monkeypatch=None) -> None:
    """Have every registry built from now on (in this process) include TallyEnricher."""
    from retrovue.enrichers import registry

    builtins = registry.builtin_enrichers

    def with_tally():
        return [*builtins(), TallyEnricher]

    if monkeypatch is not None:
        monkeypatch.setattr(registry, "builtin_enrichers", with_tally)
    else:
        registry.builtin_enrichers = with_tally


if __name__ == "__main__":
    import sys

    from retrovue.cli.main import main

    # registered from the module, not from __main__: the pool's processes import the class by
    # its module path
    from tests import worker_plugins

    worker_plugins.register()
    main(sys.argv[1:])
