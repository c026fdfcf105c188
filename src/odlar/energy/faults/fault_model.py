"""The trained fault model: a detector on normal operation, an optional event classifier, and
what the monitor needs to judge sensors (training means, longest normal constant runs)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from odlar.core.errors import DataError, UsageError
from odlar.core.tasks import Progress
from odlar.energy.faults.combined import EarlyCvaDetector
from odlar.energy.faults.detectors import Detector
from odlar.energy.faults.diagnosis import EventClassifier
from odlar.energy.faults.imputation import GapImputer
from odlar.energy.faults.pca_detector import PcaDetector
from odlar.energy.faults.sensor_choice import SLOW_WINDOW, slow_shares
from odlar.energy.faults.streams import Repair, Table, longest_constant_run
from odlar.energy.faults.subspace import CvaDetector, DpcaMwDetector
from odlar.energy.faults.windowed import (
    IsolationForestDetector,
    RobustZDetector,
    WindowMahalanobis,
)

#: method -> (detector class, default hyperparameters)
DETECTORS: dict[str, tuple[type[Detector], dict[str, Any]]] = {
    "pca": (PcaDetector, {"components": 9, "lags": 0}),
    "dpca": (DpcaMwDetector, {"lags": 2, "variance": 0.95, "window": 10, "margin": 1.0}),
    # the ridge (share of the mean variance) bounds how far whitening amplifies directions
    # of tiny normal variance: at 0.001, 5% sensor noise raised false alarms on d00.dat from
    # 0% to 24%; 0.0017 is the smallest tried where that rise averages under 1 point over
    # 10 noise draws (larger ones spread each alarm's explanation over more sensors)
    "cva": (
        CvaDetector,
        {"past": 3, "future": 3, "states": 30, "window": 10, "margin": 1.0, "ridge": 0.0017},
    ),
    # the three parts get a third of false_alarm_rate each (combined.py)
    "cva_early": (
        EarlyCvaDetector,
        {
            "past": 3,
            "future": 3,
            "states": 30,
            "window": 10,
            "variance_window": 10,
            "ridge": 0.0017,
        },
    ),
    "mahalanobis": (WindowMahalanobis, {"window": 5, "margin": 1.5, "window_std": True}),
    "robust_z": (RobustZDetector, {"window": 60, "smooth": 1, "margin": 4.0}),
    "iforest": (IsolationForestDetector, {"window": 180, "smooth": 1, "margin": 1.0}),
}
COMMON = {
    "false_alarm_rate": 0.01,  # nominal, on normal training data
    "exclude": "",  # comma-separated sensors left out of the model
    # > 0: leave out sensors whose training variance is more than this share slow drift
    # (sensor_choice.py); 0 keeps every sensor
    "drop_drifting": 0.0,
    "diagnosis_window": 40,
    "diagnosis_trees": 300,
    "diagnosis_features": "window",  # or "scale_free": comparable across wells
    "diagnosis_stride": 1,  # train the classifier on every n-th event row
    "seed": 0,
}
#: A sensor counts as frozen after staying constant this many times its longest normal run.
FROZEN_FACTOR = 3
MIN_FROZEN_RUN = 30


@dataclass
class FaultModel:
    method: str
    params: dict[str, Any]
    variables: list[str]
    detector: Detector
    classifier: EventClassifier | None
    mean: np.ndarray
    std: np.ndarray
    frozen_after: np.ndarray  # samples of no change after which a sensor is reported frozen
    repairs: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    #: estimates missing readings from the others (None in models saved before it existed)
    imputer: GapImputer | None = None

    @property
    def history(self) -> int:
        clf = self.classifier.history if self.classifier else 0
        return max(self.detector.history, clf)

    def inputs(self, table: Table) -> np.ndarray:
        """The table's columns this model reads, in its order."""
        missing = [v for v in self.variables if v not in table.variables]
        if missing:
            raise DataError(f"missing sensor column(s): {', '.join(missing)}", file=table.source)
        columns = [table.variables.index(v) for v in self.variables]
        values = table.values[:, columns]
        if table.missing is not None and self.imputer is not None:
            values = self.imputer.fill(values, table.missing[:, columns])
        return values

    def score(self, table: Table) -> np.ndarray:
        """Causal normalised scores of a whole table (alarm above 1)."""
        return self.detector.score(self.inputs(table))


def resolve_params(method: str, params: dict[str, Any]) -> dict[str, Any]:
    if method not in DETECTORS:
        raise UsageError(f"unknown method '{method}' (known: {', '.join(DETECTORS)})")
    defaults = DETECTORS[method][1] | COMMON
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise UsageError(
            f"unknown parameter(s) for {method}: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(defaults))})"
        )
    merged = defaults | params
    far = float(merged["false_alarm_rate"])
    if not 0 < far < 0.5:
        raise UsageError("false_alarm_rate must be between 0 and 0.5")
    return merged


