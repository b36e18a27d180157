"""All-pairs protocols from identity labels: a table (CSV or Parquet) of ``path, identity`` rows or
an ``<identity>/<image>`` folder. Every mated pair is compared; non-mated pairs are enumerated or
sampled. Pairs are generated as numpy index arrays, never as Python objects per pair."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from aikd_cli.errors import InputFormatError
from aikd_cli.tasks.evaluate import tabular
from aikd_cli.tasks.evaluate.protocols.base import FileImages, Protocol

#: Above this many candidate pairs, non-mated pairs of an identity list are sampled, not enumerated.
ENUMERATE_LIMIT = 20_000_000

PATH_COLUMNS = ("path",)
IDENTITY_COLUMNS = ("identity", "id", "label", "subject")


def read_identity_csv(
    path: Path, *, image_root: Path | None = None, group_column: str | None = None
) -> tuple[list[str], list[str], list[str] | None]:
    """``path, identity`` rows (plus an optional group column) of a CSV or Parquet file -> keys,
    identities, groups, one per distinct image in the order first listed."""
    names = tabular.header(path)
    path_col, id_col = tabular.find_column(names, PATH_COLUMNS), tabular.find_column(names, IDENTITY_COLUMNS)
    if path_col is None or id_col is None:
        raise InputFormatError(
            f"{path}: an identity CSV needs columns path and identity (found {', '.join(names)})"
        )
    if group_column is not None and group_column not in names:
        raise InputFormatError(
            f"{path}: no column {group_column!r} for --nonmated-within (found {', '.join(names)})"
        )
    columns = tabular.read_columns(path, [path_col, id_col, *([group_column] if group_column else [])])
    keys, (sample,) = tabular.sample_codes(image_root or path.parent, columns, [path_col])
    ids, id_code = _stripped(columns, id_col)
    empty = tabular.first_row(ids[id_code] == "")
    if empty is not None:
        raise InputFormatError(f"{columns.where(empty)}: empty identity")
    first = np.full(len(keys), len(sample), dtype=np.int64)
    np.minimum.at(first, sample, np.arange(len(sample)))  # the first row of each image
    clash = tabular.first_row(id_code != id_code[first[sample]])
    if clash is not None:
        key, was, now = keys[sample[clash]], ids[id_code[first[sample[clash]]]], ids[id_code[clash]]
        raise InputFormatError(f"{path}: {key} is listed as both {was!r} and {now!r}")
    rows = np.sort(first)  # the same image listed twice is kept once
    groups = None
    if group_column:
        values, group_code = _stripped(columns, group_column)
        groups = values[group_code[rows]].tolist()
    return keys[sample[rows]].tolist(), ids[id_code[rows]].tolist(), groups


def _stripped(columns: tabular.Columns, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The distinct stripped cells of a column and each row's index into them."""
    cells, (codes,) = columns.distinct(name)
    values, inverse = np.unique(tabular.object_array([c.strip() for c in cells]), return_inverse=True)
    return values, inverse.astype(np.int32)[codes]


def read_identity_folder(folder: Path) -> tuple[list[str], list[str]]:
    """Images in ``folder/<identity>/...``: the first sub-folder names the identity."""
    from aikd_cli.images.discover import iter_inputs

    keys, ids = [], []
    for item in iter_inputs([folder]):
        if item.duplicate_of or item.problem:
            continue
        rel = Path(os.path.relpath(item.path, folder))
        if len(rel.parts) < 2:
            continue  # an image directly in the root has no identity folder
        keys.append(os.path.normpath(os.path.abspath(item.path)))
        ids.append(rel.parts[0])
    if not keys:
        raise InputFormatError(
            f"{folder}: no images in identity sub-folders (expected <folder>/<identity>/<image>)"
        )
    return keys, ids


