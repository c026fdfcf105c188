"""Task `safety.response`: where to station crews so that they reach incidents in time."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from odlar.core.benchmarks import BenchRun, benchmark
from odlar.core.errors import DataError
from odlar.core.tasks import (
    MAX_VERSION,
    Anchor,
    BenchResult,
    BenchRow,
    Dataset,
    Progress,
    Report,
    Risk,
    RiskTier,
    Robustness,
    Task,
    register,
)
from odlar.core.versions import VERSION_DEFAULT
from odlar.safety.response import dispatch
from odlar.safety.response.siting import (
    METHODS,
    Plan,
    Problem,
    load_problem,
    plan_metrics,
    sf_example,
    solve,
)

PROTOCOL = (
    "spopt's San Francisco example: 205 census tracts, 16 candidate store sites, network "
    "distances from the file inside the spopt wheel, service radius 5000 m, p = 4, HiGHS; "
    "coverage = share of tracts within the radius of a chosen site (as spopt's perc_cov). "
    "Dispatch: Chicago test period (October-December 2017, four ST-HSL categories) replayed "
    "against each plan over the 3 km grid, demand = a safety.hotspots forecast"
)
ANCHORS = [
    Anchor(
        "MCLP, p=4, 5 km (spopt documentation)",
        {"coverage_pct": 89.76},
        "spopt notebooks; BENCHMARKS.md s.7, ENVIRONMENT.md",
    ),
]
DEFAULTS = {"p": 4, "radius": 5000.0}
#: the Chicago dispatch protocol's settings
DISPATCH = {
    "stations": 10,
    "crews": 30,
    "radius_min": 8.0,
    "on_scene_min": 30.0,
    "detour": 1.3,
    "kmh": 40.0,
}


class SitingRequest(BaseModel):
    model_version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description=VERSION_DEFAULT
    )
    demand: list[str] = Field(
        min_length=1, max_length=100_000, description="Demand point ids of the plan's problem"
    )


class Assignment(BaseModel):
    demand: str
    site: str = Field(description="Nearest chosen site")
    cost: float = Field(description="Travel cost to it, in the problem's unit")
    covered: bool = Field(description="Within the plan's service radius")


class SitingResponse(BaseModel):
    model_version: int | None = None
    sites: list[str]
    predictions: list[Assignment]


class SitingModel(Plan):
    """A plan with the problem it was solved on (to answer assignment requests)."""


@register
class ResponseTask(Task[SitingModel, SitingRequest, SitingResponse]):
    name: ClassVar[str] = "safety.response"
    title: ClassVar[str] = "Where to station emergency crews"
    risk: ClassVar[Risk] = Risk(
        RiskTier.high,
        "decides where emergency first-response crews are stationed, and so how fast people "
        "in each area are reached (EU AI Act Annex III point 5(d): dispatch and "
        "prioritisation of emergency first response)",
    )
    methods: ClassVar[tuple[str, ...]] = METHODS
    default_method: ClassVar[str] = "mclp"
    Request: ClassVar[type[BaseModel]] = SitingRequest
    Response: ClassVar[type[BaseModel]] = SitingResponse
    primary_metric: ClassVar[str] = "weighted_coverage_pct"
    lower_is_better: ClassVar[bool] = False
    bench_data: ClassVar[str] = "safety/crime"
    quick_params: ClassVar[dict[str, dict[str, Any]]] = {m: {} for m in METHODS}
    min_rows: ClassVar[int] = 4
    purpose: ClassVar[str] = (
        "Choose where to station emergency crews among candidate sites (maximal covering, "
        "p-median or set covering) over demand points weighted by population or by the "
        "expected incidents of a safety.hotspots forecast, and compare plans by the response "
        "times a dispatch simulation gives. It advises planners; it dispatches nobody."
    )
    limitations: ClassVar[tuple[str, ...]] = (
        "Travel costs are a given matrix or free-flow times over a SUMO road network "
        "(speed limits, no junction delays, traffic or time of day); the Chicago dispatch "
        "benchmark uses straight-line distance with a detour factor and a fixed speed.",
        "Demand weighted by recorded incidents inherits the forecast's biases (see "
        "safety.hotspots): areas that report less get fewer stations.",
        "Coverage counts a demand point as covered when its representative point is within "
        "the radius; people far from that point in a large area may not be.",
    )
    acceptance: ClassVar[dict[str, tuple[str, float]]] = {"val_weighted_coverage_pct": (">=", 50.0)}

    def load(self, source: str | Path, **options: Any) -> Dataset:
        """A cost file, or a folder with a SUMO network and its points.csv (road travel
        times: see roads.py)."""
        import hashlib

        problem, frame = load_problem(source)
        path = Path(source)
        digest = hashlib.sha256()
        parts = [*sorted(path.glob("*.net.xml")), path / "points.csv"] if path.is_dir() else [path]
        for part in parts:
            digest.update(part.read_bytes())
        return Dataset(
            frame=problem,
            source=str(source),
            sha256=digest.hexdigest(),
            rows=len(frame),
            summary={"demand_points": len(problem.demand_ids), "sites": len(problem.site_ids)},
        )

    def _fit(
        self, data: Dataset, *, method: str, params: dict[str, Any], progress: Progress
    ) -> SitingModel:
        params = {**DEFAULTS, "seed": 0, **params}
        problem: Problem = data.frame
        progress(0.1, f"solving {method} over {len(problem.site_ids)} sites")
        sites = solve(problem, method, p=int(params["p"]), radius=float(params["radius"]))
        plan = SitingModel(method, params, sites, problem.site_ids)
        plan.problem = problem  # type: ignore[attr-defined]
        plan.metrics = plan_metrics(problem, plan.chosen(), float(params["radius"]))
        progress(1.0, f"{len(sites)} sites chosen")
        return plan

    def evaluate(self, model: SitingModel, data: Dataset) -> Report:
        problem: Problem = data.frame
        unknown = sorted(set(model.sites) - set(problem.site_ids))
        if unknown:
            raise DataError(
                f"the plan's sites {', '.join(unknown)} are not in this file",
                file=data.source,
                field="site",
            )
        chosen = np.array([problem.site_ids.index(s) for s in model.sites])
        metrics = plan_metrics(problem, chosen, float(model.params["radius"]))
        return Report(
            metrics=metrics, anchors=ANCHORS, protocol=PROTOCOL, details={"sites": model.sites}
        )

    def robustness(self, model: SitingModel, data: Dataset, seed: int = 0) -> list[Robustness]:
        """Coverage change when every travel cost is off by up to 10% (noise), and when the
        busiest chosen site is closed."""
        rng = np.random.default_rng(seed)
        problem: Problem = data.frame
        radius = float(model.params["radius"])
        chosen = np.array([problem.site_ids.index(s) for s in model.sites])
        base = plan_metrics(problem, chosen, radius)["weighted_coverage_pct"]
        noisy = Problem(
            problem.cost * rng.uniform(0.9, 1.1, problem.cost.shape),
            problem.weight,
            problem.demand_ids,
            problem.site_ids,
        )
        moved = abs(plan_metrics(noisy, chosen, radius)["weighted_coverage_pct"] - base) / 100
        out = [
            Robustness(
                "travel costs +-10%",
                round(moved, 4),
                0.10,
                f"weighted coverage moved {moved:.1%} (at most 10% allowed)",
            )
        ]
        if len(chosen) > 1:
            nearest = chosen[np.argmin(problem.cost[:, chosen], axis=1)]
            busiest = np.bincount(nearest, weights=problem.weight, minlength=problem.cost.shape[1])
            rest = chosen[chosen != int(np.argmax(busiest))]
            drop = (base - plan_metrics(problem, rest, radius)["weighted_coverage_pct"]) / 100
            out.append(
                Robustness(
                    "busiest site closed",
                    round(drop, 4),
                    0.5,
                    f"weighted coverage fell {drop:.1%} without site "
                    f"{problem.site_ids[int(np.argmax(busiest))]} (at most 50%)",
                )
            )
        return out

    def predict(self, model: SitingModel, request: SitingRequest) -> SitingResponse:
        problem: Problem = model.problem  # type: ignore[attr-defined]
        index = {d: i for i, d in enumerate(problem.demand_ids)}
        chosen = model.chosen()
        out = []
        for i, d in enumerate(request.demand):
            if d not in index:
                raise DataError(f"unknown demand point '{d}'", field=f"demand[{i}]")
            costs = problem.cost[index[d], chosen]
            j = int(np.argmin(costs))
            out.append(
                Assignment(
                    demand=d,
                    site=model.sites[j],
                    cost=round(float(costs[j]), 3),
                    covered=bool(costs[j] <= float(model.params["radius"])),
                )
            )
        return SitingResponse(sites=model.sites, predictions=out)

    def request_from(self, data: Dataset, **options: Any) -> SitingRequest:
        return SitingRequest(
            demand=list(data.frame.demand_ids), model_version=options.get("model_version")
        )

    def example(self, data_dir: Path) -> tuple[Path, Path]:
        return sf_example(), sf_example()

@benchmark("safety.response", "sf-chicago", folder=ResponseTask.bench_data)
def _bench_sf_chicago(run: BenchRun) -> BenchResult:
    """Siting on the San Francisco example, then dispatch replayed on Chicago's test days."""
    task = ResponseTask()
    chosen = run.chosen(task.methods)
    sf = task.load(sf_example())
    run.progress(0.05, "Chicago demand from a safety.hotspots forecast")
    city = chicago_dispatch_setting(run.data_dir, quick=run.quick)
    results = []
    for n, method in enumerate(chosen):
        run.progress(0.1 + 0.9 * n / len(chosen), method)
        start = time.perf_counter()
        plan = task.fit(sf, method=method, params={}, progress=lambda f, m: None)
        sf_s = time.perf_counter() - start
        outcome = dispatch_plan(city, method)
        metrics = {
            "coverage_pct": round(plan.metrics["coverage_pct"], 2),
            "chicago_within_8min_pct": outcome["within_8min_pct"],
            "chicago_within_12min_pct": outcome["within_12min_pct"],
            "chicago_mean_response_min": outcome["mean_response_min"],
        }
        sf_row = {**{k: round(v, 4) for k, v in plan.metrics.items()},
                  "chosen": plan.sites, "seconds": round(sf_s, 3)}  # fmt: skip
        results.append(BenchRow(f"{method} (spopt, HiGHS)", metrics,
                                {"sf": sf_row, "chicago_dispatch": outcome}))  # fmt: skip
    run.progress(1.0, "done")
    notes = [
        f"Chicago dispatch: {DISPATCH['stations']} stations (LSCP: as many as covering "
        f"every demand cell within {DISPATCH['radius_min']:g} min needs), "
        f"{DISPATCH['crews']} crews spread over them, {DISPATCH['on_scene_min']:g} min on "
        f"scene, travel = straight line x {DISPATCH['detour']} at {DISPATCH['kmh']:g} km/h; "
        "demand = expected daily incidents per cell from safety.hotspots (method ha, "
        "fitted on the published training split); incidents replayed in time order",
    ]
    if run.quick:
        notes.append("--quick: the first 7 test days only")
    return BenchResult(task=task.name, dataset="sf-chicago", protocol=PROTOCOL,
                       results=results, anchors=ANCHORS, notes=notes)  # fmt: skip


