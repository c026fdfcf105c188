"""One SUMO episode through libsumo: start, observe, apply decisions, measure.

libsumo is SUMO linked into this process (13-20x faster than TraCI over a socket) and
allows one simulation per process, so parallel episodes run in separate processes
(`run_many`). The command line follows RESCO (`--time-to-teleport -1`, trip information
with unfinished trips) with a fixed `--seed` for reproducibility.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from odlar.core.compute.fanout import Backend, map_items
from odlar.core.errors import DataError
from odlar.mobility import constraints as C
from odlar.mobility import metrics as M
from odlar.mobility.layout import SignalLayout, from_program, is_green_state, transition_state
from odlar.mobility.policies import MAX_RED, Clock, LinkCounts, decide
from odlar.mobility.scenarios import Scenario

APPROACH_M = 50.0  # RESCO max-wave distance
QUEUE_M = 200.0  # RESCO max-pressure distance
HALT_SPEED = 0.1  # m/s, SUMO's own halting threshold
#: an emergency vehicle this close to its next signal asks for green on its link
EMERGENCY_M = 200.0
#: ... for at most this long per signal: one stuck behind a blocked exit would otherwise
#: hold its green for ever and starve every other approach into gridlock
EMERGENCY_HOLD_S = 30.0
NATIVE = ("fixed", "actuated")

#: chooses the next green phase of every signal at a decision epoch
Chooser = Callable[[float, dict[str, LinkCounts], dict[str, Clock]], dict[str, int]]


def traci() -> Any:
    import sumo  # noqa: F401  (sets SUMO_HOME, which libsumo needs to find its data)

    # libsumo prints a warning about pyarrow's version on import; it only matters for
    # Parquet output, which odlar does not use
    with contextlib.redirect_stdout(io.StringIO()):
        import libsumo
    return libsumo


def sumo_binary(name: str) -> str:
    import sumo

    return os.path.join(sumo.SUMO_HOME, "bin", name)


@dataclass
class Options:
    """How an episode is run; the defaults are RESCO's protocol."""

    seed: int = 42
    #: SUMO's --ignore-junction-blocker (s): a labelled deviation from RESCO that breaks
    #: junction deadlocks, which are permanent when teleporting is off
    junction_blocker: float | None = None
    #: pedestrian limits every adaptive controller's plan passes (`constraints.enforce`)
    rules: C.Rules | None = None
    #: emergency vehicles (vClass emergency) get green on their approach
    emergency_priority: bool = True
    sample_s: float = 60.0
    #: actuated control: minimum green and max factor over the static duration, max gap
    actuated: dict[str, float] = field(
        default_factory=lambda: {"min_dur": 5.0, "max_factor": 1.5, "max_gap": 3.0}
    )


class Observer:
    """Detector counts for every signal in one pass over the vehicles.

    Each vehicle is counted against the exact controlled link it will use next
    (`vehicle.getNextTLS`), so fragmented approaches (Ingolstadt's 1 m lanes in front of
    stop lines) count for the right movement, and vehicles stopped inside a junction
    count for the link whose internal lanes they are on."""

    def __init__(self, t: Any, layouts: dict[str, SignalLayout]) -> None:
        self.t, self.layouts = t, layouts
        self.vias: dict[str, tuple[str, int]] = {}
        controlled = {lk[0] for lay in layouts.values() for lk in lay.links if lk}
        self.down: dict[str, list[tuple[list[str], float]]] = {}
        for tid, lay in layouts.items():
            n_in = lay.n_in
            rows: list[tuple[list[str], float]] = []
            for i, lk in enumerate(lay.links):
                if lk is None:
                    rows.append(([], 1.0))
                    continue
                self._map_via(tid, i, lk[2])
                rows.append((self._downstream(lk[1], controlled), float(n_in[lk[1]])))
            self.down[tid] = rows

    def _map_via(self, tid: str, i: int, via: str) -> None:
        stack = [via] if via else []
        while stack:
            lane = stack.pop()
            if lane in self.vias or not lane.startswith(":"):
                continue
            self.vias[lane] = (tid, i)
            stack.extend(x[0] for x in self.t.lane.getLinks(lane))

    def _downstream(self, lane: str, controlled: set[str]) -> list[str]:
        """Lanes from `lane` on, up to QUEUE_M or the next signal-controlled lane, so a
        short connector does not hide the queue behind it."""
        out, frontier, seen = [], [(lane, 0.0)], {lane}
        while frontier:
            cur, off = frontier.pop()
            out.append(cur)
            length = self.t.lane.getLength(cur)
            if off + length >= QUEUE_M or cur in controlled:
                continue
            for link in self.t.lane.getLinks(cur):
                nxt = link[0]
                if nxt not in seen and not nxt.startswith(":"):
                    seen.add(nxt)
                    frontier.append((nxt, off + length))
        return out

    def counts(self) -> dict[str, LinkCounts]:
        t, layouts = self.t, self.layouts
        out = {tid: LinkCounts.zeros(len(lay.links)) for tid, lay in layouts.items()}
        for v in t.vehicle.getIDList():
            speed = t.vehicle.getSpeed(v)
            if speed < HALT_SPEED:
                key = self.vias.get(t.vehicle.getLaneID(v))
                if key is not None:
                    out[key[0]].inside[key[1]] += 1
            nxt = t.vehicle.getNextTLS(v)
            if not nxt:
                continue
            tid, li, dist, _ = nxt[0]
            c = out.get(tid)
            if c is None or li >= len(c.queue):
                continue
            if dist <= APPROACH_M:
                c.approach[li] += 1
            if dist <= QUEUE_M and speed < HALT_SPEED:
                c.queue[li] += 1
        halting: dict[str, int] = {}
        for tid, rows in self.down.items():
            d = out[tid].down
            for i, (lanes, n_in) in enumerate(rows):
                total = 0
                for lane in lanes:
                    h = halting.get(lane)
                    if h is None:
                        h = halting[lane] = t.lane.getLastStepHaltingNumber(lane)
                    total += h
                d[i] = total / n_in
        return out


