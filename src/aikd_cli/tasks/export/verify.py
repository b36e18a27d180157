"""Every export is run against the torch model before it is reported done.

The written file is loaded back the way a user would (onnxruntime for ONNX, ``torch.jit.load``,
``torch.export.load``, aikd's own loader for safetensors) and fed the same inputs as the torch
model: random images (uniform noise at batch 1, two smooth random images at batch 2) and, when
given, real images (up to :data:`MAX_REAL`, as one batch). For every output the export passes when

    max |exported - torch|  <=  tol * max(1, max |torch|)

i.e. an absolute tolerance for outputs of unit scale and a relative one for larger outputs (raw
iResNet embeddings reach norms of 20-30). ``tol`` is :data:`TOLERANCES` per precision; the values
and the measurements behind them are in docs/export.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from aikd_cli.faces.detector import prepare_for_detection
from aikd_cli.tasks.export.job import ExportJob

#: Allowed ``max|diff| / max(1, max|ref|)`` per precision (benchmarks/export_tolerance.py,
#: docs/export.md). fp32: worst measured 7.4e-6 over MobileFaceNet, RetinaFace, iResNet-50/100 and
#: both exporters, so 1e-4 leaves >10x headroom. fp16: worst measured 2.6e-2 (RetinaFace box
#: regressions; 6e-3 for embeddings), so 5e-2. Real conversion bugs are far larger: swapped colour
#: order 0.36, wrong normalisation 0.26, a one-pixel input shift 0.19 (MobileFaceNet, kit faces).
TOLERANCES = {"fp32": 1e-4, "fp16": 5e-2}

#: Real images used for a verification, at most.
MAX_REAL = 4

Runner = Callable[[torch.Tensor], Sequence[np.ndarray]]


@dataclass(frozen=True)
class Sample:
    """A named verification batch: uint8 crops ``(N, 3, S, S)`` for face models, a prepared
    float batch ``(N, 3, H, W)`` for detectors; ``expected`` is the torch model's output on it."""

    name: str
    data: torch.Tensor
    expected: tuple[np.ndarray, ...] = ()


def _smooth(generator: torch.Generator, n: int, height: int, width: int) -> torch.Tensor:
    """Random images with photo-like spatial correlation (noise upsampled from 8x8)."""
    low = torch.rand(n, 3, 8, 8, generator=generator) * 255
    return (
        F.interpolate(low, size=(height, width), mode="bicubic", align_corners=False)
        .clamp(0, 255)
        .round()
        .to(torch.uint8)
    )


