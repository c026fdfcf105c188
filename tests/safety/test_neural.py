"""The ConvGRU forecaster of safety.hotspots: it learns what a historical average cannot
(a weekday pattern), keeps the epoch best on the validation month, and is reproducible."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from odlar.core.tasks import get_task

START = pd.Timestamp("2020-01-06")  # a Monday
DAYS = 210


@pytest.fixture(scope="module")
def weekly(tmp_path_factory):
    """Incidents in a 4 x 4 grid, two categories, twelve times as many on Mondays."""
    rng = np.random.default_rng(0)
    base = rng.uniform(0.1, 0.6, (16, 2))
    rows = []
    for d in range(DAYS):
        day = START + pd.Timedelta(days=d, hours=12)
        n = rng.poisson(base * (6.0 if day.day_of_week == 0 else 0.5))
        for cell, k in zip(*np.nonzero(n), strict=True):
            r, c = divmod(int(cell), 4)
            rows += [(day, "AB"[k], 41.0 + (r + 0.5) / 37, -87.7 + (c + 0.5) / 28)] * n[cell, k]
    path = tmp_path_factory.mktemp("neural") / "incidents.csv"
    pd.DataFrame(rows, columns=["time", "category", "latitude", "longitude"]).to_csv(path)
    task = get_task("safety.hotspots")
    return task, task.load(path)


def _fit(task, data, **params):
    until = str((START + pd.Timedelta(days=DAYS)).date())
    params = {"train_until": until, "hidden": 8, "epochs": 8, "lr": 0.01, **params}
    return task.fit(data, method="convgru", params=params, progress=lambda f, m: None)


def test_convgru_learns_a_weekday_pattern_and_keeps_its_best_epoch(weekly) -> None:
    task, data = weekly
    model = _fit(task, data)
    assert model.metrics["mae_vs_ha"] < 0.8  # the 30-day average cannot see Mondays
    counts, days = task._cube_of(model, data)
    val = range(DAYS - 30, DAYS)
    mean = model.forecaster.mean_many(counts, days, val)
    # the kept weights are those of the epoch with the lowest validation Poisson loss
    loss = float(np.mean(mean - counts[val.start : val.stop] * np.log(mean)))
    history = model.forecaster.history
    assert loss == pytest.approx(min(h["val"] for h in history), rel=1e-4)
    # one forecast day through the serving path equals the batched one
    single = model.forecaster.mean(counts[DAYS - 1 - 90 : DAYS - 1], days[DAYS - 1 - 90 : DAYS])
    assert np.allclose(single, mean[-1], atol=1e-5)
    # reproducible: the same seed gives the same net; a stored model forecasts the same
    again = _fit(task, data)
    assert np.allclose(again.forecaster.mean_many(counts, days, val), mean, atol=1e-6)
    stored = pickle.loads(pickle.dumps(model))
    assert np.allclose(stored.forecaster.mean_many(counts, days, val), mean, atol=1e-6)
