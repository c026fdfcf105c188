"""energy.rul specifics: intervals, targets, request validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from odlar.core.errors import DataError, UsageError
from odlar.core.tasks import get_task
from odlar.energy.rul.conformal import CrossConformal
from odlar.energy.rul.features import (
    gbm_features,
    gbm_features_last,
    rul_target,
    truncations,
    unit_slices,
)
from odlar.energy.rul.task import RulRequest


def test_cross_conformal_coverage_on_exchangeable_data() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    truth = rng.uniform(0, 125, n)
    # two members with different biases whose errors on a unit are mostly shared (the unit's
    # own noise); noise grows with the remaining life
    shared = rng.normal(0, 3 + truth / 10)
    member_preds = np.stack([truth + b + shared + rng.normal(0, 1, n) for b in (-2.0, 2.0)])
    cal, test = slice(0, 2000), slice(2000, n)
    member = rng.integers(0, 2, 2000)
    bands = CrossConformal.fit(
        member_preds[member, np.arange(2000)], truth[cal], member, np.array([25, 50, 75, 100])
    )
    lo, hi = bands.interval(member_preds[:, test], 0.9)
    lo_raw = np.where(lo == 0, -np.inf, lo)  # the clip at zero cannot lose coverage
    covered = np.mean((truth[test] >= lo_raw) & (truth[test] <= hi))
    assert 0.87 <= covered <= 0.94
    width = hi - lo
    point = member_preds[:, test].mean(axis=0)
    assert width[point > 100].mean() > 1.5 * width[point < 25].mean()  # Mondrian bins


def test_unit_slices_keep_row_order() -> None:
    frame = pd.DataFrame({"unit": ["b#1", "b#1", "a#10", "a#2", "a#2"], "cycle": [1, 2, 1, 1, 2]})
    assert unit_slices(frame) == [("b#1", 0, 2), ("a#10", 2, 3), ("a#2", 3, 5)]


def test_piecewise_linear_target() -> None:
    frame = pd.DataFrame({"unit": [1] * 5 + [2] * 3, "cycle": [1, 2, 3, 4, 5, 1, 2, 3]})
    assert rul_target(frame, cap=3).tolist() == [3, 3, 2, 1, 0, 2, 1, 0]
    assert rul_target(frame, cap=None).tolist() == [4, 3, 2, 1, 0, 2, 1, 0]


def test_truncations_keep_uncapped_truth() -> None:
    frame = pd.DataFrame({"unit": [7] * 200, "cycle": range(1, 201), "s": range(200)})
    cut, truth = truncations(
        frame, np.random.default_rng(0), 20, min_history=31, rul_range=(5, 150)
    )
    assert truth.min() >= 5 and truth.max() <= 150
    for (_u, s, e), t in zip(unit_slices(cut), truth, strict=True):
        assert e - s >= 31 and t == 200 - (e - s)
    with pytest.raises(DataError, match="long enough"):
        truncations(frame.head(30), np.random.default_rng(0), 2, 31, (5, 150))


def test_gbm_features_fast_path_matches_full_path() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(70, 3))
    slices = [("a", 0, 40), ("b", 40, 41), ("c", 41, 70)]
    cycles = np.r_[np.arange(1, 41), [7.0], np.arange(3, 32)].astype(float)
    full = gbm_features(x, slices, cycles, (5, 15, 30), baseline=30)
    last = gbm_features_last(x, slices, cycles, (5, 15, 30), baseline=30)
    assert np.allclose(full[[39, 40, 69]], last, atol=1e-8)
    mean5 = pd.DataFrame(x[:40]).rolling(5, min_periods=1).mean().to_numpy()
    assert np.allclose(full[:40, 16:19], mean5)


def test_request_errors_name_the_reading(quick_gbm) -> None:
    task = get_task("energy.rul")
    cols = quick_gbm.columns
    good = {"cycle": 1.0, **{c: 1.0 for c in cols}}
    req = RulRequest(units=[{"unit": "a", "readings": [good, {**good, "cycle": 1.0}]}])
    with pytest.raises(DataError) as e:
        task.predict(quick_gbm, req)
    assert e.value.field == "units[0].readings[1].cycle"
    missing = {k: v for k, v in good.items() if k != cols[0]}
    req = RulRequest(units=[{"unit": "a", "readings": [missing]}])
    with pytest.raises(DataError) as e:
        task.predict(quick_gbm, req)
    assert e.value.field == f"units[0].readings[0].{cols[0]}"


def test_unknown_parameter_is_a_usage_error(cmapss) -> None:
    task = get_task("energy.rul")
    data = task.load(cmapss / "test_FD001.txt")
    with pytest.raises(UsageError, match="unknown parameter 'epochz'"):
        task.fit(data, method="sequence", params={"epochz": 3}, progress=lambda f, m: None)


def test_intervals_contain_the_point(quick_gbm, cmapss) -> None:
    test = get_task("energy.rul").load(cmapss / "test_FD001.txt")
    out = quick_gbm.predict(test.frame, level=0.9)
    assert (out["lower"] <= out["rul"]).all() and (out["rul"] <= out["upper"]).all()
    assert (out["lower"] >= 0).all()
    wider = quick_gbm.predict(test.frame, level=0.95)
    assert ((wider["upper"] - wider["lower"]) >= (out["upper"] - out["lower"]) - 1e-9).all()


def test_blend_is_the_weighted_mean_of_its_parts(cmapss) -> None:
    from odlar.energy.rul.regressors import DEFAULTS, BlendMember, Scaler

    task = get_task("energy.rul")
    frame = task.load(cmapss / "train_FD001.txt").frame
    frame = frame[frame["unit"] <= 6].reset_index(drop=True)
    y = rul_target(frame, 125)
    x = Scaler.fit(frame, y, 0.05).transform(frame)
    p = DEFAULTS["blend"] | task.quick_params["blend"] | {"weights": "0.5,0.2,0.3"}
    member = BlendMember(p, seed=0)
    member.fit(x, frame, y, lambda f, m: None)
    cnn, tcn, gbm = member.predict_parts(x, frame)
    assert not np.allclose(cnn, gbm) and not np.allclose(cnn, tcn)
    assert np.allclose(member.predict_last(x, frame), 0.5 * cnn + 0.2 * tcn + 0.3 * gbm)
    with pytest.raises(UsageError, match="summing to 1"):
        BlendMember(p | {"weights": "0.5,0.6,0.1"}, seed=0)
    with pytest.raises(UsageError, match="parts must be"):
        BlendMember(p | {"parts": "cnn,lstm"}, seed=0)


def test_auto_weights_minimise_the_held_out_rmse() -> None:
    from odlar.energy.rul.regressors import choose_weights

    rng = np.random.default_rng(0)
    truth = rng.uniform(5, 150, 500)
    good, biased, noisy = truth + rng.normal(0, 5, 500), truth + 20, truth + rng.normal(0, 30, 500)
    w = choose_weights(np.stack([biased, good, noisy]), truth)
    assert w[1] >= 0.7 and sum(w) == pytest.approx(1.0)
    assert choose_weights(np.stack([good]), truth) == [1.0]


def test_a_blend_stored_before_the_tcn_loads_as_cnn_and_trees() -> None:
    from odlar.energy.rul.regressors import BlendMember

    old = BlendMember.__new__(BlendMember)
    old.__setstate__({"weight": 0.7, "sequence": "cnn member", "gbm": "gbm member"})
    assert old.parts == ["cnn", "gbm"] and old.weights == [0.7, pytest.approx(0.3)]
    assert old.members == ["cnn member", "gbm member"]
