"""admin.timetabling's published figures (issue 20): every ITC 2007 instance has a best known
cost with its source, the second-hand literature table agrees with the first-hand ones, and
the bench carries the best known and its source into each row."""

from __future__ import annotations

import re

import pytest

from conftest import SHARED_DATA
from odlar.admin.timetabling import bench, references

ITC = SHARED_DATA / "admin" / "itc2007-cct"


def test_every_instance_has_a_best_known_cost_with_a_source() -> None:
    assert len(references.INSTANCES) == 21
    for name in references.INSTANCES:
        best = references.best_known(name)
        assert best is not None, name
        assert best.cost >= 0 and best.method.endswith(name)
        assert re.search(r"(github|[A-Za-z]+/[A-Za-z0-9_.-]+|README)", best.source), best.source
        figs = references.figures(name)
        assert best.cost == min(f.cost for f in figs)
        assert all(f.source for f in figs)
        # the bench's anchors name the same figures, each with its source
        assert {(a.method, a.metrics["cost"]) for a in bench.anchors([name])} == {
            (f.method, float(f.cost)) for f in figs
        }
    assert references.best_known("my-school") is None and bench.anchors(["my-school"]) == []


def test_literature_figures_are_at_most_every_first_hand_figure() -> None:
    """The literature table is read second-hand: a miscopied figure above a cost the
    competition or the open solver reached would show here."""
    for name, cost in references.LITERATURE.items():
        others = [f.cost for f in references.figures(name) if not f.method.startswith("best")]
        assert others and cost <= min(others), (name, cost, others)
    # the winner's submitted best of 100 runs is no worse than its best of the 10 final runs
    finals = references.FINALS["T. Müller"]
    for i, (name, cost) in enumerate(references.WINNER.items()):
        assert cost <= finals[i], name


def test_open_solver_figures_are_the_solutions_readme() -> None:
    rows = re.findall(r"^\| (comp\d\d) \|.*\| (\d+) \|$", (ITC / "README.md")
                      .read_text(), flags=re.M)  # fmt: skip
    assert dict((n, int(c)) for n, c in rows) == references.OPEN_SOLVER


@pytest.mark.parametrize("name", ["comp11"])
def test_bench_row_carries_best_known_and_its_source(name: str) -> None:
    res = bench.run(ITC, quick=True, progress=lambda *a: None,
                    params={"instances": name, "time_limit": 2})  # fmt: skip
    (row,) = res.results
    assert row.metrics["best_known"] == 0 and row.metrics["lower_bound"] == 0
    assert "ITC 2007 winner" in row.columns["best_known_source"]
    assert row.metrics["gap"] == row.metrics["cost"]  # cost 0 is optimal here
    assert any("within 10% or 5 points" in n for n in res.notes)
