"""``aikd score`` and ``aikd align`` over many processes: ``--shard K/N`` parts, ``--merge``, torchrun.

Shard K of N takes the K-th of N contiguous blocks of the list a single process would write, in
the order it writes it: the readable images as walked, then the duplicate inputs, then the folders
that could not be read; blocks start at multiples of the batch size, so the model sees the same
batches as in one process. Each part is an ordinary journalled CSV (``<out>.part-K-of-N``, so
``--resume`` works per part) whose ``.meta.json`` records its block, whether it finished, and the
options and inputs it came from. Joining the parts in K order therefore gives, byte for byte, the
CSV one process writes; :func:`merge_parts` refuses parts that are missing, unfinished,
overlapping or made with other options or inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aikd_cli.errors import AikdError
from aikd_cli.images.discover import InputItem
from aikd_cli.utils.atomic import atomic_open, atomic_write
from aikd_cli.utils.outputs import Output, guard_outputs

if TYPE_CHECKING:
    from aikd_cli.utils.progress import Progress

__all__ = ["DUPLICATE_MESSAGE", "parse_shard", "part_path", "shard_items", "merge_parts", "run_ranks"]
R = TypeVar("R")

#: Start of the message of a duplicate input's row (its path may repeat an earlier row's).
DUPLICATE_MESSAGE = "duplicate input: same file as "
#: Options that do not change the rows, so parts may differ in them.
_FREE_OPTIONS = {"output", "resume", "shard", "merge", "workers", "device", "report"}
_PART = re.compile(r"\.part-(\d+)-of-(\d+)$")
_MERGE_HINT = "run the missing or unfinished shards (with --resume), then --merge again"


def part_meta(opts: Any, shard: dict, **about: Any) -> dict:
    """What a part's ``.meta.json`` holds: ``about`` (the model...), the options and its block."""
    from aikd_cli._version import __version__

    options = {k: _located(v) for k, v in asdict(opts).items() if k != "inputs"}
    return {"tool": "aikd", "version": __version__, **about, "options": options, "shard": shard}


