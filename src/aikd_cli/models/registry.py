"""Named pretrained weights, each carrying where it lives and how to feed it.

Like torchvision's ``Weights`` enums and timm's pretrained configs: a caller says
``"ediffiqa-l"`` and gets the right architecture, input normalisation and colour order; nobody
re-types ``(x/255 - 0.5)/0.5``. ``aikd models`` prints this table; docs/models.md gives the public
source of every pinned value.
"""

from __future__ import annotations

from dataclasses import dataclass

from aikd_cli.defaults import DEFAULT_DETECTOR, DEFAULT_QUALITY_MODEL, TASKS
from aikd_cli.errors import AikdError, WeightsError
from aikd_cli.models.config import ModelConfig, close_matches
from aikd_cli.models.preprocess import Preprocess, retinaface_preprocess

#: LightQNet's colour order, decided by measurement on LFW (docs/models.md, "LightQNet")
LIGHTQNET_COLOUR = "RGB"


@dataclass(frozen=True)
class OnnxContract:
    """What an ONNX file without aikd metadata computes: the graph output (index or name) that is
    the embedding and the one that is the quality score (``None``: the graph has no such output).
    Its input is the graph's only input, fed as the entry's :class:`Preprocess` says, in ``layout``
    (``nchw``, or ``nhwc`` for graphs converted from TensorFlow)."""

    embedding: int | str | None = None
    quality: int | str | None = None
    layout: str = "nchw"

    def to_dict(self) -> dict:
        return {"embedding": self.embedding, "quality": self.quality, "layout": self.layout}


@dataclass(frozen=True)
class WeightsSpec:
    """One named set of pretrained weights.

    ``repo_id=None`` means the weights are on no model hub: ``url`` says where their authors publish
    ``filename`` and ``aikd models add`` registers the user's copy. ``filename=None`` means the Hub
    repo does not document its file name: it is found by listing the repo at run time (and refused
    if ambiguous). ``sha256`` (and ``size``) are checked on every use where the host publishes
    them; ``params`` is the expected parameter count. ``commercial`` is ``True`` when the licence allows
    commercial use, ``False`` when it forbids it and ``None`` when no licence is stated.
    ``fr_embedding`` marks quality models whose embedding is a face-recognition embedding.
    """

    name: str
    config: ModelConfig
    repo_id: str | None
    filename: str | None
    revision: str | None
    sha256: str | None
    params: int | None
    license: str
    commercial: bool | None
    source: str
    description: str
    size: int | None = None
    url: str | None = None
    onnx: OnnxContract | None = None
    fr_embedding: bool = False

    @property
    def task(self) -> str:
        return self.config.task

    @property
    def hosted(self) -> bool:
        return self.repo_id is not None

    @property
    def roles(self) -> tuple[str, ...]:
        """The ``expect=`` values this model serves: its task, plus recognition for FR embeddings."""
        return (self.task, "recognition") if self.fr_embedding else (self.task,)

    @property
    def hub_uri(self) -> str | None:
        if self.repo_id is None:
            return None
        rev = f"@{self.revision}" if self.revision else ""
        return f"hf://{self.repo_id}{rev}" + (f"/{self.filename}" if self.filename else "")

    def licence_notice(self) -> str | None:
        """One line for users of weights that are not free for commercial use, else ``None``."""
        if self.commercial is False:
            return f"{self.name}: licensed {self.license}, for non-commercial use only ({self.source})"
        if self.commercial is None:
            return f"{self.name}: its authors state no licence; ask them before any commercial use ({self.source})"
        return None


__all__ = [
    "WeightsSpec",
    "OnnxContract",
    "register",
    "register_alias",
    "unregister",
    "get_spec",
    "find_spec",
    "aliases_of",
    "list_specs",
    "check_task_name",
    "DEFAULT_DETECTOR",
    "DEFAULT_QUALITY_MODEL",
]

_REGISTRY: dict[str, WeightsSpec] = {}
_ALIASES: dict[str, str] = {}


