"""Where to station crews: maximal covering (MCLP), p-median and set covering (LSCP) over
a travel-cost matrix, solved by spopt (PySAL) with HiGHS through PuLP."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from odlar.core.errors import DataError, UsageError
from odlar.safety.response.roads import read_text_csv

METHODS = ("mclp", "pmedian", "lscp")
COLUMNS = ("demand", "site", "cost", "weight")
#: the San Francisco example's column names (spopt's test data), where `demand` is the weight
SF_COLUMNS = {"distance": "cost", "name": "site", "destinationname": "demand", "demand": "weight"}
SF_FILE = "SF_network_distance_candidateStore_16_censusTract_205_new.csv"


@dataclass
class Problem:
    """Travel costs from every candidate site to every demand point, and demand weights."""

    cost: np.ndarray  # (demand points, sites)
    weight: np.ndarray  # (demand points,)
    demand_ids: list[str]
    site_ids: list[str]


def sf_example() -> Path:
    """spopt's San Francisco network-distance file, shipped inside the spopt wheel."""
    return Path(str(resources.files("spopt") / "tests" / "test_locate" / "data" / SF_FILE))


def load_problem(
    source: str | Path, network: str | Path | None = None
) -> tuple[Problem, pd.DataFrame]:
    """A long-form CSV with columns demand, site, cost, weight (one row per pair; the
    weight repeated on every row of a demand point). Errors name the file, line, column.

    With a SUMO `network` (.net.xml), `source` is a points file instead and the costs are
    free-flow minutes over the roads (see roads.py); a folder holding one .net.xml and a
    `points.csv` (a scenario folder of `odlar mobility import` with points added) is read
    the same way."""
    path = Path(source)
    if network is None and path.is_dir():
        nets = sorted(path.glob("*.net.xml"))
        if len(nets) != 1:
            raise DataError(
                f"a siting folder needs exactly one .net.xml (found {len(nets)})", file=str(path)
            )
        network, path = nets[0], path / "points.csv"
    if network is not None:
        return _road_problem(Path(network), path)
    name = str(path)
    frame = read_text_csv(path)
    names = {c: c.strip().lower() for c in frame}
    if set(names.values()) == set(SF_COLUMNS):
        names = {c: SF_COLUMNS[n] for c, n in names.items()}
    frame = frame.rename(columns=names)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)} (a siting file needs {', '.join(COLUMNS)}: "
            "one row per demand point and candidate site)",
            file=name,
        )
    if frame.empty:
        raise DataError("no rows", file=name)
    for col in ("cost", "weight"):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values) | (values < 0)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"{frame[col].iloc[i]!r}: not a non-negative number",
                file=name,
                line=i + 2,
                field=col,
            )
        frame[col] = values.astype(float)
    dup = frame.duplicated(["demand", "site"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(
            f"pair ({frame['demand'].iloc[i]}, {frame['site'].iloc[i]}) given twice",
            file=name,
            line=i + 2,
            field="site",
        )
    cost = frame.pivot(index="demand", columns="site", values="cost")
    if cost.isna().any().any():
        d, s = np.argwhere(cost.isna().to_numpy())[0]
        raise DataError(
            f"no cost from site {cost.columns[s]} to demand {cost.index[d]}: every pair is needed",
            file=name,
            field="cost",
        )
    weights = frame.groupby("demand")["weight"].agg(["min", "max"]).loc[cost.index]
    if (weights["min"] != weights["max"]).any():
        d = weights.index[(weights["min"] != weights["max"]).to_numpy()][0]
        raise DataError(
            f"demand point {d} has different weights on its rows", file=name, field="weight"
        )
    problem = Problem(
        cost.to_numpy(),
        weights["max"].to_numpy(),
        [str(x) for x in cost.index],
        [str(x) for x in cost.columns],
    )
    return problem, frame


def _road_problem(network: Path, points: Path) -> tuple[Problem, pd.DataFrame]:
    from odlar.safety.response import roads

    minutes, frame = roads.travel_minutes(network, points)
    demand = frame[frame["role"] == "demand"]
    sites = frame[frame["role"] == "site"]
    problem = Problem(
        minutes, demand["weight"].to_numpy(float), list(demand["id"]), list(sites["id"])
    )
    long = pd.DataFrame(
        {
            "demand": np.repeat(problem.demand_ids, len(problem.site_ids)),
            "site": np.tile(problem.site_ids, len(problem.demand_ids)),
            "cost": minutes.reshape(-1),
            "weight": np.repeat(problem.weight, len(problem.site_ids)),
        }
    )
    return problem, long


@dataclass
class Plan:
    method: str
    params: dict[str, Any]
    sites: list[str]
    site_ids: list[str]
    metrics: dict[str, float] = field(default_factory=dict)

    def chosen(self) -> np.ndarray:
        index = {s: i for i, s in enumerate(self.site_ids)}
        return np.array([index[s] for s in self.sites])


def solve(problem: Problem, method: str, *, p: int, radius: float) -> list[str]:
    """The chosen site ids."""
    import pulp
    from spopt.locate import LSCP, MCLP, PMedian

    if method not in METHODS:
        raise UsageError(f"unknown siting method '{method}' (known: {', '.join(METHODS)})")
    if method != "lscp" and not 1 <= p <= len(problem.site_ids):
        raise UsageError(f"p={p}: choose between 1 and {len(problem.site_ids)} sites")
    solver = pulp.HiGHS(msg=False)
    if method == "mclp":
        model = MCLP.from_cost_matrix(
            problem.cost, problem.weight, service_radius=radius, p_facilities=p, name="mclp"
        )
    elif method == "pmedian":
        model = PMedian.from_cost_matrix(
            problem.cost, problem.weight, p_facilities=p, name="pmedian"
        )
    else:
        if (problem.cost.min(axis=1) > radius).any():
            far = problem.demand_ids[int(np.argmax(problem.cost.min(axis=1) > radius))]
            raise UsageError(
                f"no site reaches demand point {far} within {radius:g}: set covering "
                "is infeasible; raise the radius"
            )
        model = LSCP.from_cost_matrix(problem.cost, service_radius=radius, name="lscp")
    model.solve(solver)
    return [problem.site_ids[j] for j in range(len(problem.site_ids)) if model.fac2cli[j]]


def plan_metrics(problem: Problem, chosen: np.ndarray, radius: float) -> dict[str, float]:
    """Coverage as spopt reports it (share of demand points within the radius), coverage
    weighted by demand, and the demand-weighted mean cost to the nearest chosen site."""
    nearest = problem.cost[:, chosen].min(axis=1)
    covered = nearest <= radius
    w = problem.weight
    return {
        "coverage_pct": float(100 * covered.mean()),
        "weighted_coverage_pct": float(100 * (w * covered).sum() / max(w.sum(), 1e-12)),
        "mean_cost": float((w * nearest).sum() / max(w.sum(), 1e-12)),
        "sites": float(len(chosen)),
    }
