"""Arps decline-curve analysis per well: decline segments found automatically, four Arps
models fitted by robust least squares, estimated ultimate recovery (EUR) and remaining
reserves with a block-bootstrap interval.

Why no library: petbox-dca (MIT, maintained) evaluates these models (and more) very well,
but it fits nothing, finds no segments and gives no uncertainty; wrapping its validated
model objects inside a least-squares loop run hundreds of times per bootstrap is slow, and
the four rate equations are one line each. scipy's `least_squares` does the fitting, with
bounds and a soft-L1 loss so that upsets and partial days do not drag the curve.

Time is in days since the start of the segment; declines are nominal, per day inside and
per year in everything shown to the engineer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: In this order on purpose: on equal AIC the modified hyperbolic (the same curve until its
#: decline falls to the terminal one, then exponential) is chosen over the plain hyperbolic,
#: whose tail can otherwise run on for decades.
MODELS = ("exponential", "modified_hyperbolic", "hyperbolic", "harmonic")
#: Below this effective annual decline no decline is established and the EUR says so.
FLAT = 0.05
YEAR = 365.25


def rate(model: str, t: np.ndarray, qi: float, di: float, b: float, dterm: float) -> np.ndarray:
    """Arps rate at time t (days); di, dterm nominal per day."""
    t = np.asarray(t, float)
    if model == "exponential":
        return qi * np.exp(-di * t)
    if model == "harmonic":
        return qi / (1.0 + di * t)
    hyper = qi / np.power(1.0 + b * di * t, 1.0 / b)
    if model == "hyperbolic" or dterm <= 0 or dterm >= di:
        return hyper
    # modified hyperbolic: exponential at dterm once the hyperbolic decline falls to it
    t_switch = (di / dterm - 1.0) / (b * di)
    q_switch = qi / (1.0 + b * di * t_switch) ** (1.0 / b)
    return np.where(t < t_switch, hyper, q_switch * np.exp(-dterm * (t - t_switch)))


@dataclass
class ArpsFit:
    model: str
    qi: float
    di: float  # nominal per day
    b: float
    dterm: float  # nominal per day (modified hyperbolic only)
    aic: float
    rmse_log: float
    residuals: np.ndarray = field(repr=False)  # log(observed) - log(fitted)

    def rate(self, t: np.ndarray) -> np.ndarray:
        return rate(self.model, t, self.qi, self.di, self.b, self.dterm)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "qi": round(self.qi, 2),
            "di_nominal_per_year": round(self.di * YEAR, 4),
            "di_effective_per_year": round(1 - float(self.rate(np.array([YEAR]))[0]) / self.qi, 4),
            "b": round(self.b, 3),
            "dterm_nominal_per_year": round(self.dterm * YEAR, 4) if self.dterm else None,
            "aic": round(self.aic, 2),
            "rmse_log": round(self.rmse_log, 4),
        }


def fit_arps(t: np.ndarray, q: np.ndarray, model: str, dterm_per_year: float = 0.06) -> ArpsFit:
    """Fit one model to positive rates q at times t (days from the segment start)."""
    from scipy.optimize import least_squares
    t, q = np.asarray(t, float), np.asarray(q, float)
    logq = np.log(q)
    slope = np.polyfit(t, logq, 1)[0] if len(t) > 2 and np.ptp(t) > 0 else -1e-3
    d0 = float(np.clip(-slope, 1e-5, 0.05))
    q0 = float(np.exp(np.median(logq[: max(5, len(q) // 20)])))
    dterm = dterm_per_year / YEAR if model == "modified_hyperbolic" else 0.0

    def unpack(x: np.ndarray) -> tuple[float, float, float]:
        b = x[2] if len(x) > 2 else (1.0 if model == "harmonic" else 0.0)
        return float(np.exp(x[0])), float(np.exp(x[1])), float(b)

    def residual(x: np.ndarray) -> np.ndarray:
        qi, di, b = unpack(x)
        return logq - np.log(np.maximum(rate(model, t, qi, di, b, dterm), 1e-12))

    lo, hi = [np.log(q.min() * 0.5), np.log(1e-6)], [np.log(q.max() * 3.0), np.log(0.5)]
    x0 = [np.log(q0), np.log(d0)]
    if model in ("hyperbolic", "modified_hyperbolic"):
        lo, hi, x0 = lo + [0.01], hi + [2.0], x0 + [0.5]
    x0 = np.clip(x0, np.array(lo) + 1e-9, np.array(hi) - 1e-9)
    sol = least_squares(residual, x0, bounds=(lo, hi), loss="soft_l1", f_scale=0.2)
    qi, di, b = unpack(sol.x)
    res = residual(sol.x)
    n, k = len(q), len(sol.x)
    sse = float(np.sum(res**2))
    aic = n * np.log(max(sse / n, 1e-12)) + 2 * k
    return ArpsFit(model, qi, di, b, dterm, float(aic), float(np.sqrt(sse / n)), res)


def decline_segments(
    days: np.ndarray, q: np.ndarray, *, rise: float = 0.25, gap: int = 30, min_days: int = 60
) -> list[tuple[int, int]]:
    """Index ranges [start, end) of decline segments in a producing-day series.

    A new segment starts where production restarts after a shut-in of `gap` days or more
    at a higher level, or where the 30-day mean rate rises by `rise` (a workover, a new
    zone, a choke opened), and at the peak rate after that point. Short tails merge back.
    """
    n = len(q)
    if n < 2:
        return [(0, n)]
    s = pd.Series(q).rolling(7, center=True, min_periods=1).median()
    before = s.rolling(30, min_periods=5).mean()
    after = s[::-1].rolling(30, min_periods=5).mean()[::-1].shift(-1)
    ratio = (after / before).to_numpy()
    jumps = np.diff(days) >= gap
    starts = [0]
    i = 30
    while i < n - 30:
        restart = jumps[i - 1] and ratio[i - 1] > 1.1
        if restart or ratio[i] > 1.0 + rise:
            j = i if restart else min(i + 30, n)
            # the segment starts at the peak of the smoothed rate just after the break
            peak = int(i + np.argmax(s.to_numpy()[i : min(i + 60, n)])) if not restart else j
            if peak - starts[-1] >= min_days:
                starts.append(peak)
            i = max(peak, i) + 30
        else:
            i += 1
    first_peak = int(np.argmax(s.to_numpy()[: min(60, n)]))
    starts[0] = first_peak if (starts[1:] or [n])[0] - first_peak >= min_days else 0
    ends = starts[1:] + [n]
    segments = list(zip(starts, ends, strict=True))
    while len(segments) > 1 and segments[-1][1] - segments[-1][0] < min_days:
        last = segments.pop()
        segments[-1] = (segments[-1][0], last[1])
    return segments


@dataclass
class WellDecline:
    """A well's decline analysis on its last decline segment."""

    well: str
    phase: str
    segment_start: pd.Timestamp
    last_date: pd.Timestamp
    fits: dict[str, ArpsFit]
    best: str
    uptime: float  # share of calendar time on stream over the last year
    cumulative: float  # volume produced to the last date (Sm3)
    segments: list[tuple[str, str]]
    eur: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def forecast(self, dates: pd.DatetimeIndex | pd.Series, model: str | None = None) -> np.ndarray:
        t = (pd.DatetimeIndex(dates) - self.segment_start).days.to_numpy(float)
        return self.fits[model or self.best].rate(np.maximum(t, 0.0))

    def describe(self) -> dict[str, Any]:
        return {
            "well": self.well,
            "phase": self.phase,
            "segment_start": f"{self.segment_start:%Y-%m-%d}",
            "last_date": f"{self.last_date:%Y-%m-%d}",
            "segments": [{"start": a, "end": b} for a, b in self.segments],
            "best": self.best,
            "fits": {m: f.describe() for m, f in self.fits.items()},
            "uptime": round(self.uptime, 3),
            "cumulative": round(self.cumulative, 1),
            "eur": {k: round(v, 1) for k, v in self.eur.items()},
            "warnings": self.warnings,
        }


