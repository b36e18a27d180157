"""Readers of ``aikd evaluate``: protocols, the restricted .bin unpickler, quality CSVs, embeddings, cache."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aikd_cli.errors import InputFormatError
from aikd_cli.tasks.evaluate import protocols
from aikd_cli.tasks.evaluate.cache import OutputCache
from aikd_cli.tasks.evaluate.embeddings import cosine_scores, read_embeddings
from aikd_cli.tasks.evaluate.options import parse_labelled
from aikd_cli.tasks.evaluate.protocols import drop_bad_pairs, identity_pairs, open_protocol
from aikd_cli.tasks.evaluate.quality import read_quality_file


def _abs(path: Path) -> str:
    return os.path.normpath(os.path.abspath(path))


def test_lfw_pairs_txt(tmp_path):
    (tmp_path / "pairs.txt").write_text("2\t2\nAbel 1 4\nZico 2 3\nAbel 1 Zico 2\nAnn\t1\tBob\t12\n")
    p = open_protocol(tmp_path / "pairs.txt", image_root=tmp_path / "lfw")
    assert p.mated.tolist() == [True, True, False, False]
    assert p.a[0] == _abs(tmp_path / "lfw/Abel/Abel_0001.jpg") and p.b[3] == _abs(
        tmp_path / "lfw/Bob/Bob_0012.jpg"
    )
    (tmp_path / "bad.txt").write_text("Abel 1 4\nAbel 1 Zico\n")
    with pytest.raises(InputFormatError, match=r"bad.txt:2: image number 'Zico'"):
        open_protocol(tmp_path / "bad.txt")
    (tmp_path / "short.txt").write_text("Abel 1\n")
    with pytest.raises(InputFormatError, match=r"short.txt:1: expected"):
        open_protocol(tmp_path / "short.txt")


def test_pairs_csv_with_scores_and_aliases(tmp_path):
    (tmp_path / "p.csv").write_text(
        "image_a,image_b,is_same,sim\nx/a.jpg,/abs/b.jpg,yes,0.5\nx/a.jpg,c.jpg,0,\n"
    )
    p = open_protocol(tmp_path / "p.csv", score_column="sim")
    assert p.mated.tolist() == [True, False]
    assert p.a[0] == _abs(tmp_path / "x/a.jpg") and p.b[0] == "/abs/b.jpg"
    assert p.scores[0] == 0.5 and np.isnan(p.scores[1])
    with pytest.raises(InputFormatError, match="no score column 'score'"):
        open_protocol(tmp_path / "p.csv", score_column="score")
    (tmp_path / "bad.csv").write_text("path_a,path_b,mated\na,b,maybe\n")
    with pytest.raises(InputFormatError, match=r"bad.csv:2: cannot read 'maybe'"):
        open_protocol(tmp_path / "bad.csv")
    (tmp_path / "none.csv").write_text("x,y\n1,2\n")
    with pytest.raises(InputFormatError, match="not a pairs CSV"):
        open_protocol(tmp_path / "none.csv")


def _encoded(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (112, 112), colour).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("protocol", [2, 4])
def test_bin_file_read_with_the_restricted_unpickler(tmp_path, protocol):
    images = [_encoded((10 * i, 0, 0)) for i in range(6)]
    path = tmp_path / "val.bin"
    path.write_bytes(pickle.dumps((images, [True, False, True]), protocol=protocol))
    p = open_protocol(path)
    assert p.mated.tolist() == [True, False, True] and p.images.aligned
    assert p.b[1] == f"{_abs(path)}#3"
    pixels = p.images.read(p.b[1])
    assert pixels.shape == (112, 112, 3) and pixels[0, 0, 0] == 30


def test_bin_with_numpy_arrays(tmp_path):
    arrays = [np.full((3, 112, 112), i, np.uint8) for i in range(4)]
    path = tmp_path / "arr.bin"
    path.write_bytes(pickle.dumps((arrays, np.array([True, False])), protocol=4))
    p = open_protocol(path)
    assert p.images.read(p.a[1]).shape == (112, 112, 3) and p.images.read(p.a[1])[0, 0, 0] == 2


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_bin_refuses_code_and_wrong_layouts(tmp_path):
    evil = tmp_path / "evil.bin"
    evil.write_bytes(pickle.dumps(([_Evil()], [True])))
    with pytest.raises(InputFormatError, match=r"refusing to load (posix|os)\.system"):
        open_protocol(evil)
    wrong = tmp_path / "dict.bin"
    wrong.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(InputFormatError, match="expected a pickled"):
        open_protocol(wrong)
    odd = tmp_path / "odd.bin"
    odd.write_bytes(pickle.dumps(([_encoded((0, 0, 0))] * 3, [True, False])))
    with pytest.raises(InputFormatError, match="3 images for 2 pairs"):
        open_protocol(odd)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00not a pickle")
    with pytest.raises(InputFormatError, match="junk.bin"):
        open_protocol(junk)


def test_all_pairs_of_an_identity_list():
    keys = [f"s{i}" for i in range(6)]
    ids = ["a", "a", "a", "b", "b", "c"]
    i, j, mated, notes = identity_pairs(keys, ids)
    assert mated.sum() == 3 + 1 and (~mated).sum() == 15 - 4 and not notes
    pairs = {tuple(sorted((keys[x], keys[y]))) for x, y in zip(i, j, strict=True)}
    assert len(pairs) == 15
    same = np.array([ids[x] == ids[y] for x, y in zip(i, j, strict=True)])
    assert (same == mated).all()
    i2, j2, mated2, notes2 = identity_pairs(keys, ids, max_nonmated=5, seed=3)
    assert (~mated2).sum() == 5 and "5 sampled (seed 3) of 11" in notes2[0]
    again = identity_pairs(keys, ids, max_nonmated=5, seed=3)
    assert (again[0] == i2).all() and (again[1] == j2).all()
    groups = ["g1", "g1", "g1", "g1", "g1", "g2"]  # c is alone in its group: no non-mated pairs with it
    i3, j3, mated3, _ = identity_pairs(keys, ids, groups=groups)
    assert (~mated3).sum() == 6 and 5 not in set(i3[~mated3]) | set(j3[~mated3])


def test_sampled_nonmated_pairs_when_too_many_to_enumerate(monkeypatch):
    monkeypatch.setattr(protocols.identities, "ENUMERATE_LIMIT", 10)
    keys = [f"s{i:03d}" for i in range(60)]
    ids = [str(i // 3) for i in range(60)]
    i, j, mated, notes = identity_pairs(keys, ids, max_nonmated=200, seed=0)
    nm = ~mated
    assert nm.sum() == 200 and mated.sum() == 20 * 3
    codes = {(min(a, b), max(a, b)) for a, b in zip(i[nm], j[nm], strict=True)}
    assert len(codes) == 200 and all(ids[a] != ids[b] for a, b in codes)
    assert "200 sampled" in notes[0]
    with pytest.raises(InputFormatError, match="too many to enumerate"):
        identity_pairs(keys, ids, max_nonmated=None)


def test_identity_folder_and_csv(tmp_path):
    for who, n in (("ann", 2), ("bob", 3)):
        (tmp_path / "ids" / who).mkdir(parents=True)
        for k in range(n):
            Image.new("RGB", (8, 8)).save(tmp_path / "ids" / who / f"{k}.jpg")
    Image.new("RGB", (8, 8)).save(tmp_path / "ids" / "loose.jpg")  # no identity folder: ignored
    p = open_protocol(tmp_path / "ids")
    assert p.mated.sum() == 1 + 3 and (~p.mated).sum() == 6
    (tmp_path / "ids.csv").write_text(
        "path,identity,source\nids/ann/0.jpg,ann,x\nids/bob/0.jpg,bob,x\nids/ann/1.jpg,ann,y\n"
    )
    with pytest.raises(InputFormatError, match="appears in several --nonmated-within groups"):
        open_protocol(tmp_path / "ids.csv", group_column="source")
    p = open_protocol(tmp_path / "ids.csv")
    assert p.mated.sum() == 1 and len(p) == 3 and p.name == "ids"
    (tmp_path / "twice.csv").write_text("path,identity\na.jpg,ann\nb.jpg,bob\na.jpg,ann\n")
    assert len(open_protocol(tmp_path / "twice.csv")) == 1  # a listed twice is one sample
    (tmp_path / "clash.csv").write_text("path,identity\na.jpg,ann\na.jpg,bob\n")
    with pytest.raises(InputFormatError, match="listed as both 'ann' and 'bob'"):
        open_protocol(tmp_path / "clash.csv")


def test_bad_pairs_are_dropped_and_counted():
    a = ["a", "b", "c", "a", "b", "d", "d", "e"]
    b = ["b", "a", "c", "d", "c", "b", "b", "e"]
    mated = [True, True, True, False, True, True, False, True]
    p = protocols.Protocol.from_keys("t", Path("t"), a, b, mated, protocols.FileImages())
    clean, issues = drop_bad_pairs(p)
    assert list(zip(clean.a, clean.b, strict=True)) == [("a", "b"), ("a", "d"), ("b", "c")]
    assert clean.keys.tolist() == ["a", "b", "c", "d"]  # e (and only e) is no longer referenced
    assert issues == {
        "self-comparison (same sample twice)": 2,
        "duplicate pair": 1,
        "pair listed as both mated and non-mated": 2,
    }


def test_quality_csv_from_aikd_score(tmp_path):
    (tmp_path / "q.csv").write_text(
        "path,face,quality,box_x1,box_y1,box_x2,box_y2,lm0_x,lm0_y,lm1_x,lm1_y,lm2_x,lm2_y,lm3_x,lm3_y,lm4_x,lm4_y,status\n"
        "a.jpg,0,0.5,0,0,10,10,1,1,2,1,1.5,2,1,3,2,3,ok\n"
        "a.jpg,1,0.9,0,0,50,50,5,5,9,5,7,7,5,9,9,9,ok\n"
        "b.jpg,,,,,,,,,,,,,,,,,no_face\n"
        "c.jpg,0,nan,0,0,10,10,,,,,,,,,,,ok\n"
    )
    t = read_quality_file(tmp_path / "q.csv", "mine")
    a, b, c, d = (_abs(tmp_path / f"{x}.jpg") for x in "abcd")
    assert t.quality[a] == 0.9 and t.landmarks[a][1].tolist() == [9, 5] and t.multi_face == 1
    values, why = t.lookup([a, b, c, d])
    assert values[0] == 0.9 and why[0] is None
    assert why[1] == "no face detected (mine)"
    assert why[2] == "quality is NaN/inf in mine" and c not in t.landmarks
    assert why[3] == "no quality score in mine"
    # when the evaluation reads the images, a missing image is the likelier cause and is named
    assert t.lookup([d], images=True)[1] == ["image file missing"]
    (tmp_path / "d.jpg").write_bytes(b"")
    assert t.lookup([d], images=True)[1] == ["no quality score in mine"]
    (tmp_path / "bad.csv").write_text("path,score\na.jpg,high\n")
    with pytest.raises(InputFormatError, match="no column 'quality'") as info:
        read_quality_file(tmp_path / "bad.csv")
    assert "--quality-column" in info.value.hint
    with pytest.raises(InputFormatError, match=r"bad.csv:2: quality 'high' is not a number"):
        read_quality_file(tmp_path / "bad.csv", quality_column="score")


def test_labelled_paths(tmp_path):
    assert parse_labelled("q.csv:AI-KD") == (Path("q.csv"), "AI-KD")
    assert parse_labelled("q.csv") == (Path("q.csv"), None)
    odd = tmp_path / "a:b.csv"
    odd.write_text("x")
    assert parse_labelled(str(odd)) == (odd, None)


def test_embedding_files(tmp_path):
    from safetensors.numpy import save_file

    emb = np.arange(6, dtype=np.float32).reshape(3, 2)
    save_file({"img/a.jpg": emb[0], "/abs/b.jpg": emb[1]}, str(tmp_path / "e.safetensors"))
    got = read_embeddings(tmp_path / "e.safetensors")
    assert got[_abs(tmp_path / "img/a.jpg")].tolist() == [0, 1] and got["/abs/b.jpg"].tolist() == [2, 3]
    np.savez(tmp_path / "e.npz", paths=np.array(["a", "b", "c"]), embeddings=emb)
    assert read_embeddings(tmp_path / "e.npz")[_abs(tmp_path / "c")].tolist() == [4, 5]
    np.save(tmp_path / "e.npy", emb)
    (tmp_path / "e.txt").write_text("a\nb\n")
    with pytest.raises(InputFormatError, match="2 sample paths for an embedding array of shape"):
        read_embeddings(tmp_path / "e.npy")
    scores = cosine_scores(
        np.array([[1.0, 0], [0, 2.0], [3.0, 3.0]]), np.array([0, 0, 1]), np.array([1, 2, 2]), chunk=2
    )
    assert np.allclose(scores, [0, np.sqrt(0.5), np.sqrt(0.5)])


def test_output_cache_round_trip_and_damaged_shards(tmp_path):
    cache = OutputCache.open(tmp_path, "model", "clean", description={"model": "m"})
    cache.put("k1", np.array([1.0, 2.0]))
    cache.flush()
    (cache.folder / "shard-broken.npz").write_bytes(b"garbage")
    again = OutputCache.open(tmp_path, "model", "clean")
    assert again.get("k1").tolist() == [1.0, 2.0] and again.get("k2") is None
    assert not (cache.folder / "shard-broken.npz").exists()
    assert OutputCache.open(tmp_path, "other model", "clean").get("k1") is None
