"""`odlar bench education.tracing --dataset {assist2009,statics,assist2015}`: the pyKT
protocol of BENCHMARKS.md section 6, five folds by student, our models beside the
published AUCs."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from odlar.core.compute.fanout import Backend
from odlar.core.errors import DataError, UsageError
from odlar.core.tasks import Anchor, BenchResult, Progress
from odlar.education.evaluation import question_auc_acc
from odlar.education.interactions import (
    Interactions,
    from_log,
    is_table,
    read_log,
    read_sequences,
)

DATASETS = ("assist2009", "statics", "assist2015")
PUBLISHED = {  # pyKT question-level AUC (BENCHMARKS.md s.6)
    "DKT": {"assist2009": 0.7541, "statics": 0.8222, "assist2015": 0.7271},
    "DKVMN": {"assist2009": 0.7473, "statics": 0.8093, "assist2015": 0.7227},
    "SAKT": {"assist2009": 0.7246, "statics": 0.7965, "assist2015": 0.7114},
    "AKT": {"assist2009": 0.7853, "statics": 0.8309, "assist2015": 0.7281},
    "simpleKT": {"assist2009": 0.7744, "statics": 0.8199, "assist2015": 0.7248},
}
ACCURACY_2009 = {"DKT": 0.7244, "AKT": 0.7392}
#: The other family: each question one interaction with its skills as one input, never
#: expanded (leap-kt-toolkit's model cards, huggingface.co/LEAP-LAB-KUS; a user-level
#: 80/20 split, 5-fold CV on the 80%). No Statics 2011 figure for these models there.
LEAP_KT = {
    "DKT": {"assist2009": 0.7598, "assist2015": 0.7304},
    "AKT": {"assist2009": 0.7471, "assist2015": 0.7236},
    "simpleKT": {"assist2009": 0.7676, "assist2015": 0.7178},
    "stableKT": {"assist2009": 0.7765, "assist2015": 0.7201},
}
PROTOCOL = (
    "pyKT (Liu et al. 2022): 5 folds by student (fold k tests, the other four train, 10% of "
    "training students held out for early stopping); question-level AUC and accuracy: a "
    "multi-skill question is one interaction predicted once, before its answer is seen"
)
#: (label, method, params) per dataset; the bench runs each on every fold.
#: Training budgets keep every fold within the issue's 10 minutes on 2 cores.
METHODS: list[tuple[str, str, dict[str, Any]]] = [
    ("BKT", "bkt", {"iters": 60}),
    ("DKT (question level)", "dkt", {"batch": 128, "lr": 3e-3, "time_budget_s": 240}),
    (
        "AKT (monotonic attention, Rasch difficulty)",
        "akt",
        {"batch": 64, "lr": 1.5e-3, "time_budget_s": 480},
    ),
]
#: Neural models whose test predictions are averaged into one more row.
ENSEMBLE = ("akt", "dkt")
#: Seed of the five folds by student made for a dataset that ships without folds.
FOLD_SEED = 42
#: The named benchmarks' files: shipped fold files (stem + 1..5) or one unsplit file.
NAMED_FILES = {
    "assist2009": "assist2009_pid_test{k}.csv",
    "assist2015": "assist2015_test{k}.csv",
    "statics": "statics_statics.csv",
}
DATA_SUFFIXES = (".csv", ".tsv")


@dataclass
class Folds:
    """Every student of a benchmark folder and the fold (0..n-1) of each student index."""

    data: Interactions
    fold_of: np.ndarray
    name: str  # the named benchmark, or the folder's name
    how: str  # one line: the format read and whether the folds shipped or were made

    @property
    def n_folds(self) -> int:
        return int(self.fold_of.max()) + 1


def anchors(dataset: str) -> list[Anchor]:
    if dataset not in DATASETS:
        return []  # a folder of one's own: no published figure to stand beside
    out = []
    for name, aucs in PUBLISHED.items():
        metrics = {"auc": aucs[dataset]}
        if dataset == "assist2009" and name in ACCURACY_2009:
            metrics["acc"] = ACCURACY_2009[name]
        out.append(Anchor(f"{name} (pyKT)", metrics, "BENCHMARKS.md s.6"))
    for name, aucs in LEAP_KT.items():
        if dataset in aucs:
            out.append(
                Anchor(
                    f"{name} (leap-kt, no expansion)",
                    {"auc": aucs[dataset]},
                    "huggingface.co/LEAP-LAB-KUS model cards",
                )
            )
    return out


ALL_ANCHORS = [a for d in DATASETS for a in anchors(d)]


def named_in(data_dir: Path) -> str | None:
    """The named benchmark whose files the folder holds, if any."""
    for name, pattern in NAMED_FILES.items():
        if all((data_dir / pattern.format(k=k)).is_file() for k in range(1, 6)):
            return name
    return None


def made_folds(n_students: int, k: int = 5, seed: int = FOLD_SEED) -> np.ndarray:
    """Fold of each of ``n_students`` students: a seeded permutation dealt round-robin."""
    fold_of = np.empty(n_students, int)
    fold_of[np.random.default_rng(seed).permutation(n_students)] = np.arange(n_students) % k
    return fold_of


def folds(data_dir: Path, dataset: str | None = None) -> Folds:
    """The folder's students and folds: a named benchmark's own files when ``dataset`` is
    given or its files are there, else whatever the folder holds (see ``folder_folds``)."""
    if not data_dir.is_dir():
        raise DataError("not a folder", file=str(data_dir))
    dataset = dataset or named_in(data_dir)
    if dataset is None:
        return folder_folds(data_dir)
    if dataset not in DATASETS:
        raise UsageError(f"unknown benchmark '{dataset}' (known: {', '.join(DATASETS)})")
    pattern = NAMED_FILES[dataset]
    if "{k}" in pattern:
        paths = [data_dir / pattern.format(k=k) for k in range(1, 6)]
        data, fold_of = _sequence_folds(paths)
        shown = pattern.format(k="1..5")
        how = f"pyKT sequence files with 5 folds shipped ({shown}): used as they are"
        return Folds(data, fold_of, dataset, how)
    data = read_sequences(data_dir / pattern)
    fold_of = made_folds(int(data.student.max()) + 1)
    how = (
        f"one pyKT sequence file ({pattern}), no folds shipped: 5 folds made by student, "
        f"seed {FOLD_SEED}"
    )
    return Folds(data, fold_of, dataset, how)


def folder_folds(data_dir: Path) -> Folds:
    """Any folder in a format odlar reads: fold files (STEM1..STEMk, k >= 2, sequence files
    or interaction tables) used as they ship, or one file split into 5 folds by student."""
    files = sorted(
        p
        for p in data_dir.iterdir()
        if p.is_file() and p.suffix.lower() in DATA_SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        raise DataError("no data file (.csv or .tsv) in the folder", file=str(data_dir))
    numbered: dict[str, dict[int, Path]] = {}
    for p in files:
        match = re.fullmatch(r"(.*?)(\d+)", p.stem)
        if match:
            numbered.setdefault(match[1] + p.suffix, {})[int(match[2])] = p
    sets = {
        stem: [by_k[k] for k in sorted(by_k)]
        for stem, by_k in numbered.items()
        if len(by_k) >= 2
        and sorted(by_k) == list(range(min(by_k), min(by_k) + len(by_k)))
        and min(by_k) in (0, 1)
    }
    if len(sets) > 1:
        raise DataError(
            f"several sets of fold files ({', '.join(sorted(sets))}): keep one set",
            file=str(data_dir),
        )
    if sets:
        paths = next(iter(sets.values()))
        tables = [is_table(p) for p in paths]
        if len(set(tables)) > 1:
            raise DataError(
                "fold files mix interaction tables and sequence files", file=str(data_dir)
            )
        data, fold_of = _table_folds(paths) if tables[0] else _sequence_folds(paths)
        kind = "interaction tables" if tables[0] else "pyKT sequence files"
        how = (
            f"{kind} with {len(paths)} folds shipped ({paths[0].name} .. {paths[-1].name}): "
            "used as they are"
        )
        return Folds(data, fold_of, data_dir.name, how)
    if len(files) > 1:
        names = ", ".join(p.name for p in files[:5]) + (" ..." if len(files) > 5 else "")
        raise DataError(
            f"{len(files)} data files ({names}) and no numbered fold files: keep one file, "
            "or name the folds STEM1.csv .. STEM5.csv",
            file=str(data_dir),
        )
    path = files[0]
    table = is_table(path)
    data = from_log(read_log(path), str(path)) if table else read_sequences(path)
    n = int(data.student.max()) + 1
    if n < 5:
        raise DataError(f"{n} student(s): five folds by student need at least 5", file=str(path))
    kind = "interaction table" if table else "pyKT sequence file"
    how = f"one {kind} ({path.name}), no folds shipped: 5 folds made by student, seed {FOLD_SEED}"
    return Folds(data, made_folds(n), data_dir.name, how)


def _sequence_folds(paths: list[Path]) -> tuple[Interactions, np.ndarray]:
    parts, fold_of, first = [], [], 0
    for k, path in enumerate(paths):
        part = read_sequences(path, first_student=first)
        n = int(part.student.max()) + 1 - first
        parts.append(part)
        fold_of.append(np.full(n, k))
        first += n
    data = Interactions.concat(parts)
    data.question_ids = {str(q): q for q in range(1, data.n_questions + 1)}
    data.skill_ids = {str(s): s for s in range(1, data.n_skills + 1)}
    data.source = str(paths[0].parent)
    return data, np.concatenate(fold_of)


def _table_folds(paths: list[Path]) -> tuple[Interactions, np.ndarray]:
    """Interaction tables, one per fold: each checked alone (errors name its file and
    line), then read together so questions and skills share one numbering."""
    frames, fold_by_student = [], {}
    for k, path in enumerate(paths):
        frame = read_log(path)
        part = from_log(frame, str(path))  # validation only
        for name in part.names or []:
            if name in fold_by_student:
                raise DataError(
                    f"a student of {paths[fold_by_student[name]].name} is in this fold too: "
                    "folds must split students",
                    file=str(path),
                )
            fold_by_student[name] = k
        frames.append(frame)
    columns = [set(f.columns) for f in frames]
    if any(c != columns[0] for c in columns):
        raise DataError("the fold files do not have the same columns", file=str(paths[0].parent))
    data = from_log(pd.concat(frames, ignore_index=True), str(paths[0].parent))
    fold_of = np.array([fold_by_student[name] for name in data.names or []])
    return data, fold_of


def run(
    task: Any,
    data_dir: Path,
    dataset: str | None,
    *,
    quick: bool,
    progress: Progress,
    methods: list[tuple[str, str, dict[str, Any]]] | None = None,
    n_folds: int | None = None,
    backend: Backend | None = None,
) -> BenchResult:
    """Every method on every fold (``n_folds`` limits it to the first ones, ``--quick`` to
    one), then the mean of the neural models' predictions when more than one ran. The
    fits fan out (`core.compute.fanout`), one process per method and fold."""
    from odlar.core.compute.fanout import map_items
    from odlar.education.tracing_model import TracingModel

    split = folds(data_dir, dataset)
    data, fold_of = split.data, split.fold_of
    methods = methods or METHODS
    n_run = 1 if quick else min(n_folds or split.n_folds, split.n_folds)
    students = np.arange(len(fold_of))
    tests = [data.subset_students(students[fold_of == k]) for k in range(n_run)]
    items = [
        FoldFit(task.name, str(data_dir), method,
                params | (task.quick_params[method] if quick else {}), k,
                data.subset_students(students[fold_of != k]), tests[k], k == n_run - 1)
        for _, method, params in methods
        for k in range(n_run)
    ]  # fmt: skip
    done = [0]

    def tick(out: dict[str, Any]) -> None:
        done[0] += 1
        progress(done[0] / len(items), f"{out['method']} fold {out['fold'] + 1}: fitted")

    # every (method, fold) in its own process, on a local pool or Ray tasks (core.compute)
    # locally the processes fork from a server that imported the models (and torch) once
    preload = ["odlar.education.task", "odlar.education.tracing_model"]
    outs = iter(map_items(_fit_fold, items, cpus=1.0, on_result=tick, backend=backend,
                          preload=preload))  # fmt: skip
    results = []
    predicted: dict[str, list[np.ndarray]] = {}  # test predictions per method, per fold
    for label, method, _ in methods:
        rows = []
        for k in range(n_run):
            out = next(outs)
            predicted.setdefault(method, []).append(out["p"])
            rows.append(
                fold_row(k, tests[k], out["p"])
                | {"fit_seconds": out["fit_seconds"], "predict_seconds": out["predict_seconds"]}
            )
        model: TracingModel = out["model"]  # the last fold's, as a serial run left it
        results.append(
            {
                "method": f"{label} (odlar)",
                "params": {k: v for k, v in model.params.items() if not callable(v)},
                "metrics": summary(rows) | update_latency(model, tests[-1]),
                "details": {"folds": rows},
                "fit_seconds": round(float(np.mean([r["fit_seconds"] for r in rows])), 1),
                "predict_seconds": round(float(np.mean([r["predict_seconds"] for r in rows])), 2),
            }
        )
    neural = [m for m in ENSEMBLE if m in predicted]
    if len(neural) > 1:  # equal weights: nothing chosen on the test folds
        rows = [
            fold_row(k, test, np.mean([predicted[m][k] for m in neural], axis=0))
            for k, test in enumerate(tests)
        ]
        members = [r for r, m in zip(results, methods, strict=True) if m[1] in neural]
        results.append(
            {
                "method": f"mean of {' and '.join(m.upper() for m in neural)} (odlar)",
                "params": {"members": neural, "weights": "equal"},
                "metrics": summary(rows)
                | {
                    key: round(sum(r["metrics"][key] for r in members), 3)
                    for key in ("update_ms_p99", "update_cpu_ms_p99")
                },
                "details": {"folds": rows},
                "fit_seconds": round(sum(r["fit_seconds"] for r in members), 1),
                "predict_seconds": round(sum(r["predict_seconds"] for r in members), 2),
            }
        )
    progress(1.0, "done")
    notes = [
        f"data: {split.how}",
        "auc: each question scored once over all its skills, predicted from the answers "
        "before it (no expansion); auc_expanded: the same predictions scored once per "
        "skill row, as the expanded pyKT sequence files count them",
        "fit_seconds: mean per fold, wall clock, each fold fitted in its own process with "
        "one math thread, as many at once as the fan-out's cores "
        f"(load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
        "update_ms_p99: 99th percentile of one answer's mastery update (state update and "
        "every skill's mastery), over 300 answers of test students; for a mean of models, "
        "the sum of its members' (it updates both)",
    ]
    if n_run < split.n_folds and not quick:
        notes.append(
            f"{n_run} of {split.n_folds} folds run: figures are over fold(s) 1..{n_run} only"
        )
    if quick:
        notes.append("--quick: one fold, tiny models; figures not comparable")
    return BenchResult(
        task=task.name,
        dataset=split.name,
        protocol=PROTOCOL,
        results=results,
        anchors=anchors(split.name),
        notes=notes,
    )


@dataclass
class FoldFit:
    """One method on one fold: what a fan-out process needs (the task by name)."""

    task: str
    data_dir: str
    method: str
    params: dict[str, Any]
    fold: int
    train: Interactions
    test: Interactions
    keep_model: bool  # the last fold's model comes back, for the update latency


def _fit_fold(job: FoldFit) -> dict[str, Any]:
    """Fit on the other folds, predict this one; one math thread (the pool runs one
    process per core), so a fold's result does not depend on how many ran beside it."""
    from odlar.core.tasks import Dataset, get_task
    from odlar.core.threads import limit_threads

    limit_threads(1)
    start = time.perf_counter()
    model = get_task(job.task).fit(
        Dataset(job.train, job.data_dir, "", len(job.train)),
        method=job.method,
        params=job.params,
        progress=lambda fraction, message: None,
    )
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    p = model.predict(job.test)
    return {
        "method": job.method,
        "fold": job.fold,
        "p": p,
        "fit_seconds": round(fit_s, 1),
        "predict_seconds": round(time.perf_counter() - start, 2),
        "model": model if job.keep_model else None,
    }


