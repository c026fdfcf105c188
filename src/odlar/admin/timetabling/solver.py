"""Solve an instance: CP-SAT for a feasible (or least-changed) timetable, then simulated
annealing for the soft cost within the time limit, on every core; CP-SAT's exact model
for small instances and lower bounds."""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from odlar.admin.timetabling.instance import Compiled, Instance, Lecture, check, compile_instance
from odlar.admin.timetabling.validator import Score, score
from odlar.core.errors import DataError, UsageError
from odlar.core.tasks import Progress, no_progress

if TYPE_CHECKING:  # CP-SAT and numba load only when a solve starts
    from odlar.admin.timetabling import cpsat

METHODS = ("anneal", "cpsat")


@dataclass
class Settings:
    time_limit: float = 300.0  # seconds for the whole solve
    workers: int = 0  # threads (annealing chains, CP-SAT workers); 0: every core
    seed: int = 0
    #: moves per chain instead of the clock: reproducible runs (tests, the contract)
    iterations: int | None = None
    t_start: float = 3.0
    t_end: float = 0.05
    #: what one conflict or availability violation costs mid-search; 0 keeps the search
    #: feasible (the default: with 10, comp05 wandered off and never came back feasible)
    hard_weight: int = 0
    #: re-solving: what each lecture moved beyond CP-SAT's least costs against the soft
    #: cost (a very large value, e.g. 1000, keeps to the fewest moves whatever it costs)
    move_weight: int = 10
    #: seconds of the exact model after the search, for a proved lower bound (0: none)
    bound_time: float = 0.0
    #: CP-SAT's deterministic work budget instead of the clock (one worker): reproducible
    work_limit: float | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Settings:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(params) - known - {"seed"})
        if unknown:
            raise UsageError(
                f"unknown parameter(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        s = cls()
        for k, v in params.items():
            if v is None:
                continue
            default = getattr(cls(), k)
            kind = type(default) if default is not None else (float if k == "work_limit" else int)
            try:
                setattr(s, k, kind(v))
            except (TypeError, ValueError):
                raise UsageError(f"parameter {k}={v!r}: expected a {kind.__name__}") from None
        if s.time_limit <= 0:
            raise UsageError("time_limit must be positive (seconds)")
        if s.workers < 0:
            raise UsageError("workers must be 0 (every core) or more")
        return s

    @property
    def threads(self) -> int:
        return self.workers or os.cpu_count() or 1


@dataclass
class Solution:
    lectures: list[Lecture]
    score: Score
    method: str
    lower_bound: float | None = None  # proved by CP-SAT, when asked
    moved: int | None = None  # lectures moved from the published timetable (re-solve)
    least_moved: int | None = None  # CP-SAT's proved minimum for a feasible repair
    seconds: float = 0.0
    moves: int = 0  # annealing moves evaluated
    history: list[tuple[float, int]] = field(default_factory=list)
    status: str = ""

    @property
    def moves_per_second(self) -> float:
        return self.moves / self.seconds if self.seconds else 0.0


def lectures_of(cp: Compiled, lp: np.ndarray, lr: np.ndarray) -> list[Lecture]:
    inst = cp.inst
    return [
        Lecture(
            inst.courses[int(cp.lecture_course[i])].id,
            inst.rooms[int(lr[i])].id,
            int(lp[i]) // cp.ppd,
            int(lp[i]) % cp.ppd,
        )
        for i in range(len(lp))
    ]


def arrays_of(cp: Compiled, lectures: list[Lecture]) -> tuple[np.ndarray, np.ndarray]:
    """A timetable as (period, room) per lecture, in the compiled numbering. Lectures of a
    course beyond its count, or of unknown courses, are refused."""
    slots: dict[int, list[tuple[int, int]]] = {}
    for x in lectures:
        c = cp.course_index.get(x.course)
        r = cp.room_index.get(x.room)
        if c is None or r is None:
            raise DataError(
                f"timetable names {'course ' + x.course if c is None else 'room ' + x.room}, "
                "not in the instance"
            )
        slots.setdefault(c, []).append((x.day * cp.ppd + x.period, r))
    for c, got in slots.items():
        if len(got) > cp.n_lectures_of[c]:
            raise DataError(
                f"timetable has {len(got)} lectures of {cp.inst.courses[c].id}, "
                f"the course has {cp.n_lectures_of[c]}"
            )
    lp = np.full(len(cp.lecture_course), -1, np.int64)
    lr = np.full(len(cp.lecture_course), -1, np.int64)
    start = 0
    for c in range(cp.n_courses):
        for k, (p, r) in enumerate(sorted(slots.get(c, []))):
            lp[start + k], lr[start + k] = p, r
        start += int(cp.n_lectures_of[c])
    return lp, lr


def align(
    cp: Compiled, lp: np.ndarray, lr: np.ndarray, lp0: np.ndarray, lr0: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Renumber a course's lectures so that each one still in its published slot keeps the
    published lecture's index: then "lectures away from their origin" counts real moves."""
    lp, lr = lp.copy(), lr.copy()
    start = 0
    for c in range(cp.n_courses):
        n = int(cp.n_lectures_of[c])
        idx = range(start, start + n)
        new = [(int(lp[i]), int(lr[i])) for i in idx]
        out: list[tuple[int, int] | None] = [None] * n
        for k, i in enumerate(idx):
            slot = (int(lp0[i]), int(lr0[i]))
            if slot in new:
                new.remove(slot)
                out[k] = slot
        for k in range(n):
            if out[k] is None:
                out[k] = new.pop()
        for k, i in enumerate(idx):
            lp[i], lr[i] = out[k]  # type: ignore[misc]
        start += n
    return lp, lr


def moved_between(old: list[Lecture], new: list[Lecture]) -> int:
    """Lectures of the published timetable whose (course, room, day, period) is gone."""
    left = Counter((x.course, x.room, x.day, x.period) for x in old) - Counter(
        (x.course, x.room, x.day, x.period) for x in new
    )
    return sum(left.values())


def _fixed(cp: Compiled) -> tuple[cpsat.Fixed, set[tuple[int, int, int]]]:
    from odlar.admin.timetabling import cpsat
    inst = cp.inst
    pins: list[tuple[int, int, int]] = []
    per_course: Counter[str] = Counter()
    seen: dict[tuple[str, int, int], str] = {}
    for x in inst.pinned:
        c, r, p = cp.course_index[x.course], cp.room_index[x.room], x.day * cp.ppd + x.period
        per_course[x.course] += 1
        if per_course[x.course] > cp.n_lectures_of[c]:
            raise DataError(
                f"course {x.course} has {cp.n_lectures_of[c]} lectures but more are pinned",
                field="pinned",
            )
        if cp.unavailable[c, p]:
            raise DataError(
                f"pinned lecture of {x.course} on {inst.when(x.day, x.period)} falls when "
                "the course is unavailable",
                field="pinned",
            )
        if cp.closed[r, p]:
            raise DataError(
                f"pinned lecture of {x.course} is in room {x.room} on "
                f"{inst.when(x.day, x.period)}, when the room is closed",
                field="pinned",
            )
        key = (x.room, x.day, x.period)
        if key in seen:
            raise DataError(
                f"{x.course} and {seen[key]} are both pinned to room {x.room} on "
                f"{inst.when(x.day, x.period)}",
                field="pinned",
            )
        seen[key] = x.course
        if any(cc == c and pp == p for cc, pp, _ in pins):
            raise DataError(
                f"two lectures of {x.course} are pinned to {inst.when(x.day, x.period)}",
                field="pinned",
            )
        pins.append((c, p, r))
    return cpsat.Fixed(pins, cp.closed), set(pins)


def _pinned_mask(
    cp: Compiled, lp: np.ndarray, lr: np.ndarray, pins: set[tuple[int, int, int]]
) -> np.ndarray:
    return np.array(
        [(int(cp.lecture_course[i]), int(lp[i]), int(lr[i])) in pins for i in range(len(lp))], bool
    )


def solve(
    inst: Instance,
    *,
    method: str = "anneal",
    settings: Settings | None = None,
    published: list[Lecture] | None = None,
    progress: Progress = no_progress,
) -> Solution:
    """A timetable for `inst`. With `published`, a re-solve: the fewest lectures moved
    from it (CP-SAT proves the least), then the soft cost without moving more."""
    from odlar.admin.timetabling import cpsat, search
    if method not in METHODS:
        raise UsageError(f"no solver '{method}' (known: {', '.join(METHODS)})")
    s = settings or Settings()
    start = time.perf_counter()
    cp = compile_instance(check(inst))  # pins and closures may have been added in code
    fixed, pins = _fixed(cp)
    open_slots = int((~cp.closed).sum())
    if inst.lectures > open_slots:
        raise DataError(
            f"{inst.name}: {inst.lectures} lectures but only {open_slots} open room-periods "
            f"({len(inst.rooms)} rooms x {inst.periods} periods, less closures)"
        )
    workers = s.threads
    reproducible = s.iterations is not None or s.work_limit is not None
    deterministic = (s.work_limit or 5.0) if reproducible else None
    cp_workers = 1 if reproducible else workers
    progress(0.02, f"CP-SAT: a feasible timetable for {inst.name}")
    origin = None
    least = None
    seed_limit = max(1.0, 0.3 * s.time_limit)
    if published is not None:
        # the least-changes model carries rooms: give it more of the time than a plain seed
        lp0, lr0 = arrays_of(cp, published)
        solved, _ = cpsat.least_changes(
            cp,
            fixed,
            lp0,
            lr0,
            time_limit=max(1.0, 0.6 * s.time_limit),
            workers=cp_workers,
            seed=s.seed,
            deterministic=deterministic,
        )
        if solved.lp is None and solved.status != "infeasible":  # no repair in time: any
            # feasible timetable, and the annealing's move cost pulls it back to the published one
            solved = cpsat.feasible(
                cp,
                fixed,
                time_limit=seed_limit,
                workers=cp_workers,
                seed=s.seed,
                deterministic=deterministic,
            )
        cpsat.require(solved, f"{inst.name}: re-solve")
        least = (
            int(solved.bound) if solved.status == "optimal" and solved.bound is not None else None
        )
        origin = (lp0, lr0)
    else:
        solved = cpsat.require(
            cpsat.feasible(
                cp,
                fixed,
                time_limit=seed_limit,
                workers=cp_workers,
                seed=s.seed,
                deterministic=deterministic,
            ),
            inst.name,
        )
    assert solved.lp is not None and solved.lr is not None
    lp, lr = solved.lp, solved.lr
    if origin is not None:
        lp, lr = align(cp, lp, lr, *origin)
    history: list[tuple[float, int]] = []
    moves = 0
    status = solved.status
    bound = None
    left = max(0.0, s.time_limit - (time.perf_counter() - start))
    if method == "cpsat":
        progress(0.1, "CP-SAT: the exact model with the soft costs")
        ex = cpsat.exact(
            cp,
            fixed,
            time_limit=max(1.0, left),
            workers=cp_workers,
            seed=s.seed,
            deterministic=deterministic,
            hint=(lp, lr),
        )
        if ex.lp is not None:
            lp, lr = ex.lp, ex.lr
        status, bound = ex.status, ex.bound
    else:
        a = search.arrays(cp, _pinned_mask(cp, lp, lr, pins), cp.closed)
        t0 = time.perf_counter() - start

        def report(frac: float, best: int) -> None:
            progress(0.1 + 0.85 * min(frac, 1.0), f"best cost {best} at {t0 + frac * left:.0f} s")

        res = search.anneal(
            cp,
            a,
            lp,
            lr,
            seed=s.seed,
            workers=1 if s.iterations is not None else workers,
            time_limit=left if s.iterations is None else None,
            iterations=s.iterations,
            t_start=s.t_start,
            t_end=s.t_end,
            report=report,
            origin=origin,
            move_weight=s.move_weight if origin is not None else 0,
            hard_weight=s.hard_weight,
        )
        lp, lr, moves = res.lp, res.lr, res.moves
        history = [(round(t0 + t, 2), c) for t, c in res.history]
        if s.bound_time > 0:
            progress(0.96, "CP-SAT: a lower bound")
            ex = cpsat.exact(
                cp, fixed, time_limit=s.bound_time, workers=cp_workers, seed=s.seed, hint=(lp, lr)
            )
            bound = ex.bound
    lectures = lectures_of(cp, lp, lr)
    sc = score(inst, lectures)
    moved = moved_between(published, lectures) if published is not None else None
    progress(0.99, f"cost {sc.cost}, {sc.hard_violations} hard violations")
    return Solution(
        lectures,
        sc,
        method,
        lower_bound=bound,
        moved=moved,
        least_moved=least,
        seconds=time.perf_counter() - start,
        moves=moves,
        history=history,
        status=status,
    )
