"""Dispatch simulation: incidents in time order are served by the nearest free crew; with
none free, by the crew that can arrive first. A crew serves one incident at a time: it
drives out, stays on scene, drives back to its station and is free again."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:  # noqa: ANN001  (arrays broadcast)
    lat1, lon1, lat2, lon2 = (
        np.radians(np.asarray(a, dtype=float)) for a in (lat1, lon1, lat2, lon2)
    )
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 6371.0 * 2 * np.arcsin(np.sqrt(a))


@dataclass(frozen=True)
class Travel:
    """Minutes from straight-line distance: a detour factor for the street grid and an
    average emergency driving speed (no road network is read)."""

    detour: float = 1.3
    kmh: float = 40.0

    def minutes(self, km: np.ndarray) -> np.ndarray:
        return np.asarray(km) * self.detour / self.kmh * 60.0


@dataclass
class Outcome:
    response_min: np.ndarray  # per incident: wait for a crew + travel
    crew: np.ndarray  # which crew served each incident
    start_min: np.ndarray  # when that crew set off
    free_min: np.ndarray  # when it was back and free

    def summary(self) -> dict[str, float]:
        r = self.response_min
        return {
            "incidents": float(len(r)),
            "within_8min_pct": float(100 * (r <= 8).mean()),
            "within_12min_pct": float(100 * (r <= 12).mean()),
            "mean_response_min": float(r.mean()),
            "p90_response_min": float(np.percentile(r, 90)),
        }


def simulate(
    times_min: np.ndarray,
    travel_min: np.ndarray,
    crew_station: np.ndarray,
    *,
    on_scene_min: float = 30.0,
) -> Outcome:
    """`times_min`: incident times (minutes, sorted); `travel_min`: (incidents, stations)
    minutes from each station; `crew_station`: the station of each crew."""
    if np.any(np.diff(times_min) < 0):
        raise ValueError("incident times must be sorted")
    free_at = np.zeros(len(crew_station))
    n = len(times_min)
    response, crew, start, free = np.empty(n), np.empty(n, int), np.empty(n), np.empty(n)
    for i, t in enumerate(times_min):
        drive = travel_min[i, crew_station]
        idle = free_at <= t
        if idle.any():
            c = int(np.flatnonzero(idle)[np.argmin(drive[idle])])  # nearest free crew
            go = t
        else:
            c = int(np.argmin(free_at + drive))  # the crew that can be there first
            go = free_at[c]
        response[i] = go - t + drive[c]
        crew[i], start[i] = c, go
        free_at[c] = go + 2 * drive[c] + on_scene_min
        free[i] = free_at[c]
    return Outcome(response, crew, start, free)


def crews_at(stations: int, crews: int) -> np.ndarray:
    """`crews` crews spread over the stations round-robin (every station gets one first)."""
    return np.arange(max(crews, stations)) % stations
