"""The education sector's console pages (under /ui): classes (with a class's answer log
upload), a class's mastery heat map and report, one student's mastery and next exercises."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from odlar.core import datasets
from odlar.core.errors import OdlarError, UsageError
from odlar.core.store import LearnerInteraction, session_scope
from odlar.education.service import TASK, TRACKER
from odlar.education.uploads import upload_class_log
from odlar.governance.roles import Permission as P
from odlar.web.console import chart, need, principal_of, render

router = APIRouter()
LIST = "education/education.html"


def _list_context(tenant: str, uploaded: str | None = None) -> dict[str, Any]:
    from sqlalchemy import select

    with session_scope() as s:
        names = s.scalars(
            select(LearnerInteraction.class_id)
            .distinct()
            .where(
                LearnerInteraction.tenant == tenant,
                LearnerInteraction.class_id.is_not(None),
            )
        ).all()
    logs = [d for d in datasets.list_datasets(tenant=tenant) if d["task"] == TASK]
    return {"classes": sorted(n for n in names if n), "logs": logs,
            "uploaded": next((d for d in logs if d["id"] == uploaded), None)}  # fmt: skip


@router.get("/education", response_class=HTMLResponse)
def classes(request: Request, uploaded: str | None = None) -> HTMLResponse:
    me = principal_of(request)
    return render(request, LIST, me, **_list_context(me.tenant, uploaded))


@router.post("/education/upload", response_class=HTMLResponse)
def upload(
    request: Request,
    file: UploadFile = File(...),
    class_id: str = Form("", max_length=200),
) -> Response:
    """A class's answer log (the formats education.tracing reads), kept as a dataset with
    its students pseudonymised, as `POST /api/v1/datasets?task=education.tracing` keeps it,
    and its answers recorded for the class, as `POST .../answers` records them."""
    me = need(principal_of(request), P.OPERATE)
    try:
        if not file.filename:
            raise UsageError("choose the class's answer log to upload (CSV, TSV or pyKT)")
        out = upload_class_log(file.filename, file.file, class_id=class_id, tenant=me.tenant,
                               actor=me.name)  # fmt: skip
    except OdlarError as exc:
        return render(request, LIST, me, exc.http_status, error=exc.message,
                      form={"class_id": class_id, "file": file.filename},
                      **_list_context(me.tenant))  # fmt: skip
    return RedirectResponse(f"/ui/education?uploaded={out['dataset']['id']}", status_code=303)


@router.get("/education/classes/{class_id}", response_class=HTMLResponse)
def class_page(request: Request, class_id: str) -> HTMLResponse:
    me = principal_of(request)
    matrix = TRACKER.class_matrix(tenant=me.tenant, class_id=class_id, actor=me.name)
    report = TRACKER.class_report(tenant=me.tenant, class_id=class_id, actor=me.name)
    figure = {
        "data": [
            {
                "type": "heatmap",
                "z": matrix["mastery"],
                "x": labels(matrix["skills"], matrix["skill_names"]),
                "y": matrix["students"],
                "zmin": 0,
                "zmax": 1,
                "colorscale": [[0, "#b03a2e"], [0.5, "#f4d03f"], [1, "#1e8449"]],
                "colorbar": {"title": {"text": "mastery"}},
            }
        ],
        "layout": {
            "title": {"text": f"Class {class_id}: mastery, students by skills"},
            "height": max(320, 28 * len(matrix["students"]) + 160),
            "xaxis": {"tickangle": -45, "automargin": True, "type": "category"},
            "yaxis": {"automargin": True},
        },
    }
    return render(
        request, "education/class.html", me, class_id=class_id, report=report, matrix=matrix,
        figure=chart(figure),
    )  # fmt: skip


@router.get("/education/students/{student}", response_class=HTMLResponse)
def student_page(request: Request, student: str) -> HTMLResponse:
    me = principal_of(request)
    mastery = TRACKER.mastery(tenant=me.tenant, student=student, actor=me.name)
    nxt = TRACKER.next_exercises(tenant=me.tenant, student=student, n=5, actor=me.name)
    figure = mastery_figure(mastery["skills"])
    return render(
        request, "education/student.html", me, mastery=mastery, next=nxt, figure=chart(figure)
    )


def labels(keys: list[str], names: list[str | None]) -> list[str]:
    """What a chart axis shows per skill: its name where the data has one, else its id; a
    name two skills share gets the id beside it (a category axis would merge them)."""
    shown = [n or k for k, n in zip(keys, names, strict=True)]
    twice = {x for x in shown if shown.count(x) > 1}
    return [f"{x} ({k})" if x in twice else x for x, k in zip(shown, keys, strict=True)]


def mastery_figure(skills: list[dict[str, Any]]) -> dict[str, Any]:
    # skill ids are names even when they are digits: a category axis, one bar per skill,
    # weakest at the top, the number of answers behind each in the hover text
    return {
        "data": [{"type": "bar", "orientation": "h",
                  "y": labels([str(s["skill"]) for s in skills],
                              [s.get("name") for s in skills]),
                  "x": [s["mastery"] for s in skills],
                  "text": [f"{s['answers']} answer{'' if s['answers'] == 1 else 's'}"
                           for s in skills],
                  "hovertemplate": "skill %{y}: mastery %{x:.2f}, %{text}<extra></extra>"}],
        "layout": {"title": {"text": "Mastery per practised skill"},
                   "xaxis": {"range": [0, 1], "title": {"text": "mastery"}},
                   "yaxis": {"automargin": True, "type": "category", "autorange": "reversed",
                             "title": {"text": "skill"}},
                   "height": max(300, 24 * len(skills) + 120)},
    }  # fmt: skip