def _located(value: Any) -> Any:
    """A local file or folder option as its absolute path, so that shards given the same
    ``--landmarks`` or model file by relative and by absolute paths agree."""
    if isinstance(value, (str, Path)) and str(value) and Path(value).expanduser().exists():
        return str(Path(value).expanduser().resolve())
    return value


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` (K counts from 1, as ``part K of N``) as ``(K, N)``; one-line error otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not match:
        raise AikdError(f"--shard must be K/N, e.g. 1/4 (got {text!r})")
    k, n = int(match[1]), int(match[2])
    if not 1 <= n <= 100_000:
        raise AikdError(f"--shard {text}: N must be 1 to 100000")
    if not 1 <= k <= n:
        raise AikdError(f"--shard {text}: K counts from 1, so it must be 1 to {n} (for 0-based array ids use K+1)")
    return k, n


def part_path(output: Path, k: int, n: int) -> Path:
    """Where shard ``k`` of ``n`` of ``output`` is written: beside it, so its paths read the same."""
    return output.with_name(f"{output.name}.part-{k}-of-{n}")


def shard_items(items: list[InputItem], k: int, n: int, batch_size: int) -> tuple[list[InputItem], dict]:
    """Shard ``k`` of ``n`` of ``items`` and what its part's meta records about it.

    The readable images are split at multiples of ``batch_size``, so every shard's batches are the
    single process's batches (the model sees the same batches: the same bits); duplicates and
    unreadable folders, written last and costing nothing, go to the last shard."""
    images = [it for it in items if not (it.duplicate_of or it.problem)]
    ordered = images + [it for it in items if it.duplicate_of] + [it for it in items if it.problem]
    chunks = -(-len(images) // batch_size)
    start = min(len(images), (k - 1) * chunks // n * batch_size)
    stop = len(ordered) if k == n else min(len(images), k * chunks // n * batch_size)
    digest = hashlib.sha256()
    for it in ordered:
        digest.update(f"{os.path.normpath(os.path.abspath(it.path))}\0{it.duplicate_of or ''}\n".encode())
    info = {"index": k, "count": n, "start": start, "stop": stop, "items": len(ordered),
            "inputs_sha256": digest.hexdigest(), "complete": False}
    return ordered[start:stop], info


def _load_meta(part: Path) -> dict:
    meta = part.with_name(part.name + ".meta.json")
    try:
        return json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AikdError(f"{meta}: cannot read the part's meta ({exc}); was {part.name} written by aikd score "
                        "--shard?", hint=_MERGE_HINT) from None


def _find_parts(output: Path) -> tuple[int, list[Path]]:
    """The part files of ``output`` (all of one N), in K order."""
    found: dict[int, set[int]] = {}
    folder = output.parent if str(output.parent) else Path(".")
    prefix = output.name + ".part-"
    for entry in os.scandir(folder) if folder.is_dir() else ():
        name = entry.name.removesuffix(".partial")
        if name.startswith(prefix) and (m := _PART.search(name)) and name == part_path(output, *map(int, m.groups())).name:
            found.setdefault(int(m[2]), set()).add(int(m[1]))
    if not found:
        raise AikdError(f"no parts of {output} to merge (expected {output.name}.part-K-of-N beside it)",
                        hint="write them with --shard K/N (same -o)")
    if len(found) > 1:
        counts = ", ".join(f"of-{n}" for n in sorted(found))
        raise AikdError(f"parts of {output} from different shard counts ({counts}); remove the stale ones")
    (n, ks), = found.items()
    for k in range(1, n + 1):
        part = part_path(output, k, n)
        if not part.is_file():
            state = "unfinished (only its journal exists)" if k in ks else "missing"
            raise AikdError(f"{part}: part {k} of {n} is {state}", hint=_MERGE_HINT)
    return n, [part_path(output, k, n) for k in range(1, n + 1)]


def _rules(meta: dict) -> dict:
    """What must be the same in every part's meta for the parts to join into one CSV."""
    options = {k: v for k, v in meta.get("options", {}).items() if k not in _FREE_OPTIONS}
    shard = meta.get("shard", {})
    return {"model": meta.get("model"), "model_config": meta.get("model_config"), "detector": meta.get("detector"),
            **options, "inputs": (shard.get("items"), shard.get("inputs_sha256"))}


def _check_parts(parts: list[Path], n: int) -> list[dict]:
    metas = [_load_meta(p) for p in parts]
    first = _rules(metas[0])
    stop = 0
    for k, (part, meta) in enumerate(zip(parts, metas), 1):
        shard = meta.get("shard") or {}
        if (shard.get("index"), shard.get("count")) != (k, n):
            raise AikdError(f"{part}: its meta says part {shard.get('index')} of {shard.get('count')}, not {k} of {n} "
                            "(a copied or renamed part?)", hint=_MERGE_HINT)
        if not shard.get("complete"):
            raise AikdError(f"{part}: part {k} of {n} is unfinished", hint=_MERGE_HINT)
        rules = _rules(meta)
        differ = sorted(key for key in first.keys() | rules.keys() if first.get(key) != rules.get(key))
        if differ:
            raise AikdError(f"{part}: made with other options or inputs than {parts[0].name} "
                            f"({', '.join(differ)}); all parts must come from the same command")
        if shard.get("start") != stop:
            raise AikdError(f"{part}: its block starts at image {shard.get('start')}, not {stop}", hint=_MERGE_HINT)
        stop = shard["stop"]
    if stop != metas[0]["shard"]["items"]:
        raise AikdError(f"parts of {len(parts)} end at image {stop} of {metas[0]['shard']['items']}", hint=_MERGE_HINT)
    return metas


def _images(part: Path) -> set[str]:
    """The distinct ``path`` cells of a part, less those of duplicate-input rows (read column-wise)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    columns = ["path", "message"]
    try:
        table = pacsv.read_csv(part, parse_options=pacsv.ParseOptions(newlines_in_values=True),
                               convert_options=pacsv.ConvertOptions(
                                   include_columns=columns, column_types=dict.fromkeys(columns, pa.string()),
                                   strings_can_be_null=False))
    except (pa.ArrowInvalid, KeyError) as exc:
        raise AikdError(f"{part}: not a readable part ({str(exc).splitlines()[0]})", hint=_MERGE_HINT) from None
    own = pc.invert(pc.starts_with(table.column("message"), DUPLICATE_MESSAGE))
    return set(pc.unique(pc.filter(table.column("path"), own)).to_pylist())


def _check_rows(parts: list[Path]) -> bytes:
    """Refuse parts whose images overlap (a duplicate input may repeat a path: not counted); the
    parts' common header line."""
    owner: dict[str, Path] = {}
    header = None
    for part in parts:
        with open(part, "rb") as f:
            line = f.readline()
        if header is not None and line != header:
            raise AikdError(f"{part}: other columns than {parts[0].name}")
        header = line
        here = _images(part)
        if shared := here & owner.keys():
            path = min(shared)
            raise AikdError(f"{part}: repeats rows of {owner[path].name} (e.g. {path}): parts overlap",
                            hint="remove the wrong part and run its shard again")
        owner.update(dict.fromkeys(here, part))
    return header or b""


def merge_parts(output: str | os.PathLike, option: str = "--output") -> list[Path]:
    """Join ``<output>.part-K-of-N`` (K = 1..N) into ``output``: the CSV, byte for byte, that one
    process writes, and its ``.meta.json``. The parts are checked first and kept afterwards."""
    output = Path(output)
    with guard_outputs([Output(output, option)]):
        n, parts = _find_parts(output)
        metas = _check_parts(parts, n)
        header = _check_rows(parts)
        with atomic_open(output, "wb", encoding=None) as dst:
            dst.write(header)
            for part in parts:
                with open(part, "rb") as src:
                    src.readline()
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
        meta = {k: v for k, v in metas[0].items() if k != "shard"}
        meta["options"] = {**meta.get("options", {}), "output": str(output), "shard": None}
        meta["merged_from"] = [p.name for p in parts]
        atomic_write(output.with_name(output.name + ".meta.json"), json.dumps(meta, indent=2, default=str))
    return parts


def run_ranks(opts: Any, progress: Progress | None, run_part: Callable[[Any, Progress | None], R],
              merge: Callable[[], R]) -> R:
    """One rank of a ``torchrun`` job: ``run_part`` shard ``rank + 1`` of ``world`` on this rank's
    device, wait for every rank, and (rank 0) ``merge`` the parts. Only rank 0 reports progress and
    gets the merged result (its ``images`` and ``resumed``: of all ranks); the others get their part's."""
    import torch.distributed as dist

    from aikd_cli.utils.distributed import setup_distributed

    # ranks that finish (or resume a finished part) wait for the slowest one, possibly for hours
    job, device = setup_distributed(opts.device, timeout=timedelta(days=7))
    try:
        result = run_part(replace(opts, shard=f"{job.rank + 1}/{job.world}", device=str(device)),
                          progress if job.main else None)
        images = job.sum(result.images)  # type: ignore[attr-defined]
        resumed = job.sum(getattr(result, "resumed", 0))
        job.barrier()
        if not job.main:
            return result
        merged = merge()
        merged.images = images  # type: ignore[attr-defined]
        if hasattr(merged, "resumed"):
            merged.resumed = resumed
        return merged
    finally:
        if job.active and dist.is_initialized():
            dist.destroy_process_group()
