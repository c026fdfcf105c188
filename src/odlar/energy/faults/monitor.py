"""Live monitoring of one stream of readings with a trained fault model.

The monitor keeps the last `history` rows so that batches of any size score exactly as one
long run would. A process alert opens after `raise_after` consecutive alarming samples and
clears after `clear_after` consecutive normal ones; sensor alerts open when a sensor stays
frozen far longer than it ever did in normal operation, or stops reporting for longer than
the gaps that are filled. Every repair made to incoming data is returned with the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from odlar.core.alerts import Change
from odlar.energy.faults.fault_model import FROZEN_FACTOR, FaultModel
from odlar.energy.faults.streams import MAX_FILL, Repair

TOP_CONTRIBUTORS = 5


@dataclass
class BatchResult:
    scores: np.ndarray
    alarms: np.ndarray
    contributors: list[list[dict[str, Any]] | None]
    event_class: list[int | None]
    event_probability: list[float | None]
    changes: list[Change]
    repairs: list[Repair]
    first_sample: int


class StreamMonitor:
    def __init__(self, model: FaultModel, *, raise_after: int = 3, clear_after: int = 10) -> None:
        self.model = model
        self.raise_after, self.clear_after = raise_after, clear_after
        p = len(model.variables)
        self.buffer = np.empty((0, p))
        self.last = model.mean.copy()  # carried into gaps before any reading arrives
        self.seen = 0
        self.last_time: np.datetime64 | None = None
        self.alarm_run = 0
        self.normal_run = 0
        self.process_open = False
        self.peak = 0.0
        self.constant_run = np.zeros(p, int)
        self.missing_run = np.zeros(p, int)
        self.sensor_open: set[str] = set()
        self.votes: dict[int, float] = {}
        self.leading: int | None = None

    def push(self, values: np.ndarray, time: np.ndarray | None = None) -> BatchResult:
        """Score a batch (rows in time order; NaN = missing reading)."""
        repairs: list[Repair] = []
        values = np.array(values, dtype=float)
        if time is not None and self.last_time is not None:
            late = time <= self.last_time
            if late.any():
                repairs.append(
                    Repair(
                        "late_rows_dropped",
                        "timestamp not after the last one already scored",
                        "time",
                        int(late.sum()),
                    )
                )
                values, time = values[~late], time[~late]
        changes: list[Change] = []
        first = self.seen
        missing = np.isnan(values)
        values = self._fill_and_check_sensors(values, time, first, repairs, changes)
        if missing.any() and self.model.imputer is not None:
            # scored with estimates from the other sensors, not the carried readings
            previous = self.buffer[-1] if len(self.buffer) else None
            values = self.model.imputer.fill(values, missing, previous)
        n = len(values)
        if n == 0:
            return BatchResult(np.empty(0), np.empty(0, bool), [], [], [], changes, repairs, first)
        context = np.vstack([self.buffer, values])
        scores = self.model.detector.score(context)[-n:]
        alarms = scores > 1.0
        contributors: list[list[dict[str, Any]] | None] = [None] * n
        event_class: list[int | None] = [None] * n
        event_prob: list[float | None] = [None] * n
        if alarms.any():
            idx = np.flatnonzero(alarms)
            shares = self.model.detector.contributions(context)[-n:][idx]
            shares = shares / np.maximum(shares.sum(axis=1, keepdims=True), 1e-12)
            for i, row in zip(idx, shares, strict=True):
                top = np.argsort(row)[::-1][:TOP_CONTRIBUTORS]
                contributors[i] = [
                    {"variable": self.model.variables[j], "share": round(float(row[j]), 4)}
                    for j in top
                ]
            if self.model.classifier is not None:
                cls, prob = self.model.classifier.predict(context)
                for i in idx:
                    event_class[i] = int(cls[-n:][i])
                    event_prob[i] = round(float(prob[-n:][i]), 4)
        for i in range(n):
            changes.extend(
                self._step(
                    first + i,
                    time,
                    i,
                    scores[i],
                    alarms[i],
                    contributors[i],
                    event_class[i],
                    event_prob[i],
                )
            )
        keep = self.model.history
        self.buffer = context[-keep:] if keep else np.empty((0, len(self.model.variables)))
        self.seen += n
        if time is not None and len(time):
            self.last_time = time[-1]
        return BatchResult(
            scores, alarms, contributors, event_class, event_prob, changes, repairs, first
        )

    def _step(
        self,
        sample: int,
        time: np.ndarray | None,
        i: int,
        score: float,
        alarm: bool,
        contributors: list[dict[str, Any]] | None,
        event: int | None,
        prob: float | None,
    ) -> list[Change]:
        stamp = _stamp(time, i)
        if alarm:
            self.alarm_run += 1
            self.normal_run = 0
            if event is not None:  # the alert's class: most probability mass so far
                self.votes[event] = self.votes.get(event, 0.0) + (prob or 0.0)
        else:
            self.normal_run += 1
            self.alarm_run = 0
        leader, share = self._leader()
        if not self.process_open and self.alarm_run >= self.raise_after:
            self.process_open, self.peak, self.leading = True, float(score), leader
            return [
                Change(
                    "open",
                    "process",
                    "process",
                    sample,
                    stamp,
                    float(score),
                    contributors or [],
                    leader,
                    share,
                )
            ]
        if self.process_open and alarm and (score > self.peak or leader != self.leading):
            self.peak, self.leading = max(self.peak, float(score)), leader
            return [
                Change(
                    "update",
                    "process",
                    "process",
                    sample,
                    stamp,
                    float(score),
                    contributors or [],
                    leader,
                    share,
                )
            ]
        if self.process_open and self.normal_run >= self.clear_after:
            self.process_open, self.votes, self.leading = False, {}, None
            return [Change("clear", "process", "process", sample, stamp, float(score))]
        if not self.process_open and not alarm and self.normal_run >= self.clear_after:
            self.votes = {}  # isolated alarms that never opened an alert are forgotten
        return []

    def _leader(self) -> tuple[int | None, float | None]:
        if not self.votes:
            return None, None
        leader = max(self.votes, key=self.votes.__getitem__)
        return leader, round(self.votes[leader] / sum(self.votes.values()), 4)

    def _fill_and_check_sensors(
        self,
        values: np.ndarray,
        time: np.ndarray | None,
        first: int,
        repairs: list[Repair],
        changes: list[Change],
    ) -> np.ndarray:
        """Carry the last reading into missing ones (recorded); open or clear sensor alerts
        for dead sensors (no reading for more than MAX_FILL samples) and frozen ones
        (unchanged far longer than ever in normal operation)."""
        names = self.model.variables
        missing = np.isnan(values)
        for j in np.flatnonzero(missing.any(axis=0)):
            repairs.append(
                Repair(
                    "gaps_filled",
                    "missing readings estimated from the other sensors"
                    if self.model.imputer is not None
                    else "missing readings carried from the last value",
                    names[j],
                    int(missing[:, j].sum()),
                )
            )
        filled = values.copy()
        if missing.any():
            stacked = np.vstack([self.last, values])
            idx = np.where(~np.isnan(stacked), np.arange(len(stacked))[:, None], 0)
            np.maximum.accumulate(idx, axis=0, out=idx)
            filled = stacked[idx, np.arange(stacked.shape[1])][1:]
        previous = np.vstack([self.last, filled[:-1]])
        same = ~missing & (filled == previous)
        if self.seen == 0:
            same[0] = False
        dead_run = _runs_with_carry(missing, self.missing_run)
        frozen_run = _runs_with_carry(same, self.constant_run)
        for kind, runs, limit in (
            ("sensor_dead", dead_run, np.full(len(names), MAX_FILL)),
            ("sensor_frozen", frozen_run, self.model.frozen_after),
        ):
            for j in np.flatnonzero((runs > limit).any(axis=0) | (runs == 0).any(axis=0)):
                key = f"{kind}:{names[j]}"
                if not (runs[:, j] > limit[j]).any() and key not in self.sensor_open:
                    continue
                for i in range(len(filled)):
                    stamp = _stamp(time, i)
                    run = int(runs[i, j])
                    if run > limit[j] and key not in self.sensor_open:
                        self.sensor_open.add(key)
                        detail = (
                            f"{names[j]}: no reading for {run} samples"
                            if kind == "sensor_dead"
                            else f"{names[j]}: unchanged for {run} samples "
                            f"(limit {int(limit[j])}: {FROZEN_FACTOR}x its longest "
                            "constant run in normal operation)"
                        )
                        changes.append(
                            Change(
                                "open",
                                kind,
                                key,
                                first + i,
                                stamp,
                                detail=detail,
                                contributors=[{"variable": names[j], "share": 1.0}],
                            )
                        )
                    elif run == 0 and key in self.sensor_open:
                        self.sensor_open.discard(key)
                        changes.append(Change("clear", kind, key, first + i, stamp))
        if len(filled):
            self.missing_run, self.constant_run = dead_run[-1], frozen_run[-1]
            self.last = filled[-1].copy()
        return filled


def _runs_with_carry(mask: np.ndarray, carry: np.ndarray) -> np.ndarray:
    """Length of the current run of True at each row, continuing runs from the last batch."""
    n = len(mask)
    pos = np.arange(n)[:, None]
    last_false = np.maximum.accumulate(np.where(~mask, pos, -1), axis=0)
    run = pos - last_false
    return np.where(last_false < 0, run + carry[None, :], run)


def _stamp(time: np.ndarray | None, i: int) -> str | None:
    return None if time is None else str(np.datetime_as_string(time[i], unit="s"))
