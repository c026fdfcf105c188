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
    at_risk_below: float = 0.5  # mean mastery of skills with enough evidence
    at_risk_accuracy: float = 0.5  # share of recent answers right
    min_recent: int = 5  # recent answers before recent accuracy counts
    min_evidence: int = 3  # answers on a skill before its mastery counts
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
    correct: np.ndarray,
    recent: list[list[int]],
    policy: Policy,
    weakest: int = 5,
) -> dict[str, Any]:
    """Where a class is stuck and who needs help, from evidence a teacher can check.

    `mastery`, `practised` (answers) and `correct` (right answers) are (students, skills + 1)
    arrays (column 0 unused); `recent` holds each student's latest answers (1 right, 0 wrong).
    A model's mastery of a skill a student answered fewer than `policy.min_evidence` times
    is mostly its prior, so such skills count as uncertain: they neither lead the weakest
    skills nor make a student look safe. A student is at risk when their recent accuracy
    (at least `min_recent` answers) is below `at_risk_accuracy`, or when the mean mastery of
    the skills with enough evidence is below `at_risk_below`."""
    enough = practised >= policy.min_evidence
    enough[:, 0] = False
    answers = practised.sum(axis=0)
    needed = min(2, len(students))  # a skill one student tried says little about the class
    rows = []
    for s in range(1, practised.shape[1]):
        who = enough[:, s]
        if who.sum() < needed:
            continue
        rows.append(
            {
                "skill": s,
                "mean_mastery": round(float(mastery[who, s].mean()), 4),
                "accuracy": round(float(correct[:, s].sum() / answers[s]), 4),
                "students_practised": int((practised[:, s] > 0).sum()),
                "students_mastered": int((who & (mastery[:, s] >= policy.mastered_at)).sum()),
                "answers": int(answers[s]),
            }
        )
    rows.sort(key=lambda r: (r["mean_mastery"], r["accuracy"]))
    at_risk = []
    for i, student in enumerate(students):
        reasons = []
        last = recent[i]
        accuracy = float(np.mean(last)) if last else None
        enough_recent = accuracy is not None and len(last) >= policy.min_recent
        if enough_recent and accuracy < policy.at_risk_accuracy:
            reasons.append(f"{sum(last)} of the last {len(last)} answers right")
        known = enough[i]
        level = float(mastery[i, known].mean()) if known.any() else None
        if level is not None and level < policy.at_risk_below:
            reasons.append(f"mean mastery {level:.2f} over {int(known.sum())} practised skills")
        if not reasons:
            continue
        tried = [s for s in range(1, practised.shape[1]) if practised[i, s] > 0]
        # weakest first: skills with enough evidence by mastery, then the rest by accuracy
        tried.sort(
            key=lambda s: (
                not known[s],
                mastery[i, s] if known[s] else correct[i, s] / practised[i, s],
            )
        )
        at_risk.append(
            {
                "student": student,
                "reasons": reasons,
                "recent_accuracy": None if accuracy is None else round(accuracy, 4),
                "recent_answers": len(last),
                "mean_mastery": None if level is None else round(level, 4),
                "skills_with_evidence": int(known.sum()),
                "weakest_skills": tried[:3],
            }
        )
    at_risk.sort(
        key=lambda r: (
            r["recent_accuracy"] is None,
            r["recent_accuracy"] or 0,
            r["mean_mastery"] or 0,
        )
    )
    return {
        "students": len(students),
        "min_evidence": policy.min_evidence,
        "weakest_skills": rows[:weakest],
        "students_at_risk": at_risk,
    }
