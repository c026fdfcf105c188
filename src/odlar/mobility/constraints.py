"""Pedestrian limits and emergency pre-emption: the one gate between every controller and
the signal, whether that is SUMO (`sim.Plant`) or a cabinet (the next-phase API).

Two limits per signal, which no controller may break:

- **minimum green** (s): a green, once shown, stays at least this long (a pedestrian's
  walk and clearance time on the crossing that runs with it);
- **maximum red** (s): no green phase goes longer than this without green, whatever the
  detectors say (pedestrians are not detected; they wait at most this long).

Decisions fall on a grid (every `delta` s, with `yellow` s of yellow before a new green),
so a plan is safe when, after it, every phase can still get its green in time. `enforce`
checks the controller's choice that way and, when it is not safe, takes the phase with
the earliest deadline instead: with equal minimum greens, earliest-deadline-first meets
every deadline whenever any order does, and `check_feasible` refuses limits that no order
can meet (maximum red below one full cycle of minimum greens).

An emergency vehicle approaching a signal asks for a phase that serves its link; the
request is granted through the same check, so pedestrian limits come first.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from odlar.core.errors import DataError
from odlar.mobility.layout import SignalLayout

_EPS = 1e-6


@dataclass(frozen=True)
class Limits:
    """One signal's pedestrian limits, in seconds; None: no maximum red."""

    min_green: float = 0.0
    max_red: float | None = None


@dataclass(frozen=True)
class State:
    """What the gate needs to know of a signal at a decision."""

    phase: int  # green phase shown now
    green_for: float  # seconds it has been green
    red: np.ndarray  # per green phase, seconds since it was last green (0 for the current)


@dataclass(frozen=True)
class Rules:
    """The limits of every signal of a network and the decision timing they hold for."""

    delta: float
    yellow: float
    default: Limits
    signals: tuple[tuple[str, Limits], ...] = ()

    def of(self, tid: str) -> Limits:
        for sid, lim in self.signals:
            if sid == tid:
                return lim
        return self.default

    @property
    def active(self) -> bool:
        return any(
            lim.min_green > 0 or lim.max_red is not None
            for lim in (self.default, *(x[1] for x in self.signals))
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_green": self.default.min_green,
            "max_red": self.default.max_red,
            "signals": {sid: vars(lim) for sid, lim in self.signals},
        }


def hold_steps(lim: Limits, delta: float, yellow: float) -> int:
    """Decision intervals a new green must be held for its minimum green."""
    return max(1, math.ceil((lim.min_green + yellow) / delta - _EPS))


def shortest_cycle_red(lim: Limits, phases: int, delta: float, yellow: float) -> float:
    """The longest red of a phase when every phase in turn shows its minimum green."""
    return (phases - 1) * hold_steps(lim, delta, yellow) * delta + yellow


def check_feasible(rules: Rules, layouts: dict[str, SignalLayout]) -> None:
    unknown = sorted({sid for sid, _ in rules.signals} - set(layouts))
    if unknown:
        raise DataError(
            f"pedestrian limits name signals the network does not have: {', '.join(unknown[:5])}",
            field="signal",
        )
    for tid, lay in layouts.items():
        lim = rules.of(tid)
        if lim.max_red is None or len(lay.greens) < 2:
            continue
        need = shortest_cycle_red(lim, len(lay.greens), rules.delta, rules.yellow)
        if lim.max_red + _EPS < need:
            raise DataError(
                f"signal '{tid}': maximum red {lim.max_red:g} s cannot be kept with "
                f"{len(lay.greens)} green phases, a minimum green of {lim.min_green:g} s and "
                f"decisions every {rules.delta:g} s ({rules.yellow:g} s yellow): it needs at "
                f"least {need:g} s",
                field="ped_max_red",
            )


def _first_switch(state: State, action: int, lim: Limits, delta: float, yellow: float,
                  next_in: float) -> float:  # fmt: skip
    """Seconds from now to the first decision at which the signal may leave `action`."""
    # green shown so far: a new green starts only after its yellow
    shown = state.green_for if action == state.phase else -yellow
    wait = max(0.0, lim.min_green - shown - next_in)
    return next_in + math.ceil(wait / delta - _EPS) * delta


