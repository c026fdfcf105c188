"""The administration sector's own API routes (mounted under /api/v1): the files of a
published timetable. Solving is a fit job (`POST /api/v1/jobs`), an instance an upload
(`POST /api/v1/datasets`), a timetable with its cost a prediction (`POST
/api/v1/tasks/admin.timetabling/predict`)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from odlar.admin.timetabling.timetables import TimetableView
from odlar.core.errors import UsageError
from odlar.governance.roles import Principal
from odlar.server.auth import READ
from odlar.server.parameters import VERSION

router = APIRouter()


@router.get(
    "/tasks/admin.timetabling/timetables/{version}",
    tags=["timetables"],
    summary="A timetable for review, pending ones too: cost, violations, lectures, approval",
    response_model=TimetableView,
)
def review_timetable(
    version: VERSION,
    view: Literal["curriculum", "teacher", "room", "course"] | None = Query(
        None, description="One curriculum's, teacher's, room's or course's lectures"
    ),
    key: str | None = Query(None, max_length=200, description="Which one, e.g. q001"),
    principal: Principal = Depends(READ),
) -> TimetableView:
    """What the console's timetable page shows; readers see a timetable before an approver
    decides on it (its files are published only once approved)."""
    from odlar.admin.timetabling import timetables

    if (view is None) != (key is None):
        raise UsageError("give view and key together (e.g. view=curriculum, key=q001)")
    return timetables.review(principal.tenant, version, view, key)


@router.get(
    "/tasks/admin.timetabling/timetables/{version}/export",
    tags=["timetables"],
    summary="A published timetable as a file: the competition's .sol, CSV or iCalendar",
    response_class=Response,
    responses={200: {"content": {m: {"schema": {"type": "string"}} for m in
                                 ("text/plain", "text/csv", "text/calendar")}}},
)  # fmt: skip
def export_timetable(
    version: VERSION,
    format: Literal["sol", "csv", "ics"] = Query("sol", description="sol, csv or ics"),
    view: Literal["curriculum", "teacher", "room", "course"] | None = Query(
        None, description="One curriculum's, teacher's, room's or course's lectures"
    ),
    key: str | None = Query(None, max_length=200, description="Which one, e.g. q001"),
    week_of: str = Query("2026-09-07", max_length=10, description="iCalendar: first day"),
    principal: Principal = Depends(READ),
) -> Response:
    """Only a version that may serve (approved; any when approval is switched off): an
    unapproved timetable is not published (409)."""
    from odlar.admin.timetabling import timetables

    name, media, content = timetables.export(
        principal.tenant, version, format, view=view, key=key, week_of=week_of
    )
    return Response(
        content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
