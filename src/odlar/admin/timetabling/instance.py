"""A course timetabling instance (ITC 2007 track 3, curriculum-based) and a timetable for it.

Three ways in, one model out: the competition's `.ctt` text files, a school's own JSON file
(`InstanceSpec`, also the API's request body) and a folder of CSV files. Every reader
validates what it reads and raises DataError naming the file, line and field.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from odlar.core.errors import DataError

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Course:
    id: str
    teacher: str
    lectures: int
    min_days: int
    students: int


@dataclass(frozen=True)
class Room:
    id: str
    capacity: int


@dataclass(frozen=True)
class Curriculum:
    id: str
    courses: tuple[str, ...]


@dataclass(frozen=True)
class Lecture:
    """One scheduled lecture: `day` and `period` count from 0, as in the competition."""

    course: str
    room: str
    day: int
    period: int


@dataclass
class Instance:
    name: str
    days: int
    periods_per_day: int
    courses: list[Course]
    rooms: list[Room]
    curricula: list[Curriculum]
    #: (course, day, period) when the course cannot be taught
    unavailable: set[tuple[str, int, int]] = field(default_factory=set)
    #: Lectures that must stay where they are (a registrar's fixed points).
    pinned: list[Lecture] = field(default_factory=list)
    #: (room, day, period) when the room cannot be used (beyond the competition: a room closes)
    closed: set[tuple[str, int, int]] = field(default_factory=set)
    day_names: tuple[str, ...] = ()
    period_starts: tuple[str, ...] = ()
    period_minutes: int = 60
    source: str = ""

    def __post_init__(self) -> None:
        if not self.day_names:
            self.day_names = tuple(
                WEEKDAYS[d] if d < len(WEEKDAYS) else f"Day {d + 1}" for d in range(self.days)
            )
        if not self.period_starts:
            self.period_starts = tuple(
                f"{(8 + p) % 24:02d}:00" for p in range(self.periods_per_day)
            )

    @property
    def periods(self) -> int:
        return self.days * self.periods_per_day

    @property
    def lectures(self) -> int:
        return sum(c.lectures for c in self.courses)

    @property
    def teachers(self) -> list[str]:
        return sorted({c.teacher for c in self.courses})

    def when(self, day: int, period: int) -> str:
        """'Tuesday 10:00': how a person names a period."""
        return f"{self.day_names[day]} {self.period_starts[period]}"

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "courses": len(self.courses),
            "lectures": self.lectures,
            "rooms": len(self.rooms),
            "curricula": len(self.curricula),
            "teachers": len(self.teachers),
            "days": self.days,
            "periods_per_day": self.periods_per_day,
            "unavailable": len(self.unavailable),
            "pinned": len(self.pinned),
            "closed": len(self.closed),
        }

    def sha256(self) -> str:
        return hashlib.sha256(
            json.dumps(to_spec(self).model_dump(), sort_keys=True).encode()
        ).hexdigest()


class Compiled:
    """The instance as integer arrays: what the validator, CP-SAT and the local search read.

    Lectures are numbered course by course; `lecture_course[l]` is the course of lecture l.
    """

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.course_index = {c.id: i for i, c in enumerate(inst.courses)}
        self.room_index = {r.id: i for i, r in enumerate(inst.rooms)}
        teachers = inst.teachers
        self.teacher_index = {t: i for i, t in enumerate(teachers)}
        C, P = len(inst.courses), inst.periods
        self.n_courses, self.n_rooms, self.n_periods = C, len(inst.rooms), P
        self.n_curricula, self.n_teachers = len(inst.curricula), len(teachers)
        self.ppd, self.days = inst.periods_per_day, inst.days
        self.students = np.array([c.students for c in inst.courses], np.int64)
        self.min_days = np.array([c.min_days for c in inst.courses], np.int64)
        self.n_lectures_of = np.array([c.lectures for c in inst.courses], np.int64)
        self.teacher = np.array([self.teacher_index[c.teacher] for c in inst.courses], np.int64)
        self.capacity = np.array([r.capacity for r in inst.rooms], np.int64)
        self.lecture_course = np.repeat(np.arange(C, dtype=np.int64), self.n_lectures_of)
        self.unavailable = np.zeros((C, P), np.bool_)
        for course, d, p in inst.unavailable:
            self.unavailable[self.course_index[course], d * self.ppd + p] = True
        self.closed = np.zeros((len(inst.rooms), P), np.bool_)
        for room, d, p in inst.closed:
            self.closed[self.room_index[room], d * self.ppd + p] = True
        # curricula of each course, as CSR arrays (numba reads these)
        members: list[list[int]] = [[] for _ in range(C)]
        self.curriculum_courses: list[list[int]] = []
        for q, cur in enumerate(inst.curricula):
            idx = sorted({self.course_index[c] for c in cur.courses})
            self.curriculum_courses.append(idx)
            for c in idx:
                members[c].append(q)
        self.curr_ptr = np.zeros(C + 1, np.int64)
        self.curr_ptr[1:] = np.cumsum([len(m) for m in members])
        self.curr_idx = np.array([q for m in members for q in m], np.int64)
        # conflict[c1, c2]: same teacher or a shared curriculum
        conflict = self.teacher[:, None] == self.teacher[None, :]
        for idx in self.curriculum_courses:
            conflict[np.ix_(idx, idx)] = True
        np.fill_diagonal(conflict, False)
        self.conflict = conflict


def compile_instance(inst: Instance) -> Compiled:
    return Compiled(inst)


# ----------------------------------------------------------------------------- validation


def check(inst: Instance, where: dict[str, tuple[str, int | None, str]] | None = None) -> Instance:
    """Reject an instance the formulation cannot hold. `where` maps a key such as
    ('course', id) rendered as 'course:c1' to (file, line, field) for the error message."""
    where = where or {}

    def fail(key: str, reason: str, default_field: str | None = None) -> None:
        file, line, fld = where.get(key, (inst.source, None, default_field or ""))
        raise DataError(reason, file=file or None, line=line, field=fld or default_field)

    if inst.days < 1 or inst.periods_per_day < 1:
        fail(
            "header",
            f"days ({inst.days}) and periods per day ({inst.periods_per_day}) must be at least 1",
        )
    if not inst.courses:
        fail("header", "no courses")
    if not inst.rooms:
        fail("header", "no rooms")
    seen: set[str] = set()
    for c in inst.courses:
        key = f"course:{c.id}"
        if c.id in seen:
            fail(key, f"course '{c.id}' is listed twice", "course")
        seen.add(c.id)
        if c.lectures < 1:
            fail(key, f"course '{c.id}' has {c.lectures} lectures (at least 1)", "lectures")
        if c.lectures > inst.periods:
            fail(
                key,
                f"course '{c.id}' has {c.lectures} lectures but the week has only "
                f"{inst.periods} periods ({inst.days} days x {inst.periods_per_day})",
                "lectures",
            )
        if not 0 <= c.min_days <= inst.days:
            fail(
                key,
                f"course '{c.id}': minimum working days {c.min_days} not in 0..{inst.days}",
                "min_days",
            )
        if c.students < 0:
            fail(key, f"course '{c.id}': {c.students} students", "students")
    rooms: set[str] = set()
    for r in inst.rooms:
        if r.id in rooms:
            fail(f"room:{r.id}", f"room '{r.id}' is listed twice", "room")
        rooms.add(r.id)
        if r.capacity < 0:
            fail(f"room:{r.id}", f"room '{r.id}' has capacity {r.capacity}", "capacity")
    curricula: set[str] = set()
    for q in inst.curricula:
        if q.id in curricula:
            fail(f"curriculum:{q.id}", f"curriculum '{q.id}' is listed twice", "curriculum")
        curricula.add(q.id)
        for c in q.courses:
            if c not in seen:
                fail(
                    f"curriculum:{q.id}:{c}",
                    f"curriculum '{q.id}' names course '{c}', which is not among the courses",
                    "course",
                )
    for course, d, p in sorted(inst.unavailable):
        key = f"unavailable:{course}:{d}:{p}"
        if course not in seen:
            fail(
                key,
                f"unavailability names course '{course}', which is not among the courses",
                "course",
            )
        if not 0 <= d < inst.days:
            fail(key, f"day {d} not in 0..{inst.days - 1}", "day")
        if not 0 <= p < inst.periods_per_day:
            fail(key, f"period {p} not in 0..{inst.periods_per_day - 1}", "period")
    for lec in inst.pinned:
        key = f"pin:{lec.course}:{lec.day}:{lec.period}"
        if lec.course not in seen:
            fail(
                key,
                f"pinned lecture names course '{lec.course}', which is not among the courses",
                "course",
            )
        if lec.room not in rooms:
            fail(
                key,
                f"pinned lecture of '{lec.course}' names room '{lec.room}', "
                "which is not among the rooms",
                "room",
            )
        if not 0 <= lec.day < inst.days:
            fail(key, f"day {lec.day} not in 0..{inst.days - 1}", "day")
        if not 0 <= lec.period < inst.periods_per_day:
            fail(key, f"period {lec.period} not in 0..{inst.periods_per_day - 1}", "period")
    for room, d, p in sorted(inst.closed):
        key = f"closed:{room}:{d}:{p}"
        if room not in rooms:
            fail(key, f"closure names room '{room}', which is not among the rooms", "room")
        if not (0 <= d < inst.days and 0 <= p < inst.periods_per_day):
            fail(key, f"closure of room '{room}': day {d} period {p} is outside the week", "day")
    if len(inst.day_names) != inst.days or len(inst.period_starts) != inst.periods_per_day:
        fail("header", "day names and period start times must match days and periods per day")
    return inst


# ----------------------------------------------------------------------------- .ctt


def read_ctt(path: Path) -> Instance:
    """The competition's format: header, COURSES, ROOMS, CURRICULA,
    UNAVAILABILITY_CONSTRAINTS, END."""
    name = path.name
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read: {e}", file=name) from None
    lines = [(i + 1, ln.strip()) for i, ln in enumerate(text.splitlines())]
    lines = [(n, ln) for n, ln in lines if ln]
    header: dict[str, str] = {}
    it = iter(lines)
    where: dict[str, tuple[str, int | None, str]] = {}
    keys = ("Name", "Courses", "Rooms", "Days", "Periods_per_day", "Curricula", "Constraints")
    for n, ln in it:
        if ln == "COURSES:":
            break
        if ":" not in ln:
            raise DataError(
                f"expected 'Key: value' in the header, got '{ln[:60]}'", file=name, line=n
            )
        key, value = (s.strip() for s in ln.split(":", 1))
        if key not in keys:
            raise DataError(f"unknown header field '{key}'", file=name, line=n, field=key)
        header[key] = value
        where[f"header:{key}"] = (name, n, key)
    missing = [k for k in keys if k not in header]
    if missing:
        raise DataError(f"not a .ctt instance: header lacks {', '.join(missing)}", file=name)

    def count(key: str) -> int:
        try:
            v = int(header[key])
        except ValueError:
            _, n, _ = where[f"header:{key}"]
            raise DataError(
                f"'{header[key]}' is not a whole number", file=name, line=n, field=key
            ) from None
        return v

    n_courses, n_rooms, n_curricula = count("Courses"), count("Rooms"), count("Curricula")
    n_constraints, days, ppd = count("Constraints"), count("Days"), count("Periods_per_day")

    def ints(n: int, parts: list[str], fields: tuple[str, ...]) -> list[int]:
        out = []
        for v, f in zip(parts, fields, strict=False):
            try:
                out.append(int(v))
            except ValueError:
                raise DataError(
                    f"'{v}' is not a whole number", file=name, line=n, field=f
                ) from None
        return out

    section = "COURSES:"
    courses: list[Course] = []
    rooms: list[Room] = []
    curricula: list[Curriculum] = []
    unavailable: set[tuple[str, int, int]] = set()
    sections = {"COURSES:", "ROOMS:", "CURRICULA:", "UNAVAILABILITY_CONSTRAINTS:", "END."}
    ended = False
    for n, ln in it:
        if ln in sections:
            section = ln
            if ln == "END.":
                ended = True
                break
            continue
        parts = ln.split()
        if section == "COURSES:":
            fields = ("course", "teacher", "lectures", "min_days", "students")
            if len(parts) != 5:
                raise DataError(
                    f"a course line has 5 fields ({' '.join(fields)}), not {len(parts)}",
                    file=name,
                    line=n,
                )
            lec, md, st = ints(n, parts[2:], fields[2:])
            courses.append(Course(parts[0], parts[1], lec, md, st))
            where[f"course:{parts[0]}"] = (name, n, "")
        elif section == "ROOMS:":
            if len(parts) != 2:
                raise DataError(
                    f"a room line has 2 fields (room capacity), not {len(parts)}", file=name, line=n
                )
            (cap,) = ints(n, parts[1:], ("capacity",))
            rooms.append(Room(parts[0], cap))
            where[f"room:{parts[0]}"] = (name, n, "")
        elif section == "CURRICULA:":
            if len(parts) < 2:
                raise DataError(
                    "a curriculum line is: id, number of courses, the courses", file=name, line=n
                )
            (k,) = ints(n, parts[1:2], ("courses",))
            if k != len(parts) - 2:
                raise DataError(
                    f"curriculum '{parts[0]}' says {k} courses but lists {len(parts) - 2}",
                    file=name,
                    line=n,
                    field="courses",
                )
            curricula.append(Curriculum(parts[0], tuple(parts[2:])))
            where[f"curriculum:{parts[0]}"] = (name, n, "")
            for c in parts[2:]:
                where[f"curriculum:{parts[0]}:{c}"] = (name, n, "course")
        else:
            if len(parts) != 3:
                raise DataError(
                    f"an unavailability line has 3 fields (course day period), not {len(parts)}",
                    file=name,
                    line=n,
                )
            d, p = ints(n, parts[1:], ("day", "period"))
            unavailable.add((parts[0], d, p))
            where[f"unavailable:{parts[0]}:{d}:{p}"] = (name, n, "")
    if not ended:
        raise DataError("ends without 'END.'", file=name)
    for key, got, said in (
        ("Courses", len(courses), n_courses),
        ("Rooms", len(rooms), n_rooms),
        ("Curricula", len(curricula), n_curricula),
        ("Constraints", len(unavailable), n_constraints),
    ):
        if got != said:
            _, n, _ = where[f"header:{key}"]
            raise DataError(
                f"the header says {said} but the file lists {got}", file=name, line=n, field=key
            )
    inst = Instance(header["Name"], days, ppd, courses, rooms, curricula, unavailable, source=name)
    return check(inst, where)


def write_ctt(inst: Instance) -> str:
    out = [
        f"Name: {inst.name}",
        f"Courses: {len(inst.courses)}",
        f"Rooms: {len(inst.rooms)}",
        f"Days: {inst.days}",
        f"Periods_per_day: {inst.periods_per_day}",
        f"Curricula: {len(inst.curricula)}",
        f"Constraints: {len(inst.unavailable)}",
        "",
        "COURSES:",
        *(f"{c.id} {c.teacher} {c.lectures} {c.min_days} {c.students}" for c in inst.courses),
        "",
        "ROOMS:",
        *(f"{r.id}\t{r.capacity}" for r in inst.rooms),
        "",
        "CURRICULA:",
        *(f"{q.id}  {len(q.courses)} {' '.join(q.courses)}" for q in inst.curricula),
        "",
        "UNAVAILABILITY_CONSTRAINTS:",
        *(f"{c} {d} {p}" for c, d, p in sorted(inst.unavailable)),
        "",
        "END.",
    ]
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- JSON


class CourseSpec(BaseModel):
    id: str = Field(min_length=1, max_length=200)
    teacher: str = Field(min_length=1, max_length=200)
    lectures: int = Field(ge=1, le=10_000, description="Lectures per week")
    min_days: int = Field(default=1, ge=0, le=31, description="Spread over at least this many days")
    students: int = Field(ge=0, le=1_000_000)


class RoomSpec(BaseModel):
    id: str = Field(min_length=1, max_length=200)
    capacity: int = Field(ge=0, le=1_000_000)


class CurriculumSpec(BaseModel):
    id: str = Field(min_length=1, max_length=200)
    courses: list[str] = Field(min_length=1, max_length=10_000)


class Slot(BaseModel):
    """A course or a teacher (all of that teacher's courses) unavailable in one period."""

    course: str | None = Field(default=None, max_length=200)
    teacher: str | None = Field(default=None, max_length=200)
    day: int = Field(ge=0, le=31)
    period: int = Field(ge=0, le=100)


class PinSpec(BaseModel):
    course: str = Field(min_length=1, max_length=200)
    room: str = Field(min_length=1, max_length=200)
    day: int = Field(ge=0, le=31)
    period: int = Field(ge=0, le=100)


class ClosedSpec(BaseModel):
    room: str = Field(min_length=1, max_length=200)
    day: int = Field(ge=0, le=31)
    period: int = Field(ge=0, le=100)


class InstanceSpec(BaseModel):
    """A school's timetabling data as JSON (days and periods count from 0)."""

    name: str = Field(default="school", max_length=200)
    days: int = Field(ge=1, le=31)
    periods_per_day: int = Field(ge=1, le=100)
    day_names: list[str] | None = Field(default=None, max_length=31)
    period_starts: list[str] | None = Field(
        default=None, max_length=100, examples=[["08:30", "09:30"]]
    )
    period_minutes: int = Field(default=60, ge=1, le=24 * 60)
    teachers: list[str] | None = Field(
        default=None,
        max_length=100_000,
        description="If given, every course's teacher must be here",
    )
    courses: list[CourseSpec] = Field(min_length=1, max_length=100_000)
    rooms: list[RoomSpec] = Field(min_length=1, max_length=10_000)
    curricula: list[CurriculumSpec] = Field(default_factory=list, max_length=100_000)
    unavailable: list[Slot] = Field(default_factory=list, max_length=1_000_000)
    pinned: list[PinSpec] = Field(default_factory=list, max_length=100_000)
    closed: list[ClosedSpec] = Field(
        default_factory=list, max_length=1_000_000, description="Rooms closed in a period"
    )


def from_spec(spec: InstanceSpec, source: str = "request") -> Instance:
    where: dict[str, tuple[str, int | None, str]] = {}
    teachers = set(spec.teachers) if spec.teachers is not None else None
    by_teacher: dict[str, list[str]] = {}
    for i, c in enumerate(spec.courses):
        where[f"course:{c.id}"] = (source, None, f"courses[{i}]")
        if teachers is not None and c.teacher not in teachers:
            raise DataError(
                f"course '{c.id}' names teacher '{c.teacher}', who is not among the teachers",
                file=source,
                field=f"courses[{i}].teacher",
            )
        by_teacher.setdefault(c.teacher, []).append(c.id)
    for i, r in enumerate(spec.rooms):
        where[f"room:{r.id}"] = (source, None, f"rooms[{i}]")
    for i, q in enumerate(spec.curricula):
        where[f"curriculum:{q.id}"] = (source, None, f"curricula[{i}]")
        for j, c in enumerate(q.courses):
            where[f"curriculum:{q.id}:{c}"] = (source, None, f"curricula[{i}].courses[{j}]")
    unavailable: set[tuple[str, int, int]] = set()
    for i, s in enumerate(spec.unavailable):
        if (s.course is None) == (s.teacher is None):
            raise DataError(
                "give a course or a teacher, not both or neither",
                file=source,
                field=f"unavailable[{i}]",
            )
        if s.teacher is not None:
            if s.teacher not in by_teacher and (teachers is None or s.teacher not in teachers):
                raise DataError(
                    f"unknown teacher '{s.teacher}'", file=source, field=f"unavailable[{i}].teacher"
                )
            names = by_teacher.get(s.teacher, [])
        else:
            names = [s.course]
        for c in names:
            unavailable.add((c, s.day, s.period))
            where[f"unavailable:{c}:{s.day}:{s.period}"] = (source, None, f"unavailable[{i}]")
    pinned = []
    for i, p in enumerate(spec.pinned):
        pinned.append(Lecture(p.course, p.room, p.day, p.period))
        where[f"pin:{p.course}:{p.day}:{p.period}"] = (source, None, f"pinned[{i}]")
    inst = Instance(
        spec.name,
        spec.days,
        spec.periods_per_day,
        [Course(c.id, c.teacher, c.lectures, c.min_days, c.students) for c in spec.courses],
        [Room(r.id, r.capacity) for r in spec.rooms],
        [Curriculum(q.id, tuple(q.courses)) for q in spec.curricula],
        unavailable,
        pinned,
        closed={(c.room, c.day, c.period) for c in spec.closed},
        day_names=tuple(spec.day_names or ()),
        period_starts=tuple(spec.period_starts or ()),
        period_minutes=spec.period_minutes,
        source=source,
    )
    return check(inst, where)


def to_spec(inst: Instance) -> InstanceSpec:
    return InstanceSpec(
        name=inst.name,
        days=inst.days,
        periods_per_day=inst.periods_per_day,
        day_names=list(inst.day_names),
        period_starts=list(inst.period_starts),
        period_minutes=inst.period_minutes,
        courses=[CourseSpec(**c.__dict__) for c in inst.courses],
        rooms=[RoomSpec(**r.__dict__) for r in inst.rooms],
        curricula=[CurriculumSpec(id=q.id, courses=list(q.courses)) for q in inst.curricula],
        unavailable=[Slot(course=c, day=d, period=p) for c, d, p in sorted(inst.unavailable)],
        pinned=[PinSpec(**lec.__dict__) for lec in inst.pinned],
        closed=[ClosedSpec(room=r, day=d, period=p) for r, d, p in sorted(inst.closed)],
    )


def read_json(path: Path) -> Instance:
    name = path.name
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"not readable JSON: {e}", file=name) from None
    try:
        spec = InstanceSpec.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise DataError(err["msg"], file=name, field=loc or None) from None
    return from_spec(spec, name)


