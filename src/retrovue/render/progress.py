"""Progress of each collection on a terminal (stderr): a live line while it runs, one summary line
when it ends; nothing at all when stderr is not a terminal (logs and pipes stay clean).

The live line shows the phase (scanning, then writing when the executor says so; for an
enrichment, ``enriching (ffprobe)`` with the assets to enrich as its total), the count with its
noun in the right number, the rate, and an ETA once a total is known.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from retrovue.render.values import count_noun, one_line

_REFRESH_SECONDS = 0.1  # redrawing on every item would cost more than scanning it
#: how an enrichment names its phases (``enriching (ffprobe)``; see execute/enrich.py)
ENRICHING = "enriching"


@dataclass
class PhaseCounter:
    """The count, rate and ETA of one phase; plain data so the wording is testable without a TTY."""

    name: str
    total: int | None = None
    count: int = 0
    started: float = field(default_factory=time.monotonic)
    noun: str = "item"

    def rate(self, now: float) -> float:
        elapsed = now - self.started
        return self.count / elapsed if elapsed > 0 else 0.0

    def eta(self, now: float) -> str | None:
        rate = self.rate(now)
        if self.total is None or rate <= 0:
            return None
        seconds = max(0, round((self.total - self.count) / rate))
        return f"{seconds // 60}:{seconds % 60:02d}"

    def describe(self, label: str, now: float) -> str:
        done = count_noun(self.count, self.noun)
        if self.total is not None:
            done = f"{self.count:,}/{count_noun(self.total, self.noun)}"
        parts = [f"{label}: {self.name} {done}", f"{self.rate(now):,.0f} {self.noun}s/s"]
        eta = self.eta(now)
        if eta is not None:
            parts.append(f"ETA {eta}")
        return " · ".join(parts)


class ProgressLine:
    """One collection: ticks once per upstream item; ``done`` leaves a summary line behind."""

    def __init__(self, label: str, stream: TextIO):
        self.label, self.stream = one_line(label), stream
        self.scanned = 0
        #: per enricher phase of an enrichment, the assets it went through (enriched or failed)
        self.enriched: dict[str, int] | None = None
        self.phase = PhaseCounter("scanning")
        self.shown = 0.0
        self._live = None  # started on the first tick: a collection that ends at once shows none
        self._started = False  # a tick or a phase came

    def __call__(self) -> None:
        self._started = True
        self.phase.count += 1
        if self.phase.name == "scanning":
            self.scanned = self.phase.count
        elif self.enriched is not None and self.phase.name in self.enriched:
            self.enriched[self.phase.name] += 1
        now = time.monotonic()
        if now - self.shown >= _REFRESH_SECONDS:
            self.shown = now
            self._show(now)

    def start_phase(self, name: str, total: int | None = None) -> None:
        """A new phase (e.g. ``writing`` with the number of rows to write): its own count and ETA.
        An enricher's phase (``enriching (TYPE)``) counts assets."""
        self._started = True
        enriching = name.startswith(ENRICHING)
        if enriching:
            self.enriched = self.enriched or {}
            self.enriched.setdefault(name, 0)
        self.phase = PhaseCounter(name, total, noun="asset" if enriching else "item")
        self._show(time.monotonic())

    def done(self) -> None:
        if self._live is not None:
            progress, _task = self._live
            progress.stop()  # transient: the live line is cleared, the summary replaces it
            self._live = None
        if self.enriched is not None:
            summary = ", ".join(
                f"{count_noun(n, 'asset') if i == 0 else f'{n:,}'} through {_enricher_of(phase)}"
                for i, (phase, n) in enumerate(self.enriched.items())
            )
        elif self._started:
            summary = f"{count_noun(self.scanned, 'item')} scanned"
        else:  # nothing ran at all (an enrichment with nothing to do): no line
            return
        self.stream.write(f"  {self.label}: {summary}\n")
        self.stream.flush()

    def _show(self, now: float) -> None:
        if self._live is None:
            self._live = _start_live(self.stream)
        progress, task = self._live
        progress.update(task, description=self.phase.describe(self.label, now))
        progress.refresh()


def _enricher_of(phase: str) -> str:
    """``enriching (ffprobe)`` -> ``ffprobe``."""
    inner = phase.removeprefix(ENRICHING).strip()
    return inner[1:-1] if inner.startswith("(") and inner.endswith(")") else inner or phase


def _start_live(stream: TextIO):
    # rich is imported here so commands that show no progress do not pay for it at start-up
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn

    console = Console(file=stream, highlight=False)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),  # names are shown as typed
        console=console,
        transient=True,
        auto_refresh=False,  # redrawn from the ticks: no thread racing Ctrl-C
    )
    progress.start()
    return progress, progress.add_task("", total=None)


def progress_factory(stream: TextIO | None = None) -> Callable[[str], ProgressLine | None]:
    stream = stream or sys.stderr
    if not stream.isatty():
        return lambda _label: None
    return lambda label: ProgressLine(label, stream)
