"""`odlar safety ...`: what is specific to public safety (siting plans, plan comparison by
dispatch simulation, forecast maps as files). Generic fit/predict/bench live in odlar.cli."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from odlar.core.errors import OdlarError
from odlar.core.versions import VERSION_HELP

app = typer.Typer(
    help="Public safety: incident forecasts and where to station crews.", no_args_is_help=True
)
console = Console()


def _fail(exc: OdlarError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(exc.exit_code)


def _write(path: Path, payload: object) -> None:
    """Written to a temporary name first, so a failure never leaves half a file."""
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(path)


@app.command()
def site(
    costs: Path = typer.Argument(
        ...,
        help="CSV: demand, site, cost, weight (one row per pair); with --network: points "
        "(id, role, latitude, longitude, weight)",
    ),
    method: str = typer.Option("mclp", "--method", "-m", help="mclp, pmedian or lscp"),
    p: int = typer.Option(4, "--p", help="Sites to open (mclp, pmedian)"),
    radius: float = typer.Option(5000.0, "--radius", help="Service radius in the file's cost unit"),
    network: Path | None = typer.Option(
        None, "--network", help="SUMO .net.xml: costs are free-flow road minutes"
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the plan as JSON here"),
) -> None:
    """Choose sites with spopt (HiGHS) and report coverage and mean travel cost."""
    from odlar.safety.response.siting import load_problem, plan_metrics, solve

    try:
        problem, _ = load_problem(costs, network)
        sites = solve(problem, method, p=p, radius=radius)
    except OdlarError as exc:
        _fail(exc)
    chosen = [problem.site_ids.index(s) for s in sites]
    import numpy as np

    metrics = plan_metrics(problem, np.array(chosen), radius)
    plan = {"method": method, "p": p, "radius": radius, "sites": sites, "metrics": metrics}
    if out:
        _write(out, plan)
    console.print(f"{method}: sites {', '.join(sites)}")
    console.print(
        f"coverage {metrics['coverage_pct']:.2f}% of demand points, "
        f"{metrics['weighted_coverage_pct']:.2f}% of demand, "
        f"mean cost {metrics['mean_cost']:.4g}"
    )


@app.command("compare-plans")
def compare_plans(
    data: Path = typer.Option(
        Path("safety/crime"),
        "--data",
        help="Folder with CHI_Crime.zip (relative paths are under ODLAR_DATA)",
    ),
    quick: bool = typer.Option(False, "--quick", help="The first 7 test days only"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the comparison as JSON"),
) -> None:
    """Replay the Chicago test period against an MCLP, a p-median and an LSCP plan: share
    reached within 8 and 12 minutes and mean response time, beside each plan's coverage."""
    from odlar.core.config import get_settings
    from odlar.safety.response.task import chicago_dispatch_setting, dispatch_plan

    folder = data if data.is_absolute() else get_settings().data_dir / data
    try:
        city = chicago_dispatch_setting(folder, quick=quick)
        rows = {m: dispatch_plan(city, m) for m in ("mclp", "pmedian", "lscp")}
    except OdlarError as exc:
        _fail(exc)
    table = Table("plan", "stations", "covered 8 min", "within 8 min", "within 12 min", "mean min")
    for m, r in rows.items():
        table.add_row(
            m,
            str(r["stations"]),
            f"{r['weighted_coverage_pct']:.1f}%",
            f"{r['within_8min_pct']:.1f}%",
            f"{r['within_12min_pct']:.1f}%",
            f"{r['mean_response_min']:.1f}",
        )
    console.print(table)
    if out:
        _write(out, rows)


@app.command("forecast-map")
def forecast_map(
    incidents: Path = typer.Argument(..., help="Recent incidents (CSV, Parquet or zip)"),
    out: Path = typer.Option(..., "--out", "-o", help="GeoJSON file to write"),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    tenant: str | None = typer.Option(
        None, "--tenant", help="Another tenant's models (the platform's admins only)"
    ),
) -> None:
    """Forecast the day after the last incident with the safety.hotspots model that serves
    (approved, the user's tenant) and write every cell and category as a GeoJSON polygon."""
    from odlar.core.tasks import get_task
    from odlar.governance import serving
    from odlar.governance.roles import Permission, acting_tenant
    from odlar.safety.maps import forecast_geojson
    from odlar.terminal import acting

    task = get_task("safety.hotspots")
    try:
        me = acting(Permission.OPERATE)  # a prediction: operators, as odlar predict
        where = acting_tenant(me, tenant)
        # the serving gate, as every prediction: an unapproved or revoked version never maps
        number = serving.serving_version(task.name, version, tenant=where)
        request = task.request_from(task.load(incidents), top=None, model_version=number)
        response = serving.predict(task, request, tenant=where, actor=me.name, serving=number)
        _, model = serving.load_model(task.name, number, tenant=where)
    except OdlarError as exc:
        _fail(exc)
    rows = response.model_dump()["predictions"]
    _write(
        out,
        forecast_geojson(model.grid, rows) | {"day": str(response.day), "model_version": number},
    )
    console.print(f"{len(rows)} cell forecasts for {response.day} written to {out}")


if __name__ == "__main__":  # until the sector plug-in mounts it as `odlar safety`
    app()
