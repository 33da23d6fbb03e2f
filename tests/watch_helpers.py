"""`retrovue watch` as a process for the watch tests (issue 21): the real CLI in a subprocess,
its stderr gathered line by line, waited on by polling with a generous timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

TIMEOUT = 60.0
#: ten files: one deleted is 10 %, under the mass-missing guard's 20 %
FILES = [f"Film {i} ({1990 + i}).mkv" for i in range(10)]


class WatchProcess:
    """`retrovue watch` running; its stderr gathered line by line."""

    def __init__(self, config: Path, db_url: str, *extra: str, preexec_fn=None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "retrovue", "watch", "-c", str(config), "--db", db_url,
             "--settle", "0.2", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "RETROVUE_LOG_LEVEL": "info"},
            preexec_fn=preexec_fn,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    @property
    def err(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, condition, what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not condition():
            if self.proc.poll() is not None:
                pytest.fail(f"watch exited {self.proc.returncode} waiting for {what}:\n{self.err}")
            if time.monotonic() > deadline:
                pytest.fail(f"never saw {what}; stderr:\n{self.err}")
            time.sleep(0.1)

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(TIMEOUT)
        finally:
            self._reader.join(5)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@contextmanager
def first_reconciled(config: Path, db_url: str, *extra: str) -> Iterator[WatchProcess]:
    """A watch of ``config`` past its first reconcile of a source; killed at the end."""
    started = WatchProcess(config, db_url, *extra)
    try:
        started.wait_for(lambda: started.said("watch-start of source"), "the first reconcile")
        yield started
    finally:
        started.kill()
