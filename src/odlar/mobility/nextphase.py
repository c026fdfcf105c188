"""The next-phase API of `mobility.signals`: its request and answer, how a request becomes
the batched arrays of `batch`, the gate every answer passes, and what the event log keeps.

A request gives its signals in one of two forms: `signals`, one object per signal (its
counts per link or as `link_counts` lists), or `table`, one list per field with one entry
per signal. The table is the form for a whole city: it is parsed without a model object
per signal and goes into the arrays of `batch` in a few numpy calls. Both forms give the
same answer for the same counts (tested).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from pydantic import (
    BaseModel,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from odlar.core.errors import DataError
from odlar.core.tasks import MAX_VERSION
from odlar.core.versions import VERSION_DEFAULT
from odlar.mobility import batch, constraints
from odlar.mobility.layout import SignalLayout, transition_state

if TYPE_CHECKING:
    from odlar.mobility.task import SignalsModel

MAX_SIGNALS = 1000
Count = Annotated[float, Field(ge=0, le=10_000)]
Seconds = Annotated[float, Field(ge=0, le=1e9)]
LinkIndex = Annotated[int, Field(ge=0, le=10_000)]
SignalId = Annotated[str, Field(min_length=1, max_length=200)]
PhaseIndex = Annotated[int, Field(ge=0, le=1000)]
KINDS = ("approach", "queue", "inside", "downstream")
#: the request field of signal i's `name`, for errors: signals[i].name or table.name[i]
Where = Callable[[int, str], str]


class LinkDetectors(BaseModel):
    index: int = Field(ge=0, le=10_000, description="Controlled link index (SUMO linkIndex)")
    approach: float = Field(default=0, ge=0, le=10_000, description="Vehicles within 50 m")
    queue: float = Field(default=0, ge=0, le=10_000, description="Halting within 200 m")
    inside: float = Field(default=0, ge=0, le=10_000, description="Halting inside the junction")
    downstream: float = Field(
        default=0, ge=0, le=10_000, description="Halting on the exit lane and beyond"
    )


class DenseCounts(BaseModel):
    approach: list[Count] = Field(default_factory=list, max_length=10_000)
    queue: list[Count] = Field(default_factory=list, max_length=10_000)
    inside: list[Count] = Field(default_factory=list, max_length=10_000)
    downstream: list[Count] = Field(default_factory=list, max_length=10_000)


class SignalState(BaseModel):
    signal: SignalId = Field(description="Traffic light id")
    current_phase: PhaseIndex = Field(description="Index of the green phase shown now")
    seconds_since_green: list[Seconds] | None = Field(
        default=None,
        max_length=1000,
        description="Per green phase, seconds since it was last green (0 for the current one)",
    )
    green_seconds: float | None = Field(
        default=None,
        ge=0,
        le=1e9,
        description="Seconds the current phase has been green (needed, with "
        "seconds_since_green, when the model keeps pedestrian limits)",
    )
    emergency_links: list[LinkIndex] = Field(
        default_factory=list,
        max_length=100,
        description="Controlled link indices on which an emergency vehicle approaches",
    )
    links: list[LinkDetectors] = Field(default_factory=list, max_length=10_000)
    link_counts: DenseCounts | None = Field(
        default=None,
        description="The same counts as `links`, as one list per kind indexed by link index "
        "(compact, for a request carrying a whole city's signals); give one or the other",
    )


_PER_LINK = "Per signal, one count per link index (unused indices: 0); omitted: all 0"


class SignalTable(BaseModel):
    """Every signal of a request as columns: entry i of each list belongs to signal[i].
    The same fields as `signals`, for a whole city in one request (parsed several times
    faster than one object per signal)."""

    signal: list[SignalId] = Field(
        min_length=1, max_length=MAX_SIGNALS, description="Traffic light ids"
    )
    current_phase: list[PhaseIndex] = Field(
        max_length=MAX_SIGNALS, description="Per signal, the green phase shown now"
    )
    seconds_since_green: list[list[Seconds]] | None = Field(
        default=None,
        max_length=MAX_SIGNALS,
        description="Per signal, one value per green phase: seconds since it was last green",
    )
    green_seconds: list[Seconds] | None = Field(
        default=None,
        max_length=MAX_SIGNALS,
        description="Per signal, seconds its current phase has been green (needed, with "
        "seconds_since_green, when the model keeps pedestrian limits)",
    )
    emergency_links: list[list[LinkIndex]] | None = Field(
        default=None,
        max_length=MAX_SIGNALS,
        description="Per signal, the link indices on which an emergency vehicle approaches",
    )
    approach: list[list[Count]] | None = Field(
        default=None, max_length=MAX_SIGNALS, description=f"{_PER_LINK}: vehicles within 50 m"
    )
    queue: list[list[Count]] | None = Field(
        default=None, max_length=MAX_SIGNALS, description=f"{_PER_LINK}: halting within 200 m"
    )
    inside: list[list[Count]] | None = Field(
        default=None,
        max_length=MAX_SIGNALS,
        description=f"{_PER_LINK}: halting inside the junction",
    )
    downstream: list[list[Count]] | None = Field(
        default=None,
        max_length=MAX_SIGNALS,
        description=f"{_PER_LINK}: halting on the exit lane and beyond",
    )

    @model_validator(mode="after")
    def _one_entry_per_signal(self) -> SignalTable:
        n = len(self.signal)
        for column in ("current_phase", "seconds_since_green", "green_seconds",
                       "emergency_links", *KINDS):  # fmt: skip
            values = getattr(self, column)
            if values is not None and len(values) != n:
                raise ValueError(f"table.{column} has {len(values)} entries, table.signal {n}")
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _name_the_signal(
        cls, data: Any, handler: ModelWrapValidatorHandler[SignalTable]
    ) -> SignalTable:
        """A bad value is reported with its signal's id, not only its row number."""
        try:
            return handler(data)
        except ValidationError as exc:
            names = data.get("signal") if isinstance(data, dict) else None
            if not isinstance(names, list):
                raise
            raise ValidationError.from_exception_data(
                exc.title, [_named(e, names) for e in exc.errors()]
            ) from None


