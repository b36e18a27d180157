"""``aikd score``: photos or crops in, one CSV row per face out."""

from __future__ import annotations

from aikd_cli.faces.landmarks import LANDMARK_COLUMNS

#: Row statuses. Every input image gets at least one row, whatever happens to it.
OK, NO_FACE, UNREADABLE, ERROR = "ok", "no_face", "unreadable", "error"

#: Columns of a score CSV. ``face`` is the face index within the image (empty when there is no
#: face); ``box_*`` and ``lm*`` are in pixels of the EXIF-upright original image; ``path`` is
#: relative to the CSV's folder.
SCORE_COLUMNS = (
    "path",
    "face",
    "quality",
    "det_score",
    "box_x1",
    "box_y1",
    "box_x2",
    "box_y2",
    *LANDMARK_COLUMNS,
    "status",
    "message",
)
