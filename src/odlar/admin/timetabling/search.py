"""Simulated annealing over feasible timetables: the workhorse for the soft cost.

The state is a period and a room for every lecture, always free of hard violations (the
search starts from CP-SAT's feasible timetable and rejects any move that would break one).
One move takes a lecture to a random (period, room); when another lecture holds that slot
the two swap. Every move is scored by delta evaluation on incremental counters (lectures
per course, teacher and curriculum per period; days and rooms per course), compiled with
numba. Each chain runs `chunk` moves per call with the GIL released, so one Python thread
per core runs one chain and the caller reads the clock, cools and reports between chunks.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numba as nb
import numpy as np

from odlar.admin.timetabling.instance import Compiled

W_DAYS, W_COMPACT = 5, 2


@dataclass
class Arrays:
    """The read-only instance data the compiled kernel needs."""

    lecture_course: np.ndarray
    teacher: np.ndarray
    students: np.ndarray
    min_days: np.ndarray
    capacity: np.ndarray
    unavailable: np.ndarray
    curr_ptr: np.ndarray
    curr_idx: np.ndarray
    in_curr: np.ndarray
    movable: np.ndarray  # lecture indices that may move (not pinned)
    fixed: np.ndarray  # fixed[l]: lecture l is pinned
    closed: np.ndarray  # closed[r, p]: the room cannot be used in the period
    ppd: int
    n_teachers: int
    n_curricula: int


def arrays(cp: Compiled, pinned: np.ndarray, closed: np.ndarray | None = None) -> Arrays:
    in_curr = np.zeros((cp.n_courses, max(cp.n_curricula, 1)), np.bool_)
    for q, idx in enumerate(cp.curriculum_courses):
        in_curr[idx, q] = True
    movable = np.flatnonzero(~pinned).astype(np.int64)
    if closed is None:
        closed = np.zeros((cp.n_rooms, cp.n_periods), np.bool_)
    return Arrays(
        cp.lecture_course,
        cp.teacher,
        cp.students,
        cp.min_days,
        cp.capacity,
        cp.unavailable,
        cp.curr_ptr,
        cp.curr_idx,
        in_curr,
        movable,
        pinned.astype(np.bool_),
        closed,
        cp.ppd,
        max(cp.n_teachers, 1),
        max(cp.n_curricula, 1),
    )


@nb.njit(cache=True)
def _day_cost(cnt: np.ndarray, q: int, d: int, ppd: int) -> int:
    """Isolated lectures of curriculum q on day d (the competition counts each lecture)."""
    cost = 0
    base = d * ppd
    for k in range(ppd):
        p = base + k
        n = cnt[q, p]
        if n > 0:
            left = k > 0 and cnt[q, p - 1] > 0
            right = k < ppd - 1 and cnt[q, p + 1] > 0
            if not left and not right:
                cost += n
    return cost


@nb.njit(cache=True)
def _compact_delta(cnt: np.ndarray, q: int, pa: int, pb: int, ppd: int) -> int:
    """Change in isolated lectures of q when one of its lectures moves from pa to pb."""
    da, db = pa // ppd, pb // ppd
    before = _day_cost(cnt, q, da, ppd)
    if db != da:
        before += _day_cost(cnt, q, db, ppd)
    cnt[q, pa] -= 1
    cnt[q, pb] += 1
    after = _day_cost(cnt, q, da, ppd)
    if db != da:
        after += _day_cost(cnt, q, db, ppd)
    cnt[q, pa] += 1
    cnt[q, pb] -= 1
    return after - before


@nb.njit(cache=True)
def _cap(students: np.ndarray, capacity: np.ndarray, c: int, r: int) -> int:
    over = students[c] - capacity[r]
    return over if over > 0 else 0


@nb.njit(cache=True)
def _days_pen(days: int, md: int) -> int:
    return W_DAYS * (md - days) if days < md else 0


@nb.njit(cache=True)
def _hard_delta(
    c, other, pfrom, pto, teacher_at, curr_at, unavailable, teacher, curr_ptr, curr_idx, in_curr
) -> int:
    """Change in hard violations (excess lectures per teacher and curriculum and period,
    lectures in unavailable periods) when course c goes from pfrom to pto while `other`
    (a course, or -1) goes the other way."""
    d = int(unavailable[c, pto]) - int(unavailable[c, pfrom])
    t = teacher[c]
    if other < 0 or teacher[other] != t:
        d += (teacher_at[t, pto] >= 1) - (teacher_at[t, pfrom] >= 2)
    for k in range(curr_ptr[c], curr_ptr[c + 1]):
        q = curr_idx[k]
        if other >= 0 and in_curr[other, q]:
            continue
        d += (curr_at[q, pto] >= 1) - (curr_at[q, pfrom] >= 2)
    return d


@nb.njit(cache=True, nogil=True)
def anneal_chunk(
    seed: int,
    n_moves: int,
    t_start: float,
    t_end: float,
    lp: np.ndarray,
    lr: np.ndarray,
    room_at: np.ndarray,
    course_at: np.ndarray,
    teacher_at: np.ndarray,
    curr_at: np.ndarray,
    course_day: np.ndarray,
    course_room: np.ndarray,
    n_days: np.ndarray,
    n_rooms: np.ndarray,
    cost_box: np.ndarray,
    best_lp: np.ndarray,
    best_lr: np.ndarray,
    origin_p: np.ndarray,
    origin_r: np.ndarray,
    move_weight: int,
    hard_weight: int,
    lecture_course: np.ndarray,
    teacher: np.ndarray,
    students: np.ndarray,
    min_days: np.ndarray,
    capacity: np.ndarray,
    unavailable: np.ndarray,
    curr_ptr: np.ndarray,
    curr_idx: np.ndarray,
    in_curr: np.ndarray,
    movable: np.ndarray,
    fixed: np.ndarray,
    closed: np.ndarray,
    ppd: int,
    room_move_share: float,
) -> int:
    """Run n_moves annealing moves, cooling geometrically from t_start to t_end.
    cost_box = [current soft cost, best soft cost of a feasible state, current hard
    violations]; returns the number of accepted moves."""
    if seed >= 0:
        np.random.seed(seed)
    n_rooms_total, n_periods = room_at.shape
    n_mov = movable.shape[0]
    if n_mov == 0:
        return 0
    accepted = 0
    ratio = t_end / t_start
    cur = cost_box[0]
    best = cost_box[1]
    hard = cost_box[2]
    for it in range(n_moves):
        temp = t_start * ratio ** (it / n_moves)
        l1 = movable[np.random.randint(n_mov)]
        p1, r1 = lp[l1], lr[l1]
        c1 = lecture_course[l1]
        p2 = p1 if np.random.random() < room_move_share else np.random.randint(n_periods)
        r2 = np.random.randint(n_rooms_total)
        if p2 == p1 and r2 == r1:
            continue
        if closed[r2, p2]:
            continue
        l2 = room_at[r2, p2]
        c2 = -1
        if l2 >= 0:
            c2 = lecture_course[l2]
            if c2 == c1:
                continue
            # the partner must be movable and its new slot open
            if fixed[l2] or closed[r1, p1]:
                continue
        # a course twice in one period stays forbidden; conflicts and availability are
        # paid for with hard_weight, so the search can pass through infeasible timetables
        hd = 0
        if p2 != p1:
            if course_at[c1, p2] > 0 or (c2 >= 0 and course_at[c2, p1] > 0):
                continue
            hd += _hard_delta(
                c1,
                c2,
                p1,
                p2,
                teacher_at,
                curr_at,
                unavailable,
                teacher,
                curr_ptr,
                curr_idx,
                in_curr,
            )
            if c2 >= 0:
                hd += _hard_delta(
                    c2,
                    c1,
                    p2,
                    p1,
                    teacher_at,
                    curr_at,
                    unavailable,
                    teacher,
                    curr_ptr,
                    curr_idx,
                    in_curr,
                )
        # --- delta of the soft cost
        delta = _cap(students, capacity, c1, r2) - _cap(students, capacity, c1, r1)
        if r1 != r2:
            delta += (course_room[c1, r2] == 0) - (course_room[c1, r1] == 1)
        if c2 >= 0:
            delta += _cap(students, capacity, c2, r1) - _cap(students, capacity, c2, r2)
            if r1 != r2:
                delta += (course_room[c2, r1] == 0) - (course_room[c2, r2] == 1)
        d1, d2 = p1 // ppd, p2 // ppd
        if d1 != d2:
            nd = n_days[c1] - (course_day[c1, d1] == 1) + (course_day[c1, d2] == 0)
            delta += _days_pen(nd, min_days[c1]) - _days_pen(n_days[c1], min_days[c1])
            if c2 >= 0:
                nd = n_days[c2] - (course_day[c2, d2] == 1) + (course_day[c2, d1] == 0)
                delta += _days_pen(nd, min_days[c2]) - _days_pen(n_days[c2], min_days[c2])
        if p1 != p2:
            for k in range(curr_ptr[c1], curr_ptr[c1 + 1]):
                q = curr_idx[k]
                if c2 >= 0 and in_curr[c2, q]:
                    continue  # both move within q: its counts do not change
                delta += W_COMPACT * _compact_delta(curr_at, q, p1, p2, ppd)
            if c2 >= 0:
                for k in range(curr_ptr[c2], curr_ptr[c2 + 1]):
                    q = curr_idx[k]
                    if in_curr[c1, q]:
                        continue
                    delta += W_COMPACT * _compact_delta(curr_at, q, p2, p1, ppd)
        if move_weight > 0:  # minimal perturbation: each lecture away from its origin costs
            was = p1 != origin_p[l1] or r1 != origin_r[l1]
            now = p2 != origin_p[l1] or r2 != origin_r[l1]
            delta += move_weight * (now - was)
            if c2 >= 0:
                was = p2 != origin_p[l2] or r2 != origin_r[l2]
                now = p1 != origin_p[l2] or r1 != origin_r[l2]
                delta += move_weight * (now - was)
        if hard_weight <= 0 and hd > 0:
            continue  # feasible-only search
        total = delta + hard_weight * hd
        if total > 0 and np.random.random() >= math.exp(-total / temp):
            continue
        # --- apply
        accepted += 1
        cur += delta
        hard += hd
        _place(
            l1,
            c1,
            p1,
            r1,
            p2,
            r2,
            lp,
            lr,
            room_at,
            course_at,
            teacher_at,
            curr_at,
            course_day,
            course_room,
            n_days,
            n_rooms,
            teacher,
            curr_ptr,
            curr_idx,
            ppd,
        )
        if c2 >= 0:
            _place(
                l2,
                c2,
                p2,
                r2,
                p1,
                r1,
                lp,
                lr,
                room_at,
                course_at,
                teacher_at,
                curr_at,
                course_day,
                course_room,
                n_days,
                n_rooms,
                teacher,
                curr_ptr,
                curr_idx,
                ppd,
            )
            room_at[r1, p1] = l2
        if hard == 0 and cur < best:
            best = cur
            best_lp[:] = lp
            best_lr[:] = lr
    cost_box[0] = cur
    cost_box[1] = best
    cost_box[2] = hard
    return accepted


@nb.njit(cache=True)
def _place(
    lec,
    c,
    pfrom,
    rfrom,
    pto,
    rto,
    lp,
    lr,
    room_at,
    course_at,
    teacher_at,
    curr_at,
    course_day,
    course_room,
    n_days,
    n_rooms,
    teacher,
    curr_ptr,
    curr_idx,
    ppd,
):
    if room_at[rfrom, pfrom] == lec:
        room_at[rfrom, pfrom] = -1
    room_at[rto, pto] = lec
    lp[lec], lr[lec] = pto, rto
    if pfrom != pto:
        course_at[c, pfrom] -= 1
        course_at[c, pto] += 1
        t = teacher[c]
        teacher_at[t, pfrom] -= 1
        teacher_at[t, pto] += 1
        for k in range(curr_ptr[c], curr_ptr[c + 1]):
            q = curr_idx[k]
            curr_at[q, pfrom] -= 1
            curr_at[q, pto] += 1
        dfrom, dto = pfrom // ppd, pto // ppd
        if dfrom != dto:
            course_day[c, dfrom] -= 1
            if course_day[c, dfrom] == 0:
                n_days[c] -= 1
            if course_day[c, dto] == 0:
                n_days[c] += 1
            course_day[c, dto] += 1
    if rfrom != rto:
        course_room[c, rfrom] -= 1
        if course_room[c, rfrom] == 0:
            n_rooms[c] -= 1
        if course_room[c, rto] == 0:
            n_rooms[c] += 1
        course_room[c, rto] += 1


class Chain:
    """One annealing chain: its timetable, counters and RNG seed."""

    def __init__(
        self,
        cp: Compiled,
        a: Arrays,
        lp: np.ndarray,
        lr: np.ndarray,
        seed: int,
        origin: tuple[np.ndarray, np.ndarray] | None = None,
        move_weight: int = 0,
        hard_weight: int = 0,
    ) -> None:
        self.a, self.seed, self.hard_weight = a, seed, hard_weight
        C, P, R = cp.n_courses, cp.n_periods, cp.n_rooms
        self.lp, self.lr = lp.astype(np.int64).copy(), lr.astype(np.int64).copy()
        self.room_at = np.full((R, P), -1, np.int64)
        self.course_at = np.zeros((C, P), np.int64)
        self.teacher_at = np.zeros((a.n_teachers, P), np.int64)
        self.curr_at = np.zeros((a.n_curricula, P), np.int64)
        self.course_day = np.zeros((C, cp.days), np.int64)
        self.course_room = np.zeros((C, R), np.int64)
        for l_, (p, r) in enumerate(zip(self.lp, self.lr, strict=True)):
            c = a.lecture_course[l_]
            self.room_at[r, p] = l_
            self.course_at[c, p] += 1
            self.teacher_at[a.teacher[c], p] += 1
            self.curr_at[a.curr_idx[a.curr_ptr[c] : a.curr_ptr[c + 1]], p] += 1
            self.course_day[c, p // a.ppd] += 1
            self.course_room[c, r] += 1
        self.n_days = (self.course_day > 0).sum(axis=1).astype(np.int64)
        self.n_rooms = (self.course_room > 0).sum(axis=1).astype(np.int64)
        self.origin_p, self.origin_r = (
            origin if origin is not None else (self.lp.copy(), self.lr.copy())
        )
        self.move_weight = int(move_weight)
        cost = soft_cost(cp, self.lp, self.lr) + self.move_weight * self.moved()
        hard = int(np.maximum(self.teacher_at - 1, 0).sum() + np.maximum(self.curr_at - 1, 0).sum())
        hard += int(a.unavailable[a.lecture_course, self.lp].sum())
        self.box = np.array([cost, cost if hard == 0 else 1 << 40, hard], np.int64)
        self.best_lp, self.best_lr = self.lp.copy(), self.lr.copy()
        self.moves = 0
        self.accepted = 0

    def moved(self) -> int:
        return int(((self.lp != self.origin_p) | (self.lr != self.origin_r)).sum())

    def run(
        self, n_moves: int, t_start: float, t_end: float, first: bool, room_move_share: float = 0.2
    ) -> None:
        a = self.a
        self.accepted += anneal_chunk(
            self.seed if first else -1,
            n_moves,
            t_start,
            t_end,
            self.lp,
            self.lr,
            self.room_at,
            self.course_at,
            self.teacher_at,
            self.curr_at,
            self.course_day,
            self.course_room,
            self.n_days,
            self.n_rooms,
            self.box,
            self.best_lp,
            self.best_lr,
            self.origin_p,
            self.origin_r,
            self.move_weight,
            self.hard_weight,
            a.lecture_course,
            a.teacher,
            a.students,
            a.min_days,
            a.capacity,
            a.unavailable,
            a.curr_ptr,
            a.curr_idx,
            a.in_curr,
            a.movable,
            a.fixed,
            a.closed,
            a.ppd,
            room_move_share,
        )
        self.moves += n_moves

    @property
    def best(self) -> int:
        return int(self.box[1])


def soft_cost(cp: Compiled, lp: np.ndarray, lr: np.ndarray) -> int:
    """The soft cost of a feasible timetable from the arrays (the validator is the reference)."""
    c = cp.lecture_course
    cap = np.maximum(cp.students[c] - cp.capacity[lr], 0).sum()
    days = np.zeros((cp.n_courses, cp.days), bool)
    days[c, lp // cp.ppd] = True
    md = (W_DAYS * np.maximum(cp.min_days - days.sum(1), 0)).sum()
    rooms = np.zeros((cp.n_courses, cp.n_rooms), bool)
    rooms[c, lr] = True
    rs = np.maximum(rooms.sum(1) - 1, 0).sum()
    cc = 0
    for idx in cp.curriculum_courses:
        cnt = np.zeros(cp.n_periods, np.int64)
        mask = np.isin(c, idx)
        np.add.at(cnt, lp[mask], 1)
        grid = cnt.reshape(cp.days, cp.ppd)
        left = np.zeros_like(grid)
        left[:, 1:] = grid[:, :-1]
        right = np.zeros_like(grid)
        right[:, :-1] = grid[:, 1:]
        cc += int(grid[(grid > 0) & (left == 0) & (right == 0)].sum())
    return int(cap + md + rs + W_COMPACT * cc)


@dataclass
class AnnealResult:
    lp: np.ndarray
    lr: np.ndarray
    cost: int  # soft cost (+ move_weight x moved, when perturbation is minimised)
    moves: int
    seconds: float
    history: list[tuple[float, int]]  # (seconds, best cost so far)
    chains: int


def anneal(
    cp: Compiled,
    a: Arrays,
    lp: np.ndarray,
    lr: np.ndarray,
    *,
    seed: int,
    workers: int,
    time_limit: float | None,
    iterations: int | None = None,
    t_start: float = 3.0,
    t_end: float = 0.05,
    chunk: int = 100_000,
    report: Callable[[float, int], None] | None = None,
    origin: tuple[np.ndarray, np.ndarray] | None = None,
    move_weight: int = 0,
    hard_weight: int = 0,
) -> AnnealResult:
    """`workers` chains in parallel threads, each cooling from t_start to t_end over the time
    limit (or over `iterations` moves, which makes a run reproducible); the best wins."""
    chains = [
        Chain(cp, a, lp, lr, seed * 1000 + k, origin, move_weight, hard_weight)
        for k in range(max(1, workers))
    ]
    # compile (or load from numba's cache) before the clock starts: zero moves
    chains[0].run(0, t_start, t_end, True)
    start = time.perf_counter()
    history: list[tuple[float, int]] = [(0.0, chains[0].best)]
    lock = threading.Lock()

    def work(ch: Chain, k: int) -> None:
        first = True
        done = 0
        while True:
            if iterations is not None:
                if done >= iterations:
                    return
                frac0, n = done / iterations, min(chunk, iterations - done)
                frac1 = (done + n) / iterations
            else:
                elapsed = time.perf_counter() - start
                if elapsed >= time_limit:
                    return
                frac0 = elapsed / time_limit
                # guess this chunk's share of time from the moves per second so far
                rate = ch.moves / elapsed if elapsed > 0 and ch.moves else 1e6
                n = chunk
                frac1 = min(1.0, frac0 + n / rate / time_limit)
            ch.run(
                n, t_start * (t_end / t_start) ** frac0, t_start * (t_end / t_start) ** frac1, first
            )
            first = False
            done += n
            with lock:
                best = min(c.best for c in chains)
                if best < history[-1][1]:
                    history.append((time.perf_counter() - start, best))
                if k == 0 and report is not None:
                    report(frac1, best)

    if len(chains) == 1:
        work(chains[0], 0)
    else:
        threads = [
            threading.Thread(target=work, args=(ch, k), daemon=True) for k, ch in enumerate(chains)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    win = min(chains, key=lambda ch: ch.best)
    return AnnealResult(
        win.best_lp.copy(),
        win.best_lr.copy(),
        win.best,
        sum(ch.moves for ch in chains),
        time.perf_counter() - start,
        history,
        len(chains),
    )
