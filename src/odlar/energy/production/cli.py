"""Production engineer's commands: decline curves and EUR per well, choke what-if, field view.

A Typer app (`app`) for the plug-in CLI; every user mistake exits non-zero with one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from odlar.core.errors import OdlarError, UsageError
from odlar.core.versions import VERSION_HELP
from odlar.governance.roles import Permission as P
from odlar.terminal import acting

# the sector's heavy modules (pandas, scikit-learn, torch) are imported inside the
# commands: `odlar --help` mounts this app and must stay light

app = typer.Typer(
    no_args_is_help=True, help="Oil production: decline curves, choke what-if, field."
)
out = Console()
err = Console(stderr=True)

FileArg = Annotated[Path, typer.Argument(help="Daily or monthly well data (CSV, Parquet, Excel)")]
MapOpt = Annotated[
    list[str] | None,
    typer.Option("--map", help="Column mapping ours=theirs, e.g. oil=OilVol (repeatable)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]


def _fail(e: OdlarError) -> typer.Exit:
    typer.echo(f"error: {e}", err=True)
    return typer.Exit(e.exit_code)


def _mapping(pairs: list[str] | None) -> dict[str, str]:
    mapping = {}
    for pair in pairs or []:
        ours, sep, theirs = pair.partition("=")
        if not sep or not ours or not theirs:
            raise UsageError(f"--map '{pair}' is not ours=theirs")
        mapping[ours.strip()] = theirs.strip()
    return mapping


def _load(path: Path, mapping: list[str] | None, choke_unit: str | None, full: float | None) -> Any:
    from odlar.core.datasets import refuse_state
    from odlar.energy.production.data import load_production

    return load_production(
        refuse_state(path),
        columns=_mapping(mapping), choke_unit=choke_unit, choke_full_64ths=full
    )


@app.command()
def decline(
    data: FileArg,
    well: Annotated[str | None, typer.Option(help="One well (default: every producer)")] = None,
    phase: Annotated[str, typer.Option(help="oil, gas or water")] = "oil",
    economic_limit: Annotated[float, typer.Option(help="Sm3/day at which a well stops")] = 5.0,
    terminal_decline: Annotated[float, typer.Option(help="Modified hyperbolic, /year")] = 0.06,
    boot: Annotated[int, typer.Option(help="Bootstrap resamples for the EUR interval")] = 200,
    plot: Annotated[Path | None, typer.Option(help="Write an HTML plot (one well)")] = None,
    map_: MapOpt = None,
    choke_unit: Annotated[str | None, typer.Option(help="% or 1/64 when no unit column")] = None,
    choke_full_64ths: Annotated[float | None, typer.Option(help="Fully open bean, 1/64 in")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Arps decline fits on each well's last decline segment; EUR and remaining reserves."""
    acting(P.READ)
    from odlar.energy.production.data import find_well, producers
    from odlar.energy.production.decline import analyse_well

    try:
        if phase not in ("oil", "gas", "water"):
            raise UsageError(f"phase must be oil, gas or water, not '{phase}'")
        if boot < 0:
            raise UsageError("--boot must be 0 or more")
        frame = _load(data, map_, choke_unit, choke_full_64ths).frame
        wells = [find_well(frame, well)] if well else producers(frame)
        if plot and len(wells) != 1:
            raise UsageError("--plot needs one --well")
        results = []
        for w in wells:
            a = analyse_well(
                frame[frame["well"] == w],
                phase=phase,
                economic_limit=economic_limit,
                dterm_per_year=terminal_decline,
                boot=boot,
                min_days=60 if (frame["date"].diff().dt.days.median() or 1) < 2 else 6,
            )
            results.append((w, a))
        if plot:
            w, a = results[0]
            if a is None:
                raise UsageError(f"well {w}: too few producing days for a decline fit")
            from odlar.energy.production.figures import decline_figure

            tmp = plot.with_name(plot.name + ".tmp")
            decline_figure(frame[frame["well"] == w], a).write_html(tmp, include_plotlyjs=True)
            tmp.replace(plot)
    except OdlarError as e:
        raise _fail(e) from None
    if as_json:
        payload = [a.describe() if a else {"well": w, "fit": None} for w, a in results]
        out.print_json(json.dumps(payload))
        return
    t = Table(title=f"Decline curves ({phase}); EUR interval {0.8:.0%} (block bootstrap)")
    for col in ("well", "segment from", "model", "qi", "Di/yr eff", "b", "cum", "EUR", "EUR range"):
        t.add_column(col)
    for w, a in results:
        if a is None:
            t.add_row(w, "-", "too few producing days", *["-"] * 6)
            continue
        f = a.fits[a.best].describe()
        e = a.eur
        t.add_row(
            w,
            f"{a.segment_start:%Y-%m-%d}",
            a.best,
            f"{f['qi']:.0f}",
            f"{f['di_effective_per_year']:.1%}",
            f"{f['b']:.2f}",
            f"{a.cumulative:,.0f}",
            f"{e['eur']:,.0f}",
            f"{e['eur_low']:,.0f}-{e['eur_high']:,.0f}",
        )
    out.print(t)
    for w, a in results:
        for warning in a.warnings if a else []:
            out.print(f"note {w}: {warning}", markup=False, highlight=False)


