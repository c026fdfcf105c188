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


class AnswersOut(BaseModel):
    stored: int = Field(description="Answers stored (all or none: a bad record stores none)")
    students: list[str] = Field(description="Pseudonyms of the students touched")
    repairs: list[dict[str, Any]] = Field(description="What the loader repaired, and where")
    model_version: int | None = Field(description="The version that updated mastery")
    note: str | None = Field(default=None, description="Why mastery was not updated")
    update_ms_per_answer: float | None = None
    mastery: dict[str, dict[str, float]] | None = Field(
        default=None, description="Per student, mastery of each skill practised"
    )


class SkillMastery(BaseModel):
    skill: str = Field(description="The skill's id in the data (the key)")
    name: str | None = Field(default=None, description="Its name where the data has one")
    mastery: float = Field(description="P(knows the skill), 0 to 1")
    answers: int = Field(description="Answers on the skill (the evidence behind it)")
    mastered: bool


class MasteryOut(BaseModel):
    student: str = Field(description="The student's pseudonym")
    model_version: int
    answers: int
    recent_accuracy: float | None = Field(description="Share right of the latest answers")
    skills: list[SkillMastery] = Field(description="Practised skills, weakest first")


class Exercise(BaseModel):
    item: str = Field(description="The question's id in the data ('' where it has none)")
    skills: list[str]
    skill_names: list[str | None] | None = None
    success_probability: float
    in_target_band: bool


class NextOut(BaseModel):
    student: str
    model_version: int
    target: list[float] = Field(description="The success band aimed at, [low, high]")
    exercises: list[Exercise]


class WeakSkill(BaseModel):
    skill: str
    name: str | None = None
    mean_mastery: float
    accuracy: float
    students_practised: int
    students_mastered: int
    answers: int


class AtRisk(BaseModel):
    student: str = Field(description="Pseudonym (a teacher's roster maps it on the page)")
    reasons: list[str] = Field(description="The evidence, in words a teacher can check")
    recent_accuracy: float | None
    recent_answers: int
    mean_mastery: float | None
    skills_with_evidence: int
    weakest_skills: list[str]
    weakest_skill_names: list[str | None] | None = None


class ClassReportOut(BaseModel):
    class_id: str = Field(alias="class", serialization_alias="class")
    model_version: int
    students: int
    min_evidence: int = Field(description="Answers a skill needs before it counts")
    weakest_skills: list[WeakSkill]
    students_at_risk: list[AtRisk]


BASE = "/tasks/education.tracing"


def policy(low: float, high: float) -> Policy:
    try:
        return Policy(low=low, high=high)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@router.post(f"{BASE}/answers", tags=["education"], summary="Record answers; update mastery")
def record_answers(body: AnswersIn, principal: Principal = Depends(OPERATE)) -> AnswersOut:
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
    return AnswersOut.model_validate(TRACKER.record(
        tenant=principal.tenant,
        records=records,
        model_version=body.model_version,
        actor=principal.name,
    ))  # fmt: skip


@router.get(f"{BASE}/students/{{student}}/mastery", tags=["education"])
def student_mastery(
    student: str,
    model_version: OPTIONAL_VERSION = None,
    principal: Principal = Depends(READ),
) -> MasteryOut:
    return MasteryOut.model_validate(TRACKER.mastery(
        tenant=principal.tenant,
        student=student,
        model_version=model_version,
        actor=principal.name,
    ))  # fmt: skip


@router.get(f"{BASE}/students/{{student}}/next", tags=["education"])
def next_exercises(
    student: str,
    n: int = Query(5, ge=1, le=50),
    low: float = Query(0.6, gt=0, lt=1),
    high: float = Query(0.8, gt=0, lt=1),
    model_version: OPTIONAL_VERSION = None,
    principal: Principal = Depends(READ),
) -> NextOut:
    return NextOut.model_validate(TRACKER.next_exercises(
        tenant=principal.tenant,
        student=student,
        n=n,
        model_version=model_version,
        policy=policy(low, high),
        actor=principal.name,
    ))  # fmt: skip


@router.get(f"{BASE}/classes/{{class_id}}/report", tags=["education"])
def class_report(
    class_id: str,
    model_version: OPTIONAL_VERSION = None,
    principal: Principal = Depends(READ),
) -> ClassReportOut:
    return ClassReportOut.model_validate(TRACKER.class_report(
        tenant=principal.tenant,
        class_id=class_id,
        model_version=model_version,
        actor=principal.name,
    ))  # fmt: skip
