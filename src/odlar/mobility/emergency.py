"""Emergency vehicles in a scenario, and what giving them green costs everyone else.

`add_emergency` drives some of a scenario's own trips again as emergency vehicles
(vClass emergency) in an extra route file, so they travel the network's real paths. The
simulator gives every such vehicle green on its approach (`sim.Emergencies`, through the
pedestrian-limit gate); `bench` measures their travel time and the delay of the others
with and without that priority.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from odlar.core.errors import DataError
from odlar.core.tasks import BenchResult, Progress
from odlar.mobility.scenarios import Scenario, resco
from odlar.mobility.sim import Options, run_many

VTYPE = "odlar_emergency"
#: emergency trips added to each benchmark hour
PER_HOUR = 20


def _itineraries(sc: Scenario) -> list[tuple[float, dict[str, str]]]:
    """(depart, attributes of a <trip> or the edges of a <vehicle>'s route) of every
    vehicle in the scenario's route files."""
    routes: dict[str, str] = {}
    out: list[tuple[float, dict[str, str]]] = []
    for path in sc.routes:
        for _, el in ET.iterparse(path, events=("end",)):
            if el.tag == "route" and el.get("id"):
                routes[el.get("id", "")] = el.get("edges", "")
            elif el.tag in ("trip", "vehicle"):
                try:
                    depart = float(el.get("depart", ""))
                except ValueError:
                    continue
                if el.tag == "trip" and el.get("from") and el.get("to"):
                    out.append((depart, {"from": el.get("from", ""), "to": el.get("to", "")}))
                else:
                    inner = el.find("route")
                    edges = inner.get("edges") if inner is not None else routes.get(
                        el.get("route", ""))  # fmt: skip
                    if edges:
                        out.append((depart, {"edges": edges}))
                el.clear()
    return out


def add_emergency(sc: Scenario, folder: Path, count: int = PER_HOUR, seed: int = 0) -> Scenario:
    """`sc` with `count` emergency vehicles added, copying randomly drawn trips that depart
    in the first three quarters of the episode (so they can finish)."""
    last = sc.begin + 0.75 * (sc.end - sc.begin)
    pool = [x for x in _itineraries(sc) if sc.begin <= x[0] <= last]
    if not pool:
        raise DataError("no trip departs in the episode to copy as an emergency vehicle",
                        file=str(sc.routes[0]))  # fmt: skip
    rng = np.random.default_rng(seed)
    picked = sorted((pool[i] for i in rng.choice(len(pool), min(count, len(pool)), False)),
                    key=lambda x: x[0])  # fmt: skip
    root = ET.Element("routes")
    ET.SubElement(root, "vType", id=VTYPE, vClass="emergency", guiShape="emergency",
                  speedFactor="1.2", color="red")  # fmt: skip
    for i, (depart, it) in enumerate(picked):
        attrs = {"id": f"odlar_ev_{i}", "type": VTYPE, "depart": f"{depart:.2f}"}
        if "edges" in it:
            veh = ET.SubElement(root, "vehicle", attrs)
            ET.SubElement(veh, "route", edges=it["edges"])
        else:
            ET.SubElement(root, "trip", {**attrs, **it})
    path = folder / f"{sc.name}.emergency.rou.xml"
    ET.ElementTree(root).write(path)
    return replace(sc, routes=(*sc.routes, path), notes=(*sc.notes, f"{len(picked)} emergency"))


SCENARIOS = ("cologne8", "ingolstadt7", "grid4x4")
CONTROLLERS = ("max_pressure", "greedy")


def bench(progress: Progress, *, quick: bool, seeds: tuple[int, ...]) -> BenchResult:
    """Each adaptive controller with and without emergency priority, same seeds and
    vehicles: the emergency vehicles' trip time and delay, and the other vehicles' delay."""
    names = SCENARIOS[:1] if quick else SCENARIOS
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="odlar-ev-") as tmp:
        plan = []
        for name in names:
            sc = resco(name)
            if quick:
                sc = replace(sc, end=sc.begin + 900)
            plan.append(add_emergency(sc, Path(tmp), PER_HOUR if not quick else 5))
        runs = [
            (sc, m, {}, Options(seed=s, emergency_priority=prio))
            for sc in plan
            for m in CONTROLLERS
            for prio in (False, True)
            for s in seeds
        ]
        raw = run_many(runs, on_result=lambda r: progress(0.0, f"{r['scenario']} {r['method']}"))
    for sc in plan:
        for m in CONTROLLERS:
            for prio in (False, True):
                eps = [
                    r
                    for r, (s2, m2, _, o) in zip(raw, runs, strict=True)
                    if s2.name == sc.name and m2 == m and o.emergency_priority == prio
                ]
                keys = ("emergency_trip_time", "emergency_delay", "delay_others", "delay",
                        "emergency_unfinished", "emergency_vehicles")  # fmt: skip
                mean = {k: statistics.fmean(float(e.get(k, 0.0)) for e in eps) for k in keys}
                rows.append({
                    "method": f"{m}{' + emergency priority' if prio else ''} ({sc.name})",
                    "scenario": sc.name, "controller": m, "emergency_priority": prio,
                    "seeds": list(seeds),
                    "metrics": {k: round(v, 3) for k, v in mean.items()},
                    "per_seed": [{k: round(float(e.get(k, 0.0)), 2) for k in
                                  ("emergency_trip_time", "emergency_delay", "delay_others")}
                                 for e in eps],
                })  # fmt: skip
    notes = []
    for sc in plan:
        for m in CONTROLLERS:
            off, on = (next(r for r in rows if r["scenario"] == sc.name and r["controller"] == m
                            and r["emergency_priority"] == p) for p in (False, True))  # fmt: skip
            a, b = off["metrics"], on["metrics"]
            notes.append(
                f"{sc.name} {m}: emergency trip time {a['emergency_trip_time']:.1f} -> "
                f"{b['emergency_trip_time']:.1f} s, their delay {a['emergency_delay']:.1f} -> "
                f"{b['emergency_delay']:.1f} s; others' delay {a['delay_others']:.2f} -> "
                f"{b['delay_others']:.2f} s ({b['delay_others'] - a['delay_others']:+.2f})"
            )
    notes.append(f"{len(runs)} episodes in {time.perf_counter() - t0:.0f} s")
    return BenchResult(
        task="mobility.signals",
        dataset="emergency",
        protocol=(
            f"RESCO scenarios with {PER_HOUR} of their own trips driven again by emergency "
            "vehicles (vClass emergency, speed factor 1.2, drawn with seed 0 from trips "
            "departing in the first 45 minutes); each controller with and without emergency "
            "priority (green on the approach within 200 m, checked every second), same "
            "seeds; delay_others: RESCO delay of every other vehicle"
        ),
        results=rows,
        anchors=[],
        notes=notes,
    )
