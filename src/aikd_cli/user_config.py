"""The per-user config folder and the model defaults kept there, readable without heavy imports.

``aikd models add`` records local weights and ``aikd models default`` the models every command uses
unless told otherwise, both in ``models.json`` of the folder (``AIKD_CONFIG_DIR``, else
``$XDG_CONFIG_HOME/aikd``, ``~/.config/aikd``, ``~/Library/Application Support/aikd`` or
``%APPDATA%\\aikd``). The defaults are read when :mod:`aikd_cli.defaults` is imported, so the
command line's help, its behaviour and the Python API all show the same ones.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

FILE_NAME = "models.json"


def config_dir() -> Path:
    """aikd's per-user config folder (``AIKD_CONFIG_DIR`` overrides the platform's default)."""
    if override := os.environ.get("AIKD_CONFIG_DIR"):
        return Path(override).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return base / "aikd"


def config_file() -> Path:
    return config_dir() / FILE_NAME


def read() -> dict:
    """The whole file (``{}`` when there is none); an unreadable file is reported by the caller."""
    path = config_file()
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def user_default(task: str) -> str | None:
    """The model the user made the default for ``task`` (``aikd models default``), if any. A file
    that cannot be read leaves the built-in defaults; ``aikd models`` reports it."""
    try:
        value = read().get("defaults", {}).get(task)
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None
