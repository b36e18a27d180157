"""Default model names and small constants, kept free of heavy imports so the CLI can show them in
--help instantly. A user's own defaults (``aikd models default TASK NAME``) replace the built-in
ones here, so the command line and the Python API use the same."""

from aikd_cli.user_config import user_default

#: The built-in defaults (docs/models.md says why).
BUILTIN_DEFAULTS = {"quality": "ediffiqa-l", "detection": "retinaface-mnet025", "recognition": None}
#: The model ``aikd score`` uses unless told otherwise.
DEFAULT_QUALITY_MODEL: str = user_default("quality") or BUILTIN_DEFAULTS["quality"]
#: The face detector used unless told otherwise.
DEFAULT_DETECTOR: str = user_default("detection") or BUILTIN_DEFAULTS["detection"]
#: The face-recognition model of ``evaluate``/``label`` unless told otherwise (none built in).
DEFAULT_FR_MODEL: str | None = user_default("recognition")
#: Longest side, in pixels, images are shrunk to before detection unless told otherwise
#: (docs/models.md, "Detection resolution", gives the measurements behind it).
DEFAULT_DET_SIZE = 640
#: What a model is for (``aikd models --task``, ``expect=`` of the loaders).
TASKS = ("quality", "recognition", "detection")
