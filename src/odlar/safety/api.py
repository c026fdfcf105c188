"""The safety sector's own API routes (mounted under /api/v1): a day's incident forecast as
GeoJSON, and stationing plans compared by a dispatch replay. Both forecast with the
tenant's approved safety.hotspots version (each call an event-log record) and read the
incidents from a dataset id of the tenant or a path under ODLAR_DATA."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from odlar.core.tasks import MAX_VERSION
from odlar.core.versions import VERSION_DEFAULT
from odlar.governance.roles import Principal
from odlar.safety import service
from odlar.server.auth import OPERATE
from odlar.server.parameters import OPTIONAL_VERSION

router = APIRouter(prefix="/safety", tags=["safety"])

DATA = Query(
    min_length=1,
    max_length=4096,
    description="Incidents (time, category, latitude, longitude): a dataset id of your "
    "tenant or a path under ODLAR_DATA, e.g. safety/crime/CHI_Crime.zip",
)


class CellProperties(BaseModel):
    cell: int = Field(description="Grid cell (row * columns + column)")
    category: str
    expected: float = Field(description="Expected number of incidents that day")
    p_any: float = Field(description="Calibrated probability of at least one incident")
    upper90: int = Field(description="90% upper bound of the count (Poisson)")


class Polygon(BaseModel):
    type: Literal["Polygon"] = "Polygon"
    coordinates: list[list[list[float]]] = Field(description="[[lon, lat], ...], closed ring")


class CellFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    geometry: Polygon
    properties: CellProperties


class GridShape(BaseModel):
    rows: int
    cols: int


class ForecastMap(BaseModel):
    """A GeoJSON FeatureCollection (RFC 7946), one polygon per cell and category, highest
    expected count first, with what the forecast is of."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[CellFeature]
    day: date
    model_version: int
    categories: list[str] = Field(description="Everything the model forecasts")
    not_counted: int = Field(description="Incidents of the look-back outside grid or categories")
    grid: GridShape


@router.get(
    "/forecast",
    response_model=ForecastMap,
    summary="A day's incident forecast per cell and category as GeoJSON",
)
def forecast(
    data: str = DATA,
    day: date | None = Query(
        None, description="Day to forecast (default: the day after the last incident)"
    ),
    category: str | None = Query(None, max_length=200, description="Only this category"),
    top: int | None = Query(None, ge=1, le=100_000, description="Only the N highest cells"),
    model_version: OPTIONAL_VERSION = None,
    principal: Principal = Depends(OPERATE),
) -> dict[str, Any]:
    return service.forecast_map(
        data, tenant=principal.tenant, actor=principal.name, day=day, category=category,
        top=top, model_version=model_version,
    )  # fmt: skip


class PlanRequest(BaseModel):
    data: str = Field(min_length=1, max_length=4096, description=DATA.description)
    methods: list[Literal["mclp", "pmedian", "lscp"]] = Field(
        default=["mclp", "pmedian", "lscp"], min_length=1, max_length=3,
        description="Siting methods to compare (spopt, HiGHS)",
    )  # fmt: skip
    stations: int = Field(default=10, ge=1, le=500, description="Stations to open (mclp, pmedian)")
    crews: int = Field(default=30, ge=1, le=5000, description="Crews spread over the stations")
    radius_min: float = Field(default=8.0, gt=0, le=120, description="Target response, minutes")
    on_scene_min: float = Field(default=30.0, ge=0, le=600, description="Minutes on scene")
    replay_from: date | None = Field(
        default=None, description="First day replayed (default: the data's last replay_days)"
    )
    replay_days: int = Field(default=7, ge=1, le=92)
    model_version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description=VERSION_DEFAULT
    )


class Station(BaseModel):
    cell: int
    latitude: float = Field(description="Cell centre")
    longitude: float
    crews: int


class StationingPlan(BaseModel):
    method: str
    stations: int
    crews: int
    station_cells: list[str]
    stations_at: list[Station]
    weighted_coverage_pct: float = Field(description="Expected incidents within radius_min")
    mean_travel_min_formula: float = Field(description="Demand-weighted minutes to nearest")
    incidents: float = Field(description="Incidents replayed")
    within_8min_pct: float
    within_12min_pct: float
    mean_response_min: float = Field(description="Waiting for a free crew + driving")
    p90_response_min: float
    solve_seconds: float


class PlanSettings(BaseModel):
    stations: int
    crews: int
    radius_min: float
    on_scene_min: float
    detour: float = Field(description="Straight line x this for the street grid")
    kmh: float = Field(description="Average emergency driving speed")


class CellDemand(BaseModel):
    cell: int
    latitude: float
    longitude: float
    expected: float = Field(description="Expected incidents that day, all categories")


class PlanComparison(BaseModel):
    model_version: int
    demand_day: date = Field(description="The day whose forecast weights the demand")
    replay_from: date
    replay_days: int
    incidents: int = Field(description="Recorded incidents replayed against every plan")
    demand_cells: int
    settings: PlanSettings
    plans: list[StationingPlan]
    grid: GridShape
    expected: list[CellDemand]


@router.post(
    "/plans",
    response_model=PlanComparison,
    summary="Stationing plans for given crews, compared by replaying recorded incidents",
)
def plans(body: PlanRequest, principal: Principal = Depends(OPERATE)) -> dict[str, Any]:
    return service.stationing(
        body.data, tenant=principal.tenant, actor=principal.name, methods=tuple(body.methods),
        stations=body.stations, crews=body.crews, radius_min=body.radius_min,
        on_scene_min=body.on_scene_min, replay_from=body.replay_from,
        replay_days=body.replay_days, model_version=body.model_version,
    )  # fmt: skip
