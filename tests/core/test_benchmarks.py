"""The benchmark registry: one entry per task and dataset, declared settings, typed rows."""

from __future__ import annotations

import pytest

from odlar.core import bench, benchmarks
from odlar.core.errors import NotFound, UsageError
from odlar.core.tasks import BenchResult, BenchRow, task_names


def test_every_task_registers_its_benchmarks_with_a_default() -> None:
    for name in task_names():
        entries = benchmarks.of(name)
        assert entries, f"{name} registers no benchmark"
        assert benchmarks.find(name) is entries[0]
        assert len({e.dataset for e in entries}) == len(entries)
    datasets = {e.dataset for e in benchmarks.of("energy.faults")}
    assert datasets == {"tep", "skab", "3w"}
    assert benchmarks.find("energy.faults", "skab").folder == "energy/skab"
    assert benchmarks.find("mobility.signals", "cologne1").folder == ""  # ships with sumo-rl


def test_unknown_benchmarks_and_settings_are_refused_before_anything_runs() -> None:
    with pytest.raises(UsageError, match=r"energy.faults has no benchmark 'nope' \(known: tep"):
        bench.run("energy.faults", dataset="nope")
    with pytest.raises(UsageError, match="has no setting x .it takes: no --param settings"):
        bench.run("energy.rul", params={"x": 1})
    with pytest.raises(UsageError, match=r"no setting foo \(it takes: seeds, minutes, backend"):
        bench.run("mobility.signals", dataset="cologne1", params={"foo": 2})
    with pytest.raises(NotFound, match="unknown task 'nosuch'"):
        bench.run("nosuch")


def test_rows_are_typed() -> None:
    r = BenchResult("t", "d", "p", [{"method": "m", "metrics": {"mae": 1.0}, "fold": 2}], [])
    (row,) = r.results
    assert isinstance(row, BenchRow) and row.columns == {"fold": 2}
    assert row.to_dict() == {"method": "m", "metrics": {"mae": 1.0}, "fold": 2}
    with pytest.raises(TypeError, match="metric mae='high' is not a number"):
        BenchRow("m", {"mae": "high"})
    with pytest.raises(TypeError, match="needs a method name"):
        BenchResult("t", "d", "p", [{"metrics": {}}], [])
