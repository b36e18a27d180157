"""Architectures, public checkpoint layouts, safe loading, and the weights registry."""

from __future__ import annotations

import os
import pickle
import re

import pytest
import torch

from aikd_cli.defaults import TASKS
from aikd_cli.errors import AikdError, CheckpointError, WeightsError
from aikd_cli.models import registry
from aikd_cli.models.build import build_model
from aikd_cli.models.checkpoints import canonicalise, read_checkpoint
from aikd_cli.models.config import BACKBONES, DETECTORS, ModelConfig
from aikd_cli.models.iresnet import iresnet
from aikd_cli.models.loading import load_network
from aikd_cli.models.preprocess import IMAGENET_NORM


@pytest.mark.parametrize("depth", [18, 34, 50, 100, 200])
def test_iresnet_depth_and_width_are_read_from_tensors(depth):
    with torch.device("meta"):
        state = iresnet(depth, num_features=256).state_dict()
    _, config, layout = canonicalise(state)
    assert (config.arch, config.embedding_size, config.head, layout) == (f"iresnet{depth}", 256, None, "backbone")


def _small_quality_state(prefix_backbone: str, prefix_head: str) -> dict:
    net = build_model(ModelConfig(arch="iresnet18", head="mlp", embedding_size=32, head_hidden=16))
    return {
        k.replace("feature_extractor.", prefix_backbone).replace("quality_head.", prefix_head): v
        for k, v in net.state_dict().items()
    }


@pytest.mark.parametrize(
    "backbone,head,layout",
    [("feature_extractor.", "quality_head.", "aikd"), ("base_model.", "mlp.", "ediffiqa"),
     ("module.feature_extractor.", "module.quality_head.", "aikd")],
)
def test_quality_layouts_load_and_agree(tmp_path, backbone, head, layout):
    state = _small_quality_state(backbone, head)
    path = tmp_path / "q.pth"
    torch.save({"state_dict": state}, path)  # wrapped, as training scripts often save
    loaded = load_network(path, expect="quality")
    assert loaded.layout == layout and loaded.config.head_hidden == 16
    x = torch.rand(2, 3, 112, 112)
    emb, q = loaded.net(x)
    assert emb.shape == (2, 32) and q.shape == (2,)


def test_crfiqa_layout(tmp_path):
    torch.manual_seed(0)
    net = iresnet(18, num_features=64, quality_outputs=1).eval()
    torch.save(net.state_dict(), tmp_path / "backbone.pth")
    loaded = load_network(tmp_path / "backbone.pth", expect="quality")
    assert loaded.layout == "crfiqa" and loaded.config.head == "qs"
    x = torch.rand(3, 3, 112, 112)
    assert torch.allclose(loaded.net(x)[1], net(x)[1])


def test_mismatched_keys_are_named(tmp_path):
    state = _small_quality_state("feature_extractor.", "quality_head.")
    state.pop("feature_extractor.layer2.0.conv1.weight")
    state["feature_extractor.extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match=r"missing: feature_extractor.layer2.0.conv1.weight.*unexpected: feature_extractor.extra.weight"):
        load_network(tmp_path / "bad.pth")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"weight": _Evil()}, f)
    with pytest.raises(WeightsError, match="refusing to unpickle"):
        read_checkpoint(path)


def test_wrong_kind_of_model_is_a_clear_error(retinaface_weights):
    with pytest.raises(WeightsError, match="is a detection model"):
        load_network(retinaface_weights, expect="quality")


def test_kit_mobilefacenet_recognises_people(assets, mobilefacenet_weights, detector):
    """The real FR weights load into our MobileFaceNet and separate identities."""
    from aikd_cli.faces.align import align_faces
    from aikd_cli.images.decode import load_image
    from aikd_cli.models.inference import TorchFaceModel

    model = TorchFaceModel(load_network(mobilefacenet_weights, expect="recognition"), device="cpu")
    assert model.config.arch == "mobilefacenet" and model.config.embedding_size == 128
    assert (model.config.preprocess.mean, model.config.preprocess.std) == IMAGENET_NORM
    people = ["Jean_Charest", "Ciro_Gomes", "Padraig_Harrington"]
    crops, who = [], []
    for person in people:
        for path in sorted((assets / "lfw" / person).glob("*.jpg"))[:3]:
            img = load_image(path)
            face = detector.detect([img])[0][0]
            crop, _ = align_faces(torch.from_numpy(img).permute(2, 0, 1), torch.tensor(face.landmarks[None]))
            crops.append(crop[0])
            who.append(person)
    emb = torch.nn.functional.normalize(model(torch.stack(crops)).embedding, dim=1)
    sim = emb @ emb.T
    same = [sim[i, j] for i in range(9) for j in range(i + 1, 9) if who[i] == who[j]]
    diff = [sim[i, j] for i in range(9) for j in range(i + 1, 9) if who[i] != who[j]]
    assert min(same) > max(diff)


