"""energy.faults detection: published PCA through the task, the targets of issue 3 on the real
data, causal scoring (live batches = one long run) and explanations."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SHARED_DATA
from odlar.core.errors import UsageError
from odlar.energy.faults import bench_3w, bench_skab, bench_tep
from odlar.energy.faults.evaluation import (
    alert_openings,
    alert_state,
    detection_delay,
    operating_curve,
)
from odlar.energy.faults.fault_model import DETECTORS, fit_faults
from odlar.energy.faults.monitor import StreamMonitor
from odlar.energy.faults.tep import FAULT_START, tep_table

TEP = SHARED_DATA / "energy" / "tep"
QUIET = lambda f, m: None  # noqa: E731


@pytest.fixture(scope="module")
def tep() -> dict[int, object]:
    return {f: tep_table(TEP / (f"d{f:02d}_te.dat" if f else "d00_te.dat")) for f in range(22)}


@pytest.fixture(scope="module")
def normal():
    return tep_table(TEP / "d00.dat")


def _rates(model, tep) -> tuple[dict[int, float], float]:
    rates = {f: 100 * (model.score(t)[FAULT_START:] > 1).mean() for f, t in tep.items()}
    return rates, rates.pop(0)


def test_pca_method_is_the_published_protocol(normal, tep) -> None:
    model = fit_faults([normal], "pca", {"components": 9}, QUIET)
    rates, far = _rates(model, tep)
    published = [bench_tep.PCA9[f] for f in range(1, 16)]
    assert np.allclose([rates[f] for f in range(1, 16)], published, atol=0.0051)
    assert abs(far - 6.13) <= 0.0051


@pytest.mark.parametrize(("method", "params"), [("cva", {}), ("dpca", {})])
def test_tep_target_met(normal, tep, method: str, params: dict) -> None:
    """Issue 3: mean detection rate over faults 1-21 without 3, 9, 15 >= 90% at FAR <= 5%."""
    model = fit_faults([normal], method, params, QUIET)
    rates, far = _rates(model, tep)
    assert np.mean([rates[f] for f in bench_tep.TEP_MAIN]) >= 90.0
    assert far <= 5.0


def test_tep_early_and_right(normal, tep) -> None:
    """Issue 23: >= 95% mean detection at <= 5% false alarms, first alarm <= 12 samples after
    the fault's start on average, thresholds from d00.dat only (default 1% budget)."""
    model = fit_faults([normal], "cva_early", {}, QUIET)
    rates, far = _rates(model, tep)
    delays = [
        detection_delay(model.score(tep[f]) > 1, FAULT_START) for f in bench_tep.TEP_MAIN
    ]
    assert None not in delays
    assert np.mean([rates[f] for f in bench_tep.TEP_MAIN]) >= 95.0
    assert far <= 5.0
    assert np.mean(delays) <= 12.0


def test_stuck_valve_alarms_as_soon_as_the_variance_window_fills(normal, tep) -> None:
    """TEP fault 21 freezes XMV 4 at its steady-state position: level and correlation
    statistics see it after 250 samples; the window variance sees it within one window and
    names the valve."""
    model = fit_faults([normal], "cva_early", {}, QUIET)
    scores = model.score(tep[21])
    assert detection_delay(scores > 1, FAULT_START) <= 10
    result = StreamMonitor(model).push(tep[21].values[: FAULT_START + 12])
    assert result.contributors[-1][0]["variable"] == "XMV_4"


def test_operating_curve_matches_roc_auc() -> None:
    """With runs of equal length the curve is the ROC of pooled samples: same area, and the
    rate at 1% false alarms is the best true-positive rate with at most 1% false positives."""
    from sklearn.metrics import roc_auc_score, roc_curve

    rng = np.random.default_rng(0)
    normal = rng.normal(0, 1, 800)
    faulty = [rng.normal(shift, 1, 800) for shift in (0.5, 2.0, 4.0)]
    curve = operating_curve(normal, faulty)
    truth = np.r_[np.zeros(800), np.ones(2400)]
    pooled = np.concatenate([normal, *faulty])
    assert curve["auc"] == pytest.approx(roc_auc_score(truth, pooled), abs=1e-4)
    fpr, tpr, _ = roc_curve(truth, pooled)
    assert curve["detection_at_1pct"] == pytest.approx(100 * tpr[fpr <= 0.01].max(), abs=0.01)
    assert curve["detection_at_1pct"] <= curve["detection_at_5pct"]


