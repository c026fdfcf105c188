"""Plotly figures of a well's history, decline fit and forecast (the console pages and the
CLI's --plot read these)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from odlar.energy.production.decline import WellDecline


def decline_figure(rows: pd.DataFrame, analysis: WellDecline, years: float = 3.0) -> go.Figure:
    """Flowing rate history (log scale), the fitted Arps models on the last segment, and
    the best one carried `years` ahead."""
    phase = analysis.phase
    prod = rows[(rows["status"] == "producing") & (rows[f"{phase}_rate"] > 0)]
    fig = go.Figure()
    fig.add_trace(
        go.Scattergl(
            x=prod["date"],
            y=prod[f"{phase}_rate"],
            mode="markers",
            name="history",
            marker={"size": 3, "color": "#888"},
        )  # fmt: skip
    )
    ahead = pd.date_range(
        analysis.segment_start, analysis.last_date + pd.Timedelta(days=years * 365.25)
    )
    for model in analysis.fits:
        best = model == analysis.best
        fig.add_trace(
            go.Scatter(
                x=ahead,
                y=analysis.forecast(ahead, model),
                mode="lines",
                name=f"{model}{' (best, AIC)' if best else ''}",
                line={"width": 3 if best else 1, "dash": None if best else "dot"},
            )  # fmt: skip
        )
    for start, _ in analysis.segments:
        fig.add_vline(x=pd.Timestamp(start), line={"width": 1, "color": "#ccc"})
    eur = analysis.eur
    fig.update_layout(
        title=f"{analysis.well} {phase}: EUR {eur['eur']:,.0f} Sm3 "
        f"({eur['level']:.0%} interval {eur['eur_low']:,.0f}-{eur['eur_high']:,.0f})",
        yaxis={"type": "log", "title": f"{phase} rate, Sm3 per 24 on-stream h"},
        xaxis={"title": "date"},
        template="plotly_white",
    )
    fig.add_vline(x=analysis.last_date, line={"dash": "dash", "color": "#444"})
    return fig
