"""admin.timetabling: readers, validator, solvers, re-solving, exports and the CLI."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from icalendar import Calendar
from typer.testing import CliRunner

from conftest import SHARED_DATA
from odlar.admin.cli import app
from odlar.admin.timetabling import exports
from odlar.admin.timetabling.instance import Lecture, read, read_solution, to_spec
from odlar.admin.timetabling.solver import Settings, solve
from odlar.admin.timetabling.task import Change, apply_change
from odlar.admin.timetabling.validator import score
from odlar.core.errors import DataError, UsageError

ITC = SHARED_DATA / "admin" / "itc2007-cct"
QUICK = Settings(time_limit=20, iterations=200_000, seed=0)

# solutions/README.md: the open solver's own validator on its solutions
PUBLISHED = {
    "comp01": (4, 0, 0, 1, 5),
    "comp02": (0, 10, 26, 0, 36),
    "comp03": (0, 20, 46, 0, 66),
    "comp04": (0, 5, 32, 0, 37),
    "comp05": (0, 190, 114, 1, 305),
    "comp06": (0, 5, 28, 7, 40),
    "comp07": (0, 0, 10, 4, 14),
}


def _ctt(tmp_path: Path, text: str, name: str = "bad.ctt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


SMALL = """Name: tiny
Courses: 3
Rooms: 2
Days: 2
Periods_per_day: 2
Curricula: 1
Constraints: 1

COURSES:
a t1 2 2 30
b t2 2 1 50
c t1 1 1 10

ROOMS:
r1 40
r2 60

CURRICULA:
q1 2 a b

UNAVAILABILITY_CONSTRAINTS:
c 0 0