class Plant:
    """Applies decisions with RESCO's timing: switching from green A to green B shows
    yellow on the links A served and B stops, then B's green until the next epoch.

    Every plan passes `constraints.enforce` here (pedestrian limits) after emergency
    pre-emption: nothing reaches SUMO that breaks a limit."""

    def __init__(
        self,
        t: Any,
        layouts: dict[str, SignalLayout],
        scenario: Scenario,
        rules: C.Rules | None = None,
    ) -> None:
        self.t, self.layouts, self.yellow = t, layouts, scenario.yellow
        self.delta = float(scenario.delta)
        self.rules = rules if rules is not None and rules.active else None
        self.pending: list[tuple[float, str, str]] = []
        self.green_since: dict[str, float] = {}
        self.last_green: dict[str, np.ndarray] = {}
        self.green_end: dict[str, np.ndarray] = {}  # when each phase last stopped being green
        self.phase: dict[str, int] = {}
        #: decisions the gate changed, by reason (min_green, max_red, emergency)
        self.overrides: dict[str, int] = {}

    def start(self, now: float) -> None:
        for tid, lay in self.layouts.items():
            self.phase[tid] = 0
            self.green_since[tid] = now
            # every phase starts as long unserved, so a signal first gives each phase with
            # waiting vehicles its turn (without this, cologne1 max-pressure locks at seed 42)
            self.last_green[tid] = np.full(len(lay.greens), now - MAX_RED)
            self.green_end[tid] = np.full(len(lay.greens), now)
            self.t.trafficlight.setRedYellowGreenState(tid, lay.greens[0])

    def clocks(self, now: float) -> dict[str, Clock]:
        return {tid: Clock(self.phase[tid], now - self.last_green[tid]) for tid in self.layouts}

    def state(self, tid: str, now: float) -> C.State:
        red = now - self.green_end[tid]
        red[self.phase[tid]] = 0.0
        return C.State(self.phase[tid], now - self.green_since[tid], red)

    def _gate(self, tid: str, k: int, now: float, emergency: set[int] | None,
              next_in: float | None) -> int:  # fmt: skip
        why = None
        if emergency:
            e = C.emergency_phase(self.layouts[tid], emergency, self.phase[tid])
            if e is not None and e != k:
                k, why = e, "emergency"
        if self.rules is not None:
            k2, reason = C.enforce(self.state(tid, now), k, self.rules.of(tid), self.delta,
                                   self.yellow, next_in)  # fmt: skip
            if k2 != k:
                k, why = k2, reason
        if why:
            self.overrides[why] = self.overrides.get(why, 0) + 1
        return k

    def decide(self, now: float, choice: dict[str, int],
               emergency: dict[str, set[int]] | None = None) -> None:  # fmt: skip
        for tid, k in choice.items():
            k = self._gate(tid, k, now, (emergency or {}).get(tid), None)
            if k == self.phase[tid]:
                self.last_green[tid][k] = now
                continue
            self._switch(tid, k, now)

    def preempt(self, now: float, emergency: dict[str, set[int]], next_in: float) -> None:
        """Between decisions: give an approaching emergency vehicle its green now, if the
        pedestrian limits allow and no yellow is running."""
        for tid, links in emergency.items():
            cur = self.phase[tid]
            e = C.emergency_phase(self.layouts[tid], links, cur)
            if e is None or e == cur or now < self.green_since[tid] - 1e-9:
                continue
            k = self._gate(tid, e, now, links, next_in)
            if k != cur:
                self._switch(tid, k, now)

    def _switch(self, tid: str, k: int, now: float) -> None:
        cur, lay = self.phase[tid], self.layouts[tid]
        yellow = transition_state(lay.greens[cur], lay.greens[k])
        if yellow is not None and self.yellow > 0:
            self.t.trafficlight.setRedYellowGreenState(tid, yellow)
            starts = now + self.yellow
            self.pending = [p for p in self.pending if p[1] != tid]
            self.pending.append((starts, tid, lay.greens[k]))
        else:
            starts = now
            self.t.trafficlight.setRedYellowGreenState(tid, lay.greens[k])
        self.green_end[tid][cur] = now
        self.phase[tid] = k
        self.green_since[tid] = starts
        self.last_green[tid][k] = starts

    def tick(self, now: float) -> None:
        if not self.pending:
            return
        keep = []
        for item in self.pending:
            if item[0] <= now + 1e-9:
                self.t.trafficlight.setRedYellowGreenState(item[1], item[2])
            else:
                keep.append(item)
        self.pending = keep


