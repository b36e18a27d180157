"""Named pretrained weights, each carrying where it lives and how to feed it.

Like torchvision's ``Weights`` enums and timm's pretrained configs: a caller says
``"ediffiqa-l"`` and gets the right architecture, input normalisation and colour order; nobody
re-types ``(x/255 - 0.5)/0.5``. ``aikd models`` prints this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from aikd_cli.defaults import DEFAULT_DETECTOR, DEFAULT_QUALITY_MODEL
from aikd_cli.errors import WeightsError
from aikd_cli.models.config import ModelConfig, close_matches
from aikd_cli.models.preprocess import Preprocess


@dataclass(frozen=True)
class WeightsSpec:
    """One named set of pretrained weights.

    ``filename=None`` means the Hub repo does not document its file name: it is found by listing
    the repo at run time (and refused if ambiguous). ``sha256`` is checked after every download
    where the published hash is known; ``params`` is the expected parameter count.
    """

    name: str
    config: ModelConfig
    repo_id: str
    filename: str | None
    revision: str
    sha256: str | None
    params: int
    license: str
    source: str
    description: str

    @property
    def task(self) -> str:
        return self.config.task

    @property
    def hub_uri(self) -> str:
        return f"hf://{self.repo_id}@{self.revision}" + (f"/{self.filename}" if self.filename else "")


__all__ = ["WeightsSpec", "register", "unregister", "get_spec", "list_specs", "DEFAULT_DETECTOR", "DEFAULT_QUALITY_MODEL"]

_REGISTRY: dict[str, WeightsSpec] = {}



def register(spec: WeightsSpec) -> WeightsSpec:
    """Add ``spec``; names are unique (a second registration under a taken name is an error)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"weights name {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def get_spec(name: str) -> WeightsSpec:
    try:
        return _REGISTRY[name.lower()]
    except KeyError:
        raise WeightsError(f"{name!r} is not a file, an hf:// address or a registered model name{close_matches(name, _REGISTRY)}",
                           hint="`aikd models` lists the registered names") from None


def list_specs(task: str | None = None) -> list[WeightsSpec]:
    return [s for s in _REGISTRY.values() if task is None or s.task == task]


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
            license="research (unstated)",
            source="Babnik et al., eDifFIQA, IEEE TBIOM 2024; github.com/LSIbabnikz/eDifFIQA",
            description=f"eDifFIQA({_size.upper()}): {_label} CosFace backbone + MLP 512-1024-1 quality head",
        )
    )

register(
    WeightsSpec(
        name="retinaface-mnet025",
        config=ModelConfig(arch="retinaface-mnet025"),
        repo_id="py-feat/retinaface",
        filename="mobilenet0.25_Final.pth",
        revision="31702389094fccc7060c15299e6ad712ee880de6",
        sha256="5f88f7957d9eaef82b49b9e0202bc56e97292e2aede2999209accd34442cc4df",
        params=426_608,
        license="MIT",
        source="Deng et al., RetinaFace, CVPR 2020; github.com/biubug6/Pytorch_Retinaface",
        description="RetinaFace MobileNet-0.25 face + 5-landmark detector (fast, CPU friendly)",
    )
)
register(
    WeightsSpec(
        name="retinaface-r50",
        config=ModelConfig(arch="retinaface-r50"),
        repo_id="leonelhs/facexlib",
        filename="detection_Resnet50_Final.pth",
        revision="main",
        sha256="6d1de9c2944f2ccddca5f5e010ea5ae64a39845a86311af6fdf30841b0a5a16d",
        params=27_293_600,
        license="MIT",
        source="Deng et al., RetinaFace, CVPR 2020; github.com/biubug6/Pytorch_Retinaface",
        description="RetinaFace ResNet-50 face + 5-landmark detector (more accurate, slower)",
    )
)
