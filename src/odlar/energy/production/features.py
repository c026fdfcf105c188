"""Features for per-well rate forecasts: everything at origin day t looks back only.

Targets are log1p flowing rates at t+h taken relative to the well's last flowing rate, so
one model serves wells of any size and a model that learns nothing is persistence. The control,
the choke over the coming h days, is the only forward-looking input: in training it is the
choke that was set; when forecasting it is the operator's plan (by default, the last choke
held) — which is what a what-if changes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from odlar.energy.production.data import MEASUREMENTS, PHASES

HORIZONS = (1, 7, 30, 90)
#: Calendar days of history a forecast needs (the longest look-back below).
HISTORY_DAYS = 30

LEVEL_FEATURES = [f"{p}_{k}" for p in PHASES for k in ("last", "level", "level30", "trend", "jump")]
FEATURES = [
    *LEVEL_FEATURES,
    "water_cut",
    "gor",
    "days_since_flow",
    "flow_days_7",
    "hours",
    *MEASUREMENTS,
    "choke_7",
    "planned_choke",
]


def well_features(rows: pd.DataFrame) -> pd.DataFrame:
    """Origin features for one well's calendar rows (sorted by date, one row a day)."""
    rows = rows.sort_values("date").reset_index(drop=True)
    out = pd.DataFrame({"well": rows["well"], "date": rows["date"]})
    producing = (rows["status"] == "producing").to_numpy()
    flow_index = np.flatnonzero(producing)
    for phase in PHASES:
        lr = np.log1p(rows[f"{phase}_rate"].where(producing))
        flow = lr[producing]  # the producing-day series: shut-ins are gaps, not zeros
        last = pd.Series(np.nan, index=rows.index)
        level = last.copy()
        level30 = last.copy()
        last.iloc[flow_index] = flow.ffill().to_numpy()
        level.iloc[flow_index] = flow.rolling(7, min_periods=1).mean().to_numpy()
        level30.iloc[flow_index] = flow.rolling(30, min_periods=3).mean().to_numpy()
        out[f"{phase}_last"] = last.ffill()
        out[f"{phase}_level"] = level.ffill()
        out[f"{phase}_level30"] = level30.ffill()
        out[f"{phase}_trend"] = out[f"{phase}_level"] - out[f"{phase}_level30"]
        # what persistence would predict, relative to the level: trees need it spelt out
        out[f"{phase}_jump"] = out[f"{phase}_last"] - out[f"{phase}_level"]
    oil = np.expm1(out["oil_level"])
    water = np.expm1(out["water_level"])
    out["water_cut"] = water / (oil + water).where(oil + water > 0)
    out["gor"] = np.expm1(out["gas_level"]) / oil.where(oil > 0)
    last_flow = pd.Series(np.where(producing, np.arange(len(rows)), np.nan)).ffill()
    out["days_since_flow"] = np.arange(len(rows)) - last_flow
    out["flow_days_7"] = pd.Series(producing.astype(float)).rolling(7, min_periods=1).sum()
    out["hours"] = rows["on_stream_hours"]
    for col in MEASUREMENTS:
        out[col] = rows[col].ffill(limit=7)
    # the last choke the well flowed at: the default plan, and what a what-if moves from
    flowing_choke = rows["choke"].where(producing & (rows["choke"] > 0))
    out["choke_7"] = flowing_choke.rolling(7, min_periods=1).mean().ffill()
    out["current_choke"] = flowing_choke.ffill()
    out["producing"] = producing
    for phase in PHASES:
        out[f"{phase}_rate"] = rows[f"{phase}_rate"].where(producing)
    return out


def origin_frame(frame: pd.DataFrame, wells: list[str] | None = None) -> pd.DataFrame:
    """Features for every (well, day) of the producing wells in a loader frame."""
    frame = frame[frame["role"] == "producer"]
    if wells is not None:
        frame = frame[frame["well"].isin(wells)]
    parts = [well_features(rows) for _, rows in frame.groupby("well", sort=True)]
    if not parts:
        return pd.DataFrame(columns=["well", "date", *FEATURES])
    return pd.concat(parts, ignore_index=True)


def add_targets(
    origins: pd.DataFrame, h: int, choke: str | dict[str, float] = "actual"
) -> pd.DataFrame:
    """For horizon h: the target date, the planned choke and, where the well flowed on the
    target day, the target (log rate relative to the current level) per phase.

    choke="actual": the choke that was set over (t, t+h] (training, or a known plan);
    choke="hold": the last flowing choke held (an honest forecast with no plan given);
    a dict well -> opening (%): that opening held (a what-if), the others held as they are.
    """
    out = origins.copy()
    out["target_date"] = out["date"] + pd.Timedelta(days=h)
    if choke == "actual":
        planned = out.groupby("well")["choke"].transform(
            lambda c: c[::-1].rolling(h, min_periods=1).mean()[::-1].shift(-1)
        )
        out["planned_choke"] = planned.fillna(out["current_choke"])
    else:
        out["planned_choke"] = out["current_choke"]
        if isinstance(choke, dict):
            for well, opening in choke.items():
                out.loc[out["well"] == well, "planned_choke"] = float(opening)
    for phase in PHASES:
        future = out.groupby("well")[f"{phase}_rate"].shift(-h)
        # a missing calendar row is not a zero: only days present and flowing count
        out[f"{phase}_truth"] = future
        out[f"{phase}_target"] = np.log1p(future) - out[f"{phase}_last"]
    return out


def train_mask(
    targets: pd.DataFrame, end: pd.Timestamp, start: pd.Timestamp | None = None
) -> pd.Series:
    """Rows usable for training a model that may know nothing on or after `end`: the target
    day itself lies before `end` (and the origin on or after `start`, if given)."""
    mask = (targets["target_date"] < end) & targets["oil_level"].notna()
    if start is not None:
        mask &= targets["date"] >= start
    return mask
