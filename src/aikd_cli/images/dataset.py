"""Parallel decoding: a torch ``Dataset`` that never raises, so one bad file cannot stop a run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from aikd_cli.errors import ImageError
from aikd_cli.images.decode import file_sha256, load_image


@dataclass
class Decoded:
    """One input after decoding: ``image`` is ``(H, W, 3)`` uint8 RGB, or ``status``/``reason``
    say why not (plain strings: they cross process boundaries). ``extra`` is whatever the dataset's
    ``transform`` made from the image in the worker; ``sha256`` is the file's hash when asked for."""

    index: int
    path: str
    image: torch.Tensor | None = None
    extra: Any = None
    status: str = "ok"
    reason: str = ""
    sha256: str | None = None

    @property
    def failed(self) -> bool:
        return self.image is None


class ImageDataset(Dataset):
    """``paths`` decoded by ``reader`` (an image file by default; evaluate also reads crops held
    in an insightface ``.bin``), then ``transform`` in the worker; ``digest`` adds each file's sha256."""

    def __init__(
        self,
        paths: Sequence[str],
        transform: Callable[[torch.Tensor], Any] | None = None,
        *,
        reader: Callable[[str], np.ndarray] = load_image,
        digest: bool = False,
    ) -> None:
        self.paths = paths
        self.transform = transform
        self.reader = reader
        self.digest = digest

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Decoded:
        path = self.paths[index]
        try:
            array = self.reader(path)
            image = torch.from_numpy(array if array.flags.writeable else array.copy())
            extra = self.transform(image) if self.transform else None
            sha256 = file_sha256(path) if self.digest else None
        except ImageError as exc:
            return Decoded(index, path, status=exc.status, reason=exc.reason)
        except Exception as exc:  # a bug or an exotic codec failure must not kill a long run
            return Decoded(index, path, status="error", reason=f"{type(exc).__name__}: {exc}")
        return Decoded(index, path, image, extra, sha256=sha256)


def _single_thread(_: int) -> None:
    torch.set_num_threads(1)


def decode_loader(dataset: ImageDataset, batch_size: int, workers: int) -> DataLoader:
    """Batches of :class:`Decoded` (lists, in input order), decoded by ``workers`` processes."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=list,
        worker_init_fn=_single_thread if workers else None,
        prefetch_factor=2 if workers else None,
    )
