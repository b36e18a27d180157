"""Model cards (issue 12, item 16): ``aikd export`` wrote a card, meant for ``--push-to-hub``, with a
raw Python dict of the teacher config and absolute local paths, titled after the output folder."""

from __future__ import annotations

import re

from adversarial_helpers import cli


def test_the_model_card_has_no_local_paths_or_reprs_and_is_titled_with_the_model(qmodel, tmp_path):
    from factories import make_quality_net

    from aikd_cli.models.checkpoints import save_checkpoint
    from aikd_cli.models.config import ModelConfig

    run = tmp_path / "home" / "alice" / "runs" / "aikd-s"
    run.mkdir(parents=True)
    info = {  # what `aikd distill` records in a student checkpoint
        "teacher": {"source": str(tmp_path / "home" / "alice" / "teacher.pth"), "layout": "ediffiqa",
                    "arch": "iresnet18", "head": "mlp", "state_sha256": "ab" * 32},
        "training": {"data": [str(tmp_path / "home" / "alice" / "faces")], "output": str(run), "epochs": 2,
                     "perturb": 3.0, "labels": None, "cache_teacher": True},
        "metrics": {"val_loss": 0.25, "val_spearman": float("nan")},
    }
    config = ModelConfig(arch="mobilefacenet", head="mlp", embedding_size=64, head_hidden=32)
    model = save_checkpoint(run / "best.safetensors", make_quality_net(arch="mobilefacenet", embedding_size=64),
                            config, info)
    out = tmp_path / "exports" / "export"
    result = cli("export", model, "-f", "safetensors", "-o", out)
    assert result.exit_code == 0, result.output
    card = (out / "README.md").read_text(encoding="utf-8")
    assert str(tmp_path) not in card and "alice" not in card
    assert not re.search(r"[{\[]'", card), "a Python repr in the card"
    assert "None" not in card and "True" not in card
    title = next(line for line in card.splitlines() if line.startswith("# "))
    assert title == "# aikd-s"  # the model, not the output folder ("export")
    assert "Distilled from teacher `teacher.pth` (iresnet18)." in card
    assert "| `data` | faces |" in card and "| `labels` | none |" in card and "| `cache_teacher` | yes |" in card
    assert "| `val_spearman` | n/a |" in card