class Emergencies:
    """Emergency vehicles (vClass emergency) in the network and the links they approach."""

    def __init__(self, t: Any, layouts: dict[str, SignalLayout]) -> None:
        self.t, self.layouts = t, layouts
        self.active: set[str] = set()
        self.first_ask: dict[tuple[str, str], float] = {}  # (vehicle, signal) -> time

    def step(self, now: float) -> dict[str, set[int]]:
        t = self.t
        for v in t.simulation.getDepartedIDList():
            if t.vehicle.getVehicleClass(v) == "emergency":
                self.active.add(v)
        if self.active:
            self.active.difference_update(t.simulation.getArrivedIDList())
        out: dict[str, set[int]] = {}
        for v in self.active:
            nxt = t.vehicle.getNextTLS(v)
            if nxt and nxt[0][2] <= EMERGENCY_M and nxt[0][0] in self.layouts:
                since = self.first_ask.setdefault((v, nxt[0][0]), now)
                if now - since <= EMERGENCY_HOLD_S:
                    out.setdefault(nxt[0][0], set()).add(int(nxt[0][1]))
        return out


def write_actuated(net: Path, path: Path, p: dict[str, float]) -> None:
    """The network's static programs as SUMO actuated ones (SUMO places the loops):
    greens get minDur=min(min_dur, d) and maxDur=max_factor*d; transitions keep theirs."""
    out = ET.Element("additional")
    for _, el in ET.iterparse(net, events=("end",)):
        if el.tag != "tlLogic":
            continue
        logic = ET.SubElement(
            out,
            "tlLogic",
            id=el.get("id", ""),
            type="actuated",
            programID="odlar_actuated",
            offset="0",
        )
        ET.SubElement(logic, "param", key="max-gap", value=str(p["max_gap"]))
        for ph in el.findall("phase"):
            state, dur = ph.get("state", ""), float(ph.get("duration", "0"))
            attrs = {"duration": str(dur), "state": state}
            if is_green_state(state):
                attrs["minDur"] = str(min(p["min_dur"], dur))
                attrs["maxDur"] = str(max(dur, round(p["max_factor"] * dur)))
            ET.SubElement(logic, "phase", **attrs)
    ET.ElementTree(out).write(path)