def analyse_well(
    rows: pd.DataFrame,
    *,
    phase: str = "oil",
    dterm_per_year: float = 0.06,
    economic_limit: float = 5.0,
    years: float = 30.0,
    boot: int = 200,
    level: float = 0.8,
    seed: int = 0,
    min_days: int = 60,
) -> WellDecline | None:
    """Decline analysis of one well's daily rows (the loader's frame, one well); None when
    the well has too few producing days for a fit."""
    rows = rows.sort_values("date")
    prod = rows[(rows["status"] == "producing") & (rows[f"{phase}_rate"] > 0)]
    if len(prod) < min_days:
        return None
    day0 = prod["date"].iloc[0]
    days = (prod["date"] - day0).dt.days.to_numpy()
    q = prod[f"{phase}_rate"].to_numpy(float)
    segments = decline_segments(days, q, min_days=min_days)
    start, end = segments[-1]
    seg_days = days[start:end]
    t = (seg_days - seg_days[0]).astype(float)
    qs = q[start:end]
    fits = {m: fit_arps(t, qs, m, dterm_per_year) for m in MODELS}
    best = min(fits, key=lambda m: fits[m].aic)
    last = rows["date"].max()
    year_ago = rows[rows["date"] > last - pd.Timedelta(days=365)]
    year_ago = year_ago[year_ago["on_stream_hours"].notna()]
    monthly = len(rows) > 1 and rows["date"].diff().dt.days.median() > 20
    # each row stands for a day, or for its month in monthly data
    days_each = year_ago["date"].dt.days_in_month if monthly else 1
    hours = float(year_ago["on_stream_hours"].sum())
    span = float(np.sum(days_each * np.ones(len(year_ago)))) * 24.0
    uptime = float(np.clip(hours / span, 0.0, 1.0)) if span else 0.0
    seg_start = prod["date"].iloc[start]
    out = WellDecline(
        well=str(rows["well"].iloc[0]),
        phase=phase,
        segment_start=seg_start,
        last_date=last,
        fits=fits,
        best=best,
        uptime=uptime,
        cumulative=float(rows[phase].sum()),
        segments=[
            (f"{prod['date'].iloc[a]:%Y-%m-%d}", f"{prod['date'].iloc[b - 1]:%Y-%m-%d}")
            for a, b in segments
        ],
    )
    out.eur = _eur(out, t, qs, economic_limit, years, boot, level, seed)
    effective = fits[best].describe()["di_effective_per_year"]
    if effective < FLAT:
        out.warnings.append(
            f"no decline established on the last segment ({effective:.1%} a year): the EUR "
            f"runs to the {years:g}-year cut-off and is not a reserves estimate"
        )
    if len(qs) < 180:
        out.warnings.append(f"last decline segment is short ({len(qs)} producing days)")
    return out