def _named(error: Any, names: list[Any]) -> Any:
    loc, msg = error["loc"], error["msg"]
    if len(loc) > 1 and loc[0] != "signal" and isinstance(loc[1], int) and loc[1] < len(names):
        msg = f"signal '{names[loc[1]]}': {msg}"
    return {"type": PydanticCustomError(error["type"], msg, error.get("ctx")), "loc": loc,
            "input": error["input"]}  # fmt: skip


class NextPhaseRequest(BaseModel):
    model_version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description=VERSION_DEFAULT
    )
    signals: list[SignalState] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SIGNALS,
        description="One object per signal; give this or `table`",
    )
    table: SignalTable | None = Field(
        default=None, description="The signals as columns (for many signals); or `signals`"
    )

    @model_validator(mode="after")
    def _one_form(self) -> NextPhaseRequest:
        if (self.signals is None) == (self.table is None):
            raise ValueError("give the signals as `signals` or as `table`, one of the two")
        return self


class NextPhase(BaseModel):
    signal: str
    phase: int = Field(description="Green phase to show next")
    state: str = Field(description="SUMO signal state string of that phase")
    yellow: str | None = Field(description="State to show first for yellow_seconds, if any")
    yellow_seconds: int
    hold_seconds: int = Field(description="Decide again after this many seconds")
    override: str | None = Field(
        default=None,
        description="Why the controller's own choice was replaced: min_green or max_red "
        "(pedestrian limits) or emergency (pre-emption)",
    )


class NextPhaseResponse(BaseModel):
    model_version: int | None = None
    predictions: list[NextPhase]


@dataclass
class _Asked:
    """A request's signals in one shape, whichever form they came in."""

    ids: tuple[str, ...]
    layouts: list[SignalLayout]
    phase: list[int]
    since: list[list[float] | None]  # as given; None where not given
    green: list[float | None]
    emergency: list[list[int]]
    counts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # concatenated, per KINDS
    since_flat: np.ndarray  # concatenated, 0 where not given
    where: Where