class Episode:
    """A running simulation; `run` drives it to the end, `finish` measures it."""

    def __init__(self, scenario: Scenario, method: str, options: Options, out_dir: Path) -> None:
        self.scenario, self.method, self.options, self.out_dir = scenario, method, options, out_dir
        self.trips_file = out_dir / "tripinfo.xml"
        self.stats_file = out_dir / "statistics.xml"
        self.samples: list[dict[str, float]] = []
        self.max_junction_wait = 0.0
        self.overrides: dict[str, int] = {}
        self.t = traci()

    def start(self) -> None:
        s, o = self.scenario, self.options
        cmd = [
            "sumo", "-n", str(s.net), "-r", ",".join(str(r) for r in s.routes),
            "--begin", str(s.begin), "--end", str(s.end), "--seed", str(o.seed),
            "--time-to-teleport", "-1",
            "--tripinfo-output", str(self.trips_file),
            "--tripinfo-output.write-unfinished", "true",
            "--statistic-output", str(self.stats_file),
            "--no-step-log", "true", "--no-warnings", "true", "--duration-log.disable", "true",
        ]  # fmt: skip
        additional = list(s.additional)
        if self.method == "actuated":
            path = self.out_dir / "actuated.add.xml"
            write_actuated(s.net, path, o.actuated)
            additional.append(path)
        if additional:
            cmd += ["-a", ",".join(str(a) for a in additional)]
        if o.junction_blocker is not None:
            cmd += ["--ignore-junction-blocker", str(o.junction_blocker)]
        try:
            self.t.start(cmd)
        except Exception as exc:  # libsumo raises its own TraCIException on bad input
            raise DataError(f"SUMO refused the scenario: {exc}", file=str(s.net)) from None
        tl = self.t.trafficlight
        self.layouts = {
            tid: from_program(
                tid,
                [ph.state for ph in tl.getAllProgramLogics(tid)[0].phases],
                [list(x) for x in tl.getControlledLinks(tid)],
            )
            for tid in tl.getIDList()
        }
        if self.method == "actuated":
            for tid in self.layouts:
                tl.setProgram(tid, "odlar_actuated")
        self.now = float(self.t.simulation.getTime())

    def run(self, choose: Chooser | None) -> None:
        """Native programs when `choose` is None, else a decision every `delta` seconds."""
        s = self.scenario
        next_sample = self.now
        if choose is None:
            while self.now < s.end:
                self._sample()
                self.t.simulationStep(min(float(s.end), self.now + self.options.sample_s))
                self.now = float(self.t.simulation.getTime())
            return
        observer = Observer(self.t, self.layouts)
        plant = Plant(self.t, self.layouts, s, self.options.rules)
        evs = Emergencies(self.t, self.layouts) if self.options.emergency_priority else None
        plant.start(self.now)
        next_decision = self.now
        asks: dict[str, set[int]] = {}
        while self.now < s.end:
            if self.now >= next_sample - 1e-9:
                self._sample()
                next_sample += self.options.sample_s
            if self.now >= next_decision - 1e-9:
                choice = choose(self.now, observer.counts(), plant.clocks(self.now))
                plant.decide(self.now, choice, asks)
                next_decision += s.delta
            elif asks:
                plant.preempt(self.now, asks, next_decision - self.now)
            self.t.simulationStep()
            self.now = float(self.t.simulation.getTime())
            plant.tick(self.now)
            if evs is not None:
                asks = evs.step(self.now)
        self.overrides = plant.overrides

    def _sample(self) -> None:
        t = self.t
        vehicles = t.vehicle.getIDList()
        halting = 0
        for v in vehicles:
            if t.vehicle.getSpeed(v) < HALT_SPEED:
                halting += 1
                if t.vehicle.getLaneID(v).startswith(":"):
                    self.max_junction_wait = max(
                        self.max_junction_wait, t.vehicle.getWaitingTime(v)
                    )
        self.samples.append(
            {
                "t": self.now,
                "running": len(vehicles),
                "halting": halting,
                "waiting_to_enter": len(t.simulation.getPendingVehicles()),
            }
        )

    def finish(self, *, resco_code: bool = True) -> dict[str, Any]:
        s, t = self.scenario, self.t
        # vehicles never inserted: (scheduled departure, end - scheduled departure)
        pending, types = {}, {}
        for v in t.simulation.getPendingVehicles():
            scheduled = self.now - t.vehicle.getDepartDelay(v)
            pending[v] = (scheduled, s.end - scheduled)
            types[v] = t.vehicle.getTypeID(v)
        vt = t.vehicletype
        emergency = {x for x in vt.getIDList() if vt.getVehicleClass(x) == "emergency"}
        t.close()
        # a vehicle still waiting may also be written as an unfinished trip: count it once
        trips = [tr for tr in M.read_tripinfo(self.trips_file) if tr.id not in pending]
        routes = M.route_departures(s.routes) if resco_code else None
        result = M.episode_metrics(
            trips,
            [d for _, d in pending.values()],
            M.read_statistics(self.stats_file),
            routes=routes,
            end=s.end,
        )
        result["delay_over_time"] = M.delay_over_time(
            trips, list(pending.values()), s.begin, s.end, 300.0
        )
        result["samples"] = self.samples
        # queue length: vehicles halting in the network, from the per-minute samples
        halting = [x["halting"] for x in self.samples] or [0]
        result["queue"] = float(np.mean(halting))
        result["queue_max"] = float(max(halting))
        result["max_junction_wait"] = self.max_junction_wait
        result["signals"] = len(self.layouts)
        result["overrides"] = dict(self.overrides)
        if emergency:
            result.update(M.split_emergency(
                trips, emergency, {v: (*p, types[v]) for v, p in pending.items()}
            ))  # fmt: skip
        return result


