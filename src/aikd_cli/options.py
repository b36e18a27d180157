"""One declaration per option: each field of a task's options dataclass says its flag, help, group,
range and choices; the command line is generated from it (:mod:`aikd_cli.cli.generate`) and the
same declaration checks values given from Python.

So the CLI and the API cannot drift apart: a default, a help text or a range exists once. Groups
every command that finds faces or runs models shares (detection, compute, misalignment) are
declared here once and mixed into each task's options. No heavy import: checking options must not
wait for torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any

from aikd_cli.defaults import DEFAULT_DET_SIZE, DEFAULT_DETECTOR
from aikd_cli.errors import AikdError, close_matches

#: Help panels of the generated commands.
FACES, COMPUTE, MISALIGN, OUT, INPUT = "Faces", "Compute", "Misalignment", "Output", "Input"
#: Upper bounds that keep a typo from exhausting memory or processes.
MAX_BATCH = 65_536
MAX_WORKERS = 256


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


def check_number(option: str, value: float | int | None, low: float | None = None, high: float | None = None,
                 *, low_open: bool = False) -> None:
    """``value`` (``None``: not given) must be a finite number in ``[low, high]`` (``(low, high]``
    with ``low_open``); a ``nan`` or an ``inf`` would only fail after minutes of work."""
    if value is None:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        left = "(" if low_open else "["
        span = f" in {left}{_fmt(low)}, {_fmt(high)}]" if low is not None and high is not None else (
            f" > {_fmt(low)}" if low_open else f" >= {_fmt(low)}" if low is not None else
            f" <= {_fmt(high)}" if high is not None else "")
        kind = "an integer" if isinstance(value, int) else "a finite number"
        raise AikdError(f"{option} must be {kind}{span} (got {value})")


def _fmt(v: float | None) -> str:
    return f"{v:,}" if isinstance(v, int) else f"{v:g}"


def check_fields(options: object) -> None:
    """Every declared range and choice of ``options``, one line naming the option on the first that
    fails (numbers in sequences are checked one by one)."""
    for f in fields(options):  # type: ignore[arg-type]
        spec = spec_of(f)
        if spec is None:
            continue
        value = getattr(options, f.name)
        if spec.choices is not None and value is not None and value not in spec.choices:
            raise AikdError(f"{flag_of(f)} must be one of {', '.join(spec.choices)} (got {value!r})"
                            f"{close_matches(str(value), spec.choices)}")
        if spec.low is not None or spec.high is not None:
            for v in value if isinstance(value, (list, tuple)) else (value,):
                check_number(flag_of(f), v, spec.low, spec.high, low_open=spec.low_open)


def floats(text: str) -> tuple[float, ...]:
    """``"0,3,5"`` -> ``(0.0, 3.0, 5.0)``: a list typed as one option."""
    try:
        return tuple(float(x) for x in str(text).replace(" ", "").split(",") if x)
    except ValueError:
        raise AikdError(f"expected numbers separated by commas, got {text!r}") from None


# -- groups every face-finding or model-running command shares -----------------------------------


@dataclass(kw_only=True)
class DetectionOptions:
    """Where landmarks come from: a landmark CSV first, the detector for faces it lacks."""

    detector: str = option(DEFAULT_DETECTOR, group=FACES,
                           help="Face detector: registry name, local file or hf:// address.")
    landmarks: Path | None = option(None, group=FACES,
                                    help="CSV with path, face, lm0_x..lm4_y (e.g. a score CSV): use these landmarks "
                                    "instead of detecting. Entries of images changed since are never used.")
    det_size: int = option(DEFAULT_DET_SIZE, group=FACES, low=0, high=8192,
                           help="Detect on images shrunk to this longer side, up to 8192 (0: original size).")
    det_threshold: float = option(0.5, group=FACES, low=0.0, high=1.0, help="Minimum face confidence (0 to 1).")


def default_workers() -> int:
    """Decoding processes by default: one less than the CPUs, at most 4."""
    import os

    return min(4, max(0, (os.cpu_count() or 1) - 1))


@dataclass(kw_only=True)
class ComputeOptions:
    """Where and how fast models run."""

    device: str = option("auto", group=COMPUTE, help="auto, cpu, cuda, cuda:1 or mps.")
    precision: str = option("auto", group=COMPUTE, choices=("auto", "fp32", "bf16", "fp16"),
                            help="auto (bf16 on GPUs, fp32 on CPUs), fp32, bf16 or fp16. fp32 reproduces reference "
                            "scores exactly.")
    batch_size: int = option(64, group=COMPUTE, short="-b", low=1, high=MAX_BATCH, help="Faces per model batch.")
    workers: int = option(default_factory=default_workers, group=COMPUTE, short="-j", low=0, high=MAX_WORKERS,
                          help="Decoding processes (0 decodes in the main process).")


@dataclass(kw_only=True)
class MisalignmentOptions:
    """Landmark noise: each coordinate moves by U[-p, p], drawn per face from the seed."""

    perturb_unit: str = option("px", group=MISALIGN, choices=("px", "iod"),
                               help="Unit of --perturb: px (pixels of the photo) or iod (fraction of the eye distance).")
    seed: int = option(0, group=MISALIGN, help="Seed of the landmark noise (drawn per face, so reruns match).")
