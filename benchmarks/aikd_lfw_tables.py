"""The LFW study's numbers, recomputed from the committed per-face files in seconds.

``benchmarks/aikd_lfw.py`` runs the study and calls :func:`collect`, which pulls every face's
qualities and embeddings out of the cache ``aikd evaluate`` filled and writes them to the results
folder (benchmarks/results/lfw):

* ``faces_<split>.csv``: ``path`` (relative to the LFW root), ``identity``; row i is face i;
* ``qualities_<split>.npz``: one float32 array per ``<model>|p<p>|d<draw>`` (draw 0 only at p = 0);
* ``embeddings_<split>.npz``: each evaluator's embeddings of the aligned faces (float16), and
  ``<evaluator>|mated`` (``i, j`` of every mated pair), ``<evaluator>|mated_scores`` (float32
  cosine), ``<evaluator>|threshold`` (fixed at FMR 1e-3 on all non-mated pairs of the split, from
  float32 embeddings), ``<evaluator>|nonmated`` (their count);
* ``view2.npz``: the 6,000 View-2 pairs, their folds and labels, scores per evaluator and every
  model's quality of the images;
* ``summary.json``: the tables' numbers; ``tables.md``: the tables of docs/distill.md.

``python benchmarks/aikd_lfw_tables.py [RESULTS]`` recomputes summary.json and tables.md from the
files alone (``--check`` compares them with the committed ones instead of writing).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from aikd_cli.tasks.evaluate import edc  # noqa: E402

LIMITS = (0.2, 0.3)
SCHEMES = ("lightqnet", "norm")
TEACHER = {"lightqnet": "teacher-lightqnet", "norm": "teacher-norm"}
ARM_NAMES = {"aikd": "AI-KD (p = 3, λ 1)", "plain": "plain (p = 0, no embedding term)",
             "noemb": "p = 3, no embedding term", "lam10": "AI-KD λ 10", "lam30": "AI-KD λ 30"}
EVALUATOR_NAMES = {"insightface": "InsightFace MobileFaceNet", "kit": "kit MobileFaceNet"}
DOC_BEGIN, DOC_END = "<!-- lfw-tables:begin -->", "<!-- lfw-tables:end -->"


# -- EDC with per-pair weights (a bootstrap resample = weights) ----------------------------------


def weighted_pauc(quality: np.ndarray, errors: np.ndarray, weights: np.ndarray, limit: float) -> float:
    """Normalised pAUC of the FNM-EDC when pair ``k`` counts ``weights[k]`` times; with unit weights
    exactly :func:`aikd_cli.tasks.evaluate.edc.partial_areas` of :func:`~aikd_cli.tasks.evaluate.edc.edc`
    (pairs of equal quality are discarded together)."""
    return float(weighted_paucs(quality, errors, weights[None, :], limit)[0])


def weighted_paucs(quality: np.ndarray, errors: np.ndarray, weights: np.ndarray, limit: float,
                   chunk: int = 128) -> np.ndarray:
    """:func:`weighted_pauc` for every row of ``weights`` (a bootstrap): one sort of the qualities
    for all rows, the running sums row by row (NaN for a row without pairs or errors)."""
    order = np.argsort(quality, kind="stable")
    q, e = quality[order], errors[order].astype(np.float64)
    starts = np.concatenate(([0], np.flatnonzero(q[1:] != q[:-1]) + 1))
    out = np.empty(len(weights))
    for first in range(0, len(weights), chunk):
        w = weights[first : first + chunk][:, order].astype(np.float64)
        zero = np.zeros((len(w), 1))
        cw = np.concatenate((zero, np.cumsum(w, axis=1)), axis=1)
        ce = np.concatenate((zero, np.cumsum(w * e, axis=1)), axis=1)
        n, total = cw[:, -1:], ce[:, -1:]
        before_w, before_e = cw[:, starts], ce[:, starts]
        left = n - before_w
        error = np.divide(total - before_e, left, out=np.zeros_like(left), where=left > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            discard = np.concatenate((before_w / n, zero + 1.0), axis=1)
            area = np.sum(error * np.diff(np.minimum(discard, limit), axis=1), axis=1)
            value = area / (total[:, 0] / n[:, 0] * limit)
        out[first : first + len(w)] = np.where((n[:, 0] > 0) & (total[:, 0] > 0), value, math.nan)
    return out


def person_weights(pair_person: np.ndarray, people: int, draws: int, seed: int) -> np.ndarray:
    """``(draws, pairs)`` weights: how often each pair's person is drawn in each bootstrap resample
    of the ``people`` test identities (with replacement)."""
    rng = np.random.default_rng(seed)
    counts = np.stack([np.bincount(rng.integers(0, people, people), minlength=people) for _ in range(draws)])
    return counts[:, pair_person]


# -- writing and reading the committed files ----------------------------------------------------


RULES = {"fnmr": "starting FNMR", "fmr": "FMR"}


def comparison_arrays(embeddings: dict[str, np.ndarray], identity: np.ndarray, fmr: float, start_error: float) -> dict:
    """Per evaluator: unit embeddings (float16), every mated pair and its cosine score (float32, from
    the float32 embeddings), and the two thresholds: at ``fmr`` over all non-mated pairs, and at the
    starting FNMR ``start_error`` over the mated ones."""
    _, person = np.unique(identity, return_inverse=True)
    out: dict[str, np.ndarray] = {}
    for name, emb in embeddings.items():
        e = emb / np.linalg.norm(emb, axis=1, keepdims=True)
        ia, ib = np.triu_indices(len(e), 1)
        mated = person[ia] == person[ib]
        mi, mj = ia[mated], ib[mated]
        mated_scores = np.sum(e[mi] * e[mj], axis=1)
        nonmated = []
        for start in range(0, len(e), 512):  # all non-mated scores, a block of rows at a time
            block = e[start : start + 512] @ e.T
            rows = np.arange(start, min(start + 512, len(e)))[:, None]
            keep = (np.arange(len(e))[None, :] > rows) & (person[rows] != person[None, :])
            nonmated.append(block[keep])
        nonmated = np.concatenate(nonmated)
        out[f"{name}|embeddings"] = e.astype(np.float16)
        out[f"{name}|mated"] = np.stack([mi, mj], axis=1).astype(np.int32)
        out[f"{name}|mated_scores"] = mated_scores.astype(np.float32)
        out[f"{name}|threshold|fmr"] = np.float64(edc.threshold_for_fmr(nonmated, fmr))
        out[f"{name}|threshold|fnmr"] = np.float64(edc.threshold_for_start_error(mated_scores, start_error))
        out[f"{name}|nonmated"] = np.int64(len(nonmated))
        out[f"{name}|rules"] = np.array([fmr, start_error])
    return out


# -- reading the committed files ----------------------------------------------------------------


class Split:
    """One split's faces, qualities and comparison scores, as committed."""

    def __init__(self, results: Path, name: str) -> None:
        with open(results / f"faces_{name}.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        self.paths = [r["path"] for r in rows]
        self.identity = np.array([r["identity"] for r in rows])
        self.people, self.person = np.unique(self.identity, return_inverse=True)
        with np.load(results / f"qualities_{name}.npz") as z:
            self.q = {k: z[k].astype(np.float64) for k in z.files}
        with np.load(results / f"embeddings_{name}.npz") as z:
            self.emb = {k: z[k] for k in z.files}

    def evaluator(self, name: str, rule: str = "fnmr") -> dict:
        pairs = self.emb[f"{name}|mated"]
        fmr, start_error = self.emb[f"{name}|rules"]
        return {"i": pairs[:, 0], "j": pairs[:, 1], "scores": self.emb[f"{name}|mated_scores"].astype(np.float64),
                "threshold": float(self.emb[f"{name}|threshold|{rule}"]), "nonmated": int(self.emb[f"{name}|nonmated"]),
                "rule": f"FMR {fmr:g}" if rule == "fmr" else f"starting FNMR {start_error:g}"}

    def models(self) -> list[str]:
        return sorted({k.split("|")[0] for k in self.q})

    def variants(self, model: str, p: float) -> list[np.ndarray]:
        """The model's qualities at ``p`` (one array per draw)."""
        prefix = f"{model}|p{p:g}|"
        return [self.q[k] for k in sorted(self.q, key=_draw_key) if k.startswith(prefix)]


def _draw_key(key: str) -> tuple:
    model, p, d = key.split("|")
    return model, float(p[1:]), int(d[1:])


def students(split: Split, scheme: str, arm: str) -> list[str]:
    return sorted(m for m in split.models() if m.startswith(f"{scheme}_{arm}_s"))


# -- the numbers --------------------------------------------------------------------------------


def interval(values: list[float]) -> list[float]:
    """The 95 % percentile interval of bootstrap values (NaN, NaN without any)."""
    if not values:
        return [math.nan, math.nan]
    lo, hi = np.nanpercentile(values, [2.5, 97.5])
    return [float(lo), float(hi)]


class Edc:
    """pAUCs of one split under one evaluator, with a shared bootstrap over identities."""

    def __init__(self, split: Split, evaluator: str, boot: int, seed: int = 0, rule: str = "fnmr") -> None:
        self.split, self.ev = split, split.evaluator(evaluator, rule)
        self.errors = self.ev["scores"] < self.ev["threshold"]
        self.unit = np.ones(len(self.errors))
        pair_person = split.person[self.ev["i"]]
        self.boot = person_weights(pair_person, len(split.people), boot, seed) if boot else np.zeros((0, len(pair_person)))
        self._memo: dict[tuple[int, float], tuple[np.ndarray, np.ndarray]] = {}

    def pauc(self, q: np.ndarray, limit: float, weights: np.ndarray | None = None) -> float:
        pq = edc.pair_quality(q[self.ev["i"]], q[self.ev["j"]])
        return weighted_pauc(pq, self.errors, self.unit if weights is None else weights, limit)

    def mean_pauc(self, arrays: list[np.ndarray], limit: float, weights: np.ndarray | None = None) -> float:
        return float(np.mean([self.pauc(q, limit, weights) for q in arrays]))

    def boot_paucs(self, q: np.ndarray, limit: float) -> np.ndarray:
        """The pAUC of quality array ``q`` in every resample (kept: arms are compared with several)."""
        key = (id(q), limit)
        if key not in self._memo:  # the array is kept with its values, so its id is not reused
            pq = edc.pair_quality(q[self.ev["i"]], q[self.ev["j"]])
            self._memo[key] = (q, weighted_paucs(pq, self.errors, self.boot, limit))
        return self._memo[key][1]

    def mean_boot_paucs(self, arrays: list[np.ndarray], limit: float) -> np.ndarray:
        """Per resample, the mean pAUC of ``arrays`` (seeds x draws)."""
        return np.mean([self.boot_paucs(q, limit) for q in arrays], axis=0)

    def paired(self, a: list[np.ndarray], b: list[np.ndarray], limit: float) -> tuple[float, float, np.ndarray]:
        """Mean pAUC of the ``a`` and ``b`` quality arrays (seeds x draws) and their difference in
        every resample of the identities (the same resamples for both: paired)."""
        diffs = self.mean_boot_paucs(a, limit) - self.mean_boot_paucs(b, limit)
        return self.mean_pauc(a, limit), self.mean_pauc(b, limit), diffs

    def compare(self, a: list[np.ndarray], b: list[np.ndarray], limit: float) -> dict:
        """:meth:`paired` as the difference and its 95 % interval over resampled identities."""
        va, vb, diffs = self.paired(a, b, limit)
        return {"value_a": va, "value_b": vb, "diff": va - vb, "ci95": interval(list(diffs))}


def spearman_rows(split: Split, names: list[str], p: float, reference: np.ndarray) -> list[float]:
    """Spearman of each model's quality at ``p`` (mean over draws) with ``reference``, per model."""
    return [float(np.mean([edc.spearman(q, reference) for q in split.variants(m, p)])) for m in names]


def agreement(split: Split, a: list[str], b: list[str], p: float, reference: np.ndarray, boot: int, seed: int = 0):
    """Mean Spearman with the teacher's aligned quality (seeds x draws) of arms ``a`` and ``b`` and
    the paired 95 % interval of the difference over resampled identities."""
    def rho(names, idx):
        return float(np.mean([edc.spearman(q[idx], reference[idx]) for m in names for q in split.variants(m, p)]))

    everyone = np.arange(len(split.identity))
    va, vb = rho(a, everyone), rho(b, everyone)
    members = [np.flatnonzero(split.person == k) for k in range(len(split.people))]
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(boot):
        idx = np.concatenate([members[k] for k in rng.integers(0, len(members), len(members))])
        diffs.append(rho(a, idx) - rho(b, idx))
    return {"value_a": va, "value_b": vb, "diff": va - vb, "ci95": interval(diffs)}


def summarise(results: Path, boot: int = 1000, agreement_boot: int = 200) -> dict:
    """Every number of the tables, from the committed files. The primary threshold rule is the
    starting FNMR (``fnmr``); FMR 1e-3 (``fmr``) is reported beside it."""
    test, val = Split(results, "test"), Split(results, "val")
    summary: dict = {"data": {}, "evaluators": {}, "results": [], "comparisons": [], "agreement": [],
                     "selection": {}, "arms": []}
    for rule in RULES:
        for evaluator in EVALUATOR_NAMES:
            ev = test.evaluator(evaluator, rule)
            summary["evaluators"][f"{evaluator}|{rule}"] = {
                "name": EVALUATOR_NAMES[evaluator], "rule": ev["rule"], "threshold": ev["threshold"],
                "mated": len(ev["scores"]), "nonmated": ev["nonmated"], "fnm": int(np.sum(ev["scores"] < ev["threshold"])),
            }
    first = summary["evaluators"]["insightface|fnmr"]
    summary["data"] = {"test_people": len(test.people), "test_faces": len(test.identity),
                       "test_people_with_mated_pairs": int(np.sum(np.bincount(test.person) > 1)),
                       "mated": first["mated"], "nonmated": first["nonmated"], "fnm": first["fnm"],
                       "evaluator": first["name"], "threshold_rule": first["rule"],
                       "val_people": len(val.people), "val_faces": len(val.identity)}
    for rule in RULES:
        for evaluator in EVALUATOR_NAMES:
            curves = Edc(test, evaluator, boot, rule=rule)
            for scheme in SCHEMES:
                _primary(summary, test, curves, scheme, evaluator, rule)
                if rule == "fnmr":
                    _arms(summary, test, curves, scheme, evaluator)
    for scheme in SCHEMES:  # secondary: agreement with the teacher's aligned quality
        reference = test.variants(TEACHER[scheme], 0.0)[0]
        aikd, plain = students(test, scheme, "aikd"), students(test, scheme, "plain")
        if not aikd or not plain:
            continue
        for p in (0.0, 3.0, 5.0):
            c = agreement(test, aikd, plain, p, reference, agreement_boot)
            teacher_rho = float(np.mean([edc.spearman(q, reference) for q in test.variants(TEACHER[scheme], p)]))
            summary["agreement"].append({"labels": scheme, "p": p, "aikd": c["value_a"], "plain": c["value_b"], "diff": c["diff"],
                                         "ci95": c["ci95"], "teacher": teacher_rho})
    if (results / "fold1" / "qualities_test.npz").exists():
        summary["crossfit"] = crossfit(test, Split(results / "fold1", "test"), boot)
    summary["selection"] = select_lambda(val)
    summary["view2"] = view2_table(results)
    summary["training"] = training_table(results)
    return summary


def _mean(runs: list[dict], where: str, key: str) -> float:
    values = [r[where][key] for r in runs if key in r[where]]
    return float(np.mean(values)) if values else math.nan


def training_table(results: Path) -> list[dict]:
    """Per arm (mean over its seeds): validation 1 - cos to the teacher on misaligned crops before
    training and at the best step, quality stability aligned vs misaligned, label agreement."""
    path = results / "runs.json"
    if not path.exists():
        return []
    runs = json.loads(path.read_text())
    rows = []
    for (scheme, arm) in sorted({(r["labels"], r["arm"]) for r in runs.values()}):
        mine = [r for r in runs.values() if (r["labels"], r["arm"]) == (scheme, arm)]
        rows.append({"labels": scheme, "arm": arm, "seeds": len(mine), "steps": mine[0]["steps"],
                     "best_steps": [r.get("best_step") for r in sorted(mine, key=lambda r: r["seed"])],
                     "val_cos_start": _mean(mine, "start", "val_cos"), "val_cos_best": _mean(mine, "best", "val_cos"),
                     "val_stability": _mean(mine, "best", "val_stability"),
                     "val_label_spearman": _mean(mine, "best", "val_label_spearman")})
    return rows


def _qualities(split: Split, names: list[str], p: float) -> list[np.ndarray]:
    return [q for m in names for q in split.variants(m, p)]


def _primary(summary: dict, test: Split, curves: Edc, scheme: str, evaluator: str, rule: str) -> None:
    """AI-KD - plain at every p and limit, pooled over seeds and draws, with per-seed differences;
    and (at @0.2) the paired comparisons that explain it."""
    aikd, plain = students(test, scheme, "aikd"), students(test, scheme, "plain")
    if not aikd or not plain:
        return
    for p in (0.0, 3.0, 5.0):
        for limit in LIMITS:
            c = curves.compare(_qualities(test, aikd, p), _qualities(test, plain, p), limit)
            seeds = [curves.mean_pauc(test.variants(a, p), limit) - curves.mean_pauc(test.variants(b, p), limit)
                     for a, b in zip(aikd, plain)]
            summary["results"].append({
                "labels": scheme, "evaluator": evaluator, "threshold_rule": rule, "p": p, "metric": f"pauc@{limit:g}",
                "aikd": c["value_a"], "plain": c["value_b"], "diff": c["diff"], "ci95": c["ci95"], "seeds": seeds})
            if limit != 0.2 or rule != "fnmr":
                continue
            noemb = students(test, scheme, "noemb")
            pairs = [("aikd", "teacher", aikd, None), ("plain", "teacher", plain, None)]
            if noemb:
                pairs += [("aikd", "noemb", aikd, noemb), ("noemb", "plain", noemb, plain)]
            for name_a, name_b, a, b in pairs:
                qb = test.variants(TEACHER[scheme], p) if b is None else _qualities(test, b, p)
                c = curves.compare(_qualities(test, a, p), qb, limit)
                summary["comparisons"].append({"labels": scheme, "evaluator": evaluator, "p": p,
                                               "metric": f"pauc@{limit:g}", "a": name_a, "b": name_b, **c})


def crossfit(first: Split, second: Split, boot: int) -> list[dict]:
    """AI-KD - plain (LightQNet labels) over both halves: fold 0's students on its test people and
    fold 1's (the halves swapped) on theirs, each half weighing the same; the two halves' test people
    are resampled independently (fold 0 with the primary table's resamples)."""
    rows = []
    folds = [(first, 0), (second, 1)]
    if not all(students(split, "lightqnet", arm) for split, _ in folds for arm in ("aikd", "plain")):
        return rows
    for rule in RULES:
        for evaluator in EVALUATOR_NAMES:
            curves = [Edc(split, evaluator, boot, seed=seed, rule=rule) for split, seed in folds]
            for p in (0.0, 3.0, 5.0):
                per_fold = [c.paired(_qualities(c.split, students(c.split, "lightqnet", "aikd"), p),
                                     _qualities(c.split, students(c.split, "lightqnet", "plain"), p), 0.2)
                            for c in curves]
                va, vb = (float(np.mean([f[k] for f in per_fold])) for k in (0, 1))
                diffs = np.mean([f[2] for f in per_fold], axis=0) if boot else []
                rows.append({"labels": "lightqnet", "evaluator": evaluator, "threshold_rule": rule, "p": p,
                             "metric": "pauc@0.2", "aikd": va, "plain": vb, "diff": va - vb,
                             "ci95": interval(list(diffs)),
                             "folds": [{"test_people": len(c.split.people), "fnm": int(np.sum(c.errors)),
                                        "diff": f[0] - f[1], "seeds": len(students(c.split, "lightqnet", "aikd"))}
                                       for c, f in zip(curves, per_fold, strict=True)]})
    return rows


def _arms(summary: dict, test: Split, curves: Edc, scheme: str, evaluator: str) -> None:
    """Every arm and the teacher at every p (pAUC@0.2, mean over seeds and draws)."""
    for arm in [*ARM_NAMES, "teacher"]:
        names = [TEACHER[scheme]] if arm == "teacher" else students(test, scheme, arm)
        if not names:
            continue
        row = {"labels": scheme, "evaluator": evaluator, "arm": arm, "seeds": 0 if arm == "teacher" else len(names)}
        for p in (0.0, 3.0, 5.0):
            row[f"p{p:g}"] = curves.mean_pauc(_qualities(test, names, p), 0.2)
        summary["arms"].append(row)


def select_lambda(val: Split) -> dict:
    """The lambda sweep judged on the validation people only: pAUC@0.2 at p = 3 px (InsightFace
    evaluator, mean over the sweep seeds and draws); the lowest is the selected setting."""
    curves = Edc(val, "insightface", 0)
    arms = {"aikd": "lightqnet_aikd", "lam10": "lightqnet_lam10", "lam30": "lightqnet_lam30"}
    seeds = sorted({m.rsplit("_s", 1)[1] for m in val.models() if m.startswith("lightqnet_lam")})
    table = {}
    for arm, prefix in arms.items():
        names = [f"{prefix}_s{s}" for s in seeds if f"{prefix}_s{s}" in val.models()]
        if names:
            table[arm] = curves.mean_pauc([q for m in names for q in val.variants(m, 3.0)], 0.2)
    chosen = min(table, key=table.get) if table else None
    return {"validation_pauc@0.2_p3": table, "seeds": seeds, "selected": chosen,
            "val_mated": len(curves.errors), "val_fnm": int(curves.errors.sum())}


def view2_table(results: Path, start_error: float = 0.05) -> dict:
    """LFW View-2 (6,000 pairs): 10-fold verification accuracy of each evaluator and the
    normalised pAUC@0.2 of every quality, the threshold at a starting FNMR of ``start_error`` (as
    the primary endpoint; at FMR 1e-3 its 3,000 non-mated pairs leave too few false non-matches)."""
    path = results / "view2.npz"
    if not path.exists():
        return {}
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    ia, ib, mated, folds = data["i"], data["j"], data["mated"].astype(bool), data["folds"]
    qualities = {k.split("|", 1)[1]: v.astype(np.float64) for k, v in data.items() if k.startswith("quality|")}
    qualities["random"] = np.random.default_rng(0).random(len(next(iter(qualities.values()))))
    table: dict = {"accuracy": {}, "pauc@0.2": {}}
    for evaluator in EVALUATOR_NAMES:
        scores = data[f"scores|{evaluator}"].astype(np.float64)
        table["accuracy"][evaluator] = ten_fold_accuracy(scores, mated, folds)
        ms = scores[mated]
        table.setdefault("fnm_at_fmr_1e-3", {})[evaluator] = int(np.sum(ms < edc.threshold_for_fmr(scores[~mated], 1e-3)))
        errors = ms < edc.threshold_for_start_error(ms, start_error)
        table.setdefault("fnm", {})[evaluator] = int(errors.sum())
        table["start_error"] = start_error
        for name, q in qualities.items():
            pq = edc.pair_quality(q[ia[mated]], q[ib[mated]])
            value = weighted_pauc(pq, errors, np.ones(len(pq)), 0.2)
            table["pauc@0.2"].setdefault(name, {})[evaluator] = value
    return table


def ten_fold_accuracy(scores: np.ndarray, mated: np.ndarray, folds: np.ndarray) -> dict:
    """insightface's LFW protocol: per fold, the threshold that is best on the other nine folds."""
    from aikd_cli.tasks.evaluate.verification import ten_fold

    return ten_fold(scores, mated, folds).to_dict()


# -- Markdown -----------------------------------------------------------------------------------


def _f(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def _d(x: float) -> str:
    return f"{x:+.3f}"


def _ci(ci: list[float]) -> str:
    return f"[{ci[0]:+.3f}, {ci[1]:+.3f}]"


def render(summary: dict) -> str:
    """The Markdown tables of docs/distill.md ("AI-KD on all of LFW")."""
    d, lines = summary["data"], []
    lines += [
        f"Test set: {d['test_people']:,} people ({d['test_people_with_mated_pairs']:,} with mated pairs), "
        f"{d['test_faces']:,} faces, {d['mated']:,} mated and {d['nonmated']:,} non-mated pairs.", "",
        "| evaluator | threshold rule | threshold | false non-matches at 0 % discard |", "|---|---|---|---|"]
    for ev in summary["evaluators"].values():
        lines.append(f"| {ev['name']} | {ev['rule']} | {ev['threshold']:.4f} | {ev['fnm']:,} of {ev['mated']:,} |")
    for rule, title in (("fnmr", f"**Primary endpoint** ({d['threshold_rule']}; normalised pAUC@0.2"),
                        ("fmr", "At FMR 1e-3 (fewer false non-matches; normalised pAUC@0.2")):
        lines += ["", f"{title}, AI-KD − plain, < 0 favours AI-KD; mean over the seeds × draws; 95 % interval "
                  "over resampled test identities):", "",
                  "| labels | evaluator | p | AI-KD | plain | AI-KD − plain | 95 % interval | per seed |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in summary["results"]:
            if r["metric"] != "pauc@0.2" or r["threshold_rule"] != rule:
                continue
            seeds = ", ".join(_d(s) for s in r["seeds"])
            lines.append(f"| {r['labels']} | {r['evaluator']} | {r['p']:g} px | {_f(r['aikd'])} | {_f(r['plain'])} | "
                         f"**{_d(r['diff'])}** | {_ci(r['ci95'])} | {seeds} |")
    if summary.get("crossfit"):
        lines += ["", "**Both halves (cross-fitting)**: fold 0 as above and fold 1 with the halves swapped (students trained "
                  "on fold 0's test people, tested on its other people); AI-KD − plain, normalised pAUC@0.2, mean of the "
                  "two halves; 95 % interval over the test identities of both, resampled independently:", "",
                  "| labels | evaluator | threshold rule | p | AI-KD | plain | AI-KD − plain | 95 % interval "
                  "| fold 0 / fold 1 | test people | false non-matches |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in summary["crossfit"]:
            rule = summary["evaluators"][f"{r['evaluator']}|{r['threshold_rule']}"]["rule"]
            folds = " / ".join(_d(f["diff"]) for f in r["folds"])
            people = " + ".join(f"{f['test_people']:,}" for f in r["folds"])
            fnm = " + ".join(f"{f['fnm']:,}" for f in r["folds"])
            lines.append(f"| {r['labels']} | {r['evaluator']} | {rule} | {r['p']:g} px | {_f(r['aikd'])} | {_f(r['plain'])} "
                         f"| **{_d(r['diff'])}** | {_ci(r['ci95'])} | {folds} | {people} | {fnm} |")
    lines += ["", f"Every arm and the teacher ({d['threshold_rule']}; normalised pAUC@0.2, mean over seeds × draws):", "",
              "| labels | evaluator | arm | seeds | p = 0 | 3 px | 5 px |", "|---|---|---|---|---|---|---|"]
    for r in summary["arms"]:
        name = "teacher (" + ("LightQNet" if r["labels"] == "lightqnet" else "kit MobileFaceNet norm") + ")" \
            if r["arm"] == "teacher" else ARM_NAMES[r["arm"]]
        lines.append(f"| {r['labels']} | {r['evaluator']} | {name} | {r['seeds'] or '–'} | {_f(r['p0'])} | "
                     f"{_f(r['p3'])} | {_f(r['p5'])} |")
    lines += ["", f"Paired comparisons ({d['threshold_rule']}; normalised pAUC@0.2; 95 % interval over test identities):", "",
              "| labels | evaluator | p | comparison | values | difference | 95 % interval |", "|---|---|---|---|---|---|---|"]
    for r in summary["comparisons"]:
        lines.append(f"| {r['labels']} | {r['evaluator']} | {r['p']:g} px | {r['a']} − {r['b']} | "
                     f"{_f(r['value_a'])} − {_f(r['value_b'])} | {_d(r['diff'])} | {_ci(r['ci95'])} |")
    lines += ["", "Secondary: Spearman of each quality of the (misaligned) test faces with the teacher's quality "
              "of the aligned ones (mean over seeds × draws; 95 % interval of the difference over identities):", "",
              "| labels | p | AI-KD | plain | AI-KD − plain | 95 % interval | teacher itself |", "|---|---|---|---|---|---|---|"]
    for r in summary["agreement"]:
        lines.append(f"| {r['labels']} | {r['p']:g} px | {_f(r['aikd'])} | {_f(r['plain'])} | {_d(r['diff'])} | "
                     f"{_ci(r['ci95'])} | {_f(r['teacher'])} |")
    if summary.get("training"):
        lines += ["", "Training (validation faces of the training people; mean over seeds): 1 − cos between the "
                  "student's embedding of the misaligned crop and the teacher's of the aligned one, before training "
                  "and at the best step (AI-KD's embedding term; below its start = more alignment-invariant than the "
                  "teacher), Spearman of the quality aligned vs misaligned (stability, p > 0 arms) and with the labels:", "",
                  "| labels | arm | seeds | steps | best step per seed | 1 − cos start | 1 − cos best | stability "
                  "| label Spearman |", "|---|---|---|---|---|---|---|---|---|"]
        for r in summary["training"]:
            best = ", ".join(str(b) for b in r.get("best_steps", []))
            lines.append(f"| {r['labels']} | {ARM_NAMES[r['arm']]} | {r['seeds']} | {r['steps']} | {best} | {_f(r['val_cos_start'])} "
                         f"| {_f(r['val_cos_best'])} | {_f(r['val_stability'])} | {_f(r['val_label_spearman'])} |")
    sel = summary["selection"]
    if sel.get("validation_pauc@0.2_p3"):
        cells = ", ".join(f"{ARM_NAMES[k]} {_f(v)}" for k, v in sel["validation_pauc@0.2_p3"].items())
        lines += ["", f"λ chosen on the validation people ({sel['val_mated']:,} mated pairs, {sel['val_fnm']} false "
                  f"non-matches; pAUC@0.2 at 3 px, seeds {', '.join(sel['seeds'])}): {cells} → **{ARM_NAMES[sel['selected']]}**."]
    v2 = summary.get("view2")
    if v2:
        acc = v2["accuracy"]
        lines += ["", f"LFW View-2 (6,000 pairs; normalised pAUC@0.2 at a starting FNMR of {v2['start_error']:g}; "
                  + ", ".join(f"{EVALUATOR_NAMES[e]}: 10-fold accuracy {a['mean'] * 100:.2f} % ± {a['std'] * 100:.2f}, "
                              f"{v2['fnm'][e]} false non-matches ({v2['fnm_at_fmr_1e-3'][e]} at FMR 1e-3)"
                              for e, a in acc.items()) + "):", "",
                  "| quality | " + " | ".join(EVALUATOR_NAMES[e] for e in acc) + " |", "|---|" + "---|" * len(acc)]
        for name in sorted(v2["pauc@0.2"], key=_view2_order):
            cells = v2["pauc@0.2"][name]
            lines.append(f"| {VIEW2_NAMES.get(name, name)} | " + " | ".join(_f(cells[e]) for e in acc) + " |")
    return "\n".join(lines) + "\n"


VIEW2_NAMES = {"teacher-lightqnet": "LightQNet (the teacher)", "random": "random"}


def _view2_order(name: str) -> tuple:
    """Teacher first, then the yardsticks, the students by scheme, arm and seed, random last."""
    if name == "teacher-lightqnet":
        return (0, name)
    if name == "random":
        return (3, name)
    return (1, name) if name.startswith("FR embedding norm") else (2, name)


def update_doc(doc: Path, tables_md: str) -> str:
    """``doc`` with the text between the lfw-tables markers replaced by ``tables_md``."""
    text = doc.read_text(encoding="utf-8")
    head, _, rest = text.partition(DOC_BEGIN)
    _, _, tail = rest.partition(DOC_END)
    return f"{head}{DOC_BEGIN}\n{tables_md}{DOC_END}{tail}"


def require_results(ap: argparse.ArgumentParser, results: Path) -> None:
    """One line instead of a traceback when ``results`` holds no study (a typo, a fresh clone)."""
    if not (results / "faces_test.csv").exists():
        ap.error(f"{results}: no LFW study results here (faces_test.csv missing)")
    split = results / "split.json"
    if split.exists() and json.loads(split.read_text()).get("fold"):
        ap.error(f"{results}: fold 1 of a study; pass the study's folder ({results.parent}), whose tables pool both halves")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", type=Path, nargs="?", default=ROOT / "benchmarks" / "results" / "lfw")
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--check", action="store_true", help="compare with the committed summary.json and tables.md")
    ap.add_argument("--doc", type=Path, default=ROOT / "docs" / "distill.md", help="where the tables go")
    args = ap.parse_args(argv)
    require_results(ap, args.results)
    summary = summarise(args.results, args.boot)
    text = json.dumps(summary, indent=1, default=float) + "\n"
    md = render(summary)
    if args.check:
        same = (args.results / "summary.json").read_text() == text and (args.results / "tables.md").read_text() == md
        print("summary.json and tables.md match the per-face files" if same else "MISMATCH")
        return 0 if same else 1
    (args.results / "summary.json").write_text(text)
    (args.results / "tables.md").write_text(md)
    if args.doc.exists() and DOC_BEGIN in args.doc.read_text(encoding="utf-8"):
        args.doc.write_text(update_doc(args.doc, md), encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
