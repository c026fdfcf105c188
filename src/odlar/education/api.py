"""The education sector's own API routes (mounted under /api/v1): answers, mastery, next
exercises and class reports of knowledge tracing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from odlar.core.errors import UsageError
from odlar.core.tasks import MAX_VERSION
from odlar.education.exercises import Policy
from odlar.education.service import TRACKER
from odlar.governance.roles import Principal
from odlar.server.auth import OPERATE, READ
from odlar.server.parameters import OPTIONAL_VERSION

router = APIRouter()


class AnswerIn(BaseModel):
    student: str = Field(min_length=1, max_length=200, description="Pseudonymised on arrival")
    item: str = Field(default="", max_length=200)
    skills: str = Field(default="", max_length=2000, description="Several: separated by ~~")
    correct: int = Field(ge=0, le=1)
    time: str | None = Field(default=None, max_length=64, description="ISO time or order")
    class_id: str | None = Field(default=None, max_length=200)


class AnswersIn(BaseModel):
    model_version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    answers: list[AnswerIn] = Field(min_length=1, max_length=100_000)


BASE = "/tasks/education.tracing"


def policy(low: float, high: float) -> Policy:
    try:
        return Policy(low=low, high=high)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@router.post(f"{BASE}/answers", tags=["education"], summary="Record answers; update mastery")
def record_answers(body: AnswersIn, principal: Principal = Depends(OPERATE)) -> dict[str, Any]:
    records = [
        {
            "student": a.student,
            "item": a.item,
            "skills": a.skills,
            "correct": a.correct,
            "time": a.time or "",
            "class": a.class_id or "",
        }
        for a in body.answers
    ]
    if not any(a.time for a in body.answers):
        for r in records:
            r.pop("time")
    return TRACKER.record(
        tenant=principal.tenant,
        records=records,
        model_version=body.model_version,
        actor=principal.name,
    )


@router.get(f"{BASE}/students/{{student}}/mastery", tags=["education"])
def student_mastery(
    student: str,
    model_version: OPTIONAL_VERSION = None,
    principal: Principal = Depends(READ),
) -> dict[str, Any]:
    return TRACKER.mastery(
        tenant=principal.tenant,
        student=student,
        model_version=model_version,
        actor=principal.name,
    )


@router.get(f"{BASE}/students/{{student}}/next", tags=["education"])
def next_exercises(
    student: str,
    n: int = Query(5, ge=1, le=50),
    low: float = Query(0.6, gt=0, lt=1),
    high: float = Query(0.8, gt=0, lt=1),
    model_version: OPTIONAL_VERSION = None,
    principal: Principal = Depends(READ),
) -> dict[str, Any]:
    return TRACKER.next_exercises(
        tenant=principal.tenant,
        student=student,
        n=n,
        model_version=model_version,
        policy=policy(low, high),
        actor=principal.name,
    )


@router.get(f"{BASE}/classes/{{class_id}}/report", tags=["education"])
def class_report(
    class_id: str,
    model_version: OPTIONAL_VERSION = None,
    principal: Principal = Depends(READ),
) -> dict[str, Any]:
    return TRACKER.class_report(
        tenant=principal.tenant,
        class_id=class_id,
        model_version=model_version,
        actor=principal.name,
    )
