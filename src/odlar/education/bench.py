"""`odlar bench education.tracing --dataset {assist2009,statics,assist2015}`: the pyKT
protocol of BENCHMARKS.md section 6, five folds by student, our models beside the
published AUCs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from odlar.core.errors import UsageError
from odlar.core.tasks import Anchor, BenchResult, Progress
from odlar.education.evaluation import question_auc_acc
from odlar.education.interactions import Interactions, read_sequences

DATASETS = ("assist2009", "statics", "assist2015")
PUBLISHED = {  # pyKT question-level AUC (BENCHMARKS.md s.6)
    "DKT": {"assist2009": 0.7541, "statics": 0.8222, "assist2015": 0.7271},
    "DKVMN": {"assist2009": 0.7473, "statics": 0.8093, "assist2015": 0.7227},
    "SAKT": {"assist2009": 0.7246, "statics": 0.7965, "assist2015": 0.7114},
    "AKT": {"assist2009": 0.7853, "statics": 0.8309, "assist2015": 0.7281},
    "simpleKT": {"assist2009": 0.7744, "statics": 0.8199, "assist2015": 0.7248},
}
ACCURACY_2009 = {"DKT": 0.7244, "AKT": 0.7392}
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
STATICS_SEED = 42


def anchors(dataset: str) -> list[Anchor]:
    out = []
    for name, aucs in PUBLISHED.items():
        metrics = {"auc": aucs[dataset]}
        if dataset == "assist2009" and name in ACCURACY_2009:
            metrics["acc"] = ACCURACY_2009[name]
        out.append(Anchor(f"{name} (pyKT)", metrics, "BENCHMARKS.md s.6"))
    return out


ALL_ANCHORS = [a for d in DATASETS for a in anchors(d)]


def folds(data_dir: Path, dataset: str) -> tuple[Interactions, np.ndarray]:
    """All students and the fold (0-4) of each student index."""
    if dataset in ("assist2009", "assist2015"):
        stem = "assist2009_pid_test" if dataset == "assist2009" else "assist2015_test"
        parts, fold_of, first = [], [], 0
        for k in range(1, 6):
            part = read_sequences(data_dir / f"{stem}{k}.csv", first_student=first)
            n = int(part.student.max()) + 1 - first
            parts.append(part)
            fold_of.append(np.full(n, k - 1))
            first += n
        data = Interactions.concat(parts)
        data.question_ids = {str(q): q for q in range(1, data.n_questions + 1)}
        data.skill_ids = {str(s): s for s in range(1, data.n_skills + 1)}
        return data, np.concatenate(fold_of)
    if dataset == "statics":
        data = read_sequences(data_dir / "statics_statics.csv")
        n = int(data.student.max()) + 1
        fold_of = np.empty(n, int)
        fold_of[np.random.default_rng(STATICS_SEED).permutation(n)] = np.arange(n) % 5
        return data, fold_of
    raise UsageError(f"unknown benchmark '{dataset}' (known: {', '.join(DATASETS)})")


def run(
    task: Any,
    data_dir: Path,
    dataset: str,
    *,
    quick: bool,
    progress: Progress,
    methods: list[tuple[str, str, dict[str, Any]]] | None = None,
) -> BenchResult:
    from odlar.core.tasks import Dataset
    from odlar.education.tracing_model import TracingModel

    data, fold_of = folds(data_dir, dataset)
    methods = methods or METHODS
    n_folds = 1 if quick else 5
    results = []
    for m, (label, method, params) in enumerate(methods):
        rows = []
        for k in range(n_folds):

            def sub(frac: float, msg: str, m: int = m, k: int = k, method: str = method) -> None:
                progress(
                    (m * n_folds + k + frac) / (len(methods) * n_folds),
                    f"{method} fold {k + 1}: {msg}",
                )

            students = np.arange(len(fold_of))
            train = data.subset_students(students[fold_of != k])
            test = data.subset_students(students[fold_of == k])
            fit_params = params | (task.quick_params[method] if quick else {})
            start = time.perf_counter()
            model: TracingModel = task.fit(
                Dataset(train, str(data_dir), "", len(train)),
                method=method,
                params=fit_params,
                progress=sub,
            )
            fit_s = time.perf_counter() - start
            start = time.perf_counter()
            auc, acc = question_auc_acc(test.correct, model.predict(test))
            rows.append(
                {
                    "fold": k + 1,
                    "auc": round(auc, 4),
                    "acc": round(acc, 4),
                    "fit_seconds": round(fit_s, 1),
                    "predict_seconds": round(time.perf_counter() - start, 2),
                    "test_interactions": len(test),
                }
            )
        update_ms = update_latency(model, test)
        aucs = [r["auc"] for r in rows]
        results.append(
            {
                "method": f"{label} (odlar)",
                "params": {k: v for k, v in model.params.items() if not callable(v)},
                "metrics": {
                    "auc": round(float(np.mean(aucs)), 4),
                    "auc_std": round(float(np.std(aucs)), 4),
                    "acc": round(float(np.mean([r["acc"] for r in rows])), 4),
                    "update_ms_p99": update_ms,
                },
                "details": {"folds": rows},
                "fit_seconds": round(float(np.mean([r["fit_seconds"] for r in rows])), 1),
                "predict_seconds": round(float(np.mean([r["predict_seconds"] for r in rows])), 2),
            }
        )
    progress(1.0, "done")
    notes = [
        "fit_seconds: mean per fold, wall clock on this machine",
        "update_ms_p99: 99th percentile of one answer's mastery update (state update and "
        "every skill's mastery), over 300 answers of test students",
    ]
    if dataset == "statics":
        notes.append(f"Statics 2011 ships unsplit: 5 folds by student with seed {STATICS_SEED}")
    if quick:
        notes.append("--quick: one fold, tiny models; figures not comparable")
    return BenchResult(
        task=task.name,
        dataset=dataset,
        protocol=PROTOCOL,
        results=results,
        anchors=anchors(dataset),
        notes=notes,
    )


def update_latency(model: Any, test: Interactions, answers: int = 300) -> float:
    """Milliseconds to fold one new answer into a student's state and read every skill's
    mastery, the path of POST /interactions; 99th percentile."""
    timings = []
    state = model.init_state()
    for i in range(min(answers, len(test))):
        start = time.perf_counter()
        state = model.update(state, int(test.question[i]), test.skills(i), int(test.correct[i]))
        model.mastery_from(state)
        timings.append(1000 * (time.perf_counter() - start))
    return round(float(np.percentile(timings, 99)), 3)
