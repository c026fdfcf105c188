"""PCA with T2 and SPE reproduces the published Tennessee Eastman column exactly."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SHARED_DATA
from odlar.core.errors import DataError
from odlar.energy.faults.bench_tep import PCA9
from odlar.energy.faults.pca import PcaMonitor
from odlar.energy.faults.tep import FAULT_START, MONITORED, load_tep

TEP = SHARED_DATA / "energy" / "tep"
# Yin et al. 2012: detection rate % for faults 1-15 and FAR %. k=9 (Tables 4/5) is the
# bench's own anchor table, so this test also proves the anchors the bench prints;
# k=17 (Tables 7/8) is only checked here.
PUBLISHED = {
    9: ([PCA9[f] for f in range(1, 16)], 6.13),
    17: (
        [100, 99.38, 10.25, 100, 34.75, 100, 100, 98.63, 9.88, 71.00, 83.00, 99.00, 95.75,
         100, 17.25],
        6.38,
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def data() -> dict[int, np.ndarray]:
    out = {0: load_tep(TEP / "d00.dat")[:, MONITORED]}
    for fault in range(0, 16):
        out[100 + fault] = load_tep(TEP / f"d{fault:02d}_te.dat")[:, MONITORED]
    return out


@pytest.mark.parametrize("k", [9, 17])
def test_reproduces_published_pca_column(data: dict[int, np.ndarray], k: int) -> None:
    assert data[0].shape == (500, 33)
    monitor = PcaMonitor.fit(data[0], components=k, confidence=0.99)
    rates = [100 * monitor.alarms(data[100 + f][FAULT_START:]).mean() for f in range(1, 16)]
    far = 100 * monitor.alarms(data[100][FAULT_START:]).mean()
    published_rates, published_far = PUBLISHED[k]
    # rates are multiples of 1/800 = 0.125 %; the paper rounds them to two decimals
    assert np.allclose(rates, published_rates, atol=0.0051), rates
    assert abs(far - published_far) <= 0.0051, far


def test_contributions_sum_to_statistics(data: dict[int, np.ndarray]) -> None:
    monitor = PcaMonitor.fit(data[0], components=9)
    x = data[101][FAULT_START : FAULT_START + 50]
    t2, spe = monitor.statistics(x)
    c_t2, c_spe = monitor.contributions(x)
    assert np.allclose(c_t2.sum(axis=1), t2) and np.allclose(c_spe.sum(axis=1), spe)


def test_broken_file(tmp_path) -> None:
    bad = tmp_path / "d01_te.dat"
    bad.write_text("1 2 3\n4 5 6\n")
    with pytest.raises(DataError, match="expected 52 variables"):
        load_tep(bad)


def test_detection_metrics() -> None:
    from odlar.energy.faults.evaluation import (
        detection_delay,
        detection_rate,
        false_alarm_rate,
        lagged,
    )

    alarms = np.array([0, 1, 0, 0, 0, 1, 0, 1, 1, 1], bool)
    faulty = np.arange(10) >= 4
    assert detection_rate(alarms, faulty) == 4 / 6
    assert false_alarm_rate(alarms, faulty) == 1 / 4
    assert detection_delay(alarms, 4) == 1
    assert detection_delay(alarms, 4, consecutive=3) == 3
    assert detection_delay(np.zeros(10, bool), 4) is None
    x = np.arange(12.0).reshape(6, 2)
    assert lagged(x, 2).shape == (4, 6)
    assert lagged(x, 2)[0].tolist() == [4, 5, 2, 3, 0, 1]  # newest first


def test_dynamic_pca_detects_faults(data: dict[int, np.ndarray]) -> None:
    """Dynamic PCA (2 lags) on the same protocol: a sanity floor, not a published figure."""
    from odlar.energy.faults.evaluation import detection_rate, false_alarm_rate, lagged

    monitor = PcaMonitor.fit(lagged(data[0], 2), components=20)
    faulty = np.arange(960 - 2) >= FAULT_START - 2
    far = false_alarm_rate(monitor.alarms(lagged(data[100], 2)), faulty)
    rate1 = detection_rate(monitor.alarms(lagged(data[101], 2)), faulty)
    assert far < 0.15 and rate1 > 0.95
