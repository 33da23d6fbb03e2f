"""Bulk phases pause Python's cyclic garbage collector.

Listing a collection, diffing it and building its rows allocate hundreds of thousands of small
container objects (items, row tuples) that hold no reference cycles, so reference counting frees
every one of them.  The cyclic collector still runs every 700 allocations and, as those objects
survive, walks the whole growing heap again and again: 25–30% of a 100,000-file first ingest on
the project machine, for nothing.  It is paused for such a phase only and runs again after it, so
any cycle made meanwhile (an exception's traceback, say) is collected then.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    if not gc.isenabled():  # nested, or paused by the caller: leave it to them
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