def fold_row(k: int, test: Interactions, p: np.ndarray) -> dict[str, Any]:
    auc, acc = question_auc_acc(test.correct, p)
    expanded, _ = question_auc_acc(*expand(test, p))
    return {
        "fold": k + 1,
        "auc": round(auc, 4),
        "acc": round(acc, 4),
        "auc_expanded": round(expanded, 4),
        "test_interactions": len(test),
    }


def expand(test: Interactions, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Answers and predictions repeated once per skill of each question: the rows of an
    expanded sequence file, each carrying its question's one prediction (no leak)."""
    k = test.n_skills_per_row
    return np.repeat(test.correct, k), np.repeat(p, k)


def summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    aucs = [r["auc"] for r in rows]
    return {
        "auc": round(float(np.mean(aucs)), 4),
        "auc_std": round(float(np.std(aucs)), 4),
        "acc": round(float(np.mean([r["acc"] for r in rows])), 4),
        "auc_expanded": round(float(np.mean([r["auc_expanded"] for r in rows])), 4),
    }


def update_latency(model: Any, test: Interactions, answers: int = 300) -> dict[str, float]:
    """Milliseconds to fold one new answer into a student's state and read every skill's
    mastery, the path of POST /interactions: 99th percentile and median of wall clock,
    and 99th percentile of this process's CPU time (what the update costs a free core;
    wall clock on a shared machine also counts the waits for one)."""
    wall, cpu = [], []
    state = model.init_state()
    for i in range(min(answers, len(test))):
        start, start_cpu = time.perf_counter(), time.process_time()
        state = model.update(state, int(test.question[i]), test.skills(i), int(test.correct[i]))
        model.mastery_from(state)
        wall.append(1000 * (time.perf_counter() - start))
        cpu.append(1000 * (time.process_time() - start_cpu))
    return {
        "update_ms_p99": round(float(np.percentile(wall, 99)), 3),
        "update_ms_p50": round(float(np.percentile(wall, 50)), 3),
        "update_cpu_ms_p99": round(float(np.percentile(cpu, 99)), 3),
    }


def latency_only(
    task: Any,
    data_dir: Path,
    dataset: str | None,
    *,
    progress: Progress,
    methods: list[tuple[str, str, dict[str, Any]]] | None = None,
) -> BenchResult:
    """``--param part=latency``: the one-answer update of each model without training it
    (the cost depends on the network's sizes and the student's history, not on the
    weights' values): untrained networks of the bench's sizes for the folder's questions
    and skills, replaying 300 answers of fold 1's students."""
    from odlar.education.tracing_model import NETS, TracingModel, resolve_params

    split = folds(data_dir, dataset)
    data = split.data
    test = data.subset_students(np.flatnonzero(split.fold_of == 0))
    results = []
    for i, (label, method, params) in enumerate(methods or METHODS):
        progress(i / len(methods or METHODS), f"{method}: latency")
        net = NETS[method]()
        if method == "bkt":  # the prior BKT starts from: its parameters' values cost nothing
            net.params = np.tile([0.3, 0.1, 0.2, 0.1], (data.n_skills + 1, 1))
        else:
            net.prm = {**net.defaults, **{k: v for k, v in params.items() if k in net.defaults}}
            net.n_questions, net.n_skills, net.k_max = data.n_questions, data.n_skills, 4
            net.net = net.build(data.n_questions, data.n_skills).eval()
        model = TracingModel(
            method, resolve_params(method, params), net, data.n_questions, data.n_skills,
            {}, {}, {},
        )  # fmt: skip
        results.append(
            {
                "method": f"{label} (odlar)",
                "params": {"skills": data.n_skills, "questions": data.n_questions},
                "metrics": update_latency(model, test),
            }
        )
    progress(1.0, "done")
    return BenchResult(
        task=task.name,
        dataset=f"{split.name}-latency",
        protocol="one-answer update (state update and every skill's mastery), 300 answers "
        "of fold 1's test students, untrained networks of the bench's sizes",
        results=results,
        anchors=[],
        notes=[
            f"data: {split.how}",
            f"{data.n_skills} skills, {data.n_questions} questions",
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: wall clock "
            "counts the waits for a core; update_cpu_ms_p99 does not",
        ],
    )