def test_skab_target_met() -> None:
    result = bench_skab.run_skab(
        SHARED_DATA / "energy" / "skab",
        quick=False,
        progress=QUIET,
        runs=bench_skab.SKAB_METHODS[:1],
    )
    best = result.results[0].metrics
    assert best["f1"] >= 0.80 and best["far"] <= 13.55, best


def test_skab_sensors_chosen_from_training_rows_alone() -> None:
    """Issue 23: the per-file rule (no labels) on the full leaderboard protocol: under the
    leaderboard's best false-alarm rate (13.55%), F1 0.7956 as measured (target 0.80), and the
    thermocouple, which drifts in every training stretch, left out of every file."""
    rule = [
        r
        for r in bench_skab.SKAB_METHODS
        if r[2].get("drop_drifting") and not r[2].get(bench_skab.AS_ALERTS)
    ]
    result = bench_skab.run_skab(
        SHARED_DATA / "energy" / "skab", quick=False, progress=QUIET, runs=rule
    )
    row = result.results[0]
    assert row.metrics["far"] <= 13.55 and row.metrics["f1"] >= 0.79, row.metrics
    assert row.columns["details"]["files_dropping_sensor"]["Thermocouple"] == 34


def test_skab_alert_rule_raises_f1_but_not_within_the_false_alarm_bound() -> None:
    """Issue 23, as measured: scoring rows as the monitor's alerts lifts the per-file rule's
    F1 from 0.7956 to 0.8141 (target 0.80 met) but false alarms from 12.74% to 16.0%, over
    the 13.55% bound: the target is not met on both counts."""
    rule = [r for r in bench_skab.SKAB_METHODS if r[2].get(bench_skab.AS_ALERTS)]
    result = bench_skab.run_skab(
        SHARED_DATA / "energy" / "skab", quick=False, progress=QUIET, runs=rule
    )
    metrics = result.results[0].metrics
    assert metrics["f1"] >= 0.81 and 13.55 < metrics["far"] < 17.0, metrics


def test_alert_state_opens_on_the_third_alarm_and_clears_on_the_tenth_normal_row() -> None:
    alarms = np.zeros(40, bool)
    alarms[[2, 5, 6, 7, 9]] = True  # one alone, then three in a row, a gap, one more
    state = alert_state(alarms)
    assert np.flatnonzero(state).tolist() == list(range(7, 19))  # open 7, cleared at 19
    assert alert_openings(alarms).tolist() == [7]


def test_drifting_sensor_is_left_out_and_recorded() -> None:
    from odlar.energy.faults.sensor_choice import slow_shares
    from odlar.energy.faults.streams import Table

    rng = np.random.default_rng(0)
    n = 400
    noise = rng.normal(0, 1, (n, 2))
    warming = np.linspace(20, 30, n) + rng.normal(0, 0.3, n)  # a sensor warming up
    values = np.column_stack([noise, warming, np.full(n, 5.0)])
    shares = slow_shares(values)
    assert shares[:2].max() < 0.2 and shares[2] > 0.9 and shares[3] == 0
    table = Table(["a", "b", "temp", "const"], values, None, None, None, "train.csv")
    model = fit_faults([table], "mahalanobis", {"drop_drifting": 0.5}, QUIET)
    assert model.variables == ["a", "b", "const"]
    (repair,) = [r for r in model.repairs if r["kind"] == "sensor_dropped_drifting"]
    assert repair["column"] == "temp" and repair["file"] == "train.csv"
    kept = fit_faults([table], "mahalanobis", {}, QUIET)
    assert kept.variables == ["a", "b", "temp", "const"]
    with pytest.raises(UsageError, match="drop_drifting must be between 0 and 1"):
        fit_faults([table], "mahalanobis", {"drop_drifting": 1.5}, QUIET)


