"""`odlar mobility ...`: bring a network (import), list scenarios, run controllers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from odlar.core.errors import OdlarError
from odlar.governance.roles import Permission as P
from odlar.mobility import scenarios as sc
from odlar.terminal import acting, console, err, progress_bar, write_json

app = typer.Typer(
    no_args_is_help=True, help="Traffic-signal scenarios: import, list, run controllers."
)
import_app = typer.Typer(
    no_args_is_help=True,
    help="Bring a network: OpenStreetMap, SUMO files, origin-destination counts, or a "
    "synthetic city.",
)
app.add_typer(import_app, name="import")

def _imported(scenario: Any) -> None:
    facts = sc.validate(scenario)
    console.print(
        f"scenario [bold]{scenario.name}[/bold] ({scenario.origin}): {facts['signals']} "
        f"signals, {facts['edges']} edges, {facts['vehicles_in_episode']} vehicles from "
        f"{scenario.begin} to {scenario.end} s, in {scenario.net.parent}"
    )
    console.print(f"next: odlar mobility run --scenario {scenario.name} "
                  "-c fixed -c max_pressure --plot delay.png")  # fmt: skip


def _import_out(name: str, out: Path | None) -> Path:
    return out or sc.imported_dir() / name


@import_app.command("osm")
def mobility_import_osm(
    osm: Path = typer.Argument(help="OpenStreetMap extract (.osm XML)"),
    name: str | None = typer.Option(None, help="Scenario name (default: the file's stem)"),
    guess_signals: bool = typer.Option(
        True, help="Also guess traffic lights where the map has none (netconvert --tls.guess)"
    ),
    routes: list[Path] = typer.Option(
        [], "--routes", help="Own route files (default: random trips)"
    ),
    begin: int = typer.Option(0),
    end: int = typer.Option(3600),
    period: float = typer.Option(2.0, help="Random trips: seconds between departures"),
    seed: int = typer.Option(42),
    out: Path | None = typer.Option(None, help="Folder (default: ODLAR_HOME/scenarios/NAME)"),
    overwrite: bool = typer.Option(False, help="Replace an imported scenario of that name"),
) -> None:
    """Convert an OpenStreetMap extract with netconvert and SUMO's type map."""
    acting(P.OPERATE)
    from odlar.mobility.importing import import_osm

    name = name or osm.stem.split(".")[0]
    _imported(import_osm(osm, _import_out(name, out), name=name, guess_signals=guess_signals,
                         routes=routes or None, begin=begin, end=end, period=period, seed=seed,
                         overwrite=overwrite))  # fmt: skip


@import_app.command("sumo")
def mobility_import_sumo(
    net: Path = typer.Argument(help="SUMO network (.net.xml)"),
    routes: list[Path] = typer.Argument(help="Route files (.rou.xml)"),
    name: str | None = typer.Option(None),
    begin: int = typer.Option(0),
    end: int = typer.Option(3600),
    delta: int = typer.Option(10, help="Seconds between decisions"),
    yellow: int = typer.Option(3, help="Yellow seconds"),
    out: Path | None = typer.Option(None),
    overwrite: bool = typer.Option(False),
) -> None:
    """Take a SUMO network and route files as they are."""
    acting(P.OPERATE)
    from odlar.mobility.importing import import_sumo

    name = name or net.name.split(".")[0]
    _imported(import_sumo(net, routes, _import_out(name, out), name=name, begin=begin, end=end,
                          delta=delta, yellow=yellow, overwrite=overwrite))  # fmt: skip


@import_app.command("od")
def mobility_import_od(
    net: Path = typer.Argument(help="SUMO network (.net.xml)"),
    counts: Path = typer.Argument(help="CSV: origin,destination,count[,begin,end] (edge ids)"),
    name: str | None = typer.Option(None),
    begin: int = typer.Option(0),
    end: int = typer.Option(3600),
    seed: int = typer.Option(42),
    out: Path | None = typer.Option(None),
    overwrite: bool = typer.Option(False),
) -> None:
    """Demand from origin-destination counts, routed with duarouter."""
    acting(P.OPERATE)
    from odlar.mobility.importing import import_od

    name = name or counts.stem
    _imported(import_od(net, counts, _import_out(name, out), name=name, begin=begin, end=end,
                        seed=seed, overwrite=overwrite))  # fmt: skip


