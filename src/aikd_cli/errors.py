"""User-facing errors.

Every failure a user can cause (a bad file, a missing weight, a wrong option) is raised as an
:class:`AikdError`. The CLI prints it as one line (plus an optional hint) instead of a traceback;
set ``AIKD_DEBUG=1`` to see the traceback too.
"""

from __future__ import annotations

import difflib
from pathlib import Path

#: The hint of every error that comes from onnxruntime or onnx not being installed.
ONNX_EXTRA_HINT = "install the ONNX extra: pip install 'aikd-cli[onnx]'"


def close_matches(name: str, choices) -> str:
    """`` (did you mean 'x'?)`` or an empty string, for error messages."""
    near = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""


class AikdError(Exception):
    """Base class for errors that are the user's to fix; ``hint`` says how."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class ImageError(AikdError):
    """An image could not be read; ``status`` is the CSV status it maps to."""

    def __init__(self, path: str | Path, reason: str, status: str = "unreadable") -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason
        self.status = status


class WeightsError(AikdError):
    """Weights could not be found, downloaded, verified or loaded."""


class CheckpointError(WeightsError):
    """A checkpoint's tensors do not fit the architecture they are loaded into."""


class InputFormatError(AikdError):
    """A CSV or other input file does not have the expected layout."""
