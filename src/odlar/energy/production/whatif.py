"""Choke what-if: the predicted oil, gas and water rates of a producing well if its choke is
held at a given opening over the coming days, beside the forecast with the choke as it is.

The answer comes from the gbm forecaster, which is monotone increasing in the planned choke
for every phase (scikit-learn's `monotonic_cst`), so opening the choke never predicts less
of any fluid, and rates (hence the water cut) are never negative. It is correlational: it
says how this field's wells produced at other chokes in similar states, not what the
reservoir will do; an opening outside what the well has flowed at is flagged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from odlar.core.errors import DataError, UsageError
from odlar.energy.production.data import find_well
from odlar.energy.production.features import origin_frame
from odlar.energy.production.forecasters import Forecaster


def choke_whatif(
    model: Forecaster,
    frame: pd.DataFrame,
    well: str,
    choke: float,
    *,
    days: int | None = None,
    level: float = 0.9,
) -> dict[str, Any]:
    """Forecasts from the well's last day with the choke as it is and at `choke` (%)."""
    if model.method != "gbm":
        raise UsageError(
            f"choke what-ifs need a gbm model (monotone in the choke), not {model.method}"
        )
    if not 0 <= choke <= 100:
        raise UsageError(f"choke {choke:g} is not a % opening (0-100)")
    well = find_well(frame, well)
    rows = frame[frame["well"] == well]
    if not (rows["status"] == "producing").any():
        raise DataError(f"well {well} never produced in the data: no what-if", field="well")
    origins = origin_frame(rows)
    last = origins["date"].max()
    # the gbm reads only the origin's own feature row (its look-back is in the features)
    origins = origins[origins["date"] == last]
    # an empty plan holds every choke, through the same exactly-monotone path as the what-if
    base = model.predict_rows(origins, choke={}, level=level)
    new = model.predict_rows(origins, choke={well: choke}, level=level)
    base, new = (r[r["origin"] == last] for r in (base, new))
    if days is not None:
        base, new = base[base["horizon"] <= days], new[new["horizon"] <= days]
        if base.empty:
            raise UsageError(f"no model horizon within {days} days (horizons {model.horizons})")
    current = float(base["choke"].iloc[0]) if base["choke"].notna().any() else None
    seen = model.choke_range.get(well)
    if seen is None:
        flowing = rows[(rows["status"] == "producing") & (rows["choke"] > 0)]["choke"]
        seen = (float(flowing.min()), float(flowing.max())) if len(flowing) else None
    extrapolates = seen is None or not (seen[0] - 1.0 <= choke <= seen[1] + 1.0)
    out_rows = []
    for (h, phase), b in base.groupby(["horizon", "phase"]):
        n = new[(new["horizon"] == h) & (new["phase"] == phase)].iloc[0]
        b = b.iloc[0]
        out_rows.append(
            {
                "horizon_days": int(h),
                "date": f"{b.date:%Y-%m-%d}",
                "phase": str(phase),
                "rate_now": round(float(b.rate), 2),
                "rate_now_interval": [round(float(b.lower), 2), round(float(b.upper), 2)],
                "rate_at_choke": round(float(n.rate), 2),
                "rate_at_choke_interval": [round(float(n.lower), 2), round(float(n.upper), 2)],
                "change": round(float(n.rate - b.rate), 2),
            }
        )
    cuts = []
    for h in sorted(base["horizon"].unique()):

        def cut(r: pd.DataFrame, h: int = int(h)) -> float:
            oil = float(r[(r.horizon == h) & (r.phase == "oil")]["rate"].iloc[0])
            water = float(r[(r.horizon == h) & (r.phase == "water")]["rate"].iloc[0])
            return water / (oil + water) if oil + water > 0 else float("nan")

        cuts.append(
            {
                "horizon_days": int(h),
                "water_cut_now": _r(cut(base)),
                "water_cut_at_choke": _r(cut(new)),
            }
        )
    notes = [
        "correlational: how this field's wells produced at other chokes in similar states; "
        "no reservoir simulation (no water breakthrough, coning or interference foreseen)",
        "rates are per 24 on-stream hours, for days the well flows",
    ]
    if extrapolates:
        what = f"{seen[0]:.0f}-{seen[1]:.0f} %" if seen else "no choke reading"
        notes.insert(0, f"EXTRAPOLATION: the well has flowed at {what}; {choke:g} % is outside it")
    return {
        "well": well,
        "origin": f"{last:%Y-%m-%d}",
        "choke_now": None if current is None else round(current, 2),
        "choke": choke,
        "choke_seen": None if seen is None else [round(seen[0], 2), round(seen[1], 2)],
        "extrapolates": bool(extrapolates),
        "level": level,
        "rates": out_rows,
        "water_cut": cuts,
        "notes": notes,
    }


def _r(v: float) -> float | None:
    return None if not np.isfinite(v) else round(float(v), 4)
