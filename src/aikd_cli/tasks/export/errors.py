"""Export failures a user can act on."""

from __future__ import annotations

from aikd_cli.errors import AikdError


class ExportFailed(AikdError):
    """The model could not be converted to the requested format."""


class VerificationFailed(AikdError):
    """An exported file does not reproduce the torch model within the documented tolerance."""


def reason(exc: BaseException) -> str:
    """The first line of an exporter's exception, for a one-line error."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:200]}" if text else type(exc).__name__