def _square_crop(image: np.ndarray, size: int) -> torch.Tensor:
    """Centre square of an ``HxWx3`` image resized to ``size`` (real pixel statistics; alignment does
    not matter for a numerical comparison)."""
    t = torch.as_tensor(np.array(image, dtype=np.uint8)).permute(2, 0, 1).float()
    side = min(t.shape[1:])
    top, left = (t.shape[1] - side) // 2, (t.shape[2] - side) // 2
    t = t[:, top : top + side, left : left + side]
    if side != size:
        t = F.interpolate(t[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    return t.clamp(0, 255).round().to(torch.uint8)


def make_samples(job: ExportJob, real_images: Sequence[np.ndarray] = (), seed: int = 0) -> list[Sample]:
    """Random batches of size 1 and > 1, plus real ones when ``real_images`` (HxWx3 uint8 RGB) are
    given, each with the torch model's output (computed once, shared by every format)."""
    return [_with_expected(job, s) for s in _inputs(job, real_images, seed)]


@torch.inference_mode()
def _with_expected(job: ExportJob, sample: Sample) -> Sample:
    # the same for every input format: WithPreprocessing runs exactly these operations in the graph
    return Sample(
        sample.name, sample.data, tuple(as_arrays(job.module(False)(graph_input(job, sample, False))))
    )


def _inputs(job: ExportJob, real_images: Sequence[np.ndarray], seed: int) -> list[Sample]:
    gen = torch.Generator().manual_seed(seed)
    real = list(real_images)[:MAX_REAL]
    if job.is_detector:
        cfg = job.loaded.net.cfg
        stride = max(cfg.steps)

        def batch(images: list[torch.Tensor]) -> torch.Tensor:
            # exported graphs take any batch: images of different sizes are zero-padded to one
            # (a test input only; aikd itself never pads, see faces/detector.py)
            tensors = [prepare_for_detection(im, 640, cfg.mean_bgr).tensor for im in images]
            height = -(-max(t.shape[1] for t in tensors) // stride) * stride
            width = -(-max(t.shape[2] for t in tensors) // stride) * stride
            return torch.stack([F.pad(t, (0, width - t.shape[2], 0, height - t.shape[1])) for t in tensors])

        noise = torch.randint(0, 256, (240, 320, 3), generator=gen, dtype=torch.uint8)
        smooth = [_smooth(gen, 1, h, w)[0].permute(1, 2, 0) for h, w in ((320, 256), (200, 296))]
        samples = [Sample("random noise, N=1", batch([noise])), Sample("random smooth, N=2", batch(smooth))]
        photos = [torch.as_tensor(np.array(im, dtype=np.uint8)) for im in real]
        if photos:
            samples.append(Sample(f"real, N={len(photos)}", batch(photos)))
        return samples
    size = job.config.preprocess.size
    samples = [
        Sample(
            "random noise, N=1", torch.randint(0, 256, (1, 3, size, size), generator=gen, dtype=torch.uint8)
        ),
        Sample("random smooth, N=2", _smooth(gen, 2, size, size)),
    ]
    if real:
        samples.append(Sample(f"real, N={len(real)}", torch.stack([_square_crop(im, size) for im in real])))
    return samples


def graph_input(job: ExportJob, sample: Sample, preprocessing: bool) -> torch.Tensor:
    """``sample`` in the exported graph's input format."""
    if job.is_detector:
        return sample.data
    if preprocessing:
        return sample.data.permute(0, 2, 3, 1).contiguous()
    return job.config.preprocess(sample.data)


def as_arrays(out) -> list[np.ndarray]:
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [
        o.detach().float().cpu().numpy() if isinstance(o, torch.Tensor) else np.asarray(o, np.float32)
        for o in outs
    ]


@dataclass(frozen=True)
class Check:
    sample: str
    output: str
    max_abs: float  # max |exported - torch|; inf when shapes differ or values are not finite
    scale: float  # max(1, max |torch|)

    @property
    def error(self) -> float:
        return self.max_abs / self.scale


@dataclass
class Verification:
    precision: str
    tolerance: float
    checks: list[Check]

    @property
    def worst(self) -> Check:
        return max(self.checks, key=lambda c: c.error)

    @property
    def passed(self) -> bool:
        return all(c.error <= self.tolerance for c in self.checks)

    @property
    def batch_sizes(self) -> list[int]:
        return sorted({int(c.sample.rsplit("N=", 1)[1]) for c in self.checks})

    def to_dict(self) -> dict:
        worst = self.worst
        return {
            "precision": self.precision,
            "tolerance": self.tolerance,
            "rule": "max|exported - torch| <= tolerance * max(1, max|torch|), per output",
            "worst": {
                "sample": worst.sample,
                "output": worst.output,
                "max_abs_diff": worst.max_abs,
                "relative": worst.error,
            },
            "samples": sorted({c.sample for c in self.checks}),
            "passed": self.passed,
        }


def compare(
    sample: str, names: Sequence[str], got: Sequence[np.ndarray], want: Sequence[np.ndarray]
) -> list[Check]:
    checks = []
    for name, g, w in zip(names, got, want, strict=True):
        scale = max(1.0, float(np.abs(w).max(initial=0.0)))
        if g.shape != w.shape or not np.isfinite(g).all():
            checks.append(Check(sample, name, float("inf"), scale))
        else:
            checks.append(
                Check(sample, name, float(np.abs(g.astype(np.float64) - w).max(initial=0.0)), scale)
            )
    return checks


@torch.inference_mode()
def verify(
    job: ExportJob, runner: Runner, samples: Sequence[Sample], *, preprocessing: bool, precision: str
) -> Verification:
    """Run ``runner`` (the exported file) on every sample and compare with the torch outputs."""
    checks: list[Check] = []
    for sample in samples:
        want = sample.expected
        got = [np.asarray(g, dtype=np.float32) for g in runner(graph_input(job, sample, preprocessing))]
        if len(got) != len(want):
            checks.append(Check(sample.name, f"{len(got)} outputs instead of {len(want)}", float("inf"), 1.0))
            continue
        checks.extend(compare(sample.name, job.outputs, got, want))
    return Verification(precision, TOLERANCES[precision], checks)


# --- loading each written file back, the way a user would -------------------------------------------


def onnx_runner(path: Path, job: ExportJob) -> Runner:
    from aikd_cli.models.onnx_model import INPUT_NAME, open_session

    session = open_session(path, "cpu")
    names = list(job.outputs)
    return lambda x: session.run(names, {INPUT_NAME: x.numpy()})


def torchscript_runner(path: Path, job: ExportJob) -> Runner:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        module = torch.jit.load(str(path), map_location="cpu").eval()
    return lambda x: as_arrays(module(x))


def pt2_runner(path: Path, job: ExportJob) -> Runner:
    module = torch.export.load(str(path)).module()
    return lambda x: as_arrays(module(x))


def safetensors_runner(path: Path, job: ExportJob) -> Runner:
    """Load through aikd's own reader (metadata -> config -> strict key check), as ``score`` will."""
    from aikd_cli.models.loading import load_network
    from aikd_cli.tasks.export.errors import VerificationFailed

    loaded = load_network(path)
    if loaded.config != job.config:
        raise VerificationFailed(f"{path.name}: reads back as {loaded.config}, not {job.config}")
    return lambda x: as_arrays(loaded.net(x))


@dataclass
class FormatResult:
    format: str
    path: Path
    size: int  # bytes
    seconds: float  # export + verification
    details: dict  # exporter, opset, precision, preprocessing, fallback_reason
    verification: Verification

    def to_dict(self) -> dict:
        return {
            "file": self.path.name,
            "format": self.format,
            "bytes": self.size,
            "seconds": round(self.seconds, 2),
            **self.details,
            "verification": self.verification.to_dict(),
        }
