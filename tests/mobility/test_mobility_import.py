"""Importing user data as scenario folders: real SUMO tools on tiny networks."""

from __future__ import annotations

from pathlib import Path

import pytest

from odlar.core.errors import Conflict, DataError, UsageError
from odlar.mobility import importing, scenarios

END = 600  # a short episode keeps randomTrips and duarouter quick
MANIFEST = scenarios.MANIFEST


def _osm(path: Path, *, signal: bool = True, maxspeed: int | None = None) -> Path:
    """A crossroad of two two-way primary roads, arms about 170 m long."""
    centre = '<tag k="highway" v="traffic_signals"/>' if signal else ""
    speed = f'<tag k="maxspeed" v="{maxspeed}"/>' if maxspeed else ""
    road = f'<tag k="highway" v="primary"/><tag k="oneway" v="no"/>{speed}'
    path.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="odlar tests">
 <node id="1" lat="52.0000" lon="13.0000">{centre}</node>
 <node id="2" lat="52.0015" lon="13.0000"/>
 <node id="3" lat="51.9985" lon="13.0000"/>
 <node id="4" lat="52.0000" lon="13.0025"/>
 <node id="5" lat="52.0000" lon="12.9975"/>
 <way id="10"><nd ref="3"/><nd ref="1"/><nd ref="2"/>{road}</way>
 <way id="11"><nd ref="5"/><nd ref="1"/><nd ref="4"/>{road}</way>
</osm>
"""
    )
    return path


def _leftovers(folder: Path) -> list[str]:
    """Scratch folders an import would leave beside its out_dir."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> scenarios.Scenario:
    return importing.synthetic(tmp_path_factory.mktemp("grid") / "grid3", size=3, end=END)


@pytest.fixture(scope="module")
def crossroad(tmp_path_factory: pytest.TempPathFactory) -> scenarios.Scenario:
    folder = tmp_path_factory.mktemp("osm")
    return importing.import_osm(_osm(folder / "cross.osm"), folder / "cross", end=END)


# -- synthetic --------------------------------------------------------------------------


def test_synthetic_grid_has_a_light_per_crossing_and_round_trips(grid: scenarios.Scenario):
    out = grid.net.parent
    facts = scenarios.validate(grid)
    assert facts["signals"] == 9 == grid.net.read_text().count("<tlLogic ")
    assert 0 < facts["vehicles_in_episode"] <= END / 2  # one trip every 2 s at most
    assert sorted(p.name for p in out.iterdir()) == ["grid.net.xml", "routes.rou.xml", MANIFEST]
    loaded = scenarios.load(out)
    assert loaded == grid
    assert (loaded.name, loaded.origin, loaded.begin, loaded.end) == ("grid3", "synthetic", 0, END)
    assert _leftovers(out.parent) == []


@pytest.mark.parametrize("kind", ["spider", "rand"])
def test_synthetic_other_kinds(tmp_path: Path, kind: str):
    s = importing.synthetic(tmp_path / kind, kind=kind, size=3, end=END)
    facts = scenarios.validate(s)
    assert facts["signals"] == s.net.read_text().count("<tlLogic ") > 0
    assert facts["vehicles_in_episode"] > 0


def test_synthetic_unknown_kind(tmp_path: Path):
    with pytest.raises(UsageError, match="unknown network kind 'hex'"):
        importing.synthetic(tmp_path / "x", kind="hex")
    assert not (tmp_path / "x").exists()


# -- OpenStreetMap ----------------------------------------------------------------------


def test_osm_keeps_the_mapped_signal(crossroad: scenarios.Scenario):
    facts = scenarios.validate(crossroad)
    assert facts["signals"] == 1
    assert facts["vehicles_in_episode"] > 0
    assert crossroad.origin == "osm"
    assert crossroad.net.name == "cross.net.xml"
    assert scenarios.load(crossroad.net.parent) == crossroad


def test_osm_without_lights_is_refused_naming_the_map(tmp_path: Path):
    osm = _osm(tmp_path / "plain.osm", signal=False, maxspeed=50)
    with pytest.raises(DataError, match="no traffic lights") as err:
        importing.import_osm(osm, tmp_path / "out", guess_signals=False, end=END)
    assert err.value.file == str(osm)
    assert not (tmp_path / "out").exists()
    assert _leftovers(tmp_path) == []
    # the same map with guessing: netconvert puts a light at the 50 km/h crossroad
    s = importing.import_osm(osm, tmp_path / "out", guess_signals=True, end=END)
    assert scenarios.validate(s)["signals"] == 1