def identity_pairs(
    keys: list[str],
    identities: list[str],
    *,
    groups: list[str] | None = None,
    max_nonmated: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """All mated pairs, and the non-mated pairs (only within a group when ``groups`` is given),
    subsampled uniformly with ``seed`` to ``max_nonmated``. Returns int32 index arrays ``i < j``
    (in sorted-key order), the mated flags and notes saying what was sampled."""
    order = np.argsort(tabular.object_array(keys), kind="stable")
    _, ident = np.unique(tabular.object_array(identities)[order], return_inverse=True)
    grp = np.zeros(len(keys), dtype=np.int64)
    if groups is not None:
        _, grp = np.unique(tabular.object_array(groups)[order], return_inverse=True)
    notes: list[str] = []
    # mated: every pair inside each identity (a loop over identities, not pairs)
    by_id = np.argsort(ident, kind="stable")
    bounds = np.flatnonzero(np.diff(ident[by_id])) + 1
    mi, mj = [], []
    for members in np.split(by_id, bounds):
        if len(members) > 1:
            r, c = np.triu_indices(len(members), 1)
            mi.append(members[r])
            mj.append(members[c])
    mi = np.concatenate(mi) if mi else np.zeros(0, np.int64)
    mj = np.concatenate(mj) if mj else np.zeros(0, np.int64)
    ni, nj, total = _nonmated_pairs(ident, grp, max_nonmated, np.random.default_rng(seed))
    if total > len(ni):
        notes.append(f"non-mated pairs: {len(ni):,} sampled (seed {seed}) of {total:,}")
    i = np.concatenate([mi, ni])
    j = np.concatenate([mj, nj])
    mated = np.concatenate([np.ones(len(mi), bool), np.zeros(len(ni), bool)])
    order = order.astype(np.int32)
    return order[i], order[j], mated, notes


def _nonmated_pairs(
    ident: np.ndarray, grp: np.ndarray, limit: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, int]:
    """Non-mated index pairs within groups: enumerated when feasible, else sampled uniformly."""
    by_grp = np.argsort(grp, kind="stable")
    starts = np.concatenate(([0], np.flatnonzero(np.diff(grp[by_grp])) + 1))
    sizes = np.diff(np.append(starts, len(grp)))
    candidates = int((sizes * (sizes - 1) // 2).sum())
    if candidates <= ENUMERATE_LIMIT:
        parts_i, parts_j = [], []
        for start, size in zip(starts, sizes, strict=True):
            m = by_grp[start : start + size]
            r, c = np.triu_indices(size, 1)
            keep = ident[m[r]] != ident[m[c]]
            parts_i.append(m[r][keep])
            parts_j.append(m[c][keep])
        i, j = np.concatenate(parts_i), np.concatenate(parts_j)
        total = len(i)
        if limit is not None and total > limit:
            pick = np.sort(rng.choice(total, size=limit, replace=False))
            i, j = i[pick], j[pick]
        return i, j, total
    if limit is None:
        raise InputFormatError(
            f"{candidates:,} candidate pairs are too many to enumerate",
            hint="set --max-nonmated to sample non-mated pairs",
        )
    same_id = np.bincount(ident)
    total = candidates - int((same_id * (same_id - 1) // 2).sum())  # identities never span groups
    want = min(limit, total)
    weights = sizes * (sizes - 1) / 2 / candidates
    n = len(ident)
    codes = np.zeros(0, dtype=np.int64)
    while len(codes) < want:  # uniform over within-group pairs, then reject the mated ones
        draw = max(2 * (want - len(codes)), 1024)
        g = rng.choice(len(sizes), size=draw, p=weights)
        x = (rng.random(draw) * sizes[g]).astype(np.int64)
        y = (rng.random(draw) * (sizes[g] - 1)).astype(np.int64)
        y += y >= x  # a second, distinct member
        gi, gj = by_grp[starts[g] + x], by_grp[starts[g] + y]
        lo, hi = np.minimum(gi, gj), np.maximum(gi, gj)
        ok = ident[lo] != ident[hi]
        codes = _sorted_unique(np.concatenate([codes, lo[ok] * n + hi[ok]]))
    codes = np.sort(rng.permutation(codes)[:want])
    return codes // n, codes % n, total


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` of millions of distinct integers: numpy's SIMD sort, where
    ``np.unique`` (numpy >= 2.3) hashes every value first."""
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(ordered) else ordered


def read_identities(
    path: Path,
    *,
    image_root: Path | None = None,
    group_column: str | None = None,
    max_nonmated: int | None = None,
    seed: int = 0,
    aligned: bool = False,
) -> Protocol:
    """All-pairs protocol from an identity CSV/Parquet file or an ``<identity>/<image>`` folder."""
    if path.is_dir():
        if group_column:
            raise InputFormatError(f"{path}: --nonmated-within needs an identity CSV, not a folder")
        keys, ids = read_identity_folder(path)
        groups = None
    else:
        keys, ids, groups = read_identity_csv(path, image_root=image_root, group_column=group_column)
    if groups is not None:
        pairs = sorted(set(zip(ids, groups, strict=True)))
        split = sorted({a for (a, _), (b, _) in zip(pairs, pairs[1:]) if a == b})
        if split:
            raise InputFormatError(
                f"{path}: identity {split[0]!r} appears in several --nonmated-within groups"
            )
    i, j, mated, notes = identity_pairs(keys, ids, groups=groups, max_nonmated=max_nonmated, seed=seed)
    name = path.name if path.is_dir() else path.stem
    return Protocol(name, path, tabular.object_array(keys), i, j, mated, FileImages(aligned), None, notes)
