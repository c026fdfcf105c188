"""Forecasts and siting plans as map data (GeoJSON): what the CLI writes to files and what
a console page would draw."""

from __future__ import annotations

from typing import Any

from odlar.safety.incidents import Grid


def cell_polygon(grid: Grid, row: int, col: int) -> list[list[float]]:
    lat0, lon0 = grid.lat0 + row / grid.lat_div, grid.lon0 + col / grid.lon_div
    lat1, lon1 = lat0 + 1 / grid.lat_div, lon0 + 1 / grid.lon_div
    return [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]


def forecast_geojson(grid: Grid, predictions: list[dict[str, Any]]) -> dict[str, Any]:
    """One polygon per forecast row (cell and category) with expected count, calibrated
    probability of at least one incident and the 90% upper bound as properties."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [cell_polygon(grid, p["row"], p["col"])],
                },
                "properties": {
                    k: p[k] for k in ("cell", "category", "expected", "p_any", "upper90")
                },
            }
            for p in predictions
        ],
    }