END.
"""


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_validator_scores_published_solutions_to_their_costs(name: str) -> None:
    inst = read(ITC / f"{name}.ctt")
    sc = score(inst, read_solution(inst, ITC / "solutions" / f"{name}.sol"))
    capacity, days, compact, stability, total = PUBLISHED[name]
    assert sc.hard_violations == 0
    assert sc.soft == {
        "room_capacity": capacity,
        "min_working_days": days,
        "curriculum_compactness": compact,
        "room_stability": stability,
    }
    assert sc.cost == total


def test_violations_are_explained_in_words() -> None:
    inst = read(ITC / "comp02.ctt")
    sol = read_solution(inst, ITC / "solutions" / "comp02.sol")
    texts = [v.text for v in score(inst, sol).violations]
    isolated = [
        t
        for t in texts
        if re.fullmatch(r"curriculum \S+: lecture of \S+ on \w+day \d\d:00 is isolated", t)
    ]
    assert len(isolated) == 26 // 2
    assert any(
        re.fullmatch(r"course \S+: taught on \d day\(s\), at least \d wanted", t) for t in texts
    )
    # a clash: put one lecture where another one is
    a, b = sol[0], next(x for x in sol if x.course != sol[0].course)
    clash = [Lecture(a.course, b.room, b.day, b.period), *sol[1:]]
    hard = [v for v in score(inst, clash).violations if v.hard]
    when = inst.when(b.day, b.period)
    assert any(v.text.startswith(f"room {b.room} on {when}: 2 lectures") for v in hard)


def test_ctt_errors_name_file_line_and_field(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"bad.ctt:19: column 'course'.*'zz'.*not among the courses"
    ):
        read(_ctt(tmp_path, SMALL.replace("q1 2 a b", "q1 2 a zz")))
    with pytest.raises(
        DataError, match=r"bad.ctt:10: column 'lectures'.*9 lectures.*only 4 periods"
    ):
        read(_ctt(tmp_path, SMALL.replace("a t1 2 2 30", "a t1 9 2 30")))
    with pytest.raises(
        DataError, match=r"bad.ctt:2: column 'Courses'.*says 4 but the file lists 3"
    ):
        read(_ctt(tmp_path, SMALL.replace("Courses: 3", "Courses: 4")))
    with pytest.raises(
        DataError, match=r"bad.ctt:11: column 'students'.*'many' is not a whole number"
    ):
        read(_ctt(tmp_path, SMALL.replace("b t2 2 1 50", "b t2 2 1 many")))
    with pytest.raises(DataError, match=r"bad.ctt:22: column 'course'.*'nope'"):
        read(_ctt(tmp_path, SMALL.replace("c 0 0\n", "nope 0 0\n")))
    with pytest.raises(DataError, match=r"sol.txt:1: column 'room'.*unknown room 'r9'"):
        inst = read(_ctt(tmp_path, SMALL, "ok.ctt"))
        read_solution(inst, _ctt(tmp_path, "a r9 0 0\n", "sol.txt"))


def _school(folder: Path) -> Path:
    folder.mkdir()
    (folder / "calendar.csv").write_text(
        "day,period,start\nMon,0,08:30\nMon,1,10:30\nMon,2,14:00\nTue,0,08:30\nTue,1,10:30\nTue,2,14:00\n"
        "Wed,0,08:30\nWed,1,10:30\nWed,2,14:00\n"
    )
    (folder / "teachers.csv").write_text("teacher\nada\nbob\n")
    (folder / "courses.csv").write_text(
        "course,teacher,lectures,min_days,students\nmath,ada,3,2,25\nphys,bob,2,2,25\nchem,ada,2,1,12\n"
    )
    (folder / "rooms.csv").write_text("room,capacity\nA1,30\nLab,15\n")
    (folder / "curricula.csv").write_text("curriculum,course\nyear1,math\nyear1,phys\nyear1,chem\n")
    (folder / "unavailable.csv").write_text("course,teacher,day,period\n,bob,Mon,08:30\n")
    return folder


def test_school_csv_folder_solves_and_round_trips_as_json(tmp_path: Path) -> None:
    inst = read(_school(tmp_path / "school"))
    assert inst.day_names == ("Mon", "Tue", "Wed") and inst.period_starts == (
        "08:30",
        "10:30",
        "14:00",
    )
    assert ("phys", 0, 0) in inst.unavailable
    sol = solve(inst, settings=QUICK)
    assert sol.score.feasible and len(sol.lectures) == 7
    assert not any(x.course == "phys" and (x.day, x.period) == (0, 0) for x in sol.lectures)
    path = tmp_path / "school.json"
    path.write_text(json.dumps(to_spec(inst).model_dump()))
    assert read(path).sha256() == inst.sha256()


def test_school_csv_errors_name_file_line_and_field(tmp_path: Path) -> None:
    folder = _school(tmp_path / "school")
    (folder / "courses.csv").write_text(
        "course,teacher,lectures,min_days,students\nmath,ada,3,2,25\nphys,eve,2,2,25\n"
    )
    with pytest.raises(
        DataError, match=r"school/courses.csv:3: column 'teacher'.*unknown teacher 'eve'"
    ):
        read(folder)
    folder = _school(tmp_path / "other")
    (folder / "unavailable.csv").write_text("course,teacher,day,period\nmath,,Sun,0\n")
    with pytest.raises(
        DataError, match=r"other/unavailable.csv:2: column 'day'.*unknown day 'Sun'"
    ):
        read(folder)
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                **to_spec(read(_school(tmp_path / "j"))).model_dump(),
                "curricula": [{"id": "q", "courses": ["math", "art"]}],
            }
        )
    )
    with pytest.raises(DataError, match=r"bad.json: column 'curricula\[0\].courses\[1\]'.*'art'"):
        read(bad)


def test_solver_finds_a_feasible_timetable_in_seconds() -> None:
    inst = read(ITC / "comp01.ctt")
    sol = solve(inst, settings=QUICK)
    assert sol.score.feasible
    assert sol.score.cost == score(inst, sol.lectures).cost < 60
    assert sol.history[0][1] > sol.history[-1][1], "annealing lowered the cost"


def test_pinned_lectures_stay_where_they_are() -> None:
    inst = read(ITC / "comp01.ctt")
    pins = [Lecture("c0001", "E", 3, 5), Lecture("c0002", "C", 2, 0), Lecture("c0014", "F", 0, 0)]
    inst.pinned = pins
    sol = solve(inst, settings=QUICK)
    assert sol.score.feasible
    for pin in pins:
        assert pin in sol.lectures
    inst.pinned = [Lecture("c0001", "E", 3, 5), Lecture("c0002", "E", 3, 5)]
    with pytest.raises(DataError, match="both pinned to room E on Thursday 13:00"):
        solve(inst, settings=QUICK)
    inst.pinned = [Lecture("c0001", "A", 3, 0)]
    with pytest.raises(DataError, match="names room 'A', which is not among the rooms"):
        solve(inst, settings=QUICK)
    inst.pinned = [Lecture("c0001", "E", 4, 0)]
    with pytest.raises(
        DataError, match="c0001 on Friday 08:00 falls when the course is unavailable"
    ):
        solve(inst, settings=QUICK)


def test_resolve_after_a_room_closes_moves_few_lectures() -> None:
    inst = read(ITC / "comp01.ctt")
    published = read_solution(inst, ITC / "solutions" / "comp01.sol")
    forced = [x for x in published if x.room == "B" and x.day == 1]
    assert forced, "the published timetable uses room B on Tuesday"
    changed = apply_change(
        inst, Change(close_slots=[{"room": "B", "day": 1, "period": p} for p in range(6)])
    )
    # move_weight 1000: no extra move is worth any soft cost, so the fewest moves win
    settings = Settings(time_limit=12, workers=2, move_weight=1000)
    sol = solve(changed, settings=settings, published=published)
    assert sol.score.feasible
    assert not any(x.room == "B" and x.day == 1 for x in sol.lectures)
    assert sol.least_moved is not None, "CP-SAT proved the least number of moves"
    assert len(forced) <= sol.least_moved == sol.moved <= 2 * len(forced)
    with pytest.raises(DataError, match="unknown room 'Z'"):
        apply_change(inst, Change(close_rooms=["Z"]))


def test_exports_parse_as_csv_and_icalendar() -> None:
    inst = read(ITC / "comp01.ctt")
    sol = read_solution(inst, ITC / "solutions" / "comp01.sol")
    mine = exports.select(inst, sol, "curriculum", "q001")
    rows = list(csv.DictReader(io.StringIO(exports.to_csv(inst, mine))))
    assert len(rows) == len(mine) > 0 and set(rows[0]) >= {"course", "room", "day_name", "start"}
    cal = Calendar.from_ical(exports.to_ical(inst, mine, week_of=exports.parse_start("2026-09-07")))
    events = cal.walk("VEVENT")
    assert len(events) == len(mine)
    first = min(events, key=lambda e: e.decoded("dtstart"))
    assert first.decoded("dtstart").date().isoformat() >= "2026-09-07"
    with pytest.raises(UsageError, match="no teacher 'nobody'"):
        exports.select(inst, sol, "teacher", "nobody")


def test_week_grid_marks_violations_on_their_cells() -> None:
    inst = read(ITC / "comp01.ctt")
    sol = read_solution(inst, ITC / "solutions" / "comp01.sol")
    grid = exports.week_grid(inst, sol, score(inst, sol))
    assert len(grid["cells"]) == inst.periods_per_day and len(grid["cells"][0]) == inst.days
    assert sum(len(c["lectures"]) for row in grid["cells"] for c in row) == len(sol)
    over = [
        v
        for row in grid["cells"]
        for c in row
        for v in c["violations"]
        if v["kind"] == "room_capacity"
    ]
    assert len(over) == 4  # the 4 students over capacity, one per lecture
    assert any("taught in 2 rooms" in v["text"] for v in grid["violations"])


def test_settings_refuse_unknown_parameters() -> None:
    with pytest.raises(UsageError, match="unknown parameter"):
        Settings.from_params({"time_limt": 5})
    with pytest.raises(UsageError, match="time_limit"):
        Settings.from_params({"time_limit": "soon"})


def test_cli_validate_resolve_export(tmp_path: Path) -> None:
    runner = CliRunner()
    ctt, sol = str(ITC / "comp01.ctt"), str(ITC / "solutions" / "comp01.sol")
    r = runner.invoke(app, ["validate", ctt, sol])
    assert r.exit_code == 0, r.output
    assert "course c0033: taught in 2 rooms (C, F)" in r.output
    r = runner.invoke(app, ["validate", str(ITC / "comp02.ctt"), sol])
    assert r.exit_code == 65 and "comp01.sol:1: column 'course': unknown course" in r.output
    out = tmp_path / "repaired.sol"
    r = runner.invoke(
        app,
        [
            "resolve",
            ctt,
            sol,
            "--close",
            "B@1:0",
            "--close",
            "B@1:1",
            "--iterations",
            "100000",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    assert re.search(r"moved \d+ of 160 lectures", r.output)
    r = runner.invoke(app, ["validate", ctt, str(out), "-q"])
    assert r.exit_code == 0, r.output
    ics = tmp_path / "t000.ics"
    r = runner.invoke(
        app, ["export", ctt, str(out), "--view", "teacher", "--key", "t000", "-o", str(ics)]
    )
    assert r.exit_code == 0, r.output
    assert len(Calendar.from_ical(ics.read_bytes()).walk("VEVENT")) == 6
    r = runner.invoke(
        app, ["resolve", ctt, sol, "--close-room", "B", "-o", str(tmp_path / "x.sol")]
    )
    assert r.exit_code == 65 and "160 lectures but only 150 open room-periods" in r.output
    assert not (tmp_path / "x.sol").exists()


def test_predict_returns_the_timetable_and_resolves_a_change() -> None:
    from odlar.core.tasks import get_task

    task = get_task("admin.timetabling")
    data = task.load(ITC / "comp01.ctt")
    quiet = lambda f, m: None  # noqa: E731
    model = task.fit(data, method="anneal", params={"iterations": 50_000}, progress=quiet)
    same = task.predict(model, task.request_from(data))
    assert same.cost == model.metrics["cost"] and same.hard_violations == 0
    assert len(same.lectures) == 160 and same.moved is None
    away = task.Request(
        change={"teachers_away": [{"teacher": "t000", "day": 0}]},
        iterations=50_000,
        view="teacher",
        key="t000",
    )
    changed = task.predict(model, away)
    assert changed.hard_violations == 0 and changed.moved is not None and changed.moved >= 1
    assert changed.lectures and all(x.day != 0 for x in changed.lectures)
    with pytest.raises(DataError, match="unknown teacher 'nobody'"):
        nobody = {"teachers_away": [{"teacher": "nobody", "day": 0}]}
        task.predict(model, task.Request(change=nobody))
