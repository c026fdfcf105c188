"""The exact model in Google OR-Tools CP-SAT.

Three uses: a feasible timetable to seed the local search (periods only: since room
capacity is a soft cost, any open room will do, so rooms are matched per period afterwards);
the least-changes repair after a change (rooms included: a lecture that keeps its period but
changes room counts as moved); and the full model with the soft costs, for small instances
and for lower bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model
from scipy.optimize import linear_sum_assignment

from odlar.admin.timetabling.instance import Compiled
from odlar.core.errors import DataError

STATUS = {
    cp_model.OPTIMAL: "optimal",
    cp_model.FEASIBLE: "feasible",
    cp_model.INFEASIBLE: "infeasible",
    cp_model.MODEL_INVALID: "invalid",
    cp_model.UNKNOWN: "unknown",
}


@dataclass
class Fixed:
    """What the registrar holds fixed: pinned lectures (course index, period, room index) and
    closed (room, period) pairs."""

    pins: list[tuple[int, int, int]]
    closed: np.ndarray  # bool [rooms, periods]


@dataclass
class Solved:
    lp: np.ndarray | None  # period of each lecture
    lr: np.ndarray | None  # room of each lecture
    status: str
    objective: float | None
    bound: float | None
    seconds: float


def _solver(
    time_limit: float, workers: int, seed: int, deterministic: float | None
) -> cp_model.CpSolver:
    s = cp_model.CpSolver()
    s.parameters.max_time_in_seconds = float(time_limit)
    s.parameters.num_workers = max(1, int(workers))
    s.parameters.random_seed = int(seed)
    if deterministic is not None:  # reproducible runs: a work budget instead of the clock
        s.parameters.max_deterministic_time = float(deterministic)
    return s


def _groups(cp: Compiled) -> list[list[int]]:
    """Sets of courses that may not share a period: each teacher's, each curriculum's."""
    by_teacher: dict[int, list[int]] = {}
    for c, t in enumerate(cp.teacher):
        by_teacher.setdefault(int(t), []).append(c)
    groups = [g for g in by_teacher.values() if len(g) > 1]
    groups += [g for g in cp.curriculum_courses if len(g) > 1]
    return groups


def _lectures_from(
    cp: Compiled, slots: dict[int, list[tuple[int, int]]]
) -> tuple[np.ndarray, np.ndarray]:
    """Number the (period, room) slots of each course as lectures, course by course."""
    lp = np.zeros(len(cp.lecture_course), np.int64)
    lr = np.zeros(len(cp.lecture_course), np.int64)
    start = 0
    for c in range(cp.n_courses):
        got = sorted(slots.get(c, []))
        for k, (p, r) in enumerate(got):
            lp[start + k], lr[start + k] = p, r
        start += int(cp.n_lectures_of[c])
    return lp, lr


def feasible(
    cp: Compiled,
    fixed: Fixed,
    *,
    time_limit: float,
    workers: int,
    seed: int,
    deterministic: float | None = None,
) -> Solved:
    """A timetable with no hard violation: periods by CP-SAT, rooms matched per period."""
    m = cp_model.CpModel()
    C, P = cp.n_courses, cp.n_periods
    pinned_at: dict[tuple[int, int], int] = {}
    for c, p, r in fixed.pins:
        pinned_at[(c, p)] = r
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    for c in range(C):
        for p in range(P):
            if (c, p) in pinned_at:
                x[c, p] = m.new_constant(1)
            elif not cp.unavailable[c, p]:
                x[c, p] = m.new_bool_var(f"x{c}_{p}")
        m.add(sum(x[c, p] for p in range(P) if (c, p) in x) == int(cp.n_lectures_of[c]))
    for g in _groups(cp):
        for p in range(P):
            vs = [x[c, p] for c in g if (c, p) in x]
            if len(vs) > 1:
                m.add_at_most_one(vs)
    open_rooms = (~fixed.closed).sum(axis=0)
    for p in range(P):
        vs = [x[c, p] for c in range(C) if (c, p) in x]
        m.add(sum(vs) <= int(open_rooms[p]))
    solver = _solver(time_limit, workers, seed, deterministic)
    st = solver.solve(m)
    status = STATUS.get(st, "unknown")
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Solved(None, None, status, None, None, solver.wall_time)
    slots: dict[int, list[tuple[int, int]]] = {}
    for p in range(P):
        here = [c for c in range(C) if (c, p) in x and solver.value(x[c, p])]
        taken = {pinned_at[(c, p)] for c in here if (c, p) in pinned_at}
        free = [c for c in here if (c, p) not in pinned_at]
        rooms = [r for r in range(cp.n_rooms) if not fixed.closed[r, p] and r not in taken]
        for c in here:
            if (c, p) in pinned_at:
                slots.setdefault(c, []).append((p, pinned_at[(c, p)]))
        if free:
            over = np.maximum(cp.students[free][:, None] - cp.capacity[rooms][None, :], 0)
            rows, cols = linear_sum_assignment(over)
            for i, j in zip(rows, cols, strict=True):
                slots.setdefault(free[i], []).append((p, rooms[j]))
    lp, lr = _lectures_from(cp, slots)
    return Solved(lp, lr, status, None, None, solver.wall_time)


def _room_model(cp: Compiled, fixed: Fixed) -> tuple[cp_model.CpModel, dict, dict]:
    """y[c, p, r] for every allowed slot; x[c, p] = lecture of c in p (in some room)."""
    m = cp_model.CpModel()
    C, P, R = cp.n_courses, cp.n_periods, cp.n_rooms
    y: dict[tuple[int, int, int], cp_model.IntVar] = {}
    x: dict[tuple[int, int], cp_model.LinearExpr] = {}
    pins = {(c, p): r for c, p, r in fixed.pins}
    for c in range(C):
        for p in range(P):
            if cp.unavailable[c, p] and (c, p) not in pins:
                continue
            vs = []
            for r in range(R):
                if fixed.closed[r, p] and pins.get((c, p)) != r:
                    continue
                v = m.new_bool_var(f"y{c}_{p}_{r}")
                y[c, p, r] = v
                vs.append(v)
            if vs:
                m.add_at_most_one(vs)
                x[c, p] = sum(vs)
        m.add(sum(x[c, p] for p in range(P) if (c, p) in x) == int(cp.n_lectures_of[c]))
    for (c, p), r in pins.items():
        m.add(y[c, p, r] == 1)
    for p in range(P):
        for r in range(R):
            vs = [y[c, p, r] for c in range(C) if (c, p, r) in y]
            if len(vs) > 1:
                m.add_at_most_one(vs)
    for g in _groups(cp):
        for p in range(P):
            vs = [y[c, p, r] for c in g for r in range(R) if (c, p, r) in y]
            if len(vs) > 1:
                m.add_at_most_one(vs)
    return m, y, x


def _read_rooms(cp: Compiled, solver: cp_model.CpSolver, y: dict) -> tuple[np.ndarray, np.ndarray]:
    slots: dict[int, list[tuple[int, int]]] = {}
    for (c, p, r), v in y.items():
        if solver.value(v):
            slots.setdefault(c, []).append((p, r))
    return _lectures_from(cp, slots)


def least_changes(
    cp: Compiled,
    fixed: Fixed,
    lp0: np.ndarray,
    lr0: np.ndarray,
    *,
    time_limit: float,
    workers: int,
    seed: int,
    deterministic: float | None = None,
) -> tuple[Solved, int]:
    """A feasible timetable keeping as many of the published (course, period, room) slots as
    possible; returns it and the number of lectures moved (proved least when optimal)."""
    m, y, _ = _room_model(cp, fixed)
    kept = []
    for l_, (p, r) in enumerate(zip(lp0, lr0, strict=True)):
        key = (int(cp.lecture_course[l_]), int(p), int(r))
        if key in y:
            kept.append(y[key])
            m.add_hint(y[key], 1)
    m.maximize(sum(kept))
    solver = _solver(time_limit, workers, seed, deterministic)
    st = solver.solve(m)
    status = STATUS.get(st, "unknown")
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Solved(None, None, status, None, None, solver.wall_time), -1
    lp, lr = _read_rooms(cp, solver, y)
    moved = len(lp0) - int(round(solver.objective_value))
    least = len(lp0) - int(round(solver.best_objective_bound))
    return Solved(lp, lr, status, moved, least, solver.wall_time), moved


def exact(
    cp: Compiled,
    fixed: Fixed,
    *,
    time_limit: float,
    workers: int,
    seed: int,
    deterministic: float | None = None,
    hint: tuple[np.ndarray, np.ndarray] | None = None,
) -> Solved:
    """The whole formulation with its soft costs: an optimum on small instances, a lower bound
    (CP-SAT's proved bound) on the others."""
    m, y, x = _room_model(cp, fixed)
    C, P, R, D, ppd = cp.n_courses, cp.n_periods, cp.n_rooms, cp.days, cp.ppd
    terms = []
    for (c, _p, r), v in y.items():
        over = int(cp.students[c] - cp.capacity[r])
        if over > 0:
            terms.append(over * v)
    for c in range(C):
        worked = []
        for d in range(D):
            w = m.new_bool_var(f"w{c}_{d}")
            m.add(w <= sum(x[c, p] for p in range(d * ppd, (d + 1) * ppd) if (c, p) in x))
            worked.append(w)
        short = m.new_int_var(0, int(cp.min_days[c]), f"short{c}")
        m.add(short >= int(cp.min_days[c]) - sum(worked))
        terms.append(5 * short)
        used = []
        for r in range(R):
            ys = [y[c, p, r] for p in range(P) if (c, p, r) in y]
            if ys:
                u = m.new_bool_var(f"u{c}_{r}")
                for v in ys:
                    m.add_implication(v, u)
                used.append(u)
        extra = m.new_int_var(0, R, f"extra{c}")
        m.add(extra >= sum(used) - 1)
        terms.append(extra)
    zero = 0
    for q, idx in enumerate(cp.curriculum_courses):
        z = [sum(x[c, p] for c in idx if (c, p) in x) for p in range(P)]  # 0/1: no conflicts
        for p in range(P):
            k = p % ppd
            left = z[p - 1] if k > 0 else zero
            right = z[p + 1] if k < ppd - 1 else zero
            iso = m.new_bool_var(f"iso{q}_{p}")
            m.add(iso >= z[p] - left - right)
            terms.append(2 * iso)
    m.minimize(sum(terms))
    if hint is not None:
        for l_, (p, r) in enumerate(zip(*hint, strict=True)):
            key = (int(cp.lecture_course[l_]), int(p), int(r))
            if key in y:
                m.add_hint(y[key], 1)
    solver = _solver(time_limit, workers, seed, deterministic)
    st = solver.solve(m)
    status = STATUS.get(st, "unknown")
    bound = float(solver.best_objective_bound) if st != cp_model.MODEL_INVALID else None
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Solved(None, None, status, None, bound, solver.wall_time)
    lp, lr = _read_rooms(cp, solver, y)
    return Solved(lp, lr, status, float(solver.objective_value), bound, solver.wall_time)


def require(solved: Solved, what: str) -> Solved:
    if solved.lp is None:
        reason = (
            "the hard constraints cannot all hold (CP-SAT proved it)"
            if solved.status == "infeasible"
            else f"no timetable found within the time limit ({solved.status})"
        )
        raise DataError(f"{what}: {reason}")
    return solved
