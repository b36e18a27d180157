"""Offline, a command names every missing weights file at once, with the option that takes a local
file instead (the Hub is never contacted: HF_HUB_OFFLINE=1 and an empty cache)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from aikd_cli.cli.app import app
from aikd_cli.errors import WeightsError
from aikd_cli.models.availability import ensure_available

runner = CliRunner()


def test_all_missing_weights_in_one_message(tmp_path):
    with pytest.raises(WeightsError) as caught:
        ensure_available([("--model", "ediffiqa-l"), ("--detector", "retinaface-mnet025"), ("--fr-model", None)])
    message = str(caught.value)
    assert "2 weights this command needs are missing" in message
    assert "ediffiqa-l (--model)" in message and "retinaface-mnet025 (--detector)" in message
    assert "--model FILE, --detector FILE" in message


def test_a_local_file_is_never_missing(retinaface_weights):
    ensure_available([("--detector", str(retinaface_weights)), ("--model", None)])
    with pytest.raises(WeightsError, match=r"for --model"):
        ensure_available([("--model", "ediffiqa-s"), ("--detector", str(retinaface_weights))])


def test_weights_on_no_hub_are_named_with_where_to_get_them():
    with pytest.raises(WeightsError, match=r"cr-fiqa-l \(--model\): on no model hub.*drive.google.com"):
        ensure_available([("--model", "cr-fiqa-l")])


def test_score_and_evaluate_say_it_before_any_work(tmp_path, assets):
    photos = assets / "faces" / "facerec__obama"
    result = runner.invoke(app, ["score", str(photos), "-o", str(tmp_path / "s.csv")])
    assert result.exit_code == 2 and "ediffiqa-l (--model)" in result.stderr
    assert "retinaface-mnet025 (--detector)" in result.stderr and not (tmp_path / "s.csv").exists()
    ids = tmp_path / "ids.csv"
    ids.write_text("path,identity\n" + "".join(f"{p},{i % 2}\n" for i, p in enumerate(sorted(photos.glob("*.jpg")))))
    result = runner.invoke(app, ["evaluate", "--identities", str(ids), "--fr-model", "cosface-r100-glint360k",
                                 "-m", "ediffiqa-s", "--start-error", "0.2", "-o", str(tmp_path / "ev")])
    assert result.exit_code == 2 and "cosface-r100-glint360k (--fr-model)" in result.stderr
    assert "ediffiqa-s (--model)" in result.stderr
