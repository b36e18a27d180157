"""Small, well-behaved random models for tests and benchmarks (no pretrained weights needed)."""

from __future__ import annotations

from pathlib import Path


def make_quality_net(seed: int = 0, arch: str = "iresnet18", embedding_size: int = 64, head_hidden: int = 32):
    """A random quality network whose outputs stay O(1) (He-style init, damped residual branches),
    so that scores behave like a trained model's instead of exploding through the depth."""
    import torch

    from aikd_cli.models.build import build_model
    from aikd_cli.models.config import ModelConfig

    torch.manual_seed(seed)
    net = build_model(ModelConfig(arch=arch, head="mlp", embedding_size=embedding_size, head_hidden=head_hidden))
    for name, m in net.named_modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="linear")
        elif isinstance(m, torch.nn.BatchNorm2d) and name.endswith("bn3"):
            torch.nn.init.constant_(m.weight, 0.2)
    return net.eval()


def save_tiny_quality_model(path: Path) -> Path:
    """A small random quality model (MobileFaceNet + MLP head) saved as an aikd safetensors file:
    the cheapest model a command can load."""
    from aikd_cli.models.checkpoints import save_checkpoint
    from aikd_cli.models.config import ModelConfig

    net = make_quality_net(arch="mobilefacenet", embedding_size=64)
    config = ModelConfig(arch="mobilefacenet", head="mlp", embedding_size=64, head_hidden=32)
    return save_checkpoint(path, net, config)


def save_ediffiqa_layout(net, path: Path) -> Path:
    """Save ``net`` with eDifFIQA's key names (``base_model.*``, ``mlp.*``)."""
    import torch

    torch.save({k.replace("feature_extractor.", "base_model.").replace("quality_head.", "mlp."): v
                for k, v in net.state_dict().items()}, path)
    return path


def calibrated_net(config):
    """A random network of ``config`` whose BatchNorm statistics come from smooth random images, so
    activations sit at a trained network's scale (for export-drift and speed measurements)."""
    import torch

    from aikd_cli.models.build import build_model

    torch.manual_seed(0)
    net = build_model(config)
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    net.train()
    with torch.no_grad():
        net(torch.nn.functional.interpolate(torch.rand(8, 3, 7, 7) * 2 - 1, size=(112, 112), mode="bicubic"))
    return net.eval()