def chicago_dispatch_setting(data_dir: Path, *, quick: bool) -> dict[str, Any]:
    """Demand cells weighted by a hotspots forecast, and the test period's incidents."""
    from odlar.safety.hotspots.task import CITIES, HotspotsTask

    spec = CITIES["chicago"]
    hot = HotspotsTask()
    data = hot.load(data_dir / spec["file"], skip_first_record=True)
    model = hot.fit(
        data,
        method="ha",
        params={"train_until": spec["train_until"], "categories": list(spec["categories"])},
        progress=lambda f, m: None,
    )
    counts, days = hot._cube_of(model, data)
    until = (pd.Timestamp(spec["train_until"]) - days[0]).days
    expected = model.means(counts, days, range(until - 30, until)).mean(axis=0).sum(axis=1)
    frame = data.frame
    test = frame[
        (frame["time"] >= pd.Timestamp(spec["train_until"]))
        & frame["category"].isin(spec["categories"])
    ].sort_values("time", kind="stable")
    if quick:
        test = test[test["time"] < pd.Timestamp(spec["train_until"]) + pd.Timedelta(days=7)]
    return dispatch_setting(model.grid, expected, test)


def dispatch_setting(grid: Any, expected: np.ndarray, incidents: pd.DataFrame) -> dict[str, Any]:
    """Demand cells (those with expected incidents, which are also the candidate sites),
    straight-line travel minutes between their centres, and the incidents to replay."""
    cells = np.flatnonzero(expected > 0)
    centres = np.array([grid.centre(int(c)) for c in cells])
    travel = dispatch.Travel(DISPATCH["detour"], DISPATCH["kmh"])
    km = dispatch.haversine_km(
        centres[:, None, 0], centres[:, None, 1], centres[None, :, 0], centres[None, :, 1]
    )
    problem = Problem(
        travel.minutes(km), expected[cells], [str(c) for c in cells], [str(c) for c in cells]
    )
    return {"problem": problem, "centres": centres, "incidents": incidents, "travel": travel}