def run_episode(
    scenario: Scenario,
    method: str,
    params: dict[str, Any] | None = None,
    options: Options | None = None,
    out_dir: Path | None = None,
) -> dict[str, Any]:
    """One episode with one controller, in this process; the metrics and time series.

    `params` of an adaptive controller may add faulty detectors, for robustness checks:
    `detector_noise` (relative standard deviation of every count) and `detector_missing`
    (share of links whose detectors read zero all episode)."""
    params, options = params or {}, options or Options()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="odlar-sumo-") as tmp:
        ep = Episode(scenario, method, options, Path(out_dir or tmp))
        ep.start()
        try:
            ep.run(None if method in NATIVE else _chooser(method, params, ep.layouts, options.seed))
        except BaseException:
            ep.t.close()
            raise
        result = ep.finish()
    result.update(
        scenario=scenario.name, method=method, seed=options.seed,
        junction_blocker=options.junction_blocker, wall_s=time.perf_counter() - t0,
    )  # fmt: skip
    return result


def _chooser(
    method: str, params: dict[str, Any], layouts: dict[str, SignalLayout], seed: int
) -> Chooser:
    noise = float(params.get("detector_noise", 0.0))
    missing = float(params.get("detector_missing", 0.0))
    rng = np.random.default_rng(seed + 7)
    dead = {tid: rng.random(len(lay.links)) < missing for tid, lay in layouts.items()}

    def choose(
        now: float, counts: dict[str, LinkCounts], clocks: dict[str, Clock]
    ) -> dict[str, int]:
        out = {}
        for tid, lay in layouts.items():
            c = counts[tid]
            if noise or missing:
                keep = ~dead[tid]
                c = LinkCounts(*(
                    np.maximum(0.0, np.round(a * (1 + noise * rng.standard_normal(a.shape)))) * keep
                    for a in (c.approach, c.queue, c.inside, c.down)
                ))  # fmt: skip
            out[tid] = decide(method, lay, c, clocks[tid], params)
        return out

    return choose


def read_layouts(scenario: Scenario) -> dict[str, SignalLayout]:
    """The signals of a scenario as SUMO builds them (start, read, close)."""
    with tempfile.TemporaryDirectory(prefix="odlar-sumo-") as tmp:
        ep = Episode(scenario, "fixed", Options(), Path(tmp))
        ep.start()
        ep.t.close()
    return ep.layouts


def _one(args: tuple[Scenario, str, dict[str, Any], Options]) -> dict[str, Any]:
    return run_episode(*args)


def run_many(
    runs: list[tuple[Scenario, str, dict[str, Any], Options]],
    workers: int | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    backend: Backend | None = None,
) -> list[dict[str, Any]]:
    """Episodes in parallel processes (libsumo allows one simulation per process), in
    the order given, locally or on Ray (`core.compute.fanout`). Each episode gets a fresh
    process: libsumo keeps state from one simulation to the next in a process (measured:
    cologne1 fixed time, seed 42, 41.92 s fresh, 42.53 s after a seed-2 episode), so a
    reused worker would make results depend on which episodes it ran before. Locally the
    processes fork from a fork server that imported this module (and so libsumo) but never
    simulated: milliseconds each instead of the 1-2 s of a spawned interpreter."""
    return map_items(_one, runs, fresh_process=True, preload=[__name__], workers=workers,
                     on_result=on_result, backend=backend)  # fmt: skip
