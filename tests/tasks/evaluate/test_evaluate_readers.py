"""The column-wise (pyarrow) readers of ``aikd evaluate`` against plain row-by-row references.

The references below read a file the obvious way (``csv.DictReader``, one row at a time, one
``resolve_csv_path`` per cell, with the file's folder made absolute), as aikd did before it read
columns. The new readers must give exactly their pairs, scores, qualities, failures and landmarks,
whatever the spelling: CSV or Parquet, a byte-order mark, CRLF, quoted cells, relative or absolute
paths, and the CSV named by a relative or an absolute path.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from aikd_cli.errors import InputFormatError
from aikd_cli.faces.landmarks import LANDMARK_COLUMNS, resolve_csv_path
from aikd_cli.tasks.evaluate import DatasetInput, EvaluateOptions, QualityInput, evaluate
from aikd_cli.tasks.evaluate.protocols import FileImages, Protocol, drop_bad_pairs, open_protocol
from aikd_cli.tasks.evaluate.protocols.pairs import mated_flag
from aikd_cli.tasks.evaluate.quality import read_quality_file
from aikd_cli.utils.csvfiles import resolve_csv_paths as resolve_paths

# ---------------------------------------------------------------- references (row by row)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        reader.fieldnames = [c.strip() for c in reader.fieldnames or []]
        return list(reader)


def reference_pairs(path: Path, score: str | None, root: Path | None = None):
    base = Path(os.path.abspath(root or path.parent))
    out = []
    for row in _rows(path):
        lower = {k.lower(): v for k, v in row.items()}
        a = resolve_csv_path(lower.get("path_a", lower.get("image_a")) or "", base)
        b = resolve_csv_path(lower.get("path_b", lower.get("image_b")) or "", base)
        mated = mated_flag(lower.get("mated", lower.get("is_same")) or "")
        cell = (row[score] or "").strip() if score else ""
        out.append((a, b, mated, float(cell) if cell else math.nan))
    return out


def reference_quality(path: Path):
    """Per image: the ok row with the largest box (the first of equal ones), else the last failure."""
    base = Path(os.path.abspath(path.parent))
    quality, marks, failed, best, faces = {}, {}, {}, {}, {}
    reasons = {
        "no_face": "no face detected",
        "unreadable": "unreadable image",
        "error": "error while scoring",
    }
    for row in _rows(path):
        key = resolve_csv_path(row["path"] or "", base)
        status = (row.get("status") or "ok").strip().lower()
        if status != "ok":
            if key not in quality:
                failed[key] = reasons.get(status, status)
            continue
        cell = (row["quality"] or "").strip()
        value = float(cell) if cell else math.nan
        try:
            x1, y1, x2, y2 = (float(row[c]) for c in ("box_x1", "box_y1", "box_x2", "box_y2"))
            area = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
        except ValueError:
            area = 0.0
        faces[key] = faces.get(key, 0) + 1
        if key in best and area <= best[key]:
            continue
        best[key], quality[key] = area, value
        failed.pop(key, None)
        try:
            lm = np.array([float(row[c]) for c in LANDMARK_COLUMNS]).reshape(5, 2)
        except ValueError:
            lm = None
        if lm is not None and np.isfinite(lm).all():
            marks[key] = lm
        else:
            marks.pop(key, None)
    return quality, marks, failed, sum(n > 1 for n in faces.values())


# ---------------------------------------------------------------- inputs in several spellings


def _as_parquet(csv_file: Path) -> Path:
    table = pacsv.read_csv(csv_file, convert_options=pacsv.ConvertOptions(strings_can_be_null=False))
    target = csv_file.with_suffix(".parquet")
    pq.write_table(table, target)
    return target


@pytest.fixture
def pairs_csv(tmp_path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    text = (
        "\ufeffImage_A, path_b ,Mated,sim\r\n"
        "x/a.jpg,/abs/b.jpg, yes ,0.5\r\n"
        "./x/a.jpg,c.jpg,0,\r\n"
        'x/../x/a.jpg,"odd, name.jpg",Genuine, 1e-3\r\n'
        '"multi\nline.jpg",c.jpg,impostor,-inf\r\n'
        "c.jpg,sub//d.jpg,FALSE,nan\r\n"
        f"{folder / 'c.jpg'},/abs/b.jpg,t,+1.5\r\n"
    )
    (folder / "pairs.csv").write_text(text, encoding="utf-8", newline="")
    return folder / "pairs.csv"


def _pairs_of(p: Protocol):
    return list(zip(p.a.tolist(), p.b.tolist(), p.mated.tolist(), p.scores.tolist(), strict=True))


def _same(got, want) -> bool:
    """Equal tuples, NaN equal to NaN."""
    return len(got) == len(want) and all(
        all(
            x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))
            for x, y in zip(g, w, strict=True)
        )
        for g, w in zip(got, want, strict=True)
    )


def test_pairs_table_equals_the_row_by_row_reference_in_every_spelling(pairs_csv, monkeypatch):
    want = reference_pairs(pairs_csv, "sim")
    assert len(want) == 6 and want[0][0] == os.path.join(pairs_csv.parent, "x/a.jpg")
    monkeypatch.chdir(pairs_csv.parent.parent)
    spellings = [pairs_csv, Path("data/pairs.csv"), Path("data/../data/pairs.csv"), _as_parquet(pairs_csv)]
    for spelling in spellings:
        p = open_protocol(spelling, score_column="sim")
        assert _same(_pairs_of(p), want), spelling
        assert p.keys.tolist() == sorted({k for a, b, *_ in want for k in (a, b)})
        assert p.ia.dtype == np.int32 and p.ib.dtype == np.int32


def test_image_root_relative_or_absolute(pairs_csv, monkeypatch):
    root = pairs_csv.parent / "images"
    want = reference_pairs(pairs_csv, "sim", root)
    monkeypatch.chdir(pairs_csv.parent)
    for spelling in (root, Path("images"), Path("./images/")):
        assert _same(_pairs_of(open_protocol(pairs_csv, score_column="sim", image_root=spelling)), want)


def test_bad_cells_are_named_with_their_line_or_row(tmp_path):
    (tmp_path / "p.csv").write_text("path_a,path_b,mated,score\na,b,1,0.5\na,c,0,high\na,d,maybe,0.1\n")
    with pytest.raises(InputFormatError, match=r"p.csv:4: cannot read 'maybe' as mated"):
        open_protocol(tmp_path / "p.csv", score_column="score")
    (tmp_path / "q.csv").write_text("path_a,path_b,mated,score\na,b,1,0.5\na,c,0,high\n")
    with pytest.raises(InputFormatError, match=r"q.csv:3: score 'high' is not a number"):
        open_protocol(tmp_path / "q.csv", score_column="score")
    table = pa.table({"path_a": ["a", "a"], "path_b": ["b", "c"], "mated": ["1", "perhaps"]})
    pq.write_table(table, tmp_path / "p.parquet")
    with pytest.raises(InputFormatError, match=r"p.parquet: row 2: cannot read 'perhaps'"):
        open_protocol(tmp_path / "p.parquet")
    (tmp_path / "ragged.csv").write_text("path_a,path_b,mated\na,b,1\na,c,0,9\n")
    with pytest.raises(InputFormatError, match=r"ragged.csv:3: row has more cells than the header \(4, not 3\)"):
        open_protocol(tmp_path / "ragged.csv")  # the line, as report says it (one CSV reader)
    (tmp_path / "latin.csv").write_bytes("path_a,path_b,mated\ncaf\xe9,b,1\n".encode("latin-1"))
    with pytest.raises(InputFormatError, match="latin.csv: not a UTF-8 text file"):
        open_protocol(tmp_path / "latin.csv")


def test_parquet_with_typed_columns(tmp_path):
    """Booleans, integers and floats in a Parquet file mean what their text means in a CSV."""
    table = pa.table(
        {
            "path_a": ["a.jpg", "b.jpg"],
            "path_b": ["b.jpg", None],
            "mated": [True, False],
            "score": [0.25, None],
        }
    )
    pq.write_table(table, tmp_path / "typed.parquet")
    p = open_protocol(tmp_path / "typed.parquet", score_column="score")
    assert p.mated.tolist() == [True, False] and p.scores[0] == 0.25 and math.isnan(p.scores[1])
    assert p.b[1] == str(tmp_path)  # an empty path cell, as in a CSV, names the file's folder


QUALITY = (
    "path,face,quality,box_x1,box_y1,box_x2,box_y2," + ",".join(LANDMARK_COLUMNS) + ",status\n"
    "a.jpg,0,0.5,0,0,10,10,1,1,2,1,1.5,2,1,3,2,3,ok\n"
    "a.jpg,1,0.9,0,0,50,50,5,5,9,5,7,7,5,9,9,9, OK \n"  # larger face: kept
    "a.jpg,2,0.1,0,0,50,50,1,1,1,1,1,1,1,1,1,1,ok\n"  # as large: the first one stays
    "b.jpg,,,,,,,,,,,,,,,,,no_face\n"
    "b.jpg,,,,,,,,,,,,,,,,,Unreadable\n"  # the last failure names the reason
    "c.jpg,0,nan,0,0,10,10,,,,,,,,,,,ok\n"
    "./d.jpg,0, 0.25 ,0,0,x,10,1,1,2,1,1.5,2,1,3,2,nan,\n"  # empty status is ok; box unreadable
    "d.jpg,1,0.75,0,0,1,1,1,1,2,1,1.5,2,1,3,2,3,ok\n"  # d's first face had area 0: this one wins
    "e.jpg,,,,,,,,,,,,,,,,,error\n"
    "e.jpg,0,0.3,0,0,nan,10,1,1,2,1,1.5,2,1,3,2,3,ok\n"  # a NaN area takes over, as it always did
    "e.jpg,1,0.4,0,0,10,10,1,1,2,1,1.5,2,1,3,2,3,ok\n"
    "f.jpg,0,0.6,0,0,10,10,1,1,2,1,1.5,2,1,3,2,3,ok\n"
    "f.jpg,,,,,,,,,,,,,,,,,error\n"  # a failure after an ok row does not count
)


def _check_quality(table, want) -> None:
    quality, marks, failed, multi = want
    assert set(table.quality) == set(quality)
    assert all(
        table.quality[k] == v or (math.isnan(v) and math.isnan(table.quality[k])) for k, v in quality.items()
    )
    assert set(table.landmarks) == set(marks) and all(
        np.array_equal(table.landmarks[k], v) for k, v in marks.items()
    )
    assert table.failed == failed and table.multi_face == multi


def test_quality_file_equals_the_row_by_row_reference_in_every_spelling(tmp_path, monkeypatch):
    folder = tmp_path / "scores"
    folder.mkdir()
    (folder / "q.csv").write_text(QUALITY, encoding="utf-8")
    want = reference_quality(folder / "q.csv")
    a, b, d, e = (str(folder / f"{x}.jpg") for x in "abde")
    assert want[0][a] == 0.9 and want[0][d] == 0.75 and want[2][b] == "unreadable image" and want[3] == 3
    assert e in want[0] and e not in want[2]
    (folder / "bom.csv").write_text("\ufeff" + QUALITY.replace("\n", "\r\n"), encoding="utf-8", newline="")
    monkeypatch.chdir(tmp_path)
    for spelling in (
        folder / "q.csv",
        Path("scores/q.csv"),
        folder / "bom.csv",
        _as_parquet(folder / "q.csv"),
    ):
        _check_quality(read_quality_file(spelling, "mine"), want)


def test_quality_file_errors(tmp_path):
    (tmp_path / "q.csv").write_text("path,quality,status\na.jpg,oops,no_face\nb.jpg,0.5,ok\nc.jpg,high,ok\n")
    with pytest.raises(InputFormatError, match=r"q.csv:4: quality 'high' is not a number"):
        read_quality_file(tmp_path / "q.csv")  # (a failed row's quality cell is never read)
    (tmp_path / "none.csv").write_text("path,quality\n")
    with pytest.raises(InputFormatError, match="no quality rows"):
        read_quality_file(tmp_path / "none.csv")


# ---------------------------------------------------------------- paths, pairs.txt, identities


def test_path_cells_resolve_as_resolve_csv_path_does(tmp_path):
    cells = [
        "a.jpg",
        "./a.jpg",
        "x//y/../a.jpg",
        "/abs/./b.jpg",
        "//net/c.jpg",
        "",
        ".",
        "d/",
        "~/e.jpg",
        " f.jpg",
    ]
    cells += ["../up.jpg", "~root/f.jpg", "/", "a/./b/../c.jpg"]
    def reference(cell: str, base) -> str:  # the rule spelled out with os.path, one cell at a time
        cell = os.path.expanduser(cell)
        return os.path.normpath(cell if os.path.isabs(cell) else os.path.join(os.path.abspath(base), cell))

    for base in (tmp_path, Path("/")):
        assert resolve_paths(cells, base) == [reference(c, base) for c in cells]
        assert resolve_paths(cells, base) == [resolve_csv_path(c, base) for c in cells]
    rel = os.path.relpath(tmp_path)
    assert resolve_paths(cells, rel) == resolve_paths(
        cells, tmp_path
    )  # the folder's spelling does not matter


def reference_pairs_txt(path: Path, root: Path) -> list[tuple[str, str, bool]]:
    def image(name: str, number: str) -> str:
        return os.path.normpath(os.path.abspath(root / name / f"{name}_{int(number):04d}.jpg"))

    out = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts or (n == 1 and len(parts) <= 2 and all(p.isdigit() for p in parts)):
            continue
        if len(parts) == 3:
            out.append((image(parts[0], parts[1]), image(parts[0], parts[2]), True))
        else:
            out.append((image(parts[0], parts[1]), image(parts[2], parts[3]), False))
    return out


def test_pairs_txt_equals_the_reference(tmp_path, monkeypatch):
    (tmp_path / "pairs.txt").write_text(
        "2\t3\nAbel 1 4\n\nZico 2 03\nAbel 01 Zico 2\nAnn\t1\tBob\t12\nAbel 4 1\n"
    )
    want = reference_pairs_txt(tmp_path / "pairs.txt", tmp_path / "lfw")
    monkeypatch.chdir(tmp_path)
    for root in (tmp_path / "lfw", Path("lfw")):
        p = open_protocol(Path("pairs.txt"), image_root=root)
        assert list(zip(p.a.tolist(), p.b.tolist(), p.mated.tolist(), strict=True)) == want
        assert len(p.keys) == 6 and p.ia.dtype == np.int32  # Abel 1 and Abel 01 are one image


def test_identity_table_in_every_spelling(tmp_path, monkeypatch):
    folder = tmp_path / "ids"
    folder.mkdir()
    rows = "path,identity,source\nann/0.jpg, ann ,x\nbob/0.jpg,bob,x\n./ann/1.jpg,ann,x\nann/0.jpg,ann,x\ncid/0.jpg,cid,y\n"
    (folder / "ids.csv").write_text(rows)
    monkeypatch.chdir(tmp_path)
    reference = open_protocol(folder / "ids.csv")
    pairs = {
        tuple(sorted(pair)) + (m,)
        for *pair, m in zip(reference.a.tolist(), reference.b.tolist(), reference.mated.tolist(), strict=True)
    }
    ann0, ann1 = str(folder / "ann/0.jpg"), str(folder / "ann/1.jpg")
    assert len(reference.keys) == 4 and len(pairs) == 6 and (ann0, ann1, True) in pairs
    for spelling in (Path("ids/ids.csv"), _as_parquet(folder / "ids.csv")):
        p = open_protocol(spelling)
        assert p.keys.tolist() == reference.keys.tolist()
        assert (
            (p.ia == reference.ia).all()
            and (p.ib == reference.ib).all()
            and (p.mated == reference.mated).all()
        )
    grouped = open_protocol(Path("ids/ids.csv"), group_column="source")
    assert grouped.mated.sum() == 1 and len(grouped) == 1 + 2  # cid is alone in group y


def test_bad_pairs_are_dropped_as_a_pair_by_pair_reference_drops_them():
    rng = np.random.default_rng(1)
    for _ in range(30):
        n_keys, n_pairs = int(rng.integers(2, 30)), int(rng.integers(1, 300))
        keys = np.array([f"k{i:03d}" for i in range(n_keys)], dtype=object)
        ia, ib = (rng.integers(0, n_keys, n_pairs).astype(np.int32) for _ in range(2))
        p = Protocol("t", Path("t"), keys, ia, ib, rng.random(n_pairs) < 0.3, FileImages())
        labels: dict[tuple[int, int], set[bool]] = {}
        for x, y, m in zip(ia.tolist(), ib.tolist(), p.mated.tolist(), strict=True):
            labels.setdefault((min(x, y), max(x, y)), set()).add(m)
        seen, kept = set(), []
        for x, y in zip(ia.tolist(), ib.tolist(), strict=True):
            pair = (min(x, y), max(x, y))
            if x != y and len(labels[pair]) == 1 and pair not in seen:
                kept.append((keys[x], keys[y]))
            seen.add(pair)
        clean, _ = drop_bad_pairs(p)
        assert list(zip(clean.a.tolist(), clean.b.tolist(), strict=True)) == kept


# ---------------------------------------------------------------- the whole evaluation


def _outcome(**options) -> tuple:
    """Every number of a one-dataset evaluation at FMR 1e-2."""
    (d,) = evaluate(EvaluateOptions(fmr=1e-2, **options)).datasets
    return d.pairs_used, d.samples, d.threshold, dict(d.excluded), [(m.label, m.areas) for m in d.methods]


def test_evaluation_is_the_same_for_csv_parquet_and_any_path_spelling(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    data = tmp_path / "data"
    data.mkdir()
    images = [f"id{i // 4}/img{i}.jpg" for i in range(200)]
    a = rng.integers(0, 200, 6000)
    mated = rng.random(6000) < 0.2
    b = np.where(mated, (a // 4) * 4 + rng.integers(0, 4, 6000), rng.integers(0, 200, 6000))
    truth = rng.random(200)
    score = np.where(
        mated, rng.normal(0.3 + 0.4 * np.minimum(truth[a], truth[b]), 0.1), rng.normal(0, 0.1, 6000)
    )
    with open(data / "pairs.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path_a", "path_b", "mated", "score"])
        w.writerows(
            zip([images[i] for i in a], [images[i] for i in b], mated.astype(int), score, strict=True)
        )
    with open(data / "q.csv", "w", newline="") as f:  # absolute paths, unlike the pairs
        w = csv.writer(f)
        w.writerow(["path", "quality"])
        w.writerows((str(data / p), q) for p, q in zip(images, truth + rng.normal(0, 0.1, 200), strict=True))
    _as_parquet(data / "q.csv")

    def run(pairs: Path, quality: Path):
        return _outcome(
            datasets=[DatasetInput(pairs, "d")], quality=[QualityInput(quality, "q")], score_column="score"
        )

    reference = run(data / "pairs.csv", data / "q.csv")
    assert reference[0] > 4000 and reference[4][0][1][1].normalised < 0.9  # informative quality
    monkeypatch.chdir(tmp_path)
    assert run(Path("data/pairs.csv"), Path("data/q.csv")) == reference
    assert run(_as_parquet(data / "pairs.csv"), Path("data/q.parquet")) == reference


def test_identities_with_embeddings_are_the_same_for_any_path_spelling(tmp_path, monkeypatch):
    """Protocol keys, quality keys and embedding keys all meet as absolute paths, whichever way
    each file was named on the command line."""
    rng = np.random.default_rng(7)
    data = tmp_path / "data"
    data.mkdir()
    images = [f"id{i // 5}/img{i}.jpg" for i in range(150)]
    (data / "ids.csv").write_text("path,identity\n" + "".join(f"{p},{p.split('/')[0]}\n" for p in images))
    centres = rng.normal(size=(30, 16))
    emb = centres[np.arange(150) // 5] + rng.normal(scale=1.0, size=(150, 16))
    np.savez(data / "emb.npz", paths=np.array(images), embeddings=emb.astype(np.float32))
    (data / "q.csv").write_text("path,quality\n" + "".join(f"{p},{rng.random()}\n" for p in images))

    def run(ids: Path, emb_file: Path, quality: Path):
        return _outcome(
            datasets=[DatasetInput(ids, "d", identities=True)],
            quality=[QualityInput(quality, "q")],
            embeddings=[emb_file],
        )

    reference = run(data / "ids.csv", data / "emb.npz", data / "q.csv")
    assert reference[0] == 150 * 149 // 2 and not reference[3]  # every pair found its embeddings
    monkeypatch.chdir(tmp_path)
    assert run(Path("data/ids.csv"), Path("data/emb.npz"), Path("data/q.csv")) == reference
    monkeypatch.chdir(data)
    assert run(Path("ids.csv"), data / "emb.npz", Path("./q.csv")) == reference


def test_a_landmarks_file_named_relatively_gives_absolute_keys(tmp_path, monkeypatch):
    from aikd_cli.tasks.evaluate.model_runs import landmark_table

    (tmp_path / "lm.csv").write_text(
        "path,face," + ",".join(LANDMARK_COLUMNS) + "\nimg/a.jpg,0," + ",".join(["1"] * 10) + "\n"
    )
    monkeypatch.chdir(tmp_path)
    options = EvaluateOptions(datasets=[DatasetInput(Path("p.csv"))], landmarks=Path("lm.csv"))
    assert list(landmark_table(options, [])) == [str(tmp_path / "img" / "a.jpg")]