def dispatch_plan(
    city: dict[str, Any], method: str, settings: dict[str, Any] = DISPATCH
) -> dict[str, Any]:
    """Solve one siting method over the city's demand and replay its incidents against the
    plan (`settings`: stations, crews, radius_min, on_scene_min as in DISPATCH)."""
    problem: Problem = city["problem"]
    start = time.perf_counter()
    sites = solve(problem, method, p=settings["stations"], radius=settings["radius_min"])
    solve_s = time.perf_counter() - start
    chosen = np.array([problem.site_ids.index(s) for s in sites])
    inc = city["incidents"]
    st = city["centres"][chosen]
    travel = city["travel"].minutes(
        dispatch.haversine_km(
            inc["latitude"].to_numpy()[:, None],
            inc["longitude"].to_numpy()[:, None],
            st[None, :, 0],
            st[None, :, 1],
        )
    )
    minutes = ((inc["time"] - inc["time"].iloc[0]).dt.total_seconds() / 60).to_numpy()
    crews = dispatch.crews_at(len(chosen), settings["crews"])
    outcome = dispatch.simulate(minutes, travel, crews, on_scene_min=settings["on_scene_min"])
    cover = plan_metrics(problem, chosen, settings["radius_min"])
    return {
        "stations": len(sites),
        "crews": len(crews),
        "station_cells": sites,
        "weighted_coverage_pct": round(cover["weighted_coverage_pct"], 2),
        "mean_travel_min_formula": round(cover["mean_cost"], 2),
        **{k: round(v, 2) for k, v in outcome.summary().items()},
        "solve_seconds": round(solve_s, 2),
    }
