"""The one progress-bar layout every long job shows (on stderr): what, bar, n/total, a live text
field (rate, faces, losses...), elapsed and remaining time."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def task_progress(console: Console, *, enabled: bool = True, field: str = "info") -> Progress:
    """A rich ``Progress``; tasks added to it must set the text field ``field``."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(f"{{task.fields[{field}]}}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
    )