def safe(state: State, action: int, lim: Limits, delta: float, yellow: float,
         next_in: float | None = None) -> bool:  # fmt: skip
    """Whether, after `action` now, every other phase still gets green within the maximum
    red (served earliest deadline first, each held for its minimum green)."""
    if lim.max_red is None:
        return True
    nxt = delta if next_in is None else next_in
    red = state.red.astype(float).copy()
    if action != state.phase:
        if red[action] + yellow > lim.max_red + _EPS:
            return False
        red[state.phase] = 0.0  # its green ends now
    t = _first_switch(state, action, lim, delta, yellow, nxt)
    step = hold_steps(lim, delta, yellow) * delta
    for k in sorted((k for k in range(len(red)) if k != action), key=lambda k: -red[k]):
        if red[k] + t + yellow > lim.max_red + _EPS:
            return False
        t += step
    return True


def enforce(state: State, choice: int, lim: Limits, delta: float, yellow: float,
            next_in: float | None = None) -> tuple[int, str | None]:  # fmt: skip
    """The phase to show and, when it is not `choice`, why."""
    n = len(state.red)
    if n < 2 or (choice == state.phase and lim.max_red is None):
        return choice, None
    if choice != state.phase and state.green_for + _EPS < lim.min_green:
        return state.phase, "min_green"
    if safe(state, choice, lim, delta, yellow, next_in):
        return choice, None
    if state.green_for + _EPS < lim.min_green:
        return state.phase, "min_green"
    others = [k for k in range(n) if k != state.phase]
    urgent = max(others, key=lambda k: state.red[k])
    # keeping the current phase may be the safe plan (a phase was just served)
    if choice != state.phase and safe(state, state.phase, lim, delta, yellow, next_in):
        return state.phase, "max_red"
    return urgent, "max_red"


def emergency_phase(layout: SignalLayout, links: set[int], current: int) -> int | None:
    """The green phase serving most of the links emergency vehicles approach on (then most
    with priority 'G'; the current phase wins ties, so no needless yellow); None if no
    phase serves any of them."""
    if not links:
        return None

    def score(k: int) -> tuple[int, int]:
        st = layout.greens[k]
        return (sum(1 for i in links if i < len(st) and st[i] in "Gg"),
                sum(1 for i in links if i < len(st) and st[i] == "G"))  # fmt: skip

    best = max(range(len(layout.greens)), key=lambda k: (score(k), k == current))
    return best if score(best)[0] > 0 else None


# -- where the limits come from ----------------------------------------------------


def _seconds(value: Any, what: str, *, file: str | None = None, line: int | None = None) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{what} must be a number of seconds, not {value!r}", file=file,
                        line=line, field=what) from None  # fmt: skip
    if not math.isfinite(x) or x < 0 or x > 3600:
        raise DataError(f"{what} must be between 0 and 3600 s, not {value!r}", file=file,
                        line=line, field=what)  # fmt: skip
    return x


def read_limits(path: Path) -> dict[str, Limits]:
    """CSV `signal,min_green,max_red` (max_red may be empty: none), one signal a row."""
    if not path.is_file():
        raise DataError("pedestrian limits file not found", file=str(path))
    out: dict[str, Limits] = {}
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"signal", "min_green", "max_red"} - set(reader.fieldnames or ())
        if missing:
            raise DataError(f"missing column(s) {', '.join(sorted(missing))} (expected "
                            "signal,min_green,max_red)", file=str(path), line=1)  # fmt: skip
        for row in reader:
            line = reader.line_num
            sid = (row["signal"] or "").strip()
            if not sid:
                raise DataError("empty signal id", file=str(path), line=line, field="signal")
            if sid in out:
                raise DataError(f"signal '{sid}' given twice", file=str(path), line=line,
                                field="signal")  # fmt: skip
            red = (row["max_red"] or "").strip()
            out[sid] = Limits(
                _seconds(row["min_green"] or 0, "min_green", file=str(path), line=line),
                _seconds(red, "max_red", file=str(path), line=line) if red else None,
            )
    return out


#: controller parameters that set the limits (`-p ped_min_green=7 -p ped_max_red=90`)
PARAMS = ("ped_min_green", "ped_max_red", "ped_limits")


def rules_from(params: dict[str, Any], delta: float, yellow: float) -> Rules | None:
    """`ped_min_green` and `ped_max_red` (every signal) and `ped_limits` (a CSV per signal,
    which wins) from a controller's parameters; None when none is given."""
    given = {k: params[k] for k in PARAMS if params.get(k) not in (None, "")}
    if not given:
        return None
    red = given.get("ped_max_red")
    default = Limits(
        _seconds(given.get("ped_min_green", 0), "ped_min_green"),
        None if red is None else _seconds(red, "ped_max_red"),
    )
    per = read_limits(Path(str(given["ped_limits"]))) if "ped_limits" in given else {}
    return Rules(float(delta), float(yellow), default, tuple(sorted(per.items())))
