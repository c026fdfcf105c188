"""Field view: totals, each well's contribution, water-cut and gas-oil-ratio trends, and
alerts when a well leaves its forecast band (as `core.alerts` changes, the same machinery
the fault monitors feed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from odlar.core import alerts, audit
from odlar.core.alerts import Change
from odlar.energy.production.data import PHASES, producers
from odlar.energy.production.features import origin_frame
from odlar.energy.production.forecasters import Forecaster


def field_summary(frame: pd.DataFrame, freq: str = "MS") -> dict[str, Any]:
    """Monthly (or `freq`) field totals and per-well volumes, shares, water cut and GOR."""
    prod = frame[frame["role"] == "producer"]
    grouped = prod.groupby([pd.Grouper(key="date", freq=freq), "well"])[list(PHASES)].sum()
    grouped = grouped.reset_index()
    field = grouped.groupby("date")[list(PHASES)].sum()
    liquid = field["oil"] + field["water"]
    field["water_cut"] = (field["water"] / liquid.where(liquid > 0)).round(4)
    field["gor"] = (field["gas"] / field["oil"].where(field["oil"] > 0)).round(2)
    total_oil = float(prod["oil"].sum())
    wells = {}
    for well, rows in grouped.groupby("well"):
        liquid = rows["oil"] + rows["water"]
        wells[str(well)] = {
            "oil_sm3": round(float(rows["oil"].sum()), 1),
            "gas_sm3": round(float(rows["gas"].sum()), 1),
            "water_sm3": round(float(rows["water"].sum()), 1),
            "share_of_oil": round(float(rows["oil"].sum()) / total_oil, 4) if total_oil else None,
            "monthly": [
                {
                    "date": f"{r.date:%Y-%m-%d}",
                    "oil": round(float(r.oil), 1),
                    "gas": round(float(r.gas), 1),
                    "water": round(float(r.water), 1),
                    "water_cut": _r(r.water / lq if lq > 0 else np.nan),
                    "gor": _r(r.gas / r.oil if r.oil > 0 else np.nan),
                }
                for r, lq in zip(rows.itertuples(index=False), liquid, strict=True)
            ],
        }
    return {
        "frequency": freq,
        "totals": {p: round(float(prod[p].sum()), 1) for p in PHASES},
        "field": [
            {"date": f"{d:%Y-%m-%d}", **{k: _r(v) for k, v in row.items()}}
            for d, row in field.iterrows()
        ],
        "wells": wells,
    }


TASK = "energy.production"
KIND = "production_departure"


def _day_number(day: pd.Timestamp) -> int:
    """An alert's sample: days since 1970-01-01, so a well's alerts order by day."""
    return int((pd.Timestamp(day) - pd.Timestamp("1970-01-01")).days)


def departures(
    model: Forecaster,
    frame: pd.DataFrame,
    *,
    days: int = 30,
    min_outside: int = 5,
    level: float = 0.9,
    horizon: int | None = None,
) -> list[Change]:
    """An alert for each well whose actual oil rate fell outside the model's `level` band on
    at least `min_outside` of its last `days` producing days (forecasts made `horizon` days
    earlier, by a model trained before them; days before the model's end are skipped)."""
    # a week ahead by default: a 1-day forecast follows a drop the next day and hides it
    horizon = horizon or (7 if 7 in model.horizons else model.horizons[0])
    origins = origin_frame(frame)
    # each well's own last days (wells stop at different dates)
    since = origins.groupby("well")["date"].transform("max") - pd.Timedelta(
        days + horizon + 40, "D"
    )
    rows = model.predict_rows(origins[origins["date"] >= since], level=level)
    if rows.empty:
        return []
    rows = rows[(rows["phase"] == "oil") & (rows["horizon"] == horizon) & rows["truth"].notna()]
    rows = rows[rows["origin"] >= model.end]
    changes = []
    for well, part in rows.groupby("well"):
        part = part[part["date"] > part["date"].max() - pd.Timedelta(days=days)]
        below = part["truth"] < part["lower"]
        above = part["truth"] > part["upper"]
        outside = int(below.sum() + above.sum())
        if outside < min_outside:
            continue
        direction = "below" if below.sum() >= above.sum() else "above"
        last = part.iloc[-1]
        changes.append(
            Change(
                action="open",
                kind="production_departure",
                key=str(well),
                sample=_day_number(last.date),
                time=f"{last.date:%Y-%m-%d}",
                statistic=f"oil rate outside the {level:.0%} band, {horizon} days ahead",
                score=round(outside / len(part), 4),
                detail=f"oil rate {direction} its {level:.0%} forecast band on {outside} of "
                f"{len(part)} producing days to {last.date:%Y-%m-%d} (last: "
                f"{last.truth:.1f} against {last.lower:.1f}-{last.upper:.1f} Sm3/d)",
            )
        )
    return changes


def store_departures(
    model: Forecaster,
    frame: pd.DataFrame,
    *,
    tenant: str,
    model_version: int | None,
    actor: str = "odlar",
    days: int = 30,
    input_digest: str | None = None,
) -> list[dict[str, Any]]:
    """Check every producer of `frame` against the model's band and store the outcome
    with the other alerts (`core.alerts`): a departing well opens an alert (or updates its
    open one), a well back inside its band clears its open alert. One alert stream per
    well. Returns the alerts touched; the check is an event-log record."""
    changes = {c.key: c for c in departures(model, frame, days=days)}
    checked = producers(frame)
    open_before = {
        a["stream"]
        for a in alerts.list_alerts(tenant=tenant, state="open", limit=10_000)
        if a["task"] == TASK and a["kind"] == KIND
    }
    touched: list[dict[str, Any]] = []
    for well in sorted(set(changes) | (open_before & set(checked))):
        change = changes.get(well)
        if change is None:  # back inside its band: clear the open alert
            last = frame.loc[frame["well"] == well, "date"].max()
            change = Change("clear", KIND, well, _day_number(last), f"{last:%Y-%m-%d}")
        touched += alerts.apply(
            [change], tenant=tenant, task=TASK, stream=well, model_version=model_version,
            detector=model.method, statistic="forecast band",
        )  # fmt: skip
    audit.record(
        tenant=tenant, actor=actor, action="monitor", target=f"{TASK}:departures",
        model_version=f"{TASK}/{model_version}" if model_version else "",
        input_digest=input_digest,
        output={"wells": checked, "departing": sorted(changes),
                "alerts": [{"id": a["id"], "stream": a["stream"], "state": a["state"]}
                           for a in touched]},
    )  # fmt: skip
    return touched


def _r(v: Any) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return None if not np.isfinite(v) else round(v, 4)
