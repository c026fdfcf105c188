"""Cost and violations of a timetable, as the ITC 2007 track 3 validator defines them (UD2).

Hard: every lecture scheduled once in distinct periods (Lectures), one lecture per room and
period (RoomOccupancy), no two conflicting courses (same teacher or curriculum) in one period
(Conflicts), no lecture in an unavailable period (Availability). Soft, with weights: room
capacity (1 per student over), minimum working days (5 per missing day), curriculum
compactness (2 per isolated lecture), room stability (1 per extra room of a course).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from odlar.admin.timetabling.instance import Instance, Lecture

WEIGHTS = {
    "room_capacity": 1,
    "min_working_days": 5,
    "curriculum_compactness": 2,
    "room_stability": 1,
}
HARD = ("lectures", "room_occupancy", "conflicts", "availability", "room_closed")


@dataclass
class Violation:
    kind: str  # one of HARD or of WEIGHTS
    hard: bool
    cost: int  # weighted for soft ones; count for hard ones
    text: str
    course: str | None = None
    curriculum: str | None = None
    room: str | None = None
    day: int | None = None
    period: int | None = None


@dataclass
class Score:
    hard: dict[str, int]
    soft: dict[str, int]  # weighted
    violations: list[Violation] = field(default_factory=list)

    @property
    def hard_violations(self) -> int:
        return sum(self.hard.values())

    @property
    def cost(self) -> int:
        return sum(self.soft.values())

    @property
    def feasible(self) -> bool:
        return self.hard_violations == 0

    def as_dict(self) -> dict[str, int]:
        return {"hard_violations": self.hard_violations, **self.soft, "cost": self.cost}


def score(inst: Instance, lectures: list[Lecture]) -> Score:
    ppd, P = inst.periods_per_day, inst.periods
    courses = {c.id: c for c in inst.courses}
    capacity = {r.id: r.capacity for r in inst.rooms}
    v: list[Violation] = []
    hard = dict.fromkeys(HARD, 0)
    soft = dict.fromkeys(WEIGHTS, 0)
    at: dict[str, Counter[int]] = defaultdict(Counter)  # course -> period -> lectures
    room_of: dict[tuple[str, int], list[str]] = defaultdict(list)  # (course, period) -> rooms
    in_room: dict[tuple[str, int], list[str]] = defaultdict(list)  # (room, period) -> courses
    for x in lectures:
        p = x.day * ppd + x.period
        at[x.course][p] += 1
        room_of[(x.course, p)].append(x.room)
        in_room[(x.room, p)].append(x.course)

    def when(p: int) -> str:
        return inst.when(p // ppd, p % ppd)

    for c in inst.courses:
        periods = at.get(c.id, Counter())
        for p, k in sorted(periods.items()):
            if k > 1:
                hard["lectures"] += k - 1
                v.append(
                    Violation(
                        "lectures",
                        True,
                        k - 1,
                        f"course {c.id}: {k} lectures on {when(p)}",
                        course=c.id,
                        day=p // ppd,
                        period=p % ppd,
                    )
                )
        n = len(periods)
        if n != c.lectures:
            hard["lectures"] += abs(c.lectures - n)
            what = "unscheduled" if n < c.lectures else "too many"
            v.append(
                Violation(
                    "lectures",
                    True,
                    abs(c.lectures - n),
                    f"course {c.id}: {abs(c.lectures - n)} lecture(s) {what} "
                    f"({n} of {c.lectures} in distinct periods)",
                    course=c.id,
                )
            )
    for (room, p), cs in sorted(in_room.items()):
        if len(cs) > 1:
            hard["room_occupancy"] += len(cs) - 1
            v.append(
                Violation(
                    "room_occupancy",
                    True,
                    len(cs) - 1,
                    f"room {room} on {when(p)}: {len(cs)} lectures ({', '.join(cs)})",
                    room=room,
                    day=p // ppd,
                    period=p % ppd,
                )
            )
    conflict = _conflicts(inst)
    for p in range(P):
        present = sorted(c for c in at if at[c].get(p))
        for i, c1 in enumerate(present):
            for c2 in present[i + 1 :]:
                why = conflict.get((c1, c2)) or conflict.get((c2, c1))
                if why:
                    hard["conflicts"] += 1
                    v.append(
                        Violation(
                            "conflicts",
                            True,
                            1,
                            f"{c1} and {c2} both on {when(p)} ({why})",
                            course=c1,
                            day=p // ppd,
                            period=p % ppd,
                        )
                    )
    for c, d, pp in sorted(inst.unavailable):
        if at.get(c, Counter()).get(d * ppd + pp):
            hard["availability"] += 1
            v.append(
                Violation(
                    "availability",
                    True,
                    1,
                    f"course {c}: lecture on {inst.when(d, pp)}, when it is unavailable",
                    course=c,
                    day=d,
                    period=pp,
                )
            )
    for room, d, pp in sorted(inst.closed):
        for c in in_room.get((room, d * ppd + pp), []):
            hard["room_closed"] += 1
            v.append(
                Violation(
                    "room_closed",
                    True,
                    1,
                    f"course {c}: lecture in room {room} on {inst.when(d, pp)}, "
                    "when the room is closed",
                    course=c,
                    room=room,
                    day=d,
                    period=pp,
                )
            )
    # soft costs
    for (c, p), rooms in sorted(room_of.items()):
        for r in rooms:
            over = courses[c].students - capacity[r]
            if over > 0:
                soft["room_capacity"] += over
                v.append(
                    Violation(
                        "room_capacity",
                        False,
                        over,
                        f"course {c}: {courses[c].students} students in room {r} "
                        f"({capacity[r]} seats) on {when(p)}",
                        course=c,
                        room=r,
                        day=p // ppd,
                        period=p % ppd,
                    )
                )
    for c in inst.courses:
        days = {p // ppd for p in at.get(c.id, ())}
        if len(days) < c.min_days:
            cost = WEIGHTS["min_working_days"] * (c.min_days - len(days))
            soft["min_working_days"] += cost
            v.append(
                Violation(
                    "min_working_days",
                    False,
                    cost,
                    f"course {c.id}: taught on {len(days)} day(s), at least {c.min_days} wanted",
                    course=c.id,
                )
            )
        rooms = {r for (cc, _p), rs in room_of.items() if cc == c.id for r in rs}
        if len(rooms) > 1:
            cost = WEIGHTS["room_stability"] * (len(rooms) - 1)
            soft["room_stability"] += cost
            v.append(
                Violation(
                    "room_stability",
                    False,
                    cost,
                    f"course {c.id}: taught in {len(rooms)} rooms ({', '.join(sorted(rooms))})",
                    course=c.id,
                )
            )
    for q in inst.curricula:
        count = Counter()
        for c in set(q.courses):
            for p, k in at.get(c, Counter()).items():
                count[p] += k
        for p in sorted(count):
            before = p % ppd > 0 and count.get(p - 1, 0) > 0
            after = p % ppd < ppd - 1 and count.get(p + 1, 0) > 0
            if not before and not after:
                cost = WEIGHTS["curriculum_compactness"] * count[p]
                soft["curriculum_compactness"] += cost
                for c in sorted(c for c in set(q.courses) if at.get(c, Counter()).get(p)):
                    v.append(
                        Violation(
                            "curriculum_compactness",
                            False,
                            WEIGHTS["curriculum_compactness"],
                            f"curriculum {q.id}: lecture of {c} on {when(p)} is isolated",
                            course=c,
                            curriculum=q.id,
                            day=p // ppd,
                            period=p % ppd,
                        )
                    )
    return Score(hard, soft, v)


def _conflicts(inst: Instance) -> dict[tuple[str, str], str]:
    """(c1, c2) -> why they may not share a period."""
    out: dict[tuple[str, str], str] = {}
    by_teacher: dict[str, list[str]] = defaultdict(list)
    for c in inst.courses:
        by_teacher[c.teacher].append(c.id)
    for t, cs in by_teacher.items():
        for i, a in enumerate(cs):
            for b in cs[i + 1 :]:
                out[(a, b)] = f"same teacher {t}"
    for q in inst.curricula:
        cs = sorted(set(q.courses))
        for i, a in enumerate(cs):
            for b in cs[i + 1 :]:
                out.setdefault((a, b), f"same curriculum {q.id}")
    return out
