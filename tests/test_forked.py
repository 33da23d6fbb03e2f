"""Issue 20: the loudness enricher's segments are shared among forked processes (``forked.py``),
not threads: the items are done by more than one process, their outcomes come back in item order,
a failure comes back as itself, and a copy that dies fails the job instead of hanging it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from retrovue.enrichers.errors import CRASHED, UNREADABLE, EnrichmentError
from retrovue.enrichers.forked import map_forked


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.005)


def children() -> set[int]:
    pids = set()
    for task in Path("/proc/self/task").iterdir():
        pids |= {int(p) for p in (task / "children").read_text().split()}
    return pids


def nothing(*_args) -> None:
    return None


def test_items_are_done_by_more_than_one_process_and_come_back_in_order(tmp_path):
    """Item 0 waits until item 1 is done, so whichever process takes item 0, another takes 1."""
    done_1 = tmp_path / "1"

    def job(worker: int, item: int):
        if item == 0:
            wait_for(done_1)
        if item == 1:
            done_1.touch()
        return item * 10, os.getpid(), worker

    outcomes = map_forked(job, list(range(6)), workers=2, on_failure=nothing)
    assert [o.error for o in outcomes] == [None] * 6
    assert [o.value[0] for o in outcomes] == [0, 10, 20, 30, 40, 50]
    assert outcomes[0].value[1] != outcomes[1].value[1]
    assert {o.value[2] for o in outcomes[:2]} == {0, 1}


def test_a_failure_in_a_copy_comes_back_as_itself(tmp_path):
    took = tmp_path / "took"

    def job(worker: int, item: int):
        if worker == 0:
            wait_for(took)  # the copy has an item: the parent does the other
            return "parent"
        took.touch()
        raise EnrichmentError(UNREADABLE, "test: a damaged stretch")

    outcomes = map_forked(job, [0, 1], workers=2, on_failure=nothing)
    errors = [o.error for o in outcomes if o.error is not None]
    assert len(errors) == 1 and isinstance(errors[0], EnrichmentError)
    assert (errors[0].code, errors[0].message) == (UNREADABLE, "test: a damaged stretch")
    assert [o.value for o in outcomes if o.error is None] == ["parent"]


def test_a_copy_that_dies_fails_the_job_and_leaves_no_process(tmp_path):
    took = tmp_path / "took"
    before = children()

    def job(worker: int, item: int):
        if worker == 0:
            wait_for(took)
            return "parent"
        took.touch()
        os.kill(os.getpid(), signal.SIGKILL)  # a crash in native code, as far as anyone can tell

    with pytest.raises(EnrichmentError) as caught:
        map_forked(job, [0, 1], workers=2, on_failure=nothing)
    assert caught.value.code == CRASHED and "signal 9" in caught.value.message
    assert children() <= before


def test_one_worker_does_everything_here():
    outcomes = map_forked(lambda worker, item: (os.getpid(), worker), [1, 2, 3], 1, nothing)
    assert [o.value for o in outcomes] == [(os.getpid(), 0)] * 3
