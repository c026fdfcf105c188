"""Task `admin.timetabling`: curriculum-based course timetabling (ITC 2007 track 3, UD2).

A "dataset" is an instance (courses, teachers, rooms, curricula, unavailable periods); a
"model" is a timetable for it, found by CP-SAT and simulated annealing, recorded as a model
version so that an approver approves it before the API publishes it. Predicting answers
with the approved timetable, or re-solves after a change with the fewest lectures moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from odlar.admin.timetabling import bench as itc_bench
from odlar.admin.timetabling.exports import select
from odlar.admin.timetabling.instance import (
    Instance,
    InstanceSpec,
    Lecture,
    from_spec,
    read,
    to_spec,
)
from odlar.admin.timetabling.solver import METHODS, Settings, Solution, solve
from odlar.admin.timetabling.validator import score
from odlar.core.benchmarks import ITS_OWN, BenchRun, benchmark
from odlar.core.errors import DataError, UsageError
from odlar.core.tasks import (
    BenchResult,
    Dataset,
    Progress,
    Report,
    Risk,
    RiskTier,
    Robustness,
    Task,
    register,
)
from odlar.core.versions import VERSION_DEFAULT


class Change(BaseModel):
    """What happened since the timetable was published."""

    close_rooms: list[str] = Field(
        default_factory=list, max_length=10_000, description="Rooms closed all week"
    )
    close_slots: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=100_000,
        description="{room, day, period} closed for one period",
        examples=[[{"room": "B", "day": 1, "period": 2}]],
    )
    teachers_away: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=100_000,
        description="{teacher, day} or {teacher, day, period}: the teacher cannot teach then",
        examples=[[{"teacher": "t000", "day": 0}]],
    )
    pin: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=100_000,
        description="{course, room, day, period}: lectures that must stay",
    )


class TimetableRequest(BaseModel):
    model_version: int | None = Field(default=None, ge=1, description=VERSION_DEFAULT)
    instance: InstanceSpec | None = Field(
        default=None, description="The instance to timetable; default: the model's own"
    )
    change: Change | None = Field(
        default=None, description="Re-solve after a change, moving as few lectures as possible"
    )
    time_limit: float = Field(default=30, gt=0, le=600, description="Seconds for a (re-)solve")
    iterations: int | None = Field(
        default=None, ge=1, le=10**10, description="Moves instead of the clock: reproducible"
    )
    view: str | None = Field(default=None, description="curriculum, teacher, room or course")
    key: str | None = Field(
        default=None, max_length=200, description="Which curriculum, teacher, room or course"
    )


class LectureOut(BaseModel):
    course: str
    room: str
    day: int
    period: int
    day_name: str
    start: str


class TimetableResponse(BaseModel):
    model_version: int | None = None
    instance: str
    cost: int = Field(description="Soft cost, as the ITC 2007 validator counts it")
    hard_violations: int
    costs: dict[str, int]
    lower_bound: float | None = Field(description="Proved by CP-SAT, when it was asked to")
    moved: int | None = Field(
        default=None, description="Lectures moved from the published timetable"
    )
    least_moved: int | None = Field(
        default=None, description="CP-SAT's proved least number of moves"
    )
    violations: list[str]
    lectures: list[LectureOut]


@dataclass
class TimetableModel:
    method: str
    params: dict[str, Any]
    instance: dict[str, Any]  # InstanceSpec, as JSON
    sha256: str
    lectures: list[tuple[str, str, int, int]]
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[tuple[float, int]] = field(default_factory=list)

    @property
    def timetable(self) -> list[Lecture]:
        return [Lecture(*x) for x in self.lectures]

    def inst(self) -> Instance:
        return from_spec(InstanceSpec.model_validate(self.instance), "model")


def _metrics(sol: Solution) -> dict[str, float]:
    m: dict[str, float] = {k: float(v) for k, v in sol.score.as_dict().items()}
    m["seconds"] = round(sol.seconds, 2)
    m["moves_per_s"] = round(sol.moves_per_second)
    if sol.lower_bound is not None:
        m["lower_bound"] = float(sol.lower_bound)
    return m


def apply_change(inst: Instance, change: Change) -> Instance:
    """The instance after a change; every name is checked against it."""
    rooms = {r.id for r in inst.rooms}
    teachers: dict[str, list[str]] = {}
    for c in inst.courses:
        teachers.setdefault(c.teacher, []).append(c.id)
    closed = set(inst.closed)
    unavailable = set(inst.unavailable)
    pinned = list(inst.pinned)
    for i, r in enumerate(change.close_rooms):
        if r not in rooms:
            raise DataError(f"unknown room '{r}'", field=f"change.close_rooms[{i}]")
        closed |= {(r, d, p) for d in range(inst.days) for p in range(inst.periods_per_day)}

    def slot(obj: dict[str, Any], where: str, need_period: bool) -> tuple[int, list[int]]:
        try:
            d = int(obj["day"])
            ps = (
                [int(obj["period"])]
                if "period" in obj
                else ([] if need_period else list(range(inst.periods_per_day)))
            )
        except (KeyError, TypeError, ValueError):
            raise DataError("needs a whole-number day (and period)", field=where) from None
        if not ps or not 0 <= d < inst.days or any(not 0 <= p < inst.periods_per_day for p in ps):
            raise DataError(
                f"day/period outside the week ({inst.days} days x {inst.periods_per_day})",
                field=where,
            )
        return d, ps

    for i, s in enumerate(change.close_slots):
        where = f"change.close_slots[{i}]"
        if s.get("room") not in rooms:
            raise DataError(f"unknown room '{s.get('room')}'", field=where)
        d, ps = slot(s, where, True)
        closed |= {(s["room"], d, p) for p in ps}
    for i, t in enumerate(change.teachers_away):
        where = f"change.teachers_away[{i}]"
        if t.get("teacher") not in teachers:
            raise DataError(f"unknown teacher '{t.get('teacher')}'", field=where)
        d, ps = slot(t, where, False)
        unavailable |= {(c, d, p) for c in teachers[t["teacher"]] for p in ps}
    for i, x in enumerate(change.pin):
        where = f"change.pin[{i}]"
        try:
            pinned.append(
                Lecture(str(x["course"]), str(x["room"]), int(x["day"]), int(x["period"]))
            )
        except (KeyError, TypeError, ValueError):
            raise DataError("a pin is {course, room, day, period}", field=where) from None
    from odlar.admin.timetabling.instance import check

    return check(replace(inst, closed=closed, unavailable=unavailable, pinned=pinned))


def response(
    inst: Instance,
    lectures: list[Lecture],
    *,
    version: int | None = None,
    lower_bound: float | None = None,
    moved: int | None = None,
    least_moved: int | None = None,
    view: str | None = None,
    key: str | None = None,
) -> TimetableResponse:
    sc = score(inst, lectures)
    shown = select(inst, lectures, view, key)
    courses = {x.course for x in shown}
    return TimetableResponse(
        model_version=version,
        instance=inst.name,
        cost=sc.cost,
        hard_violations=sc.hard_violations,
        costs={**sc.hard, **sc.soft},
        lower_bound=lower_bound,
        moved=moved,
        least_moved=least_moved,
        violations=[v.text for v in sc.violations if view is None or v.course in courses],
        lectures=[
            LectureOut(
                course=x.course,
                room=x.room,
                day=x.day,
                period=x.period,
                day_name=inst.day_names[x.day],
                start=inst.period_starts[x.period],
            )
            for x in sorted(shown, key=lambda x: (x.day, x.period, x.room, x.course))
        ],
    )


@register
class TimetablingTask(Task[TimetableModel, TimetableRequest, TimetableResponse]):
    name: ClassVar[str] = "admin.timetabling"
    title: ClassVar[str] = "Course timetabling (curriculum-based, ITC 2007 track 3)"
    risk: ClassVar[Risk] = Risk(
        RiskTier.minimal,
        "scheduling lectures, rooms and teachers: not an Annex III use of the EU AI Act (it "
        "neither admits, assigns nor assesses students); every timetable is checked by the "
        "competition's validator and approved by a registrar before it is published",
    )
    purpose: ClassVar[str] = (
        "Build a school's or university's weekly timetable: a period and a room for every "
        "lecture, with no clash for any curriculum (group of students) or teacher, in rooms "
        "big enough, spread over the week; and repair it after a change with as few "
        "lectures moved as possible."
    )
    limitations: ClassVar[tuple[str, ...]] = (
        "Implements the ITC 2007 track 3 formulation (UD2); rules beyond it (travel between "
        "buildings, double periods, teachers' preferences) are not modelled.",
        "Simulated annealing is a heuristic: the cost is not proved optimal unless CP-SAT's "
        "lower bound equals it; time limits and seeds change the result.",
        "A timetable is valid for the data it was built from; after any change in courses, "
        "rooms or availability, re-solve and re-approve.",
    )
    acceptance: ClassVar[dict[str, tuple[str, float]]] = {"val_hard_violations": ("<=", 0.0)}
    methods: ClassVar[tuple[str, ...]] = METHODS
    default_method: ClassVar[str] = "anneal"
    Request: ClassVar[type[BaseModel]] = TimetableRequest
    Response: ClassVar[type[BaseModel]] = TimetableResponse
    primary_metric: ClassVar[str] = "cost"
    lower_is_better: ClassVar[bool] = True
    bench_data: ClassVar[str] = "admin/itc2007-cct"
    min_rows: ClassVar[int] = 1
    quick_params: ClassVar[dict[str, dict[str, Any]]] = {
        "anneal": {"time_limit": 10, "iterations": 200_000, "seed": 0},
        "cpsat": {"time_limit": 20, "work_limit": 0.5, "seed": 0},
    }

    def load(self, source: str | Path, **options: Any) -> Dataset:
        inst = read(source)
        return Dataset(
            frame=inst,
            source=str(source),
            sha256=inst.sha256(),
            rows=inst.lectures,
            summary=inst.summary(),
        )

    def _fit(
        self, data: Dataset, *, method: str, params: dict[str, Any], progress: Progress
    ) -> TimetableModel:
        inst: Instance = data.frame
        p = {"seed": 0, **params}
        settings = Settings.from_params(p)
        sol = solve(inst, method=method, settings=settings, progress=progress)
        return TimetableModel(
            method,
            p,
            to_spec(inst).model_dump(),
            inst.sha256(),
            [(x.course, x.room, x.day, x.period) for x in sol.lectures],
            _metrics(sol),
            sol.history,
        )

    def evaluate(self, model: TimetableModel, data: Dataset) -> Report:
        inst: Instance = data.frame
        sc = score(inst, model.timetable)
        metrics = {k: float(v) for k, v in sc.as_dict().items()}
        name = Path(data.source).stem
        anchors = itc_bench.anchors([name])
        if not anchors:  # not a competition instance: the model's own recorded cost
            from odlar.core.tasks import Anchor

            anchors = [
                Anchor(
                    "this timetable when fitted",
                    {"cost": model.metrics.get("cost", float("nan"))},
                    "model metrics",
                )
            ]
        return Report(
            metrics=metrics,
            anchors=anchors,
            protocol="ITC 2007 track 3 validator (UD2 weights)",
            details={"violations": [v.text for v in sc.violations]},
        )

    def predict(self, model: TimetableModel, request: TimetableRequest) -> TimetableResponse:
        base = model.inst()
        inst = (
            from_spec(request.instance, "request.instance")
            if request.instance is not None
            else base
        )
        if request.change is not None:
            inst = apply_change(inst, request.change)
        if inst.sha256() == model.sha256 or (request.instance is None and request.change is None):
            return response(inst, model.timetable, view=request.view, key=request.key)
        # a different instance: re-solve from the published timetable where it still applies
        courses = {c.id: c.lectures for c in inst.courses}
        rooms = {r.id for r in inst.rooms}
        kept, count = [], dict.fromkeys(courses, 0)
        for x in model.timetable:
            if (
                x.course in courses
                and x.room in rooms
                and x.day < inst.days
                and x.period < inst.periods_per_day
                and count[x.course] < courses[x.course]
            ):
                kept.append(x)
                count[x.course] += 1
        settings = Settings.from_params(
            {
                **{k: v for k, v in model.params.items() if k in Settings.__dataclass_fields__},
                "time_limit": request.time_limit,
                "iterations": request.iterations,
            }
        )
        sol = solve(inst, settings=settings, published=kept)
        return response(
            inst,
            sol.lectures,
            lower_bound=sol.lower_bound,
            moved=sol.moved,
            least_moved=sol.least_moved,
            view=request.view,
            key=request.key,
        )

    def request_from(self, data: Dataset, **options: Any) -> TimetableRequest:
        return TimetableRequest(
            model_version=options.get("model_version"), instance=to_spec(data.frame)
        )

    def response_rows(self, response: TimetableResponse) -> list[dict[str, Any]]:
        return response.model_dump()["lectures"]

    def example(self, data_dir: Path) -> tuple[Path, Path]:
        path = data_dir / "comp01.ctt"
        return path, path

    def robustness(self, model: TimetableModel, data: Dataset, seed: int = 0) -> list[Robustness]:
        """Two everyday shocks, each repaired from the timetable: the busiest room closed on
        its busiest day, the busiest teacher away on their busiest day, each repaired
        keeping to the fewest moves (move_weight 1000). Measured: lectures
        moved per lecture that had to move (limit 3: a repair may move a few others to
        make room). A shock the instance cannot absorb at all fails its check."""
        from collections import Counter

        inst: Instance = data.frame
        tt = model.timetable
        teacher = {c.id: c.teacher for c in inst.courses}
        (room, rday), forced_r = Counter((x.room, x.day) for x in tt).most_common(1)[0]
        (t, tday), forced_t = Counter((teacher[x.course], x.day) for x in tt).most_common(1)[0]
        p = {k: v for k, v in model.params.items() if k in Settings.__dataclass_fields__}
        limit = min(30.0, float(p.get("time_limit", 30)))
        settings = Settings.from_params(
            {
                **p,
                "seed": seed,
                "time_limit": limit,
                "iterations": p.get("iterations") or 200_000,
                "move_weight": 1000,  # the repair that keeps to the fewest moves
            }
        )
        closed = [{"room": room, "day": rday, "period": k} for k in range(inst.periods_per_day)]
        out = []
        for label, change, forced in (
            (f"room {room} closed on {inst.day_names[rday]}", Change(close_slots=closed), forced_r),
            (
                f"teacher {t} away on {inst.day_names[tday]}",
                Change(teachers_away=[{"teacher": t, "day": tday}]),
                forced_t,
            ),
        ):
            try:
                sol = solve(apply_change(inst, change), settings=settings, published=tt)
            except DataError as e:
                out.append(Robustness(label, float("inf"), 3.0, f"no repair: {e}"))
                continue
            moved = sol.moved or 0
            value = moved / max(forced, 1) if sol.score.feasible else float("inf")
            out.append(
                Robustness(
                    label,
                    value,
                    3.0,
                    f"{forced} lectures had to move, {moved} moved; cost "
                    f"{model.metrics.get('cost')} -> {sol.score.cost}, "
                    f"{sol.score.hard_violations} hard violations",
                )
            )
        return out


@benchmark("admin.timetabling", "itc2007", folder=TimetablingTask.bench_data,
           settings=ITS_OWN)  # fmt: skip
def _bench_itc2007(run: BenchRun) -> BenchResult:
    """Instances, seeds, time limit, workers and any solver setting (checked by the solver's
    Settings)."""
    if run.methods and set(run.methods) - {"anneal"}:
        raise UsageError("the benchmark runs method anneal")
    return itc_bench.run(run.data_dir, quick=run.quick, progress=run.progress, params=run.params)
