"""Progress on stderr, one layout for every long job: a rich bar on a terminal, plain periodic
lines in a pipe or CI log. Rates and ETAs count from the start of the work (the first report, which
tasks make before their first item), not from the first finished batch; what that first report
already counts (outputs read from a cache, rows of an earlier run) is reused, not speed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

#: Seconds between plain progress lines when stderr is not a terminal.
LINE_INTERVAL = 10.0


class Progress(Protocol):
    """What every task's ``run(options, progress)`` calls: ``done`` of ``total`` items of the
    current ``stage`` (a task with several stages, e.g. detecting then training, names each, and
    the ``unit`` it counts: images while detecting, steps while training)."""

    def __call__(self, done: int, total: int, stage: str = "", unit: str = "") -> None: ...


def task_progress(console: Console, *, enabled: bool = True, field: str = "info") -> RichProgress:
    """A rich ``Progress``; tasks added to it must set the text field ``field``."""
    return RichProgress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(f"{{task.fields[{field}]}}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
    )


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class ProgressReporter:
    """The ``progress(done, total)`` callback tasks take, drawn on ``console``.

    ``unit`` names what is counted (``img``). Call :meth:`close` at the end (or use it as a
    context manager). ``clock`` is injectable for tests.
    """

    def __init__(self, console: Console, description: str, *, unit: str = "img",
                 clock: Callable[[], float] = time.perf_counter, interval: float = LINE_INTERVAL) -> None:
        self.console, self.description, self.unit, self.first_unit = console, description, unit, unit
        self.clock, self.interval = clock, interval
        self.started: float | None = None
        self.done, self.total = 0, 0
        self.reused = 0  # the count at a stage's first report: read from a cache or an earlier run
        self._last_line = float("-inf")
        self._shown: tuple[int, int] | None = None  # the last plain line's counts: each is printed once
        self._bar: RichProgress | None = None
        self._task = None

    def rate(self) -> float:
        elapsed = self.clock() - self.started if self.started is not None else 0.0
        return (self.done - self.reused) / elapsed if elapsed > 0 else 0.0

    def eta(self) -> float | None:
        rate = self.rate()
        return (self.total - self.done) / rate if rate > 0 and self.total >= self.done else None

    def __call__(self, done: int, total: int, stage: str = "", unit: str = "") -> None:
        if stage and stage != self.description:  # a new stage: finish this one, count afresh
            self.close()
            self.description, self.started, self._last_line, self._shown = stage, None, float("-inf"), None
            self.unit = unit or self.first_unit
        self.unit = unit or self.unit
        if self.started is None:
            self.started, self.reused = self.clock(), done
        self.done, self.total = done, total
        if self.console.is_terminal:
            self._draw()
        elif (self.clock() - self._last_line >= self.interval or done >= total) and self._shown != (done, total):
            self._last_line, self._shown = self.clock(), (done, total)
            self.console.print(self.line(), highlight=False, soft_wrap=True)

    def line(self) -> str:
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        eta = self.eta()
        rest = f", ETA {_duration(eta)}" if eta is not None and self.done < self.total else ""
        reused = f", {self.reused:,} reused" if self.reused else ""
        return f"{self.description}: {self.done:,}/{self.total:,}{share}, {self.rate():.1f} {self.unit}/s{reused}{rest}"

    def _draw(self) -> None:
        if self._bar is None:
            self._bar = task_progress(self.console, field="rate")
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total, rate="")
        self._bar.update(self._task, completed=self.done, total=self.total, rate=f"{self.rate():.1f} {self.unit}/s")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