def remaining(fit: ArpsFit, t_now: float, uptime: float, limit: float, years: float) -> float:
    """Volume from t_now until the rate falls to the economic limit (or `years` pass),
    at the recent on-stream share."""
    t = t_now + np.arange(1, int(years * YEAR) + 1, dtype=float)
    q = fit.rate(t)
    q = np.where(q >= limit, q, 0.0)
    return float(q.sum() * uptime)


def _eur(
    well: WellDecline,
    t: np.ndarray,
    q: np.ndarray,
    limit: float,
    years: float,
    boot: int,
    level: float,
    seed: int,
) -> dict[str, float]:
    """EUR = produced so far + remaining; the interval from a moving-block bootstrap of the
    log residuals (blocks of 30 days keep their autocorrelation) refitting the best model."""
    best = well.fits[well.best]
    t_now = float((well.last_date - well.segment_start).days)
    point = remaining(best, t_now, well.uptime, limit, years)
    rng = np.random.default_rng(seed)
    fitted = np.log(best.rate(t))
    res = best.residuals
    n, block = len(res), min(30, max(len(res) // 4, 1))
    draws = []
    for _ in range(boot):
        idx = np.concatenate(
            [np.arange(s, s + block) for s in rng.integers(0, n - block + 1, n // block + 1)]
        )[:n]
        q_star = np.exp(fitted + res[idx])
        try:
            refit = fit_arps(t, q_star, well.best, best.dterm * YEAR)
        except (ValueError, np.linalg.LinAlgError):
            continue
        draws.append(remaining(refit, t_now, well.uptime, limit, years))
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2]) if draws else (point, point)
    return {
        "remaining": point,
        "remaining_low": float(lo),
        "remaining_high": float(hi),
        "eur": well.cumulative + point,
        "eur_low": well.cumulative + float(lo),
        "eur_high": well.cumulative + float(hi),
        "level": level,
        "economic_limit": limit,
        "bootstrap": len(draws),
    }