@import_app.command("synthetic")
def mobility_import_synthetic(
    kind: str = typer.Option("grid", help="grid, spider or rand (netgenerate)"),
    size: int = typer.Option(3, help="Junctions per side (grid), rings (spider)"),
    length: float = typer.Option(200.0, help="Metres between junctions"),
    lanes: int = typer.Option(2),
    begin: int = typer.Option(0),
    end: int = typer.Option(3600),
    period: float = typer.Option(2.0, help="Seconds between random departures"),
    seed: int = typer.Option(42),
    name: str | None = typer.Option(None),
    out: Path | None = typer.Option(None),
    overwrite: bool = typer.Option(False),
) -> None:
    """A synthetic city (netgenerate and randomTrips), for trying things without data."""
    acting(P.OPERATE)
    from odlar.mobility.importing import synthetic

    name = name or f"{kind}{size}"
    _imported(synthetic(_import_out(name, out), kind=kind, size=size, length=length,
                        lanes=lanes, begin=begin, end=end, period=period, seed=seed, name=name,
                        overwrite=overwrite))  # fmt: skip


@app.command("scenarios")
def mobility_scenarios() -> None:
    """The RESCO benchmark scenarios and the ones imported here."""
    acting(P.READ)

    table = Table("scenario", "origin", "begin", "end", "decision / yellow s", "where")
    found = [sc.resco(n) for n in sc.RESCO_NAMES]
    folder = sc.imported_dir()
    for manifest in sorted(folder.glob("*/scenario.json")) if folder.exists() else []:
        try:
            found.append(sc.load(manifest.parent))
        except OdlarError as exc:
            err.print(f"skipped {manifest.parent}: {exc}")
    for s in found:
        table.add_row(s.name, s.origin, str(s.begin), str(s.end), f"{s.delta} / {s.yellow}",
                      str(s.net.parent))  # fmt: skip
    console.print(table)


@app.command("run")
def mobility_run(
    scenario: str = typer.Option(..., "--scenario", "-s", help="RESCO name, imported name, path"),
    controller: list[str] = typer.Option(
        [], "--controller", "-c", help="fixed, actuated, greedy, max_pressure (repeatable)"
    ),
    model: list[int] = typer.Option([], "--model", help="A trained model version (repeatable)"),
    seed: list[int] = typer.Option([], "--seed", help="Seeds (default 42, 1, 2)"),
    junction_blocker: float | None = typer.Option(
        None, help="SUMO --ignore-junction-blocker SECONDS (a deviation from RESCO)"
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Delay over time: .png or .html"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write all metrics as JSON"),
) -> None:
    """Simulate controllers on a scenario (seeds in parallel processes) and compare them."""
    me = acting(P.OPERATE)
    from odlar.core import tracking
    from odlar.core.datasets import resolve_source
    from odlar.mobility import runs

    scen = sc.load(resolve_source(sc.named(scenario), tenant=me.tenant))
    sc.validate(scen)
    models = {
        f"v{v}": tracking.load_version("mobility.signals", v, tenant=me.tenant)[1] for v in model
    }
    with progress_bar(f"simulating {scen.name}") as update:
        update(0.0, "running episodes")
        result = runs.compare(scen, controller or ([] if models else ["fixed", "max_pressure"]),
                              seed or [42, 1, 2], models=models,
                              junction_blocker=junction_blocker)  # fmt: skip
        update(1.0, "done")
    table = Table("controller", "delay s", "± sd", "RESCO-code delay", "trip time s",
                  "waiting s", "queue (mean/max)", "arrived", "never inserted", "teleports",
                  "deadlocks",
                  title=f"{scen.name}, seeds {', '.join(map(str, result['seeds']))}")  # fmt: skip
    for c in result["controllers"]:
        table.add_row(c["controller"], f"{c['delay']:.2f}", f"{c['delay_sd']:.2f}",
                      f"{c['delay_resco_code']:.2f}", f"{c['trip_time']:.1f}",
                      f"{c['waiting_time']:.1f}", f"{c['queue']:.0f}/{c['queue_max']:.0f}",
                      f"{c['throughput']:.0f}",
                      f"{c['never_inserted']:.0f}", f"{c['teleports']:.0f}",
                      str(c["deadlocks"]))  # fmt: skip
    console.print(table)
    if plot:
        console.print(f"wrote {runs.plot(result, plot)}")
    if out:
        write_json(out, result)


