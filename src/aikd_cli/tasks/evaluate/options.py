"""What ``aikd evaluate`` can be told: the inputs, how the threshold is fixed, and the options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aikd_cli.defaults import DEFAULT_FR_MODEL
from aikd_cli.errors import AikdError
from aikd_cli.options import (
    INPUT,
    MISALIGN,
    OUT,
    UNITS,
    DetectionOptions,
    check_exist,
    floats,
    option,
    precision_option,
)
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
    :func:`~aikd_cli.tasks.evaluate.model_runs.model_label`."""

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


#: Headline metrics of the tables (tables.py formats them).
METRIC_NAMES = ("normalised", "pauc", "minus-best")
PROTOCOLS = ("edc", "crfiqa")
SCORES, THRESHOLD = "Comparison scores", "Metric"


def parse_labelled(text: str | Path) -> tuple[Path, str | None]:
    """``file`` or ``file:label`` (a whole string naming an existing file is a path)."""
    text = str(text)
    if Path(text).exists() or ":" not in text:
        return Path(text), None
    path, _, label = text.rpartition(":")
    return Path(path), (label or None)


@dataclass(kw_only=True)
class EvaluateOptions(DetectionOptions):
    """Everything ``aikd evaluate`` can be told; :func:`~aikd_cli.tasks.evaluate.evaluating` writes the
    tables, curves and plots to ``output``. ``perturb`` lists the misalignment levels (``perturb_unit``
    px or iod) the quality models are re-run at; ``metric`` is the tables' headline.

    Protocols come as ``pairs``/``identities`` text (``PATH`` or ``PATH:NAME``, as on the command
    line) or as ready :class:`DatasetInput` objects in ``datasets``; qualities likewise."""

    pairs: list[str] = option([], short="-p", group=INPUT,
                              help="Protocol, repeatable (one per dataset), as PATH or PATH:NAME: LFW pairs.txt, pairs "
                              "CSV (path_a, path_b, mated[, score]), insightface .bin, or identity CSV/folder.")
    identities: list[str] = option([], group=INPUT, help="All-pairs protocol from an identity CSV (path, identity) or "
                                   "a <folder>/<identity>/<image> tree, repeatable.")
    datasets: list[DatasetInput] = option([], cli=False, help="Protocols given as DatasetInput objects (Python).")
    quality: list[str | QualityInput] = option([], short="-q", group=INPUT,
                                               help="Quality CSV as PATH or PATH:LABEL, repeatable; files with the "
                                               "same label are one method.")
    quality_models: list[str | ModelInput] = option(
        [], flag="--model", short="-m", group=INPUT, aliases=("--quality-model",),
        help="Also score the faces with this quality model, as REF or REF:LABEL (registry name, file, run folder or "
        "hf://), repeatable; needed by --perturb. Default label: the run folder's name.")
    path_column: str = option("path", group=INPUT, help="Path column of the quality CSVs.")
    quality_column: str = option("quality", group=INPUT, help="Quality column of the quality CSVs.")
    image_root: Path | None = option(None, group=INPUT, help="Folder that relative image paths of the protocol start "
                                     "from.")
    aligned: bool = option(False, group=INPUT, help="Images are already 112x112 ArcFace-aligned crops.")
    max_nonmated: int = option(5_000_000, group=INPUT, low=0,
                               help="All-pairs protocols: sample at most this many non-mated pairs (0 = all).")
    nonmated_within: str | None = option(None, group=INPUT,
                                         help="All-pairs protocols: make non-mated pairs only within equal values of "
                                         "this identity-CSV column (e.g. a source whose labels may overlap others).")
    fr_model: str | None = option(DEFAULT_FR_MODEL, group=SCORES, aliases=("-f",),
                                  help="Face-recognition model: registry name (`aikd models --task recognition`), "
                                  "weights file, folder or hf:// (`aikd models default recognition NAME` sets one).")
    embeddings: list[Path] = option([], group=SCORES,
                                    help="Precomputed embeddings keyed by path (.safetensors, .npz, .npy + .txt).")
    score_column: str | None = option(None, group=SCORES, help="Take comparison scores from this column of the pairs "
                                      "CSV (no images needed).")
    fmr: float | None = option(None, group=THRESHOLD, help="Fix the threshold at this FMR over all non-mated pairs. "
                               "The default rule: --fmr 1e-3 when none of --fmr, --start-error and --threshold is given.")
    fmr_rule: str = option("at-most", group=THRESHOLD, choices=edc.FMR_RULES,
                           help="at-most: lowest threshold with FMR <= --fmr; closest: the ROC point whose FMR is "
                           "closest to it (CR-FIQA's ERC code; with --protocol crfiqa -l 0.95 --metric pauc: its "
                           "published AUC).")
    start_error: float | None = option(None, group=THRESHOLD, help="Fix the threshold so that this share of mated "
                                       "pairs fails before discarding (instead of --fmr).")
    threshold: float | None = option(None, group=THRESHOLD, help="Use this similarity threshold (instead of --fmr).")
    limits: tuple[float, ...] = option(DEFAULT_LIMITS, flag="--limit", short="-l", group=THRESHOLD, parse=floats,
                                       low=0.0, high=1.0, low_open=True,
                                       help="pAUC discard limits: repeat the option or separate with commas.")
    protocol: str = option("edc", group=THRESHOLD, choices=PROTOCOLS,
                           help="edc (Schlett et al.) or crfiqa (threshold re-fixed per rejection rate).")
    metric: str = option("normalised", group=THRESHOLD, choices=METRIC_NAMES,
                         help="Headline metric of the tables: normalised, pauc or minus-best.")
    seed: int = option(0, group=THRESHOLD, help="Seed of the random baseline, pair sampling and misalignment.")
    perturb: tuple[float, ...] = option((), group=MISALIGN, parse=floats, low=0.0, high=1000.0, aliases=("--misalign",),
                                        help="Misalignment levels p the quality models are re-run at (each landmark "
                                        "moved by U[-p, p]): repeat the option or separate with commas, e.g. 0,2,3,5.")
    perturb_unit: str = option("px", group=MISALIGN, choices=UNITS, aliases=("--misalign-unit",),
                               help="Unit of --perturb: px (pixels of the photo) or iod (fraction of the eye distance).")
    precision: str = precision_option()
    output: Path = option(Path("evaluation"), short="-o", group=OUT, aliases=("--output-dir",),
                          help="Folder for tables, plots, curves and config.")
    cache: bool = option(True, group=OUT, help="Reuse (and keep) model outputs across runs, keyed by weights, "
                         "settings and image content (--no-cache: neither read nor write).")
    cache_dir: Path | None = option(None, group=OUT,
                                    help="Model-output cache (default: $AIKD_CACHE_DIR, else ~/.cache/aikd/outputs).")

    def __post_init__(self) -> None:
        self.output = Path(self.output)
        self.limits = tuple(self.limits) or DEFAULT_LIMITS
        self.perturb = tuple(self.perturb)
        self.datasets = [*self.datasets, *(DatasetInput(*parse_labelled(p)) for p in self.pairs),
                         *(DatasetInput(*parse_labelled(p), identities=True) for p in self.identities)]
        self.pairs, self.identities = [], []
        self.quality = [q if isinstance(q, QualityInput) else QualityInput(*parse_labelled(q)) for q in self.quality]
        self.quality_models = [m if isinstance(m, ModelInput) else ModelInput.parse(m) for m in self.quality_models]

    @property
    def rule(self) -> ThresholdRule:
        """How the comparison threshold is fixed (FMR 1e-3 when nothing is given)."""
        return ThresholdRule(fmr=self.fmr, start_error=self.start_error, value=self.threshold, fmr_rule=self.fmr_rule)

    @property
    def cache_root(self) -> Path | None:
        """Where model outputs are cached (None: not cached)."""
        from aikd_cli.tasks.evaluate.cache import default_cache_dir

        return (self.cache_dir or default_cache_dir()) if self.cache else None

    def validate(self) -> None:
        """Every rule the command enforces, before anything is read (one-line :class:`AikdError` each)."""
        super().validate()
        rule = self.rule
        if not self.datasets:
            raise AikdError("nothing to evaluate: give at least one --pairs or --identities")
        check_exist([d.path for d in self.datasets], "--pairs/--identities")
        check_exist([q.path for q in self.quality], "--quality")
        check_exist(self.embeddings, "--embeddings")
        if self.protocol == "crfiqa" and rule.fmr is None:
            raise AikdError(
                "the crfiqa protocol re-fixes the threshold at each rate for a target FMR: use --fmr"
            )
        if self.perturb and not self.quality_models:
            raise AikdError("--perturb re-scores the images, so it needs a quality model (--model)")
        if not self.quality and not self.quality_models:
            raise AikdError("no quality to evaluate: give --quality CSVs and/or quality models (--model)")
        if self.score_column is None and self.fr_model is None and not self.embeddings:
            raise AikdError(
                "no comparison scores: give --fr-model, --embeddings, or a pairs CSV with --score-column"
            )
