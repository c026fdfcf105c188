"""Personalised learning on top of a knowledge-tracing model: the next exercises for a
student and where a class is stuck. Pure functions over mastery and predicted success, so
every model family gets the same rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Policy:
    """How exercises are chosen: aim for a success probability inside [low, high] (hard
    enough to learn from, easy enough not to discourage), on skills not yet mastered whose
    prerequisites are mastered."""

    low: float = 0.6
    high: float = 0.8
    mastered_at: float = 0.9
    at_risk_below: float = 0.5
    per_skill: int = 2

    def __post_init__(self) -> None:
        if not 0 < self.low < self.high < 1:
            raise ValueError("need 0 < low < high < 1")


def eligible_skills(
    mastery: np.ndarray, prerequisites: dict[int, list[int]], policy: Policy
) -> np.ndarray:
    """Skills (ids >= 1) not yet mastered whose prerequisites all are."""
    mastered = mastery >= policy.mastered_at
    ok = ~mastered
    ok[0] = False
    for skill, needs in prerequisites.items():
        if 0 < skill < len(ok) and not all(mastered[n] for n in needs if 0 < n < len(ok)):
            ok[skill] = False
    return ok


def choose_exercises(
    candidates: np.ndarray,
    candidate_skills: list[tuple[int, ...]],
    success: np.ndarray,
    eligible: np.ndarray,
    answered_correctly: set[int],
    policy: Policy,
    n: int,
) -> list[dict[str, Any]]:
    """Rank candidate questions: eligible skills only, not already answered correctly,
    closest to the middle of the target band (inside the band first)."""
    centre = (policy.low + policy.high) / 2
    rows = []
    for q, skills, p in zip(candidates, candidate_skills, success, strict=True):
        if int(q) in answered_correctly or not any(eligible[s] for s in skills):
            continue
        inside = bool(policy.low <= p <= policy.high)
        rows.append((not inside, abs(p - centre), int(q), skills, float(p), inside))
    rows.sort()
    chosen, per_skill = [], {}
    for _, _, q, skills, p, inside in rows:
        lead = skills[0]
        if per_skill.get(lead, 0) >= policy.per_skill:  # variety: a few exercises per skill
            continue
        per_skill[lead] = per_skill.get(lead, 0) + 1
        chosen.append(
            {
                "question": q,
                "skills": list(skills),
                "success_probability": round(p, 4),
                "in_target_band": inside,
            }
        )
        if len(chosen) == n:
            break
    return chosen


def class_report(
    students: list[str],
    mastery: np.ndarray,
    practised: np.ndarray,
    recent_accuracy: np.ndarray,
    policy: Policy,
    weakest: int = 5,
) -> dict[str, Any]:
    """`mastery` and `practised` are (students, skills + 1) arrays (column 0 unused);
    `practised` counts answers. Weakest skills: lowest mean mastery among the students who
    practised them. At risk: mean mastery of the practised skills below the policy's line."""
    counts = practised.sum(axis=0)
    with np.errstate(invalid="ignore"):
        mean = np.where(
            counts > 0,
            (mastery * (practised > 0)).sum(axis=0) / np.maximum((practised > 0).sum(axis=0), 1),
            np.nan,
        )
    order = [s for s in np.argsort(np.nan_to_num(mean, nan=np.inf)) if s > 0 and counts[s] > 0]
    skills = [
        {
            "skill": int(s),
            "mean_mastery": round(float(mean[s]), 4),
            "students_practised": int((practised[:, s] > 0).sum()),
            "students_mastered": int(
                ((mastery[:, s] >= policy.mastered_at) & (practised[:, s] > 0)).sum()
            ),
            "answers": int(counts[s]),
        }
        for s in order[:weakest]
    ]
    at_risk = []
    for i, student in enumerate(students):
        touched = practised[i] > 0
        touched[0] = False
        level = float(mastery[i, touched].mean()) if touched.any() else float("nan")
        if touched.any() and level < policy.at_risk_below:
            weak = [int(s) for s in np.argsort(mastery[i]) if touched[s]][:3]
            at_risk.append(
                {
                    "student": student,
                    "mean_mastery": round(level, 4),
                    "recent_accuracy": round(float(recent_accuracy[i]), 4),
                    "weakest_skills": weak,
                }
            )
    at_risk.sort(key=lambda r: r["mean_mastery"])
    return {"students": len(students), "weakest_skills": skills, "students_at_risk": at_risk}
