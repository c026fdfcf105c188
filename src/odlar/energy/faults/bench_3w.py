"""energy.faults on Petrobras 3W (BENCHMARKS.md section 4): event detection per
instance and event-type diagnosis."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from odlar.core.errors import UsageError
from odlar.core.tasks import Anchor, BenchResult, Progress, no_progress
from odlar.energy.faults.diagnosis import EventClassifier
from odlar.energy.faults.evaluation import alert_openings
from odlar.energy.faults.fault_model import fit_faults
from odlar.energy.faults.scoring import detection_metrics, diagnosis_metrics
from odlar.energy.faults.streams import load_table, parse_table, read_frame

W3_PROTOCOL = (
    "3W real instances with a normal period (classes 2 and 6 in our copy: 19 instances): a "
    "detector per instance trained on the normal rows before its 60th-percentile normal row "
    "(Vargas et al. 2019 split_range 0.6), tested causally on every later labelled row; "
    "transient and steady event rows are abnormal; F1 (abnormal positive) per instance, mean "
    "and std; delay = seconds from the first transient row to the first alarm. Normal-period "
    "protocol on the same runs: alerts (the live monitor's rule) opened on held-out normal "
    "rows, per hour of them. Diagnosis: leave-one-well-out over all 56 instances (classes 2, "
    "3, 4, 6), windows every 60 s, per-instance majority; headline over the instances whose "
    "class is recorded in another well"
)
W3_ANCHORS = [
    Anchor(
        "Isolation Forest (Vargas et al. 2019)",
        {"f1_mean": 0.727, "f1_std": 0.182},
        "BENCHMARKS.md s.4, their classes 1,2,5,6,7,8",
    ),
    Anchor(
        "One-class SVM (Vargas et al. 2019)", {"f1_mean": 0.532}, "BENCHMARKS.md s.4, their classes"
    ),
    Anchor(
        "random forest accuracy (Marins et al. 2021)",
        {"accuracy": 0.94},
        "BENCHMARKS.md s.4, other subset, not split by well",
    ),
    Anchor(
        "decision tree macro-F1 (Turan and Jaschke 2021)",
        {"macro_f1": 0.85},
        "BENCHMARKS.md s.4, other subset, not split by well",
    ),
]
W3_METHODS: list[tuple[str, str, dict[str, Any]]] = [
    ("robust z-score of 60 s window features, margin 4", "robust_z", {}),
    ("Isolation Forest on 180 s window features, 1% training quantile", "iforest", {}),
]
W3_SPLIT = 0.6
W3_VARIABLES = [
    "P-PDG",
    "P-TPT",
    "T-TPT",
    "P-MON-CKP",
    "T-JUS-CKP",
    "P-JUS-CKGL",
    "T-JUS-CKGL",
    "QGL",
]
W3_DIAGNOSIS = {"window": 180, "trees": 300, "features": "scale_free", "stride": 60}


def run_3w(
    data_dir: Path, *, quick: bool, progress: Progress, runs: list[Any] | None = None
) -> BenchResult:
    runs = runs or W3_METHODS
    files = sorted(data_dir.glob("*/WELL-*.csv"))
    if not files:
        raise UsageError(f"{data_dir}: no 3W instances (expected CLASS/WELL-*.csv)")
    tables = {p: load_table(p) for p in files}
    with_normal = [p for p, t in tables.items() if t.labels is not None and (t.labels == 0).any()]
    if quick:
        with_normal = with_normal[:3]
    results = []
    for n, (label, method, params) in enumerate(runs):
        progress(n / (len(runs) + 1), label)
        per_instance, f1s, fars, delays, fit_s = {}, [], [], [], 0.0
        normal_alerts, normal_hours = 0, 0.0
        for p in with_normal:
            t = tables[p]
            normal_rows = np.flatnonzero(t.labels == 0)
            cut = int(normal_rows[int(W3_SPLIT * (len(normal_rows) - 1))])
            train_rows = normal_rows[normal_rows < cut]
            train = replace(t, values=t.values[:cut], labels=(t.labels[:cut] != 0) * -1)
            start = time.perf_counter()
            model = fit_faults([train], method, params, no_progress)
            fit_s += time.perf_counter() - start
            alarms = model.score(t) > 1.0
            test = np.arange(len(t.values)) >= cut
            test &= t.labels >= 0
            m = detection_metrics(alarms[test], t.labels[test] > 0)
            onset = np.flatnonzero(t.transient & (t.labels > 0))
            delay = None
            if onset.size:
                hits = np.flatnonzero(alarms[onset[0] :])
                if hits.size:
                    dt = t.time[onset[0] + hits[0]] - t.time[onset[0]]
                    delay = float(dt / np.timedelta64(1, "s"))
            alerts, hours = normal_period(t, alarms, cut)
            normal_alerts += alerts
            normal_hours += hours
            f1s.append(m["f1"])
            fars.append(m["false_alarm_rate"])
            delays.append(delay)
            per_instance[p.stem] = {
                "class": int(p.parent.name),
                "f1": round(m["f1"], 4),
                "false_alarm_rate": round(m["false_alarm_rate"], 4),
                "delay_seconds": delay,
                "normal_alerts": alerts,
                "normal_hours": round(hours, 3),
                "train_rows": int(len(train_rows)),
            }
        found = [d for d in delays if d is not None]
        results.append(
            {
                "method": f"{label} (odlar)",
                "params": model.params,
                "metrics": {
                    "f1_mean": round(float(np.mean(f1s)), 4),
                    "f1_std": round(float(np.std(f1s)), 4),
                    "false_alarm_rate": round(float(np.mean(fars)), 4),
                    "delay_median_s": float(np.median(found)) if found else None,
                    "missed_events": len(delays) - len(found),
                    "normal_false_alerts_per_hour": round(normal_alerts / normal_hours, 3),
                    "normal_false_alerts": normal_alerts,
                    "delay_max_s": float(np.max(found)) if found else None,
                },
                "details": {"per_instance": per_instance},
                "fit_seconds": round(fit_s, 2),
                "predict_seconds": None,
            }
        )
    trivial, trivial_alerts, trivial_hours = [], 0, 0.0
    for p in with_normal:
        t = tables[p]
        normal_rows = np.flatnonzero(t.labels == 0)
        cut = int(normal_rows[int(W3_SPLIT * (len(normal_rows) - 1))])
        test = (np.arange(len(t.values)) >= cut) & (t.labels >= 0)
        trivial.append(detection_metrics(np.ones(test.sum(), bool), t.labels[test] > 0)["f1"])
        alerts, hours = normal_period(t, np.ones(len(t.values), bool), cut)
        trivial_alerts, trivial_hours = trivial_alerts + alerts, trivial_hours + hours
    progress(len(runs) / (len(runs) + 1), "diagnosis, leave one well out")
    diagnosis = diagnose_3w(files if not quick else files[::6])
    results.append(
        {
            "method": "event classifier (extra trees, scale-free 180 s window features), "
            "leave one well out (odlar)",
            "params": W3_DIAGNOSIS,
            "metrics": {
                "instance_macro_f1": round(diagnosis["instances"]["macro_f1"], 4),
                "instance_accuracy": round(diagnosis["instances"]["accuracy"], 4),
                "macro_f1": round(diagnosis["windows"]["macro_f1"], 4),
                "accuracy": round(diagnosis["windows"]["accuracy"], 4),
                "unseen_class_instances": len(diagnosis["unseen_class"]),
            },
            "details": diagnosis,
            "fit_seconds": diagnosis.pop("fit_seconds"),
            "predict_seconds": None,
        }
    )
    progress(1.0, "done")
    return BenchResult(
        task="energy.faults",
        dataset="3w",
        protocol=W3_PROTOCOL,
        results=results,
        anchors=W3_ANCHORS,
        notes=[
            f"always-abnormal reference on the same test rows: F1 {np.mean(trivial):.3f} "
            f"(abnormal rows dominate the test parts)",
            f"always-abnormal on the normal-period protocol: {trivial_alerts} false alerts in "
            f"{trivial_hours:.1f} h of held-out normal operation "
            f"({trivial_alerts / trivial_hours:.2f} per hour), in alarm 100% of that time",
            "normal-period protocol: the detector's alarms go through the live monitor's alert "
            "rule (open on the 3rd consecutive alarm, clear after 10 normal samples) from the "
            "first held-out row; normal_false_alerts counts alerts opened on a row labelled "
            "normal, per hour of held-out normal rows; delay_*_s: seconds from the first "
            "transient label to the first alarming sample at or after it",
            "our copy holds classes 2, 3, 4, 6 only; the published Isolation Forest figure is "
            "on classes 1, 2, 5, 6, 7, 8 and a window-sample protocol: a reference, not an "
            "equal comparison",
            "diagnosis: an instance's class is the majority of its event windows' classes; "
            "instance_* and the per-window macro_f1/accuracy cover the instances whose class "
            "the classifier saw in training (recorded in another well: classes 2 and 4); "
            "classes 3 (WELL-00014 only) and 6 (WELL-00004 only) are unseen when their well "
            "is held out and are listed apart under unseen_class with what they were called",
            "delay 0 can mean the alarm was already on in the unlabelled rows before the "
            "first transient label",
            *(["--quick: a few instances only; figures not comparable"] if quick else []),
        ],
    )





def normal_period(t: Any, alarms: np.ndarray, cut: int) -> tuple[int, float]:
    """(alerts opened on normal rows, hours of normal rows) from row `cut` on, alerts by
    the live monitor's rule run from `cut`."""
    opened = alert_openings(alarms[cut:]) + cut
    alerts = int((t.labels[opened] == 0).sum())
    step = float(np.median(np.diff(t.time)) / np.timedelta64(1, "s")) if len(t.time) > 1 else 1.0
    hours = float((t.labels[cut:] == 0).sum()) * step / 3600
    return alerts, hours