def answer(model: SignalsModel, request: NextPhaseRequest) -> NextPhaseResponse:
    plans = _plans(model)
    if request.table is not None:
        asked = _from_table(model, plans, request.table)
    else:
        assert request.signals is not None  # one of the two: the request's own check
        asked = _from_signals(model, plans, request.signals)
    b = batch.Batch(plans.of(asked.ids), *asked.counts, asked.phase, asked.since_flat)
    chosen = batch.decide_many(model.method, b, model.controller_params)
    yellow_s = int(model.scenario.get("yellow", 3))
    hold = int(model.scenario.get("delta", 10))
    rules = model.rules if model.rules is not None and model.rules.active else None
    out = []
    for i, (tid, layout, cur, k) in enumerate(
        zip(asked.ids, asked.layouts, asked.phase, chosen, strict=True)
    ):
        why = None
        if rules is not None or asked.emergency[i]:
            k, why = _gate(rules, layout, asked, i, k)
        yellow = _yellow(layout.greens[cur], layout.greens[k])
        out.append({
            "signal": tid, "phase": k, "state": layout.greens[k], "yellow": yellow,
            "yellow_seconds": yellow_s if yellow else 0, "hold_seconds": hold, "override": why,
        })  # fmt: skip
    # one validation of plain rows: half the time of one model object per signal (and
    # model_construct, in Python, is slower still)
    return NextPhaseResponse.model_validate({"predictions": out})


def _plans(model: SignalsModel) -> batch.Plans:
    """The model's `batch.Plans`, made once per loaded model (the served model stays
    loaded: tracking's cache)."""
    hit = _PLANS.get(id(model.layouts))
    if hit is not None and hit[0] is model.layouts:
        return hit[1]
    plans = batch.Plans(model.layouts)
    if len(_PLANS) > 64:
        _PLANS.clear()
    _PLANS[id(model.layouts)] = (model.layouts, plans)
    return plans


_PLANS: dict[int, tuple[dict[str, SignalLayout], batch.Plans]] = {}


def _layouts(model: SignalsModel, ids: list[str], where: Where) -> list[SignalLayout]:
    try:
        return [model.layouts[t] for t in ids]
    except KeyError:
        i = next(i for i, t in enumerate(ids) if t not in model.layouts)
        raise DataError(
            f"unknown signal '{ids[i]}' (this model controls "
            f"{', '.join(sorted(model.layouts)[:20])})",
            field=where(i, "signal"),
        ) from None


def _check_phase(
    ids: tuple[str, ...], layouts: list[SignalLayout], phase: list[int], where: Where
) -> None:
    for i, (lay, k) in enumerate(zip(layouts, phase, strict=True)):
        if k >= len(lay.greens):
            raise DataError(
                f"signal '{ids[i]}' has {len(lay.greens)} green phases (0 to "
                f"{len(lay.greens) - 1}), not {k}",
                field=where(i, "current_phase"),
            )


def _check_emergency(
    ids: tuple[str, ...], layouts: list[SignalLayout], emergency: list[list[int]], where: Where
) -> None:
    for i, links in enumerate(emergency):
        lay = layouts[i]
        for j, link in enumerate(links):
            if link >= len(lay.links) or lay.links[link] is None:
                raise DataError(
                    f"signal '{ids[i]}' has no controlled link {link} (0 to {len(lay.links) - 1})",
                    field=f"{where(i, 'emergency_links')}[{j}]",
                )


