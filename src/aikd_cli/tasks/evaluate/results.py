"""What ``aikd evaluate`` finds: per dataset, the comparisons used and excluded, and per method its
EDC curve and partial areas."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from aikd_cli.tasks.evaluate import edc
from aikd_cli.tasks.evaluate.options import EvaluateOptions
from aikd_cli.tasks.evaluate.robustness import RobustnessRow
from aikd_cli.tasks.evaluate.verification import Verification

#: The baselines every evaluation adds beside the methods.
RANDOM = "random (baseline)"
NORM = "FR embedding norm (baseline)"

@dataclass
class MethodResult:
    label: str
    kind: str  # "quality file", "quality model" or "baseline"
    areas: list[edc.PartialArea]
    curve: edc.EdcCurve | edc.RejectionCurve


@dataclass
class DatasetResult:
    name: str
    source: str
    pairs_read: int
    pairs_used: int
    mated: int
    nonmated: int
    samples: int
    threshold: float
    achieved_fmr: float | None
    start_error: float
    excluded: Counter  # pairs by reason
    sample_issues: Counter  # samples by reason
    notes: list[str]
    methods: list[MethodResult]
    robustness: list[RobustnessRow]
    verification: Verification | None = None  # the FR model's 10-fold accuracy (verification protocols)


@dataclass
class EvaluateResult:
    options: EvaluateOptions
    datasets: list[DatasetResult]

    @property
    def method_labels(self) -> list[str]:
        seen: dict[str, None] = {}
        for d in self.datasets:
            for m in d.methods:
                seen.setdefault(m.label, None)
        return list(seen)