def diagnose_3w(files: list[Path]) -> dict[str, Any]:
    """Leave-one-well-out event classification over all instances' event rows.

    An instance's class is the majority of its event windows' classes. The headline figures
    (`instances`, `windows`) cover the instances whose class the classifier saw in training
    (recorded in another well); instances of a class recorded in their own well only cannot
    be told and are listed apart (`unseen_class`)."""
    data = []
    for p in files:
        t = parse_table(read_frame(p), str(p), variables=W3_VARIABLES, training=False)
        data.append((p.stem.split("_")[0], p.stem, int(p.parent.name), t))
    wells = sorted({w for w, *_ in data})
    pred, truth, records, fit_s = [], [], [], 0.0
    ones = np.ones(len(W3_VARIABLES))
    for well in wells:
        train = [t for w, _, _, t in data if w != well]
        seen = {c for w, _, c, _ in data if w != well}
        start = time.perf_counter()
        clf = EventClassifier(**W3_DIAGNOSIS).fit(
            [t.values for t in train], [t.labels for t in train], 0 * ones, ones
        )
        fit_s += time.perf_counter() - start
        for w, stem, cls, t in data:
            if w != well:
                continue
            rows = np.flatnonzero(t.labels > 0)
            rows = rows[rows % W3_DIAGNOSIS["stride"] == 0]
            if not rows.size:
                continue
            got, _ = clf.predict(t.values)
            votes = np.bincount(got[rows].astype(int))
            records.append(
                {"instance": stem, "well": w, "class": cls, "predicted": int(votes.argmax())}
                | {"class_seen_in_training": cls in seen}
            )
            if cls in seen:
                pred.append(got[rows])
                truth.append(t.labels[rows])
    scored = [r for r in records if r["class_seen_in_training"]]
    instances = diagnosis_metrics(
        np.array([r["predicted"] for r in scored]), np.array([r["class"] for r in scored])
    )
    return {
        "windows": diagnosis_metrics(np.concatenate(pred), np.concatenate(truth)),
        "instances": instances,
        "unseen_class": [r for r in records if not r["class_seen_in_training"]],
        "per_instance": records,
        "wells": wells,
        "fit_seconds": round(fit_s, 1),
    }
