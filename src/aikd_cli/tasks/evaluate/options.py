"""What ``aikd evaluate`` can be told: the inputs, how the threshold is fixed, and the options."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aikd_cli.defaults import DEFAULT_FR_MODEL
from aikd_cli.errors import AikdError
from aikd_cli.faces.pipeline import DetectionOptions
from aikd_cli.tasks.evaluate import edc
from aikd_cli.utils.checks import check_number

#: The threshold rule when none is given: FMR 1e-3, the usual operating point of EDC papers.
DEFAULT_FMR = 1e-3
#: Discard limits of the partial areas when none are given.
DEFAULT_LIMITS = (0.2, 0.3)


@dataclass(frozen=True)
class ThresholdRule:
    """How the comparison threshold is fixed: one of a target FMR over the non-mated comparisons,
    a starting FNMR over the mated ones, or a given value. With none of them: FMR 1e-3."""

    fmr: float | None = None
    start_error: float | None = None
    value: float | None = None
    fmr_rule: str = "at-most"  # or "closest": CR-FIQA's ROC point nearest the target FMR

    def __post_init__(self) -> None:
        given = sum(v is not None for v in (self.fmr, self.start_error, self.value))
        if given == 0:
            object.__setattr__(self, "fmr", DEFAULT_FMR)
        elif given > 1:
            raise AikdError("choose exactly one of --fmr, --start-error and --threshold")
        for name, v in (("--fmr", self.fmr), ("--start-error", self.start_error)):
            if v is not None and not 0.0 < v < 1.0:
                raise AikdError(f"{name} must be between 0 and 1, got {v}")
        check_number("--threshold", self.value)
        if self.fmr_rule not in edc.FMR_RULES:
            raise AikdError(f"unknown --fmr-rule {self.fmr_rule!r} (choose {', '.join(edc.FMR_RULES)})")

    def describe(self) -> str:
        if self.fmr is not None:
            closest = ", the closest ROC point as in CR-FIQA" if self.fmr_rule == "closest" else ""
            return f"FMR {self.fmr:g}{closest}"
        if self.start_error is not None:
            return f"starting FNMR {self.start_error:g}"
        return f"threshold {self.value:g}"


@dataclass(frozen=True)
class DatasetInput:
    path: Path
    name: str | None = None
    identities: bool = False  # force the all-pairs reader (an identity CSV or folder)


@dataclass(frozen=True)
class QualityInput:
    path: Path
    label: str | None = None


@dataclass(frozen=True)
class ModelInput:
    """A quality model to run (``-m REF[:LABEL]``); the label defaults to
    :func:`~aikd_cli.tasks.evaluate.run.model_label`."""

    ref: str
    label: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelInput:
        """``REF`` or ``REF:LABEL``: a whole string naming an existing file or folder is a reference,
        and the ``:`` of ``hf://`` is never a label separator."""
        _, sep, rest = text.partition("://")
        body = rest if sep else text
        if Path(text).exists() or ":" not in body:
            return cls(text)
        ref, _, label = text.rpartition(":")
        return cls(ref, label or None)


@dataclass
class EvaluateOptions(DetectionOptions):
    """Everything ``aikd evaluate`` can be told; :func:`~aikd_cli.tasks.evaluate.run` writes the
    tables, curves and plots to ``output``. ``perturb`` lists the misalignment levels (``perturb_unit``
    px or iod) the quality models are re-run at; ``metric`` is the tables' headline."""

    datasets: list[DatasetInput] = field(default_factory=list)
    quality: list[QualityInput] = field(default_factory=list)
    path_column: str = "path"
    quality_column: str = "quality"
    fr_model: str | None = DEFAULT_FR_MODEL
    embeddings: list[Path] = field(default_factory=list)
    score_column: str | None = None
    threshold: ThresholdRule = field(default_factory=ThresholdRule)
    limits: tuple[float, ...] = DEFAULT_LIMITS
    protocol: str = "edc"  # or "crfiqa"
    quality_models: list[str | ModelInput] = field(default_factory=list)
    perturb: tuple[float, ...] = ()
    perturb_unit: str = "px"
    seed: int = 0
    image_root: Path | None = None
    aligned: bool = False
    precision: str = "auto"
    max_nonmated: int | None = 5_000_000
    nonmated_within: str | None = None
    cache: bool = True  # reuse model outputs across runs (keyed by weights, settings and image content)
    cache_dir: Path | None = None  # None: $AIKD_CACHE_DIR, else ~/.cache/aikd/outputs
    output: Path = Path("evaluation")
    metric: str = "normalised"

    def __post_init__(self) -> None:
        self.output = Path(self.output)
        self.limits = tuple(self.limits) or DEFAULT_LIMITS
        self.quality_models = [m if isinstance(m, ModelInput) else ModelInput.parse(m) for m in self.quality_models]

    @property
    def cache_root(self) -> Path | None:
        """Where model outputs are cached (None: not cached)."""
        from aikd_cli.tasks.evaluate.cache import default_cache_dir

        return (self.cache_dir or default_cache_dir()) if self.cache else None

    def validate(self) -> None:
        """Every rule the command enforces, before anything is read (one-line :class:`AikdError` each)."""
        from aikd_cli.faces.perturb import UNITS
        from aikd_cli.tasks.evaluate.tables import METRICS

        if self.metric not in METRICS:
            raise AikdError(f"unknown --metric {self.metric!r} (choose {', '.join(METRICS)})")
        if self.perturb_unit not in UNITS:
            raise AikdError(f"unknown --perturb-unit {self.perturb_unit!r} (choose {' or '.join(UNITS)})")
        if not self.datasets:
            raise AikdError("nothing to evaluate: give at least one --pairs or --identities")
        if self.protocol not in ("edc", "crfiqa"):
            raise AikdError(f"unknown --protocol {self.protocol!r} (choose edc or crfiqa)")
        if self.protocol == "crfiqa" and self.threshold.fmr is None:
            raise AikdError(
                "the crfiqa protocol re-fixes the threshold at each rate for a target FMR: use --fmr"
            )
        if not self.limits or any(not 0.0 < lim <= 1.0 for lim in self.limits):
            raise AikdError(f"discard limits must be in (0, 1], got {list(self.limits)}")
        for p in self.perturb:
            check_number("--perturb", p, 0.0, 1000.0)
        check_number("--max-nonmated", self.max_nonmated, 0)
        super().validate()
        if self.perturb and not self.quality_models:
            raise AikdError("--perturb re-scores the images, so it needs a quality model (--model)")
        if not self.quality and not self.quality_models:
            raise AikdError("no quality to evaluate: give --quality CSVs and/or quality models (--model)")
        if self.score_column is None and self.fr_model is None and not self.embeddings:
            raise AikdError(
                "no comparison scores: give --fr-model, --embeddings, or a pairs CSV with --score-column"
            )