def test_osm_with_no_roads_for_cars(tmp_path: Path):
    # SUMO's racing-game map: a raceway (closed to cars) and a few isolated roads
    osm = importing._sumo_home() / "tools" / "game" / "racing" / "spreewaldring.osm"
    if not osm.exists():
        pytest.skip("this SUMO build does not ship the racing game's map")
    with pytest.raises(DataError, match="no roads open to cars") as err:
        importing.import_osm(osm, tmp_path / "out", end=END)
    assert err.value.file == str(osm)
    assert not (tmp_path / "out").exists()


def test_broken_osm_names_the_file_and_line(tmp_path: Path):
    whole = _osm(tmp_path / "whole.osm").read_text()
    osm = tmp_path / "broken.osm"
    osm.write_text(whole[: whole.index("<way id=\"11\"") + 20])  # cut inside the last way
    with pytest.raises(DataError, match="broken XML") as err:
        importing.import_osm(osm, tmp_path / "out", end=END)
    assert err.value.file == str(osm)
    assert err.value.line == osm.read_text().count("\n") + 1  # the last, cut-off line
    assert "Traceback" not in str(err.value)
    assert not (tmp_path / "out").exists()
    assert _leftovers(tmp_path) == []


def test_netconvert_error_is_passed_through(tmp_path: Path):
    osm = _osm(tmp_path / "paths.osm")
    osm.write_text(osm.read_text().replace('v="primary"', 'v="footway"'))
    with pytest.raises(DataError) as err:
        importing.import_osm(osm, tmp_path / "out", end=END)
    assert err.value.file == str(osm)
    assert err.value.reason == "netconvert failed: No edges loaded."
    assert not (tmp_path / "out").exists()
    assert _leftovers(tmp_path) == []


def test_osm_with_the_callers_routes(tmp_path: Path, crossroad: scenarios.Scenario):
    osm = _osm(tmp_path / "cross.osm")
    s = importing.import_osm(osm, tmp_path / "mine", routes=list(crossroad.routes), end=END)
    assert scenarios.validate(s) == scenarios.validate(crossroad)
    bad = tmp_path / "bad.rou.xml"
    bad.write_text('<routes>\n<trip id="t" depart="0" from="10#0" to="nowhere"/>\n</routes>\n')
    with pytest.raises(DataError, match="nowhere") as err:
        importing.import_osm(osm, tmp_path / "bad", routes=[bad], end=END)
    assert (err.value.file, err.value.line, err.value.field) == (str(bad), 2, "to")
    assert not (tmp_path / "bad").exists()


# -- SUMO files -------------------------------------------------------------------------


def test_import_sumo_copies_net_and_routes(tmp_path: Path, grid: scenarios.Scenario):
    out = tmp_path / "copy"
    s = importing.import_sumo(grid.net, list(grid.routes), out, end=END, delta=5, yellow=2)
    assert s.net.parent == out
    assert s.net.read_bytes() == grid.net.read_bytes()
    assert (s.origin, s.delta, s.yellow) == ("sumo", 5, 2)
    assert scenarios.validate(s) == scenarios.validate(grid)


def test_import_sumo_names_the_route_line_with_an_unknown_edge(
    tmp_path: Path, grid: scenarios.Scenario
):
    routes = tmp_path / "mine.rou.xml"
    routes.write_text(
        '<routes>\n  <vehicle id="v0" depart="0">\n    <route edges="A0A1 Q9Q9"/>\n'
        "  </vehicle>\n</routes>\n"
    )
    with pytest.raises(DataError) as err:
        importing.import_sumo(grid.net, [routes], tmp_path / "out", end=END)
    assert (err.value.file, err.value.line, err.value.field) == (str(routes), 3, "edges")
    assert "'Q9Q9'" in str(err.value) and f"{routes}:3" in str(err.value)
    assert not (tmp_path / "out").exists()


# -- origin-destination counts ----------------------------------------------------------


def _csv(folder: Path, text: str) -> Path:
    path = folder / "od.csv"
    path.write_text(text)
    return path


