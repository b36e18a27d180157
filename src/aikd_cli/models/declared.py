"""The input spec a user declares for a model file aikd cannot read one from.

A file's own metadata (aikd safetensors / ONNX records) or a registry entry normally says how to
feed a model. An ONNX graph from elsewhere, a converted MXNet or TensorFlow model, or a ``.pth`` of
unknown origin says nothing, and feeding it BGR instead of RGB or /255 instead of (x-127.5)/128
gives plausible, wrong scores. ``aikd models add NAME FILE --task ... --size ... --colour ...``
declares it once; every command then reads it from the registration, never from the caller.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from aikd_cli.errors import WeightsError
from aikd_cli.models.config import ModelConfig
from aikd_cli.models.preprocess import Preprocess

TASKS = ("quality", "recognition")
LAYOUTS = ("nchw", "nhwc")
COLOURS = ("rgb", "bgr")


@dataclass(frozen=True)
class InputDeclaration:
    """How to feed a model: ``x = (pixels - mean) / std`` (pixel units, 0-255) in ``colour`` order,
    ``size`` x ``size`` (cut from ArcFace-template crops of ``crop`` px when given, else of ``size``),
    in ``layout``; ``output`` is the graph output (index or name) holding the quality or embedding."""

    task: str
    size: int = 112
    colour: str = "rgb"
    mean: tuple[float, ...] = (127.5,)
    std: tuple[float, ...] = (127.5,)
    layout: str = "nchw"
    output: int | str = 0
    crop: int | None = None
    embedding_size: int = 0  # read from the graph when it is registered

    def __post_init__(self) -> None:
        object.__setattr__(self, "colour", self.colour.lower())
        object.__setattr__(self, "layout", self.layout.lower())
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if self.task not in TASKS:
            raise WeightsError(f"--task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.colour not in COLOURS:
            raise WeightsError(f"--colour must be rgb or bgr, got {self.colour!r}")
        if self.layout not in LAYOUTS:
            raise WeightsError(f"--layout must be nchw or nhwc, got {self.layout!r}")
        for name, side in (("--size", self.size), ("--crop-size", self.crop)):
            if side is not None and not 16 <= side <= 1024:
                raise WeightsError(f"{name} must be between 16 and 1024 pixels, got {side}")
        if len(self.mean) not in (1, 3) or len(self.std) not in (1, 3):
            raise WeightsError("--mean and --std take one value or three (one per channel)")
        if any(s <= 0 for s in self.std):
            raise WeightsError("--std must be positive")

    def preprocess(self) -> Preprocess:
        return Preprocess.from_pixels(size=self.size, colour=self.colour, mean=self.mean, std=self.std,
                                      crop=self.crop)

    def config(self) -> ModelConfig:
        head = "graph" if self.task == "quality" else None
        return ModelConfig(arch="external", head=head, embedding_size=self.embedding_size,
                           preprocess=self.preprocess())

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict) -> InputDeclaration:
        data = dict(data)
        for key in ("mean", "std"):
            if key in data:
                data[key] = tuple(data[key])
        try:
            return cls(**data)
        except TypeError as exc:
            raise WeightsError(f"malformed input declaration ({exc})") from None

    def describe(self) -> str:
        return f"{self.task}, {self.preprocess().describe()}, {self.layout.upper()}, output {self.output}"


def _numbers(option: str, text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise WeightsError(f"{option} takes one number or three separated by commas, got {text!r}") from None


def declaration_from_options(*, task: str | None = None, size: int | None = None, crop: int | None = None,
                             colour: str | None = None, mean: str | None = None, std: str | None = None,
                             layout: str | None = None, output: str | None = None) -> InputDeclaration | None:
    """The declaration the spec options of ``aikd models add`` make (``None`` when none was given)."""
    given = {"size": size, "crop": crop, "colour": colour, "mean": _numbers("--mean", mean),
             "std": _numbers("--std", std), "layout": layout,
             "output": int(output) if output is not None and output.isdigit() else output}
    given = {k: v for k, v in given.items() if v is not None}
    if task is None and not given:
        return None
    if task is None:
        raise WeightsError("an input spec needs --task quality or --task recognition (what the model computes)")
    return InputDeclaration(task=task, **given)
