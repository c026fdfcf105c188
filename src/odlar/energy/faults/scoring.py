"""Point-wise detection and diagnosis metrics of a fault model on labelled tables."""

from __future__ import annotations

from typing import Any

import numpy as np

from odlar.energy.faults.evaluation import detection_rate, false_alarm_rate
from odlar.energy.faults.streams import Table


def detection_metrics(alarms: np.ndarray, faulty: np.ndarray) -> dict[str, float]:
    """Detection rate (recall), false-alarm rate, precision and F1 of per-sample alarms."""
    from sklearn.metrics import f1_score  # slow to import: only when scoring, not registering
    alarms, faulty = np.asarray(alarms, bool), np.asarray(faulty, bool)
    tp = int((alarms & faulty).sum())
    precision = tp / max(int(alarms.sum()), 1)
    recall = detection_rate(alarms, faulty)
    return {
        "detection_rate": recall,
        "false_alarm_rate": false_alarm_rate(alarms, faulty),
        "precision": precision,
        "f1": float(f1_score(faulty, alarms, zero_division=0)),
    }


def diagnosis_metrics(predicted: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Per-class precision, recall and support, macro-F1 and accuracy of event classes."""
    from sklearn.metrics import precision_recall_fscore_support  # slow to import: here only
    classes = np.unique(np.concatenate([truth, predicted]))
    p, r, f, support = precision_recall_fscore_support(
        truth, predicted, labels=classes, zero_division=0
    )
    present = np.isin(classes, truth)
    return {
        "macro_f1": float(f[present].mean()),
        "accuracy": float((predicted == truth).mean()),
        "per_class": {
            str(int(c)): {
                "precision": round(float(p[i]), 4),
                "recall": round(float(r[i]), 4),
                "support": int(support[i]),
            }
            for i, c in enumerate(classes)
        },
    }


def score_tables(model: Any, tables: list[Table]) -> tuple[dict[str, float], dict[str, Any]]:
    alarms, faulty, predicted, truth = [], [], [], []
    for t in tables:
        assert t.labels is not None
        labelled = t.labels >= 0
        a = model.score(t) > 1.0
        alarms.append(a[labelled])
        faulty.append(t.labels[labelled] > 0)
        if model.classifier is not None and (t.labels > 0).any():
            cls, _ = model.classifier.predict(model.inputs(t))
            events = t.labels > 0
            predicted.append(cls[events])
            truth.append(t.labels[events])
    metrics = detection_metrics(np.concatenate(alarms), np.concatenate(faulty))
    details: dict[str, Any] = {}
    if predicted:
        diag = diagnosis_metrics(np.concatenate(predicted), np.concatenate(truth))
        metrics |= {"diagnosis_macro_f1": diag["macro_f1"], "diagnosis_accuracy": diag["accuracy"]}
        details["diagnosis"] = diag
    return metrics, details