def test_import_od_routes_every_count(tmp_path: Path, grid: scenarios.Scenario):
    od = _csv(
        tmp_path,
        "origin,destination,count,begin,end\n"
        "A0A1,C2C1,10,,\n"  # the whole episode
        "A0B0,A1A0,5,100,300\n"
        "B1B0,C1C0,0,,\n"  # nobody
        "C2C1,A0A1,4,600,900\n",  # after the episode
    )
    s = importing.import_od(grid.net, od, tmp_path / "od", end=END)
    facts = scenarios.validate(s)
    assert (facts["vehicles"], facts["vehicles_in_episode"]) == (19, 15)
    assert s.origin == "od" and s.routes[0].name == "routes.rou.xml"
    departures = [
        float(a["depart"]) for tag, a, _ in scenarios.elements(s.routes[0]) if tag == "vehicle"
    ]
    assert sum(100 <= t < 300 for t in departures) >= 5
    assert max(departures) >= 600


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ("A0A1,ZZZ,3", "destination", "edge 'ZZZ' is not in the network"),
        ("ZZZ,A0A1,3", "origin", "edge 'ZZZ' is not in the network"),
        ("A0A1,C2C1,-2", "count", "negative"),
        ("A0A1,C2C1,2.5", "count", "not a whole number"),
        ("A0A1,C2C1,", "count", "missing value"),
    ],
)
def test_import_od_names_the_bad_row(
    tmp_path: Path, grid: scenarios.Scenario, row: str, column: str, reason: str
):
    od = _csv(tmp_path, f"origin,destination,count\nA0A1,C2C1,1\n{row}\n")
    with pytest.raises(DataError, match=reason) as err:
        importing.import_od(grid.net, od, tmp_path / "out", end=END)
    assert (err.value.file, err.value.line, err.value.field) == (str(od), 3, column)
    assert f"od.csv:3: column '{column}'" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_import_od_checks_the_header_and_intervals(tmp_path: Path, grid: scenarios.Scenario):
    od = _csv(tmp_path, "origin,count\nA0A1,1\n")
    with pytest.raises(DataError, match="missing column") as err:
        importing.import_od(grid.net, od, tmp_path / "out")
    assert (err.value.line, err.value.field) == (1, "destination")
    od = _csv(tmp_path, "origin,destination,count,begin,end\nA0A1,C2C1,1,300,300\n")
    with pytest.raises(DataError, match="empty") as err:
        importing.import_od(grid.net, od, tmp_path / "out")
    assert (err.value.line, err.value.field) == (2, "begin")


def test_import_od_pair_without_a_path(tmp_path: Path, crossroad: scenarios.Scenario):
    # no turnarounds: a car leaving the crossroad northwards (10#1) cannot come back
    od = _csv(tmp_path, "origin,destination,count\n10#0,11#1,3\n10#1,11#1,3\n")
    with pytest.raises(DataError, match="No connection between edge '10#1'") as err:
        importing.import_od(crossroad.net, od, tmp_path / "out", end=END)
    assert (err.value.file, err.value.line) == (str(od), 3)
    assert not (tmp_path / "out").exists()
    assert _leftovers(tmp_path) == []


# -- the output folder ------------------------------------------------------------------


def test_existing_folder_is_replaced_only_when_asked(tmp_path: Path, grid: scenarios.Scenario):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(Conflict, match="not empty"):
        importing.import_sumo(grid.net, list(grid.routes), out, end=END)
    # overwrite only ever deletes a folder an import made
    with pytest.raises(Conflict, match="not a scenario folder"):
        importing.import_sumo(grid.net, list(grid.routes), out, end=END, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"

    (out / "notes.txt").unlink()  # empty: fine without overwrite
    first = importing.import_sumo(grid.net, list(grid.routes), out, end=END, name="first")
    with pytest.raises(Conflict):
        importing.import_sumo(grid.net, list(grid.routes), out, end=END)
    second = importing.synthetic(out, size=2, end=END, name="second", overwrite=True)
    assert scenarios.load(out) == second != first
    assert sorted(p.name for p in out.iterdir()) == ["grid.net.xml", "routes.rou.xml", MANIFEST]
    assert scenarios.validate(second)["signals"] == 4
    assert _leftovers(tmp_path) == []