def fit_faults(
    tables: list[Table], method: str, params: dict[str, Any], progress: Progress
) -> FaultModel:
    """Detector on every normal row (label 0, or every row of an unlabelled table); event
    classifier on labelled event rows when there are at least two event classes."""
    p = resolve_params(method, params)
    variables = tables[0].variables
    for t in tables[1:]:
        if t.variables != variables:
            raise DataError(
                f"sensor columns differ from {tables[0].source}: {t.variables} vs {variables}",
                file=t.source,
            )
    excluded = [v.strip() for v in str(p["exclude"]).split(",") if v.strip()]
    unknown = [v for v in excluded if v not in variables]
    if unknown:
        raise UsageError(f"exclude: no sensor named {', '.join(unknown)} in the data")
    if excluded:
        keep = [j for j, v in enumerate(variables) if v not in excluded]
        tables = [_columns(t, keep) for t in tables]
        variables = tables[0].variables
    normal = np.vstack([t.values if t.labels is None else t.values[t.labels == 0] for t in tables])
    dropped: list[dict[str, Any]] = []
    if float(p["drop_drifting"]) > 0:
        tables, normal, dropped = _drop_drifting(tables, normal, float(p["drop_drifting"]))
        variables = tables[0].variables
    if len(normal) < 2 * len(variables):
        raise DataError(
            f"{len(normal)} normal rows are too few to learn {len(variables)} sensors "
            f"(need at least {2 * len(variables)})",
            file=tables[0].source,
        )
    progress(0.05, f"fitting {method} on {len(normal)} normal samples")
    cls, _ = DETECTORS[method]
    kwargs = {k: p[k] for k in DETECTORS[method][1]}
    detector = cls(**kwargs).fit(normal, p["false_alarm_rate"])
    mean, std = normal.mean(axis=0), normal.std(axis=0, ddof=1)
    std = np.where(std > 0, std, 1.0)
    runs = longest_constant_run(normal)
    classifier = None
    labelled = [t for t in tables if t.labels is not None]
    events = (
        np.unique(np.concatenate([t.labels[t.labels > 0] for t in labelled]))
        if labelled
        else np.array([])
    )
    if events.size >= 2:
        progress(0.5, f"training the event classifier on {events.size} classes")
        classifier = EventClassifier(
            p["diagnosis_window"],
            p["diagnosis_trees"],
            p["seed"],
            p["diagnosis_features"],
            p["diagnosis_stride"],
        ).fit([t.values for t in labelled], [t.labels for t in labelled], mean, std)
    in_sample = float((detector.score(normal) > 1).mean())
    progress(1.0, "done")
    return FaultModel(
        method=method,
        params=p,
        variables=list(variables),
        detector=detector,
        classifier=classifier,
        mean=mean,
        std=std,
        frozen_after=np.maximum(FROZEN_FACTOR * runs, MIN_FROZEN_RUN),
        repairs=[r.to_dict() | {"file": t.source} for t in tables for r in t.repairs] + dropped,
        metrics={"train_normal_samples": float(len(normal)), "train_alarm_rate": in_sample},
        imputer=GapImputer(normal),
    )


def _drop_drifting(
    tables: list[Table], normal: np.ndarray, share: float
) -> tuple[list[Table], np.ndarray, list[dict[str, Any]]]:
    """Leave out the sensors the rule of sensor_choice.py finds drifting on the normal rows;
    each is recorded as a repair of the training data."""
    if not 0 < share < 1:
        raise UsageError("drop_drifting must be between 0 and 1 (0 = off)")
    try:
        shares = slow_shares(normal)
    except ValueError as exc:
        raise DataError(f"drop_drifting: {exc}", file=tables[0].source) from None
    drop = shares > share
    if drop.all():
        raise DataError(
            f"drop_drifting={share}: every sensor drifts in the normal rows, none left to learn",
            file=tables[0].source,
        )
    dropped = [
        Repair(
            "sensor_dropped_drifting",
            f"{shares[j]:.0%} of its normal variance is slower than {SLOW_WINDOW} samples "
            f"(limit {share:.0%})",
            tables[0].variables[j],
        ).to_dict()
        | {"file": tables[0].source}
        for j in np.flatnonzero(drop)
    ]
    keep = list(np.flatnonzero(~drop))
    return [_columns(t, keep) for t in tables], normal[:, keep], dropped


def _columns(t: Table, keep: list[int]) -> Table:
    missing = None if t.missing is None else t.missing[:, keep]
    return replace(
        t, variables=[t.variables[j] for j in keep], values=t.values[:, keep], missing=missing
    )