def _from_table(model: SignalsModel, plans: batch.Plans, t: SignalTable) -> _Asked:
    def where(i: int, name: str) -> str:
        return f"table.{name}[{i}]"

    ids = tuple(t.signal)
    layouts = _layouts(model, t.signal, where)
    _check_phase(ids, layouts, t.current_phase, where)
    plan = plans.of(ids)
    n = len(ids)
    emergency = t.emergency_links if t.emergency_links is not None else [[]] * n
    _check_emergency(ids, layouts, emergency, where)

    def column(name: str, values: list[list[float]] | None, sizes: np.ndarray, off: np.ndarray,
               unit: str) -> np.ndarray:  # fmt: skip
        if values is None:
            return np.zeros(int(off[-1]))
        lengths = np.fromiter(map(len, values), np.int64, count=n)
        bad = np.flatnonzero(lengths != sizes)
        if bad.size:
            i = int(bad[0])
            raise DataError(
                f"signal '{ids[i]}' has {sizes[i]} {unit}; table.{name}[{i}] has "
                f"{lengths[i]} values",
                field=where(i, name),
            )
        return np.fromiter(itertools.chain.from_iterable(values), float, count=int(off[-1]))

    counts = []
    for kind in KINDS:
        a = column(kind, getattr(t, kind), plan.links, plan.l_off, "link indices")
        if plan.unused.size:
            a[plan.unused] = 0.0  # indices no movement uses carry no detector
        counts.append(a)
    since = column("seconds_since_green", t.seconds_since_green, plan.phases, plan.p_off,
                   "green phases")  # fmt: skip
    return _Asked(
        ids, layouts, t.current_phase,
        list(t.seconds_since_green) if t.seconds_since_green is not None else [None] * n,
        list(t.green_seconds) if t.green_seconds is not None else [None] * n,
        emergency, (counts[0], counts[1], counts[2], counts[3]), since, where,
    )  # fmt: skip


def _from_signals(model: SignalsModel, plans: batch.Plans, signals: list[SignalState]) -> _Asked:
    def where(i: int, name: str) -> str:
        return f"signals[{i}].{name}"

    ids = tuple(s.signal for s in signals)
    layouts = _layouts(model, list(ids), where)
    phase = [s.current_phase for s in signals]
    _check_phase(ids, layouts, phase, where)
    emergency = [s.emergency_links for s in signals]
    _check_emergency(ids, layouts, emergency, where)
    compiled = plans.compiled
    rows = [_counts(lay, s, i, compiled[s.signal].unused) for i, (lay, s) in
            enumerate(zip(layouts, signals, strict=True))]  # fmt: skip
    since = []
    for i, (lay, s) in enumerate(zip(layouts, signals, strict=True)):
        if s.seconds_since_green is not None and len(s.seconds_since_green) != len(lay.greens):
            raise DataError(
                f"signal '{s.signal}': seconds_since_green has {len(s.seconds_since_green)} "
                f"values, one per green phase expected ({len(lay.greens)})",
                field=where(i, "seconds_since_green"),
            )
        since.append(s.seconds_since_green or [0.0] * len(lay.greens))
    counts = tuple(np.concatenate([r[k] for r in rows]) for k in range(4))
    return _Asked(
        ids, layouts, phase, [s.seconds_since_green for s in signals],
        [s.green_seconds for s in signals], emergency,
        (counts[0], counts[1], counts[2], counts[3]),
        np.fromiter(itertools.chain.from_iterable(since), float), where,
    )  # fmt: skip


def _counts(layout: SignalLayout, s: SignalState, i: int, unused: np.ndarray) -> list[np.ndarray]:
    """One signal's counts per link index, from `links` or `link_counts`."""
    n = len(layout.links)
    if s.link_counts is not None:
        if s.links:
            raise DataError(f"signal '{s.signal}': give links or link_counts, not both",
                            field=f"signals[{i}].link_counts")  # fmt: skip
        arrays = []
        for kind in KINDS:
            values = getattr(s.link_counts, kind)
            if values and len(values) != n:
                raise DataError(
                    f"signal '{s.signal}' has {n} link indices; link_counts.{kind} has "
                    f"{len(values)} values",
                    field=f"signals[{i}].link_counts.{kind}",
                )
            a = np.array(values, float) if values else np.zeros(n)
            if unused.size:
                a[unused] = 0.0  # indices no movement uses carry no detector
            arrays.append(a)
        return arrays
    arrays = [np.zeros(n) for _ in KINDS]
    for j, link in enumerate(s.links):
        if link.index >= n or layout.links[link.index] is None:
            raise DataError(
                f"signal '{s.signal}' has no controlled link {link.index} (0 to {n - 1})",
                field=f"signals[{i}].links[{j}].index",
            )
        for a, kind in zip(arrays, KINDS, strict=True):
            a[link.index] = getattr(link, kind)
    return arrays