def test_3w_detector_beats_isolation_forest_quick() -> None:
    result = bench_3w.run_3w(SHARED_DATA / "energy" / "3w", quick=True, progress=QUIET)
    ours, forest = result.results[0].metrics, result.results[1].metrics
    assert ours["f1_mean"] > 0.727 and ours["f1_mean"] > forest["f1_mean"]
    diagnosis = result.results[2].columns["details"]["windows"]["per_class"]
    assert set(diagnosis) <= {"2", "3", "4", "6"}
    # classes recorded in one well only are never in the headline, always listed apart
    details = result.results[2].columns["details"]
    apart = {r["instance"] for r in details["unseen_class"]}
    for r in details["per_instance"]:
        assert (r["instance"] in apart) == (r["class"] in (3, 6)), r
    scored = {c: v["support"] for c, v in details["instances"]["per_class"].items()}
    assert scored.get("3", 0) == scored.get("6", 0) == 0 and sum(scored.values()) > 0
    # the normal-period protocol scores every run's held-out normal rows
    per_instance = result.results[0].columns["details"]["per_instance"]
    hours = [i["normal_hours"] for i in per_instance.values()]
    assert len(hours) == 3 and min(hours) > 0
    assert ours["normal_false_alerts_per_hour"] < forest["normal_false_alerts_per_hour"]


def test_alert_openings_follow_the_monitor_rule(normal, tep) -> None:
    """Open on the 3rd consecutive alarm, clear after 10 normal samples: the same alerts as
    the live monitor opens."""
    alarms = np.zeros(60, bool)
    alarms[[2, 3]] = True  # two alarms: no alert
    alarms[10:13] = True  # opens at 12
    alarms[20:23] = True  # 7 normal samples since: still the same alert
    alarms[40:45] = True  # 17 normal since 23: cleared at 32, a new alert at 42
    assert alert_openings(alarms).tolist() == [12, 42]
    model = fit_faults([normal], "pca", {}, QUIET)
    result = StreamMonitor(model).push(tep[0].values)
    opened = [c.sample for c in result.changes if c.action == "open" and c.kind == "process"]
    assert opened == alert_openings(result.alarms).tolist() and opened


@pytest.mark.parametrize("method", list(DETECTORS))
def test_live_batches_score_like_one_run(normal, tep, method: str) -> None:
    """The monitor keeps `history` rows between batches: any batching gives the same scores."""
    model = fit_faults([normal], method, {}, QUIET)
    stream = tep[1].values[:400]
    whole = model.detector.score(stream)
    monitor = StreamMonitor(model)
    sizes = [1, 7, 50, 3, 139, 200]
    parts, start = [], 0
    for size in sizes:
        parts.append(monitor.push(stream[start : start + size]).scores)
        start += size
    assert start == len(stream)
    assert np.allclose(np.concatenate(parts), whole, rtol=1e-6, atol=1e-9)


def test_contributions_point_at_the_faulty_variable(normal, tep) -> None:
    """Fault 5 is a step in the condenser cooling water: XMV 11 must lead the explanation."""
    model = fit_faults([normal], "cva", {}, QUIET)
    result = StreamMonitor(model).push(tep[5].values)
    alarmed = [c for c in result.contributors[FAULT_START + 20 :] if c]
    leaders = [c[0]["variable"] for c in alarmed]
    assert max(set(leaders), key=leaders.count) == "XMV_11"
    assert all(abs(sum(x["share"] for x in c) - 1) < 0.3 for c in alarmed[:50])


def test_diagnosis_classifies_tep_faults() -> None:
    from odlar.core.tasks import get_task

    task = get_task("energy.faults")
    model = task.fit(task.load(TEP), method="pca", params={"diagnosis_trees": 60}, progress=QUIET)
    assert model.classifier is not None and len(model.classifier.classes) == 21
    report = task.evaluate(model, task.load(TEP / "d06_te.dat"))
    assert report.metrics["diagnosis_accuracy"] > 0.9  # fault 6 (A feed loss) is distinct
