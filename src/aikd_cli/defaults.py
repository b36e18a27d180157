"""Default model names and small constants, kept free of heavy imports so the CLI can show them in
--help instantly."""

#: The model ``aikd score`` uses unless told otherwise (docs/models.md says why).
DEFAULT_QUALITY_MODEL = "ediffiqa-l"
#: The face detector used unless told otherwise.
DEFAULT_DETECTOR = "retinaface-mnet025"
#: Longest side, in pixels, images are shrunk to before detection unless told otherwise
#: (docs/models.md, "Detection resolution", gives the measurements behind it).
DEFAULT_DET_SIZE = 640
#: What a model is for (``aikd models --task``, ``expect=`` of the loaders).
TASKS = ("quality", "recognition", "detection")
