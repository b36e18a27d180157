"""One declaration per option: each field of a task's options dataclass says its flag, help, group,
range and choices; the command line is generated from it (:mod:`aikd_cli.cli.generate`) and the
same declaration checks values given from Python.

So the CLI and the API cannot drift apart: a default, a help text or a range exists once. Groups
every command that finds faces or runs models shares (detection, compute, misalignment) are
declared here once and mixed into each task's options. No heavy import: checking options must not
wait for torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any

from aikd_cli.defaults import DEFAULT_DET_SIZE, DEFAULT_DETECTOR
from aikd_cli.errors import AikdError, close_matches
from aikd_cli.utils.checks import MAX_BATCH, MAX_WORKERS, check_number

#: Help panels of the generated commands.
FACES, COMPUTE, MISALIGN, OUT, INPUT = "Faces", "Compute", "Misalignment", "Output", "Input"


@dataclass(frozen=True)
class Spec:
    """How one option is given and checked.

    ``flag``/``short``: its spellings (default ``--field-name``); ``low``/``high``: an inclusive
    numeric range (``low_open`` excludes ``low``); ``choices``: the values allowed; ``argument``: a
    positional argument; ``cli``: ``False`` for options only Python callers set; ``parse``: turns
    the text typed on the command line into the field's value (``"0,3,5"`` -> ``(0.0, 3.0, 5.0)``);
    ``aliases``: deprecated spellings, hidden, with a warning.
    """

    help: str
    group: str | None = None
    flag: str | None = None
    short: str | None = None
    choices: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    argument: bool = False
    cli: bool = True
    parse: Callable[[str], Any] | None = None
    metavar: str | None = None
    aliases: tuple[str, ...] = ()


def option(default: Any = MISSING, *, default_factory: Callable[[], Any] | Any = MISSING, **spec: Any) -> Any:
    """A dataclass field carrying its :class:`Spec`."""
    metadata = {"option": Spec(**spec)}
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=metadata)
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def spec_of(f: Field) -> Spec | None:
    return f.metadata.get("option")


def flag_of(f: Field) -> str:
    spec = spec_of(f)
    return (spec.flag if spec and spec.flag else "--" + f.name.replace("_", "-"))


def default_of(f: Field) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default  # type: ignore[misc]


def check_fields(options: object) -> None:
    """Every declared range and choice of ``options``, and that every float is finite, one line
    naming the option on the first that fails (numbers in sequences are checked one by one)."""
    for f in fields(options):  # type: ignore[arg-type]
        spec = spec_of(f)
        if spec is None:
            continue
        value = getattr(options, f.name)
        if spec.choices is not None and value is not None and value not in spec.choices:
            raise AikdError(f"{flag_of(f)} must be one of {', '.join(spec.choices)} (got {value!r})"
                            f"{close_matches(str(value), spec.choices)}")
        for v in value if isinstance(value, (list, tuple)) else (value,):
            if spec.low is not None or spec.high is not None or isinstance(v, float):  # NaN is never a value
                check_number(flag_of(f), v, spec.low, spec.high, low_open=spec.low_open)


def floats(text: str) -> tuple[float, ...]:
    """``"0,3,5"`` -> ``(0.0, 3.0, 5.0)``: a list typed as one option."""
    items = [x for x in str(text).replace(" ", "").split(",") if x]
    for x in items:
        try:
            float(x)
        except ValueError:
            raise AikdError(f"{x!r} is not a number", hint="give numbers separated by commas, e.g. 0,3,5") from None
    return tuple(float(x) for x in items)


# -- groups every face-finding or model-running command shares -----------------------------------

#: Units of the landmark noise (faces/perturb.py applies them).
UNITS = ("px", "iod")
#: Numeric precisions a model can run at (utils/device.py resolves ``auto``).
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: Which faces of a photo a command keeps (faces/detector.py orders them).
FACE_CHOICES = ("largest", "central", "all")


def default_workers() -> int:
    """Decoding processes by default: one less than the CPUs, at most 4."""
    import os

    return min(4, max(0, (os.cpu_count() or 1) - 1))


def check_device_name(device: str) -> None:
    """``auto``, ``cpu``, ``mps``, ``cuda`` or ``cuda:N``: the spelling, checked without torch
    (whether that device exists is checked when a model is put on it)."""
    name = str(device or "auto").lower()
    kind, _, index = name.partition(":")
    if kind not in ("auto", "cpu", "cuda", "mps") or (index and (kind != "cuda" or not index.isdigit())):
        raise AikdError(f"unknown device {device!r}", hint="use auto, cpu, cuda, cuda:N or mps")


def workers_option() -> Any:
    """``-j/--workers``: the same words and default in every command (how each reads in parallel,
    processes or threads, is its own business)."""
    return option(default_factory=default_workers, group=COMPUTE, short="-j", low=0, high=MAX_WORKERS,
                  help="Workers reading images in parallel (0: all in the main process).")


def check_exist(paths: list[Path | str], what: str) -> None:
    """Every file an option names exists: one line naming the first missing one and its option,
    answered before any heavy import."""
    import os

    for path in paths:
        if not os.path.lexists(path):
            raise AikdError(f"{path}: no such file or folder ({what})", hint="check the path")


@dataclass(kw_only=True)
class DetectionOptions:
    """Where landmarks come from and how batches run: the same fields, defaults and checks in every
    command that finds faces (score, align, label, evaluate, distill)."""

    detector: str = option(DEFAULT_DETECTOR, group=FACES,
                           help="Face detector: registry name, local file or hf:// address (used only for faces "
                           "without landmarks).")
    landmarks: Path | None = option(None, group=FACES,
                                    help="CSV with path, face, lm0_x..lm4_y (e.g. a score CSV): use these landmarks "
                                    "instead of detecting. Entries of images changed since are never used.")
    det_size: int = option(DEFAULT_DET_SIZE, group=FACES, low=0, high=8192,
                           help="Detect on images shrunk to this longer side, up to 8192 (0: original size).")
    det_threshold: float = option(0.5, group=FACES, low=0.0, high=1.0, help="Minimum face confidence (0 to 1).")
    device: str = option("auto", group=COMPUTE, help="auto, cpu, cuda, cuda:1 or mps.")
    batch_size: int = option(64, group=COMPUTE, short="-b", low=1, high=MAX_BATCH, help="Faces per model batch.")
    workers: int = workers_option()

    def validate(self) -> None:
        """Every declared range and choice, the device's spelling and the ``AIKD_MAX_PIXELS`` setting
        (these commands decode photos), one line each, before any work."""
        from aikd_cli.images.decode import max_pixels

        check_fields(self)
        check_device_name(self.device)
        check_exist([self.landmarks] if self.landmarks else [], "--landmarks")
        max_pixels()


@dataclass(kw_only=True)
class FaceOptions(DetectionOptions):
    """Detection plus what commands that walk folders of photos share (score, align)."""

    aligned: bool = option(False, group=FACES,
                           help="Inputs are already-aligned crops (resized to the model size if needed).")
    faces: str = option("largest", group=FACES, choices=FACE_CHOICES,
                        help="The largest face per image, the one nearest the image centre (LFW's subject), or "
                        "all faces (face 0 is the largest).")
    resume: bool = option(False, help="Keep the rows already written and skip those images.")
    recursive: bool = option(True, help="Walk sub-folders of folder inputs.")
    follow_links: bool = option(False, help="Also walk symbolic links to folders (each folder once, so link loops end).")


def precision_option() -> Any:
    return option("auto", group=COMPUTE, choices=PRECISIONS,
                  help="auto (bf16 on GPUs, fp32 on CPUs), fp32, bf16 or fp16. fp32 reproduces reference scores "
                  "exactly.")


def perturb_unit_option() -> Any:
    return option("px", group=MISALIGN, choices=UNITS,
                  help="Unit of --perturb: px (pixels of the photo) or iod (fraction of the eye distance).")


def seed_option() -> Any:
    return option(0, group=MISALIGN, help="Seed of the landmark noise (drawn per face, so reruns match).")


def shard_option() -> Any:
    return option(None, group=COMPUTE, metavar="K/N",
                  help="Only part K of N (K = 1..N) of the sorted inputs, its rows in a part file beside the CSV, "
                  "for job arrays; join the parts with --merge. (Under torchrun the ranks are the parts.)")


def merge_option() -> Any:
    return option(False, group=COMPUTE,
                  help="Join the --shard parts (checked: none missing, unfinished or overlapping).")
