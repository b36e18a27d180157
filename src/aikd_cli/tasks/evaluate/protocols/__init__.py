"""Comparison protocols: which pairs of samples to compare, and whether each pair is mated.

Readers for LFW-style ``pairs.txt``, pair tables (CSV or Parquet, optionally with comparison
scores), insightface validation ``.bin`` files (read with a restricted unpickler) and
identity-labelled tables or folders (all mated pairs, non-mated pairs optionally subsampled).
Every reader returns a :class:`Protocol` whose samples are named by *keys*: the normalised
absolute path of an image file, or ``<abs path of the .bin>#<index>`` for images inside a
``.bin``. Quality files are matched to samples by the same key.
"""

from __future__ import annotations

from pathlib import Path

from aikd_cli.errors import InputFormatError
from aikd_cli.tasks.evaluate import tabular
from aikd_cli.tasks.evaluate.protocols.base import BinImages, FileImages, Protocol, drop_bad_pairs
from aikd_cli.tasks.evaluate.protocols.binfile import read_bin
from aikd_cli.tasks.evaluate.protocols.identities import identity_pairs, read_identities, read_identity_csv
from aikd_cli.tasks.evaluate.protocols.pairs import PAIR_COLUMNS, read_pairs_table, read_pairs_txt

__all__ = [
    "BinImages",
    "FileImages",
    "Protocol",
    "drop_bad_pairs",
    "identity_pairs",
    "open_protocol",
    "read_bin",
    "read_identities",
    "read_identity_csv",
    "read_pairs_table",
    "read_pairs_txt",
]

TABLE_SUFFIXES = (".csv", *tabular.PARQUET_SUFFIXES)


def open_protocol(
    path: Path,
    *,
    name: str | None = None,
    identities: bool = False,
    score_column: str | None = None,
    image_root: Path | None = None,
    aligned: bool = False,
    group_column: str | None = None,
    max_nonmated: int | None = None,
    seed: int = 0,
) -> Protocol:
    """Read any supported protocol, choosing the reader from the file itself."""
    path = Path(path)
    if not path.exists():
        raise InputFormatError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if not (path.is_dir() or identities) and suffix in TABLE_SUFFIXES:
        names = tabular.header(path)
        identities = (
            tabular.find_column(names, PAIR_COLUMNS["a"]) is None
            and tabular.find_column(names, ("identity",)) is not None
        )
    if path.is_dir() or identities:
        protocol = read_identities(
            path,
            image_root=image_root,
            group_column=group_column,
            max_nonmated=max_nonmated,
            seed=seed,
            aligned=aligned,
        )
    elif suffix == ".bin":
        protocol = read_bin(path)
    elif suffix in TABLE_SUFFIXES:
        protocol = read_pairs_table(path, score_column=score_column, image_root=image_root, aligned=aligned)
    elif suffix == ".txt":
        protocol = read_pairs_txt(path, image_root)
    else:
        raise InputFormatError(
            f"{path}: unknown protocol format",
            hint="use a pairs.txt, a pairs CSV or Parquet file (path_a, path_b, mated), an insightface .bin, "
            "or an identity CSV/folder",
        )
    if score_column is not None and protocol.scores is None:
        raise InputFormatError(f"{path}: --score-column needs a pairs CSV that holds the scores")
    if name:
        protocol.name = name
    return protocol
