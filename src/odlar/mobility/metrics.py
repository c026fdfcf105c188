"""Episode metrics from SUMO's trip information, with RESCO's delay definition.

RESCO (Ault and Sharon 2021; Pi-Star-Lab/RESCO utils/readXML.py) reports, per vehicle,
timeLoss + departDelay over every trip SUMO wrote (unfinished ones included, with
`--tripinfo-output.write-unfinished`), plus (episode end - scheduled departure) for each
vehicle that was never inserted, divided by the number of both.

`delay` is that definition exactly: the vehicles never inserted are the ones still waiting
for insertion when the episode ends, each read from the simulator with its scheduled
departure. `delay_resco_code` reproduces RESCO's script, quirks included, for comparison
with the paper: it counts only `<vehicle>` route elements (not `<trip>`) as possibly never
inserted and finds them by comparing schedules with the last inserted vehicle's, so a
blocked entry edge can go unseen (see docs/mobility.md).
"""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Trip:
    id: str
    depart: float  # actual insertion time
    scheduled: float  # scheduled departure (depart - departDelay)
    delay: float  # timeLoss + departDelay
    waiting: float
    duration: float | None  # None when unfinished at the episode's end
    arrival: float | None
    vtype: str = ""


def read_tripinfo(path: Path) -> list[Trip]:
    trips: list[Trip] = []
    for _, el in ET.iterparse(path, events=("end",)):
        if el.tag != "tripinfo":
            continue
        arrival = float(el.get("arrival", "-1"))
        depart, depart_delay = float(el.get("depart", "0")), float(el.get("departDelay", "0"))
        trips.append(
            Trip(
                id=el.get("id", ""),
                depart=depart,
                scheduled=depart - depart_delay,
                delay=float(el.get("timeLoss", "0")) + depart_delay,
                waiting=float(el.get("waitingTime", "0")),
                duration=float(el.get("duration", "0")) if arrival >= 0 else None,
                arrival=arrival if arrival >= 0 else None,
                vtype=el.get("vType", ""),
            )
        )
        el.clear()
    return trips


def read_statistics(path: Path) -> dict[str, Any]:
    root = ET.parse(path).getroot()
    out: dict[str, Any] = {}
    veh, tele, safety = root.find("vehicles"), root.find("teleports"), root.find("safety")
    if veh is not None:
        out.update(loaded=int(veh.get("loaded", 0)), inserted=int(veh.get("inserted", 0)))
    out["teleports"] = int(tele.get("total", 0)) if tele is not None else 0
    out["collisions"] = int(safety.get("collisions", 0)) if safety is not None else 0
    return out


def route_departures(route_files: tuple[Path, ...]) -> list[tuple[str, str, float]]:
    """(tag, id, scheduled depart) of every vehicle and trip element, in file order."""
    out: list[tuple[str, str, float]] = []
    for path in route_files:
        for _, el in ET.iterparse(path, events=("end",)):
            if el.tag in ("vehicle", "trip") and el.get("depart") is not None:
                # 'triggered' and the like have no schedule to compare
                with contextlib.suppress(ValueError):
                    out.append((el.tag, el.get("id", ""), float(el.get("depart", ""))))
            if el.tag in ("vehicle", "trip", "flow", "route"):
                el.clear()
    return out


def resco_code_delay(trips: list[Trip], routes: list[tuple[str, str, float]], end: float) -> float:
    """RESCO utils/readXML.py, metric timeLoss, line for line in effect."""
    total = sum(t.delay for t in trips)
    last_id, last_dep = "", 0.0
    for t in trips:
        if t.depart > last_dep:
            last_dep, last_id = t.depart, t.id
    scheduled = {i: d for _, i, d in routes}
    last_sched = scheduled.get(last_id, last_dep)
    never = [d for tag, _, d in routes if tag == "vehicle" and d > last_sched]
    return (total + sum(end - d for d in never)) / max(1, len(trips) + len(never))


def episode_metrics(
    trips: list[Trip],
    pending_delays: list[float],
    stats: dict[str, Any],
    *,
    routes: list[tuple[str, str, float]] | None,
    end: float,
) -> dict[str, Any]:
    """`pending_delays`: for each vehicle still waiting for insertion at the end, its
    (end - scheduled departure)."""
    n = len(trips) + len(pending_delays)
    finished = [t for t in trips if t.duration is not None]
    out: dict[str, Any] = {
        "delay": (sum(t.delay for t in trips) + sum(pending_delays)) / max(1, n),
        "trip_time": sum(t.duration or 0.0 for t in finished) / max(1, len(finished)),
        "waiting_time": sum(t.waiting for t in trips) / max(1, len(trips)),
        "throughput": len(finished),
        "unfinished": len(trips) - len(finished),
        "never_inserted": len(pending_delays),
        "vehicles": n,
        **stats,
    }
    if routes is not None:
        out["delay_resco_code"] = resco_code_delay(trips, routes, end)
    return out


def delay_over_time(
    trips: list[Trip], pending: list[tuple[float, float]], begin: float, end: float, bin_s: float
) -> list[dict[str, float]]:
    """Mean delay of the vehicles scheduled to depart in each interval (the never inserted
    with their penalty), so the bins average, weighted by vehicles, to the episode's delay.
    `pending`: (scheduled departure, penalty) of each vehicle never inserted."""
    n_bins = max(1, int(-(-(end - begin) // bin_s)))
    sums, counts = [0.0] * n_bins, [0] * n_bins

    def add(t: float, d: float) -> None:
        k = min(n_bins - 1, max(0, int((t - begin) // bin_s)))
        sums[k] += d
        counts[k] += 1

    for t in trips:
        add(t.scheduled, t.delay)
    for sched, d in pending:
        add(sched, d)
    return [
        {
            "t": begin + k * bin_s,
            "delay": sums[k] / counts[k] if counts[k] else 0.0,
            "vehicles": counts[k],
        }
        for k in range(n_bins)
    ]


def split_emergency(
    trips: list[Trip], types: set[str], pending: dict[str, tuple[float, float, str]]
) -> dict[str, Any]:
    """Emergency vehicles' own figures (those of vehicle types `types`) and the RESCO delay
    of every other vehicle, so the cost of giving them green shows beside what it buys.
    `pending`: vehicle -> (scheduled departure, penalty, type) of those never inserted."""
    ev = [t for t in trips if t.vtype in types]
    others = [t.delay for t in trips if t.vtype not in types]
    others += [p[1] for p in pending.values() if p[2] not in types]
    done = [t.duration for t in ev if t.duration is not None]
    return {
        "emergency_vehicles": len(ev),
        "emergency_never_inserted": sum(1 for p in pending.values() if p[2] in types),
        "emergency_unfinished": len(ev) - len(done),
        "emergency_trip_time": sum(done) / max(1, len(done)),
        "emergency_delay": sum(t.delay for t in ev) / max(1, len(ev)),
        "delay_others": sum(others) / max(1, len(others)),
    }
