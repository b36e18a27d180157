"""What every command shares: consoles, progress, and turning errors into one line (the shared
options are in :mod:`aikd_cli.cli.options`)."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sys
from collections.abc import Callable, Iterator

import typer
from rich.console import Console

from aikd_cli.errors import AikdError
from aikd_cli.utils.numbers import plural  # noqa: F401  (re-exported for the commands)
from aikd_cli.utils.progress import ProgressReporter


def _console(stream) -> Console:
    """A console on ``stream``; in a pipe or log (not a terminal) lines are never cut at 80
    columns (nor at an inherited ``COLUMNS``): tables widen to their content."""
    wide = None if stream.isatty() else 4096
    return Console(stderr=stream is sys.stderr, highlight=False, width=wide)


#: Progress, logs and errors go to stderr; results (tables, paths) to stdout.
err = _console(sys.stderr)
out = _console(sys.stdout)

@contextlib.contextmanager
def progress_bar(description: str, unit: str = "img") -> Iterator[Callable[[int, int], None]]:
    """The ``progress(done, total)`` callback tasks take: a bar on a terminal, plain lines in a pipe.

    Nothing is drawn before the task's first report, so errors raised while models load are not
    drawn under an empty bar.
    """
    with ProgressReporter(err, description, unit=unit) as reporter:
        yield reporter


@contextlib.contextmanager
def log_to(console: Console) -> Iterator[None]:
    """Show what tasks log (``logging.getLogger("aikd")``, level INFO and up) on ``console``."""
    import logging

    class _Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            colour = "yellow" if record.levelno >= logging.WARNING else "dim"
            console.print(f"[{colour}]{escape(record.getMessage())}[/]", soft_wrap=True)

    logger, handler = logging.getLogger("aikd"), _Handler()
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.INFO
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def default_workers() -> int:
    return min(4, max(0, (os.cpu_count() or 1) - 1))


def fail(message: str, hint: str | None = None, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    if hint:
        err.print(f"[dim]hint: {hint}[/]", markup=True, soft_wrap=True)
    return typer.Exit(code)


#: What to do about the file-system errors a run can meet while writing.
_OS_HINTS = {
    errno.ENOSPC: "free some space and run again (files written earlier were left as they were)",
    errno.EDQUOT: "free some space and run again (files written earlier were left as they were)",
    errno.EROFS: "write to another location",
    errno.EACCES: "check the permissions, or write to another location",
    errno.EFBIG: "the file system refuses files this large: write to another location",
}


def handle_errors(func):
    """Print :class:`AikdError` (exit 2), a file-system error such as a full disk (exit 1) and
    Ctrl-C as one line instead of a traceback.

    ``AIKD_DEBUG=1`` re-raises, for bug reports.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AikdError as exc:
            if os.environ.get("AIKD_DEBUG"):
                raise
            raise fail(exc.message, exc.hint) from None
        except OSError as exc:
            if os.environ.get("AIKD_DEBUG"):
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            raise fail(f"{where}{exc.strerror or exc}", _OS_HINTS.get(exc.errno), code=1) from None
        except KeyboardInterrupt as exc:
            if os.environ.get("AIKD_DEBUG"):
                raise
            # the process is ending: a helper thread that loses its decode workers on the way out
            # (multiprocessing's resource sharer) must not print a traceback under the message
            sys.excepthook = lambda *_: None
            from aikd_cli.utils.csvout import Interrupted

            if isinstance(exc, Interrupted):
                err.print(f"[yellow]interrupted: {plural(exc.rows, 'row')} kept in {escape(exc.path)}; the same "
                          "command with --resume goes on from there[/]")
            else:
                err.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None

    return wrapper


def shown(path: object) -> str:
    """A path as the user would type it: relative to the working folder when it lies inside it
    (tasks resolve paths to absolute ones; what is printed should read like what was typed)."""
    text = str(path)
    if not os.path.isabs(text):
        return escape(text)
    try:
        rel = os.path.relpath(text)
    except ValueError:  # another drive (Windows)
        return escape(text)
    return escape(text if rel.startswith("..") else rel)


def escape(text: object) -> str:
    from rich.markup import escape as _escape

    return _escape(str(text))