def register(spec: WeightsSpec) -> WeightsSpec:
    """Add ``spec``; names are lower-case and unique (a second registration under a taken name is an error)."""
    if spec.name != spec.name.lower():
        raise ValueError(f"weights name {spec.name!r} must be lower-case")
    if spec.name in _REGISTRY or spec.name in _ALIASES:
        raise ValueError(f"weights name {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def register_alias(alias: str, name: str) -> None:
    """``alias`` means ``name`` everywhere a registry name is accepted (``cr-fiqa`` = ``cr-fiqa-l``)."""
    if alias in _REGISTRY or alias in _ALIASES or name not in _REGISTRY:
        raise ValueError(f"cannot alias {alias!r} to {name!r}")
    _ALIASES[alias] = name


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def find_spec(name: str) -> WeightsSpec | None:
    key = name.lower()
    return _REGISTRY.get(_ALIASES.get(key, key))


def get_spec(name: str) -> WeightsSpec:
    spec = find_spec(name)
    if spec is None:
        raise WeightsError(
            f"{name!r} is not a file, an hf:// address or a registered model name"
            f"{close_matches(name, [*_REGISTRY, *_ALIASES])}",
            hint="`aikd models` lists the registered names",
        )
    return spec


def aliases_of(name: str) -> list[str]:
    return [a for a, target in _ALIASES.items() if target == name]


def check_task_name(task: str | None) -> str | None:
    """``task`` if it is one of :data:`~aikd_cli.defaults.TASKS` (or ``None``); anything else is refused."""
    if task is not None and task not in TASKS:
        raise AikdError(f"unknown task {task!r}{close_matches(task, TASKS)}", hint=f"use one of {', '.join(TASKS)}")
    return task


def list_specs(task: str | None = None) -> list[WeightsSpec]:
    """Registered weights serving ``task`` (all when ``None``); quality models with an FR embedding
    are listed under ``recognition`` too."""
    check_task_name(task)
    return [s for s in _REGISTRY.values() if task is None or task in s.roles]


# --- quality models -------------------------------------------------------------------------

_EDIFFIQA_SOURCE = "Babnik et al., eDifFIQA, IEEE TBIOM 2024; github.com/LSIbabnikz/eDifFIQA"
_EDIFFIQA = {
    "s": ("iresnet18", 24_551_937, "iResNet-18"),
    "m": ("iresnet50", 44_117_185, "iResNet-50"),
    "l": ("iresnet100", 65_682_497, "iResNet-100"),
}
for _size, (_arch, _params, _label) in _EDIFFIQA.items():
    register(
        WeightsSpec(
            name=f"ediffiqa-{_size}",
            config=ModelConfig(arch=_arch, head="mlp", preprocess=Preprocess()),
            repo_id=f"LSIbabnikz/eDifFIQA_{_size.upper()}",
            filename=None,
            revision="main",
            sha256=None,
            params=_params,
            license="unstated",
            commercial=None,
            source=_EDIFFIQA_SOURCE,
            description=f"eDifFIQA({_size.upper()}): {_label} CosFace backbone + MLP 512-1024-1 quality head",
            fr_embedding=True,
        )
    )

register(
    WeightsSpec(
        name="ediffiqa-t",
        # run by onnxruntime only: its MobileFaceNet (eDifFIQA's model/mobilenet.py) is not aikd's
        config=ModelConfig(arch="ediffiqa-mobilefacenet", head="mlp", preprocess=Preprocess()),
        repo_id="opencv/opencv_zoo",
        filename="models/face_image_quality_assessment_ediffiqa/ediffiqa_tiny_jun2024.onnx",
        revision="d4938dfc9d4ec5d098bfa33e98b3f3345a236586",
        sha256="9426c899cc0f01665240cb7d9e7f98e18e24e456c178326c771a43da289bfc6a",
        size=7_272_678,
        params=1_726_849,  # counted from eDifFIQA's model/mobilenet.py + the 512-1024-1 MLP
        license="CC-BY-4.0",
        commercial=True,
        source=_EDIFFIQA_SOURCE + "; ONNX from the OpenCV Zoo",
        description="eDifFIQA(T): MobileFaceNet + MLP quality head, ONNX, quality output only (small, for CPUs)",
        onnx=OnnxContract(quality=0),
    )
)

_CRFIQA_SOURCE = "Boutros et al., CR-FIQA, CVPR 2023; github.com/fdbtrs/CR-FIQA"
for _size, _arch, _params, _file, _folder, _data in (
    ("l", "iresnet100", 65_156_673, "181952backbone.pth", "1siy_3eQSBuIV6U6_9wgGtbZG2GMgVLMy", "MS1MV2"),
    ("s", "iresnet50", 43_591_361, "32572backbone.pth", "13bE4LP303XA_IzL1YOgG5eN0c8efHU9h", "CASIA-WebFace"),
):
    register(
        WeightsSpec(
            name=f"cr-fiqa-{_size}",
            config=ModelConfig(arch=_arch, head="qs", preprocess=Preprocess()),
            repo_id=None,
            filename=_file,
            revision=None,
            sha256=None,
            params=_params,
            license="CC-BY-NC-4.0",
            commercial=False,
            source=_CRFIQA_SOURCE,
            description=f"CR-FIQA({_size.upper()}): {_arch} ArcFace backbone trained on {_data} + 'qs' quality layer",
            url=f"https://drive.google.com/drive/folders/{_folder}",
            fr_embedding=True,
        )
    )
register_alias("cr-fiqa", "cr-fiqa-l")

_LIGHTQNET_SOURCE = "Chen et al., LightQNet, IEEE SPL 2021; github.com/KaenChan/lightqnet (TF1 graph, convert to ONNX)"
for _name, _file, _sha, _params in (
    ("lightqnet", "lightqnet-dm100.pb", "057b8ea2714953b70745934bcd7a927f4676a827a55509a2adc64e7282f836f3", 429_467),
    ("lightqnet-050", "lightqnet-dm050.pb", "cf7d045e9c6b7eb99a599d1af9447cab6c23d4d97a2be4738d8279def859c4ac", 124_451),
):
    register(
        WeightsSpec(
            name=_name,
            # 96x96 ArcFace-template crops, (x - 128) / 128, NHWC; colour order measured (docs/models.md)
            config=ModelConfig(arch="external", head="graph", embedding_size=0,
                               preprocess=Preprocess.from_pixels(size=96, colour=LIGHTQNET_COLOUR,
                                                                 mean=(128.0,), std=(128.0,))),
            repo_id=None,
            filename=_file,
            revision="1f27601e441b653ffb468114cdbd55b8aa2821ad",
            sha256=_sha,  # of the published .pb; the ONNX conversion records it (benchmarks/convert_tf_graph.py)
            size=None,
            params=_params,  # the graph's constants, BatchNorm moving statistics left out
            license="MIT",
            commercial=True,
            source=_LIGHTQNET_SOURCE,
            description=f"LightQNet ({'x1.0' if _name == 'lightqnet' else 'x0.5'} width): MobileNetV3-style "
            "FIQA distilled from PFE uncertainty; a 0-1 quality, 96x96 input (CPU friendly)",
            url="https://github.com/KaenChan/lightqnet",
            onnx=OnnxContract(quality=0, layout="nhwc"),
        )
    )

# --- face-recognition models ----------------------------------------------------------------

register(
    WeightsSpec(
        name="insightface-mfn",
        # the graph subtracts 127.5 and multiplies by 1/128 itself: fed raw RGB pixel values
        config=ModelConfig(arch="external", embedding_size=128,
                           preprocess=Preprocess.from_pixels(size=112, colour="RGB", mean=(0.0,), std=(1.0,))),
        repo_id=None,
        filename="model-0000.params",
        revision=None,
        sha256="b151f97e392e68cb540fb9710a91a574a4187d491eeda77d1c1799ae6dc3b82b",
        size=4_115_182,
        params=1_003_264,  # the params file's arrays, BatchNorm moving statistics left out
        license="non-commercial research (insightface model zoo)",
        commercial=False,
        source="insightface model zoo, MobileFaceNet-ArcFace 'model-y1-test2' (MS1M-ArcFace; LFW 99.50 %); "
        "MXNet params + symbol, converted to ONNX at `aikd models add`",
        description="InsightFace MobileFaceNet-ArcFace (128-d), MXNet, converted without MXNet (for --fr-model)",
        url="https://github.com/deepinsight/insightface/wiki/Model-Zoo (mirror: github.com/liguiyuan/mobilefacenet-ncnn, models/)",
        onnx=OnnxContract(embedding=0),
    )
)

_INSIGHTFACE_LICENCE = "non-commercial research (insightface model zoo)"
register(
    WeightsSpec(
        name="cosface-r100-glint360k",
        config=ModelConfig(arch="iresnet100", preprocess=Preprocess()),
        repo_id="Leoxing/H2CEvaluator",
        filename="arcface/glint360k_cosface_r100_fp16_0.1.pth",
        revision="main",
        sha256="5f631718e783448b41631e15073bdc622eaeef56509bbad4e5085f23bd32db83",
        params=65_156_160,
        license=_INSIGHTFACE_LICENCE,
        commercial=False,
        source="insightface arcface_torch model zoo (glint360k_cosface_r100_fp16_0.1); Hub copy used by "
        "github.com/LeoXing1996/H2CEvaluator",
        description="CosFace iResNet-100 trained on Glint360K, torch weights (for --fr-model, --backbone)",
    )
)
register(
    WeightsSpec(
        name="arcface-r50-webface600k",
        config=ModelConfig(arch="iresnet50", preprocess=Preprocess()),
        repo_id="public-data/insightface",
        filename="models/buffalo_l/w600k_r50.onnx",
        revision="33c1063c49c785b7652d3fd529f86fa4f149392b",
        sha256="4c06341c33c2ca1f86781dab0e829f88ad5b64be9fba56e56bc9ebdefc619e43",
        size=174_383_860,
        params=43_590_848,
        license=_INSIGHTFACE_LICENCE,
        commercial=False,
        source="insightface buffalo_l pack (v0.7), w600k_r50.onnx; Hub mirror public-data/insightface",
        description="ArcFace iResNet-50 trained on WebFace600K, ONNX (for --fr-model)",
        onnx=OnnxContract(embedding=0),
    )
)
register(
    WeightsSpec(
        name="auraface-r100",
        config=ModelConfig(arch="iresnet100", preprocess=Preprocess()),
        repo_id="fal/AuraFace-v1",
        filename="glintr100.onnx",
        revision="af6d057c9b0ec4071d4c49c80e3539258798b609",
        sha256="a7933ea5330113b01c9b60351d8f4c33003f145d8470ac5f0e52ee2effe25c60",
        size=260_694_151,
        params=65_156_160,
        license="Apache-2.0",
        commercial=True,
        source="fal, AuraFace v1 (huggingface.co/fal/AuraFace-v1)",
        description="AuraFace ArcFace-style iResNet-100 (glintr100), ONNX, commercial-friendly (for --fr-model)",
        onnx=OnnxContract(embedding=0),
    )
)

# --- face detectors -------------------------------------------------------------------------

_RETINAFACE_SOURCE = "Deng et al., RetinaFace, CVPR 2020; github.com/biubug6/Pytorch_Retinaface"
register(
    WeightsSpec(
        name="retinaface-mnet025",
        config=ModelConfig(arch="retinaface-mnet025", preprocess=retinaface_preprocess()),
        repo_id="py-feat/retinaface",
        filename="mobilenet0.25_Final.pth",
        revision="31702389094fccc7060c15299e6ad712ee880de6",
        sha256="5f88f7957d9eaef82b49b9e0202bc56e97292e2aede2999209accd34442cc4df",
        params=426_608,
        license="MIT",
        commercial=True,
        source=_RETINAFACE_SOURCE,
        description="RetinaFace MobileNet-0.25 face + 5-landmark detector (fast, CPU friendly)",
    )
)
register(
    WeightsSpec(
        name="retinaface-r50",
        config=ModelConfig(arch="retinaface-r50", preprocess=retinaface_preprocess()),
        repo_id="leonelhs/facexlib",
        filename="detection_Resnet50_Final.pth",
        revision="main",
        sha256="6d1de9c2944f2ccddca5f5e010ea5ae64a39845a86311af6fdf30841b0a5a16d",
        params=27_293_600,
        license="MIT",
        commercial=True,
        source=_RETINAFACE_SOURCE,
        description="RetinaFace ResNet-50 face + 5-landmark detector (more accurate, slower)",
    )
)