def test_registry_entries_are_complete_and_consistent():
    specs = registry.list_specs()
    assert len({s.name for s in specs}) == len(specs) >= 11
    assert registry.get_spec(registry.DEFAULT_QUALITY_MODEL).task == "quality"
    assert registry.get_spec(registry.DEFAULT_DETECTOR).task == "detection"
    for spec in specs:
        assert spec.task in TASKS and spec.license and spec.source and spec.description, spec.name
        assert spec.sha256 is None or (len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0)
        if spec.hosted:  # on the Hub: a repo and a revision (a 40-hex commit wherever a source gave one)
            assert spec.repo_id.count("/") == 1 and spec.revision and spec.url is None
            assert spec.revision == "main" or re.fullmatch(r"[0-9a-f]{40}", spec.revision)
        else:  # brought by the user: the authors' file name and where they publish it (pinned where
            # the published bytes are known: MXNet / TensorFlow files converted at `aikd models add`)
            assert spec.filename and spec.url.startswith("https://")
            assert (spec.sha256 is not None) == spec.filename.endswith((".params", ".pb"))
        if spec.onnx is not None and spec.hosted:
            assert spec.filename.endswith(".onnx") and spec.sha256 and spec.size
        pre = spec.config.preprocess
        assert pre.colour in ("RGB", "BGR") and all(s > 0 for s in pre.std) and pre.scale in (1.0, 255.0)
        if spec.task == "detection":
            assert (pre.colour, pre.mean, pre.scale, pre.max_side) == ("BGR", (104.0, 117.0, 123.0), 1.0, 640)
        else:
            assert pre.max_side is None and (pre.size == 112 or spec.config.arch == "external")
        if spec.config.arch in BACKBONES + DETECTORS:
            with torch.device("meta"):
                params = sum(p.numel() for p in build_model(spec.config).parameters())
            assert params == spec.params, spec.name
        else:  # a graph aikd runs but never builds (eDifFIQA(T)'s own MobileFaceNet)
            assert spec.onnx is not None and spec.params
        assert spec.commercial in (True, False, None)
        assert (spec.licence_notice() is None) == (spec.commercial is True)


def test_registry_refuses_duplicates_and_suggests_names():
    with pytest.raises(ValueError):
        registry.register(registry.get_spec("ediffiqa-s"))
    with pytest.raises(WeightsError, match="did you mean 'ediffiqa-s'"):
        registry.get_spec("ediffiqa_s")
    assert registry.get_spec("CR-FIQA").name == "cr-fiqa-l"


def test_tasks_are_checked_and_fr_embeddings_listed_under_recognition():
    with pytest.raises(AikdError, match="unknown task 'foo'"):
        registry.list_specs("foo")
    recognition = {s.name for s in registry.list_specs("recognition")}
    assert {"cosface-r100-glint360k", "arcface-r50-webface600k", "auraface-r100", "ediffiqa-l", "cr-fiqa-l"} <= recognition
    assert "ediffiqa-t" not in recognition  # its graph has no embedding output
    assert not recognition & {s.name for s in registry.list_specs("detection")}


def test_detector_preprocessing_record_matches_the_detector(assets):
    """The registry's RetinaFace record (BGR, minus (104, 117, 123), no scaling) turns an image into
    exactly what the detector feeds its network."""
    from aikd_cli.faces.detector import FaceDetector, prepare_for_detection
    from aikd_cli.images.decode import load_image
    from aikd_cli.models.retinaface import RetinaFace

    image = torch.from_numpy(load_image(sorted((assets / "lfw").rglob("*.jpg"))[0]))
    pre = registry.get_spec("retinaface-mnet025").config.preprocess
    by_hand = (image.flip(-1).float() - torch.tensor([104.0, 117.0, 123.0])).permute(2, 0, 1)  # BGR - mean
    assert torch.equal(prepare_for_detection(image, pre.max_side, pre).tensor, by_hand)  # 250 px: no resize
    assert torch.equal(FaceDetector(RetinaFace("mobilenet0.25")).prepare(image).tensor, by_hand)  # default record
    expected = by_hand
    assert torch.equal(pre(image.permute(2, 0, 1)[None])[0], expected)
    record = ModelConfig.from_dict(registry.get_spec("retinaface-r50").config.to_dict())
    assert record.preprocess == pre and "longer side <= 640 BGR" in pre.describe()


def test_recognition_model_where_quality_is_needed_says_what_to_do(mobilefacenet_weights):
    with pytest.raises(WeightsError) as info:
        load_network(mobilefacenet_weights, expect="quality")
    text = str(info.value)
    assert "is a recognition model" in text and "aikd label --fr-model" in text and "--backbone" in text
    assert all(name in text for name in ("ediffiqa-l", "ediffiqa-t", "cr-fiqa-l"))
