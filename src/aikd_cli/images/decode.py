"""Decode any image file into an 8-bit RGB array, or say exactly why not.

Real photo folders hold everything: CMYK JPEGs, 16-bit PNGs, palette GIFs, rotated phone photos
(EXIF orientation), truncated downloads, zero-byte files and decompression bombs. ``load_image``
turns each into an ``HxWx3`` ``uint8`` RGB array or raises :class:`~aikd_cli.errors.ImageError`
with a one-line reason, so batch jobs can record the failure and move on.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from aikd_cli.errors import AikdError, ImageError

#: Default ceiling on decoded pixels (width x height); larger files are refused before decoding.
DEFAULT_MAX_PIXELS = 120_000_000

def max_pixels() -> int:
    """The pixel ceiling, overridable with ``AIKD_MAX_PIXELS`` for users with giant scans. Any other
    value than a positive whole number is a one-line error, which every command that reads images
    raises before any work (a bad setting must not turn every image into an error row)."""
    value = os.environ.get("AIKD_MAX_PIXELS", "").strip()
    if not value:
        return DEFAULT_MAX_PIXELS
    limit = int(value) if value.isascii() and value.isdigit() else 0
    if limit <= 0:
        raise AikdError(f"AIKD_MAX_PIXELS must be a positive whole number of pixels, not {value!r}",
                        hint=f"unset it for the default limit ({DEFAULT_MAX_PIXELS:,} pixels)")
    return limit


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Scale 16-bit, 32-bit integer and float data to 0..255 instead of clipping it."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        arr = np.nan_to_num(arr.astype(np.float64))
        top = 1.0 if arr.max(initial=0.0) <= 1.0 else 255.0
        return np.clip(np.rint(arr * (255.0 / top)), 0, 255).astype(np.uint8)
    # integer data: 16-bit ranges (also 16-bit PNGs that Pillow hands back as 32-bit "I")
    top = 65535.0 if arr.max(initial=0) > 255 else 255.0
    return np.clip(np.rint(arr.astype(np.float64) * (255.0 / top)), 0, 255).astype(np.uint8)


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("RGB",):
        return np.array(img, dtype=np.uint8)
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        gray = _to_uint8(np.asarray(img))
        return np.repeat(gray[..., None], 3, axis=2)
    # 1, L, LA, P, PA, RGBA, RGBX, CMYK, YCbCr, LAB, HSV: Pillow converts these correctly;
    # alpha is dropped (the same as OpenCV and most FR pipelines do).
    return np.array(img.convert("RGB"), dtype=np.uint8)


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes: what tells a later run that an image is still the same file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _too_large(pil_message: str, limit: int) -> str:
    """The documented message for an image PIL refused as a decompression bomb."""
    found = re.search(r"\((\d+) pixels\)", pil_message)
    size = f"{int(found.group(1)) / 1e6:.0f} MP, " if found else ""
    return f"image too large ({size}limit {limit / 1e6:.0f} MP; raise AIKD_MAX_PIXELS to allow it)"


def load_image(path: str | Path, *, limit: int | None = None) -> np.ndarray:
    """Read ``path`` as an ``HxWx3`` uint8 RGB array, upright according to its EXIF orientation.

    Raises :class:`ImageError` (never another exception) for anything that is not a readable image.
    """
    path = str(path)
    limit = max_pixels() if limit is None else limit
    if "\x00" in path:
        raise ImageError(path.replace("\x00", "\\0"), "not a valid file name (it contains a NUL byte)")
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise ImageError(path, "no such file") from None
    except PermissionError:
        raise ImageError(path, "permission denied") from None
    except OSError as exc:
        raise ImageError(path, f"cannot access file ({exc.strerror or exc})") from None
    if os.path.isdir(path):
        raise ImageError(path, "is a directory, not an image")
    if size == 0:
        raise ImageError(path, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # PIL's own guard (a warning, then an error at twice its ceiling) follows aikd's limit,
            # which the check below applies with the size in the message
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = limit
            with Image.open(path) as img:
                width, height = img.size
                if width * height > limit:
                    raise ImageError(
                        path,
                        f"image too large ({width}x{height} = {width * height / 1e6:.0f} MP, limit "
                        f"{limit / 1e6:.0f} MP; raise AIKD_MAX_PIXELS to allow it)",
                    )
                if width == 0 or height == 0:
                    raise ImageError(path, f"image has no pixels ({width}x{height})")
                img.load()
                try:
                    upright = ImageOps.exif_transpose(img)
                except Exception:  # malformed EXIF: keep the stored orientation
                    upright = img
                rgb = _pil_to_rgb(upright)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(path, "not an image (unrecognised format)") from None
    except Image.DecompressionBombError as exc:  # past twice the limit: PIL refuses before the check above
        raise ImageError(path, _too_large(str(exc), limit)) from None
    except PermissionError:
        raise ImageError(path, "permission denied") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        text = str(exc)
        reason = "truncated image data" if "truncated" in text else f"corrupt image data ({text})"
        raise ImageError(path, reason) from None
    except MemoryError:
        raise ImageError(path, "out of memory while decoding") from None
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageError(path, f"unexpected decoded shape {rgb.shape}")
    return np.ascontiguousarray(rgb)