def _model(data: Any, version: int | None, fit: bool, max_iter: int) -> Any:
    from odlar.energy.production.forecasters import Forecaster, fit_forecaster

    if fit:
        return fit_forecaster(data.frame, "gbm", {"max_iter": max_iter})
    from odlar.governance import serving

    me = acting(P.READ)  # the newest approved version of the user's tenant, as predict
    _, model = serving.load_model("energy.production", version, tenant=me.tenant)
    if not isinstance(model, Forecaster):
        raise UsageError("the stored model is not an energy.production forecaster")
    return model


@app.command()
def whatif(
    data: FileArg,
    well: Annotated[str, typer.Option(help="The producing well")],
    choke: Annotated[float, typer.Option(help="Choke opening to hold, % open")],
    days: Annotated[int | None, typer.Option(help="Only horizons up to this many days")] = None,
    version: Annotated[int | None, typer.Option(help=VERSION_HELP)] = None,
    fit: Annotated[bool, typer.Option(help="Fit a gbm on DATA now (unapproved; a look)")] = False,
    max_iter: Annotated[int, typer.Option(help="Boosting rounds with --fit")] = 150,
    level: Annotated[float, typer.Option(help="Interval coverage")] = 0.9,
    map_: MapOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Predicted oil, water and gas rates if the choke is held at CHOKE %, beside the
    forecast with the choke as it is; flags openings the well has never flowed at."""
    acting(P.READ)
    from odlar.energy.production.whatif import choke_whatif

    try:
        if not 0.5 < level < 1:
            raise UsageError("--level must lie between 0.5 and 1")
        data_set = _load(data, map_, None, None)
        model = _model(data_set, version, fit, max_iter)
        answer = choke_whatif(model, data_set.frame, well, choke, days=days, level=level)
    except OdlarError as e:
        raise _fail(e) from None
    if as_json:
        out.print_json(json.dumps(answer))
        return
    t = Table(
        title=f"{answer['well']} from {answer['origin']}: choke {answer['choke_now']} -> "
        f"{answer['choke']} % ({level:.0%} intervals)"
    )
    for col in ("days", "phase", "now", "interval", "at choke", "interval", "change"):
        t.add_column(col)
    for r in answer["rates"]:
        t.add_row(
            str(r["horizon_days"]),
            r["phase"],
            f"{r['rate_now']:.1f}",
            f"{r['rate_now_interval'][0]:.1f}-{r['rate_now_interval'][1]:.1f}",
            f"{r['rate_at_choke']:.1f}",
            f"{r['rate_at_choke_interval'][0]:.1f}-{r['rate_at_choke_interval'][1]:.1f}",
            f"{r['change']:+.1f}",
        )
    out.print(t)
    for note in answer["notes"]:
        out.print(f"note: {note}", markup=False, highlight=False)


@app.command()
def field(
    data: FileArg,
    version: Annotated[int | None, typer.Option(help="Model for departure alerts")] = None,
    fit: Annotated[
        bool, typer.Option(help="Fit a gbm for the alerts on data before --since")
    ] = False,
    since: Annotated[str | None, typer.Option(help="With --fit: alerts for days from here")] = None,
    days: Annotated[int, typer.Option(help="Days looked back for departures")] = 30,
    map_: MapOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Field totals, each well's share, water cut and GOR by month; with a model, wells that
    left their forecast band, stored as alerts (odlar alerts list, the console's alerts)."""
    checking = version is not None or fit
    me = acting(P.OPERATE if checking else P.READ)  # storing alerts is monitoring
    from odlar.energy.production.field import field_summary, store_departures
    from odlar.energy.production.forecasters import fit_forecaster

    try:
        data_set = _load(data, map_, None, None)
        summary = field_summary(data_set.frame)
        stored: list[dict[str, Any]] = []
        if checking:
            if fit:
                model, number = fit_forecaster(
                    data_set.frame, "gbm", {"end": since} if since else {}
                ), None
            else:
                from odlar.governance import serving

                number = serving.serving_version("energy.production", version, tenant=me.tenant)
                model = _model(data_set, number, False, 0)
            stored = store_departures(
                model, data_set.frame, tenant=me.tenant, model_version=number, actor=me.name,
                days=days, input_digest=data_set.sha256,
            )  # fmt: skip
    except OdlarError as e:
        raise _fail(e) from None
    summary["alerts"] = stored
    if as_json:
        out.print_json(json.dumps(summary))
        return
    t = Table(title="Field by well")
    for col in ("well", "oil Sm3", "share", "water Sm3", "last water cut", "last GOR"):
        t.add_column(col)
    for w, s in summary["wells"].items():
        last = next((m for m in reversed(s["monthly"]) if m["oil"] > 0), None)
        t.add_row(
            w,
            f"{s['oil_sm3']:,.0f}",
            "-" if s["share_of_oil"] is None else f"{s['share_of_oil']:.1%}",
            f"{s['water_sm3']:,.0f}",
            "-" if not last or last["water_cut"] is None else f"{last['water_cut']:.1%}",
            "-" if not last or last["gor"] is None else f"{last['gor']:.0f}",
        )
    out.print(t)
    totals = summary["totals"]
    out.print(
        f"field: oil {totals['oil']:,.0f} Sm3, gas {totals['gas']:,.0f} Sm3, water "
        f"{totals['water']:,.0f} Sm3",
        markup=False,
    )
    for a in stored:
        what = "ALERT" if a["state"] == "open" else "cleared"
        out.print(f"{what} {a['stream']} ({a['id']}): {a['detail']}", markup=False,
                  highlight=False)  # fmt: skip


if __name__ == "__main__":
    app()
