"""safety.response over a SUMO road network: free-flow travel minutes by sumolib's own
shortest paths, one-way streets respected, and siting from a network folder."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from odlar.core.errors import DataError
from odlar.safety.response.siting import load_problem, solve

SPEED = 10.0  # m/s on every road of the test grid


@pytest.fixture(scope="module")
def grid_net(tmp_path_factory) -> Path:
    """A 3 x 3 grid of junctions 200 m apart (netgenerate), two-way roads at 10 m/s."""
    sumo = pytest.importorskip("sumo")
    folder = tmp_path_factory.mktemp("roads")
    net = folder / "grid.net.xml"
    subprocess.run(
        [str(Path(sumo.SUMO_HOME) / "bin" / "netgenerate"), "--grid", "--grid.number", "3",
         "--grid.length", "200", "--default.speed", str(SPEED), "-o", str(net)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return net


POINTS = """id,role,x,y,weight
a,site,0,100,
b,site,400,300,
ahead,demand,0,150,1
behind,demand,0,50,1
corner,demand,200,0,5
far,demand,400,400,2
"""


def test_road_minutes_are_sumolib_shortest_paths(grid_net: Path, tmp_path: Path) -> None:
    import sumolib
    from sumolib.geomhelper import polygonOffsetWithMinimumDistanceToPoint

    points = tmp_path / "points.csv"
    points.write_text(POINTS)
    problem, long = load_problem(points, grid_net)
    assert problem.site_ids == ["a", "b"] and problem.demand_ids[0] == "ahead"
    assert problem.weight.tolist() == [1, 1, 5, 2] and len(long) == 8
    secs = problem.cost * 60
    # 50 m further along the site's own road at 10 m/s
    assert secs[0, 0] == pytest.approx(50.0 / SPEED, abs=0.05)
    # behind the site on its one-way lane: round a block, far longer than 50 m straight
    assert secs[1, 0] > 3 * 50.0 / SPEED
    net = sumolib.net.readNet(str(grid_net))
    xy = {"a": (0, 100), "b": (400, 300), "corner": (200, 0), "far": (400, 400)}

    def snapped(name: str):
        edge = min(net.getNeighboringEdges(*xy[name], 500), key=lambda e: (e[1], e[0].getID()))[0]
        return edge, polygonOffsetWithMinimumDistanceToPoint(xy[name], edge.getShape())

    for i, d in ((2, "corner"), (3, "far")):
        for j, s in enumerate(("a", "b")):
            se, spos = snapped(s)
            de, dpos = snapped(d)
            if se.getID() == de.getID():
                continue
            _, secs_whole = net.getFastestPath(se, de, vClass="emergency")  # both edges whole
            expected = secs_whole - spos / SPEED - (de.getLength() - dpos) / SPEED
            assert secs[i, j] == pytest.approx(expected, rel=0.02), (d, s)
    sites = solve(problem, "pmedian", p=1, radius=5.0)
    assert sites == [problem.site_ids[int(np.argmin(problem.cost.T @ problem.weight))]]


def test_road_points_errors_name_the_line_and_column(grid_net: Path, tmp_path: Path) -> None:
    bad = tmp_path / "points.csv"
    bad.write_text("id,role,x,y,weight\na,site,0,100,\nd,demand,0,oops,1\n")
    with pytest.raises(DataError) as e:
        load_problem(bad, grid_net)
    assert e.value.line == 3 and e.value.field == "y"
    bad.write_text("id,role,x,y,weight\na,site,0,100,\nd,demand,5000,5000,1\n")
    with pytest.raises(DataError) as e:
        load_problem(bad, grid_net)
    assert e.value.line == 3 and "500 m" in str(e.value)
    bad.write_text("id,role,x,y,weight\na,station,0,100,\n")
    with pytest.raises(DataError) as e:
        load_problem(bad, grid_net)
    assert e.value.field == "role"


def test_a_network_folder_is_a_response_dataset(grid_net: Path, tmp_path: Path) -> None:
    from odlar.core.tasks import get_task

    folder = tmp_path / "city"
    folder.mkdir()
    (folder / "grid.net.xml").write_bytes(grid_net.read_bytes())
    (folder / "points.csv").write_text(POINTS)
    task = get_task("safety.response")
    data = task.load(folder)
    plan = task.fit(data, method="mclp", params={"p": 1, "radius": 30.0 / 60},
                    progress=lambda f, m: None)  # fmt: skip
    assert plan.sites == ["a"]  # the only site reaching `ahead` within 30 s
    assert task.evaluate(plan, data).metrics["coverage_pct"] > 0


def test_cli_site_reads_a_sumo_network(grid_net: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from odlar.safety.cli import app

    points = tmp_path / "points.csv"
    points.write_text(POINTS)
    args = ["site", str(points), "--network", str(grid_net), "-m", "pmedian", "--p", "1"]
    ok = CliRunner().invoke(app, [*args, "--radius", "1"])
    assert ok.exit_code == 0, ok.output
    assert "sites a" in ok.output or "sites b" in ok.output
    missing = CliRunner().invoke(app, [*args[:2], "--network", str(tmp_path / "none.net.xml")])
    assert missing.exit_code != 0 and "none.net.xml" in missing.output