def _gate(
    rules: constraints.Rules | None, layout: SignalLayout, asked: _Asked, i: int, k: int
) -> tuple[int, str | None]:
    """Emergency pre-emption, then the model's pedestrian limits: the same gate as the
    simulator's (`sim.Plant`), so no answer breaks a limit."""
    why = None
    cur = asked.phase[i]
    e = constraints.emergency_phase(layout, set(asked.emergency[i]), cur)
    if e is not None and e != k:
        k, why = e, "emergency"
    if rules is None:
        return k, why
    tid, since, green = asked.ids[i], asked.since[i], asked.green[i]
    lim = rules.of(tid)
    if green is None or (since is None and lim.max_red is not None):
        need = "green_seconds" if green is None else "seconds_since_green"
        raise DataError(
            f"signal '{tid}': this model keeps pedestrian limits (minimum green "
            f"{lim.min_green:g} s, maximum red {lim.max_red if lim.max_red is not None else '-'}"
            f" s) and needs {need}",
            field=asked.where(i, need),
        )
    red = np.array(since if since is not None else [0.0] * len(layout.greens), float)
    red[cur] = 0.0
    state = constraints.State(cur, float(green), red)
    k2, reason = constraints.enforce(state, k, lim, rules.delta, rules.yellow)
    return (k2, reason) if k2 != k else (k, why)


@lru_cache(maxsize=65536)
def _yellow(cur: str, nxt: str) -> str | None:
    return transition_state(cur, nxt)


# -- what the event log keeps --------------------------------------------------------


def decision_record(
    model: SignalsModel, request: NextPhaseRequest, response: NextPhaseResponse
) -> dict[str, Any]:
    """What the event log keeps of one answer: per signal, in the request's order, its id,
    the phase it showed and the phase chosen, the overrides, and the SHA-256 of the whole
    answer; the record's input digest is the request's. With the model version, that is
    the whole answer (`answer_from_record` rebuilds it, to the same digest) in about a
    tenth of its size."""
    if request.table is not None:
        ids, current = request.table.signal, request.table.current_phase
    else:
        assert request.signals is not None
        ids = [s.signal for s in request.signals]
        current = [s.current_phase for s in request.signals]
    p = response.predictions
    return {
        "signals": ids,
        "from": current,
        "phase": [x.phase for x in p],
        "override": {str(i): x.override for i, x in enumerate(p) if x.override},
        "answer_sha256": answer_digest(response),
    }


def answer_digest(response: NextPhaseResponse) -> str:
    return hashlib.sha256(response.model_dump_json().encode()).hexdigest()


def answer_from_record(
    model: SignalsModel, record: dict[str, Any], model_version: int | None
) -> NextPhaseResponse:
    """The answer an event-log record stands for (an auditor's check: its
    `answer_digest` equals the record's answer_sha256)."""
    yellow_s = int(model.scenario.get("yellow", 3))
    hold = int(model.scenario.get("delta", 10))
    why = record["override"]
    out = []
    for i, (tid, cur, k) in enumerate(
        zip(record["signals"], record["from"], record["phase"], strict=True)
    ):
        greens = model.layouts[tid].greens
        yellow = _yellow(greens[cur], greens[k])
        out.append(NextPhase(
            signal=tid, phase=k, state=greens[k], yellow=yellow,
            yellow_seconds=yellow_s if yellow else 0, hold_seconds=hold,
            override=why.get(str(i)),
        ))  # fmt: skip
    return NextPhaseResponse(model_version=model_version, predictions=out)