# ----------------------------------------------------------------------------- CSV folder

CSV_FILES = {
    "calendar.csv": ("day", "period", "start"),
    "courses.csv": ("course", "teacher", "lectures", "min_days", "students"),
    "rooms.csv": ("room", "capacity"),
    "curricula.csv": ("curriculum", "course"),
}
OPTIONAL_CSV = {
    "teachers.csv": ("teacher",),
    "unavailable.csv": ("course", "teacher", "day", "period"),
    "pins.csv": ("course", "room", "day", "period"),
}


def _rows(
    path: Path, columns: tuple[str, ...], optional: tuple[str, ...] = ()
) -> list[tuple[int, dict[str, str]]]:
    name = f"{path.parent.name}/{path.name}"
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in reader.fieldnames or []]
            reader.fieldnames = header
            need = [c for c in columns if c not in optional]
            missing = [c for c in need if c not in header]
            if missing:
                raise DataError(
                    f"missing column(s) {', '.join(missing)} (expected {', '.join(columns)})",
                    file=name,
                    line=1,
                )
            return [
                (i + 2, {k: (v or "").strip() for k, v in row.items() if k})
                for i, row in enumerate(reader)
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"cannot read: {e}", file=name) from None


def read_csv_folder(folder: Path) -> Instance:
    """courses.csv, rooms.csv, curricula.csv (one row per curriculum member), calendar.csv
    (one row per teaching period: day name, period index from 0, start time), and optionally
    teachers.csv, unavailable.csv (course or teacher, day, period) and pins.csv."""
    for fname in CSV_FILES:
        if not (folder / fname).is_file():
            raise DataError(
                f"a school's CSV folder needs {', '.join(CSV_FILES)}; {fname} is missing",
                file=folder.name,
            )
    fn = lambda f: f"{folder.name}/{f}"  # noqa: E731

    def num(f: str, line: int, row: dict[str, str], col: str) -> int:
        try:
            return int(row[col])
        except (KeyError, ValueError):
            raise DataError(
                f"'{row.get(col, '')}' is not a whole number", file=fn(f), line=line, field=col
            ) from None

    def text(f: str, line: int, row: dict[str, str], col: str) -> str:
        if not row.get(col):
            raise DataError("empty", file=fn(f), line=line, field=col)
        return row[col]

    cal = _rows(folder / "calendar.csv", CSV_FILES["calendar.csv"])
    days: dict[str, dict[int, str]] = {}
    for line, row in cal:
        day = text("calendar.csv", line, row, "day")
        p = num("calendar.csv", line, row, "period")
        if p in days.setdefault(day, {}):
            raise DataError(
                f"period {p} of {day} is listed twice",
                file=fn("calendar.csv"),
                line=line,
                field="period",
            )
        days[day][p] = text("calendar.csv", line, row, "start")
    if not days:
        raise DataError("no teaching periods", file=fn("calendar.csv"))
    first = next(iter(days.values()))
    ppd = len(first)
    if sorted(first) != list(range(ppd)):
        raise DataError(
            "periods of a day count 0, 1, 2, ...", file=fn("calendar.csv"), field="period"
        )
    for day, ps in days.items():
        if sorted(ps) != sorted(first):
            raise DataError(
                f"{day} has periods {sorted(ps)}; every day needs the same {sorted(first)}",
                file=fn("calendar.csv"),
                field="period",
            )
    day_names = list(days)
    starts = [first[p] for p in range(ppd)]

    def day_of(f: str, line: int, row: dict[str, str]) -> int:
        v = text(f, line, row, "day")
        if v in days:
            return day_names.index(v)
        if v.isdigit() and int(v) < len(day_names):
            return int(v)
        raise DataError(
            f"unknown day '{v}' (calendar.csv has {', '.join(day_names)})",
            file=fn(f),
            line=line,
            field="day",
        )

    def period_of(f: str, line: int, row: dict[str, str]) -> int:
        v = text(f, line, row, "period")
        if v in starts:
            return starts.index(v)
        if v.isdigit() and int(v) < ppd:
            return int(v)
        raise DataError(
            f"unknown period '{v}' (0..{ppd - 1} or a start time {', '.join(starts)})",
            file=fn(f),
            line=line,
            field="period",
        )

    teachers = None
    if (folder / "teachers.csv").is_file():
        teachers = [
            text("teachers.csv", ln, r, "teacher")
            for ln, r in _rows(folder / "teachers.csv", ("teacher",))
        ]
    courses, where = [], {}
    known_teachers = set(teachers) if teachers is not None else None
    for line, row in _rows(folder / "courses.csv", CSV_FILES["courses.csv"]):
        cid = text("courses.csv", line, row, "course")
        teacher = text("courses.csv", line, row, "teacher")
        if known_teachers is not None and teacher not in known_teachers:
            raise DataError(
                f"unknown teacher '{teacher}' (not in teachers.csv)",
                file=fn("courses.csv"),
                line=line,
                field="teacher",
            )
        courses.append(
            Course(
                cid,
                teacher,
                num("courses.csv", line, row, "lectures"),
                num("courses.csv", line, row, "min_days"),
                num("courses.csv", line, row, "students"),
            )
        )
        where[f"course:{cid}"] = (fn("courses.csv"), line, "")
    rooms = []
    for line, row in _rows(folder / "rooms.csv", CSV_FILES["rooms.csv"]):
        rid = text("rooms.csv", line, row, "room")
        rooms.append(Room(rid, num("rooms.csv", line, row, "capacity")))
        where[f"room:{rid}"] = (fn("rooms.csv"), line, "")
    members: dict[str, list[str]] = {}
    for line, row in _rows(folder / "curricula.csv", CSV_FILES["curricula.csv"]):
        q = text("curricula.csv", line, row, "curriculum")
        c = text("curricula.csv", line, row, "course")
        members.setdefault(q, []).append(c)
        where.setdefault(f"curriculum:{q}", (fn("curricula.csv"), line, ""))
        where[f"curriculum:{q}:{c}"] = (fn("curricula.csv"), line, "course")
    by_teacher: dict[str, list[str]] = {}
    for c in courses:
        by_teacher.setdefault(c.teacher, []).append(c.id)
    unavailable: set[tuple[str, int, int]] = set()
    if (folder / "unavailable.csv").is_file():
        f = "unavailable.csv"
        for line, row in _rows(folder / f, OPTIONAL_CSV[f], optional=("course", "teacher")):
            course, teacher = row.get("course", ""), row.get("teacher", "")
            if bool(course) == bool(teacher):
                raise DataError(
                    "give a course or a teacher, not both or neither",
                    file=fn(f),
                    line=line,
                    field="course",
                )
            if teacher and teacher not in by_teacher:
                raise DataError(
                    f"unknown teacher '{teacher}' (no course names them)",
                    file=fn(f),
                    line=line,
                    field="teacher",
                )
            d, p = day_of(f, line, row), period_of(f, line, row)
            for c in by_teacher[teacher] if teacher else [course]:
                unavailable.add((c, d, p))
                where[f"unavailable:{c}:{d}:{p}"] = (fn(f), line, "course")
    pinned = []
    if (folder / "pins.csv").is_file():
        f = "pins.csv"
        for line, row in _rows(folder / f, OPTIONAL_CSV[f]):
            lec = Lecture(
                text(f, line, row, "course"),
                text(f, line, row, "room"),
                day_of(f, line, row),
                period_of(f, line, row),
            )
            pinned.append(lec)
            where[f"pin:{lec.course}:{lec.day}:{lec.period}"] = (fn(f), line, "")
    inst = Instance(
        folder.name,
        len(day_names),
        ppd,
        courses,
        rooms,
        [Curriculum(q, tuple(cs)) for q, cs in members.items()],
        unavailable,
        pinned,
        day_names=tuple(day_names),
        period_starts=tuple(starts),
        source=folder.name,
    )
    return check(inst, where)


