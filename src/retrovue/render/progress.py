"""One progress line per collection on a terminal (stderr); nothing at all elsewhere."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class ProgressLine:
    def __init__(self, label: str, stream: TextIO):
        self.label, self.stream, self.count, self.shown = label, stream, 0, 0.0

    def __call__(self) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.shown >= 0.1:
            self.shown = now
            self.stream.write(f"\r  {self.label}: {self.count:,} items scanned")
            self.stream.flush()

    def done(self) -> None:
        self.stream.write(f"\r  {self.label}: {self.count:,} items scanned\n")
        self.stream.flush()


def progress_factory(stream: TextIO | None = None) -> Callable[[str], ProgressLine | None]:
    stream = stream or sys.stderr
    if not stream.isatty():
        return lambda _label: None
    return lambda label: ProgressLine(label, stream)
