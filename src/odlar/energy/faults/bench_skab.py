"""energy.faults on SKAB (BENCHMARKS.md section 3): pooled F1 and false-alarm rate of
the valve and other experiments, each trained on its first 400 normal samples."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from odlar.core.errors import UsageError
from odlar.core.tasks import Anchor, BenchResult, Progress, no_progress
from odlar.energy.faults.evaluation import alert_state
from odlar.energy.faults.fault_model import fit_faults
from odlar.energy.faults.streams import load_table

SKAB_FOLDERS = ("valve1", "valve2", "other")
SKAB_TRAIN = 400
SKAB_PROTOCOL = (
    "SKAB leaderboard: for each of the 34 anomalous files the first 400 rows train (as normal) "
    "and the rest test, no shuffling; point-wise F1, false-alarm rate (FAR %) and missed-alarm "
    "rate (MAR %) from one confusion matrix pooled over all test rows (as tsad's evaluating)"
)
SKAB_ANCHORS = [
    Anchor(name, {"f1": f1, "far": far, "mar": mar}, "SKAB leaderboard (BENCHMARKS.md s.3)")
    for name, f1, far, mar in [
        ("Conv-AE", 0.78, 13.55, 28.02),
        ("MSET", 0.78, 39.73, 14.13),
        ("T2+Q (PCA)", 0.76, 26.62, 24.92),
        ("LSTM-AE", 0.74, 29.96, 25.92),
        ("Isolation forest", 0.29, 2.56, 82.89),
    ]
]
#: A run's parameter (not the model's): score each row as the live monitor's alert state
#: (evaluation.alert_state: open on the 3rd consecutive alarm, clear after 10 normal rows)
#: instead of the raw per-row alarm.
AS_ALERTS = "scored_as_alerts"
SKAB_METHODS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "window Mahalanobis w=5, margin 1.5, without Temperature and Thermocouple",
        "mahalanobis",
        {"exclude": "Temperature,Thermocouple"},
    ),
    (
        "window Mahalanobis w=5, margin 1.5, sensors chosen per file on its 400 training rows "
        "(drop_drifting=0.5)",
        "mahalanobis",
        {"drop_drifting": 0.5},
    ),
    (
        "window Mahalanobis w=5, margin 1.5, sensors chosen per file on its 400 training rows "
        "(drop_drifting=0.5), scored as the live monitor's alerts (open on the 3rd "
        "consecutive alarm, clear after 10 normal rows)",
        "mahalanobis",
        {"drop_drifting": 0.5, AS_ALERTS: True},
    ),
    ("window Mahalanobis w=5, margin 1.5, all 8 sensors", "mahalanobis", {}),
    ("PCA T2+SPE, 3 components, 99% limits, all 8 sensors", "pca", {"components": 3}),
]


def skab_files(data_dir: Path) -> list[Path]:
    root = data_dir / "data" if (data_dir / "data").is_dir() else data_dir
    files = [
        p
        for folder in SKAB_FOLDERS
        for p in sorted((root / folder).glob("*.csv"), key=lambda p: int(p.stem))
    ]
    if not files:
        raise UsageError(f"{data_dir}: no SKAB files (expected data/valve1, valve2, other)")
    return files


def _counts(alarms: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return np.array(
        [
            (alarms & truth).sum(),
            (alarms & ~truth).sum(),
            (~alarms & truth).sum(),
            (~alarms & ~truth).sum(),
        ]
    )


def _pooled(c: np.ndarray) -> dict[str, float]:
    tp, fp, fn, tn = (int(v) for v in c)
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return {
        "f1": round(2 * precision * recall / max(precision + recall, 1e-12), 4),
        "far": round(100 * fp / max(fp + tn, 1), 2),
        "mar": round(100 * fn / max(fn + tp, 1), 2),
    }


def run_skab(
    data_dir: Path, *, quick: bool, progress: Progress, runs: list[Any] | None = None
) -> BenchResult:
    runs = runs or SKAB_METHODS
    files = skab_files(data_dir)
    if quick:
        files = files[:4]
    tables = [load_table(p) for p in files]
    results = []
    for n, (label, method, run_params) in enumerate(runs):
        progress(n / len(runs), label)
        params = {k: v for k, v in run_params.items() if k != AS_ALERTS}
        total = np.zeros(4, int)
        by_folder: dict[str, np.ndarray] = {}
        dropped: dict[str, int] = {}
        fit_s = score_s = 0.0
        for path, table in zip(files, tables, strict=True):
            train = replace(table, values=table.values[:SKAB_TRAIN], labels=None, time=None)
            start = time.perf_counter()
            model = fit_faults([train], method, params, no_progress)
            fit_s += time.perf_counter() - start
            for r in model.repairs:
                if r["kind"] == "sensor_dropped_drifting":
                    dropped[r["column"]] = dropped.get(r["column"], 0) + 1
            start = time.perf_counter()
            alarms = model.score(table) > 1.0
            if run_params.get(AS_ALERTS):
                alarms = alert_state(alarms)  # from the first row, as a monitor runs
            alarms = alarms[SKAB_TRAIN:]
            score_s += time.perf_counter() - start
            c = _counts(alarms, table.labels[SKAB_TRAIN:] > 0)
            total += c
            folder = path.parent.name
            by_folder[folder] = by_folder.get(folder, np.zeros(4, int)) + c
        results.append(
            {
                "method": f"{label} (odlar)",
                "params": model.params | {AS_ALERTS: bool(run_params.get(AS_ALERTS))},
                "metrics": _pooled(total),
                "details": {
                    "by_folder": {k: _pooled(v) for k, v in by_folder.items()},
                    "files": len(files),
                    "files_dropping_sensor": dropped,
                },
                "fit_seconds": round(fit_s, 3),
                "predict_seconds": round(score_s, 3),
            }
        )
    progress(1.0, "done")
    return BenchResult(
        task="energy.faults",
        dataset="skab",
        protocol=SKAB_PROTOCOL,
        results=results,
        anchors=SKAB_ANCHORS,
        notes=[
            "one model per file, fitted on its first 400 rows; threshold = 99% quantile of the "
            "training statistic times the margin, the same rule for every file",
            "window and margin were chosen on valve1; the fixed exclusion of the two thermal "
            "sensors was first noticed in a per-sensor analysis that used test labels, so "
            "treat that row as partly tuned",
            "drop_drifting=0.5: in each file, sensors with more than half of the variance of "
            "its 400 training rows in their 20-sample moving average are left out "
            "(sensor_choice.py); no labels are read. The rule and its constants were chosen "
            "among 12 candidates on valve1's 16 files (one other variant was also run on all "
            "34, see README); by_folder gives valve2 and other, which took no part in the "
            "choice",
            "scored_as_alerts: the per-row alarms pass through the live monitor's alert rule "
            "(open on the 3rd consecutive alarm, clear after 10 normal rows; evaluation."
            "alert_state) from each file's first row, and a row counts as alarmed while an "
            "alert is open; the rule's constants are the monitor's defaults, not tuned on "
            "SKAB; it was tried on valve1's 16 files (F1 0.846 -> 0.864) before the 34 were run",
            "fit_seconds and predict_seconds: totals over all files",
            *(["--quick: first 4 files only; figures not comparable"] if quick else []),
        ],
    )


# --- 3W (BENCHMARKS.md s.4) -----------------------------------------------------------------