def read(source: str | Path) -> Instance:
    """Any of the three formats, chosen by what `source` is."""
    path = Path(source)
    if path.is_dir():
        return read_csv_folder(path)
    if not path.is_file():
        raise DataError("no such file or folder", file=str(source))
    if path.suffix == ".ctt":
        return read_ctt(path)
    if path.suffix == ".json":
        return read_json(path)
    raise DataError(
        "not a timetabling instance: give a competition .ctt file, a school's .json file or "
        "a folder of CSV files (courses.csv, rooms.csv, curricula.csv, calendar.csv)",
        file=path.name,
    )


# ----------------------------------------------------------------------------- solutions


def read_solution(inst: Instance, source: str | Path) -> list[Lecture]:
    """The competition's solution format: one line per lecture, course room day period."""
    path = Path(source)
    name = path.name
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read: {e}", file=name) from None
    courses = {c.id for c in inst.courses}
    rooms = {r.id for r in inst.rooms}
    out = []
    for n, ln in enumerate(text.splitlines(), 1):
        parts = ln.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise DataError(
                f"a solution line has 4 fields (course room day period), not {len(parts)}",
                file=name,
                line=n,
            )
        c, r = parts[0], parts[1]
        if c not in courses:
            raise DataError(f"unknown course '{c}'", file=name, line=n, field="course")
        if r not in rooms:
            raise DataError(f"unknown room '{r}'", file=name, line=n, field="room")
        try:
            d, p = int(parts[2]), int(parts[3])
        except ValueError:
            raise DataError(
                "day and period must be whole numbers", file=name, line=n, field="day"
            ) from None
        if not 0 <= d < inst.days:
            raise DataError(f"day {d} not in 0..{inst.days - 1}", file=name, line=n, field="day")
        if not 0 <= p < inst.periods_per_day:
            raise DataError(
                f"period {p} not in 0..{inst.periods_per_day - 1}",
                file=name,
                line=n,
                field="period",
            )
        out.append(Lecture(c, r, d, p))
    return out


def write_solution(lectures: list[Lecture]) -> str:
    return "".join(f"{x.course} {x.room} {x.day} {x.period}\n" for x in lectures)
