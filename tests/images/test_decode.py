"""Every kind of bad or unusual image file named in the issue: decoded correctly or refused with a reason."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from aikd_cli.errors import AikdError, ImageError
from aikd_cli.images.decode import load_image
from aikd_cli.images.discover import iter_inputs


def _save(img: Image.Image, path, **kw):
    img.save(path, **kw)
    return path


@pytest.fixture()
def photo() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))


def test_rgb_jpeg_and_png(tmp_path, photo):
    arr = load_image(_save(photo, tmp_path / "a.png"))
    assert arr.shape == (40, 60, 3) and arr.dtype == np.uint8
    assert np.array_equal(arr, np.asarray(photo))
    assert arr.flags.writeable
    assert load_image(_save(photo, tmp_path / "a.jpg", quality=95)).shape == (40, 60, 3)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "1", "I;16"])
def test_modes_become_rgb(tmp_path, photo, mode):
    if mode == "I;16":
        gray = (np.linspace(0, 65535, 40 * 60).reshape(40, 60)).astype(np.uint16)
        img = Image.fromarray(gray)  # a 16-bit greyscale image
        arr = load_image(_save(img, tmp_path / "deep.png"))
        # 16-bit data is scaled to 8 bits, not clipped at 255
        assert arr[0, 0, 0] == 0 and arr[-1, -1, 0] == 255 and arr[20, 30, 0] not in (0, 255)
        return
    img = photo.convert(mode)
    suffix = ".jpg" if mode == "CMYK" else ".png" if mode != "1" else ".bmp"
    if mode == "LA":
        suffix = ".png"
    arr = load_image(_save(img, tmp_path / f"x{suffix}"))
    assert arr.shape == (40, 60, 3) and arr.dtype == np.uint8


def test_exif_orientation_is_honoured(tmp_path):
    img = Image.new("RGB", (60, 40), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif.tobytes())
    assert load_image(path).shape == (60, 40, 3)


@pytest.mark.parametrize(
    "name,content,reason",
    [
        ("empty.jpg", b"", "empty file"),
        ("notes.jpg", b"this is not an image at all", "not an image"),
        ("random.png", bytes(range(256)) * 8, "not an image"),
    ],
)
def test_broken_files(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageError, match=reason) as info:
        load_image(path)
    assert str(path) in str(info.value) and info.value.status == "unreadable"


def test_truncated_jpeg(tmp_path, photo):
    buf = io.BytesIO()
    photo.resize((400, 300)).save(buf, format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageError, match="truncated|corrupt"):
        load_image(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="directory"):
        load_image(tmp_path)


def test_decompression_bomb_is_refused_before_decoding(tmp_path, monkeypatch):
    path = _save(Image.new("L", (4000, 3000)), tmp_path / "big.png")  # compresses to a few KB
    monkeypatch.setenv("AIKD_MAX_PIXELS", "1000000")
    with pytest.raises(ImageError, match="too large .*12 MP"):
        load_image(path)
    monkeypatch.setenv("AIKD_MAX_PIXELS", "20000000")
    assert load_image(path).shape == (3000, 4000, 3)


def test_unicode_names_and_discovery(tmp_path, photo):
    folder = tmp_path / "Ünïcødé 顔"
    (folder / "sub").mkdir(parents=True)
    a = _save(photo, folder / "日本 é.png")
    b = _save(photo, folder / "sub" / "b.JPG")
    (folder / "readme.txt").write_text("x")
    assert load_image(a).shape == (40, 60, 3)
    found = [it.path for it in iter_inputs([folder])]
    assert found == [str(a), str(b)]  # sorted, recursive, non-images skipped
    assert [it.path for it in iter_inputs([folder], recursive=False)] == [str(a)]
    items = list(iter_inputs([folder, a]))
    assert items[2].duplicate_of == str(a)
    with pytest.raises(AikdError, match="missing.jpg: no such file or folder"):  # a typo, not a row
        list(iter_inputs([folder, tmp_path / "missing.jpg"]))


def test_walks_skip_folder_links_unless_asked_and_never_loop(tmp_path, photo, monkeypatch):
    """Links back up the tree made the walk exponential; unreadable folders are reported."""
    root = tmp_path / "d"
    (root / "a").mkdir(parents=True)
    a = _save(photo, root / "a" / "x.png")
    (root / "a" / "up1").symlink_to("..")
    (root / "a" / "up2").symlink_to("..")
    (root / "b").symlink_to(root / "a")
    assert [it.path for it in iter_inputs([root])] == [str(a)]
    followed = list(iter_inputs([root], follow_links=True))
    assert [it.path for it in followed if not it.duplicate_of] == [str(a)] and len(followed) <= 2
    locked = root / "locked"
    locked.mkdir()
    real_scandir = os.scandir

    def scandir(path):  # chmod 000 does not stop root, so refuse the folder the way the OS would
        if str(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    problems = [it for it in iter_inputs([root]) if it.problem]
    assert [it.path for it in problems] == [str(locked)]
    assert problems[0].problem == "cannot read folder (Permission denied)"
