"""Serving knowledge tracing to schools: answers are stored as they arrive (students only as
pseudonyms), each student's knowledge state is updated incrementally after every answer,
and mastery, next exercises and class reports are read from those states."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from odlar.core import audit
from odlar.core.errors import Conflict, NotFound
from odlar.core.privacy import pseudonym, tenant_scope
from odlar.core.store import LearnerInteraction, session_scope
from odlar.education.exercises import Policy, choose_exercises, class_report, eligible_skills
from odlar.education.interactions import from_log
from odlar.governance import serving

TASK = "education.tracing"
RECENT = 10  # answers behind "recent accuracy"


@dataclass
class StudentState:
    state: Any
    rows: int = 0  # stored interactions consumed
    practised: np.ndarray | None = None  # answers per skill
    correct: np.ndarray | None = None  # right answers per skill
    correct_questions: set[int] = field(default_factory=set)
    recent: list[int] = field(default_factory=list)
    # one writer at a time: two requests for one student would both apply the same stored
    # answers (and the model folds them into the state in place)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


class Tracker:
    """Knowledge states of the students seen by this process, per model version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[tuple[str, int, str], StudentState] = {}

    def model(self, tenant: str, version: int | None) -> tuple[int, Any]:
        mv, model = serving.load_model(TASK, version, tenant=tenant)
        return mv.version, model

    @staticmethod
    def _log(tenant: str, actor: str, action: str, version: int, request: Any, out: Any) -> None:
        audit.record(
            tenant=tenant, actor=actor, action=action, target=TASK,
            model_version=f"{TASK}/{version}", input=request, output=out,
        )  # fmt: skip

    def record(
        self,
        *,
        tenant: str,
        records: list[dict[str, Any]],
        model_version: int | None = None,
        actor: str = "odlar",
    ) -> dict[str, Any]:
        """Validate and store a batch of answers, then bring the students' states up to date
        (when a model exists). Nothing is stored if any record is invalid."""
        frame = pd.DataFrame.from_records(records)
        with tenant_scope(tenant):
            checked = from_log(frame.astype(str).replace({"None": "", "nan": ""}), "interactions")
        item_of = {v: k for k, v in checked.question_ids.items()}
        skill_of = {v: k for k, v in checked.skill_ids.items()}
        names = checked.names or []
        classes = checked.classes or [None] * len(names)
        rows = []
        now = time.time()
        for i in range(len(checked)):
            code = int(checked.student[i])
            rows.append(
                LearnerInteraction(
                    tenant=tenant,
                    student=names[code],
                    class_id=classes[code],
                    item=item_of.get(int(checked.question[i]), ""),
                    skills="~~".join(skill_of[int(s)] for s in checked.skills(i)),
                    correct=int(checked.correct[i]),
                    occurred=now,
                )
            )
        with session_scope() as s:
            s.add_all(rows)
        touched = sorted(set(names))
        result: dict[str, Any] = {
            "stored": len(rows),
            "students": touched,
            "repairs": checked.repairs,
        }
        try:
            version, model = self.model(tenant, model_version)
        except (NotFound, Conflict) as exc:
            if model_version is not None:
                raise
            return result | {"model_version": None, "note": str(exc)}
        start = time.perf_counter()
        updated = {st: self._current(tenant, version, model, st) for st in touched}
        result["model_version"] = version
        result["update_ms_per_answer"] = round(
            1000 * (time.perf_counter() - start) / max(len(rows), 1), 3
        )
        result["mastery"] = {st: self._mastery_dict(model, u) for st, u in updated.items()}
        self._log(tenant, actor, "mastery_update", version, records, result["mastery"])
        return result

    def _history(self, tenant: str, student: str, after: int) -> pd.DataFrame:
        with session_scope() as s:
            rows = s.execute(
                select(
                    LearnerInteraction.item,
                    LearnerInteraction.skills,
                    LearnerInteraction.correct,
                    LearnerInteraction.class_id,
                )
                .where(LearnerInteraction.tenant == tenant, LearnerInteraction.student == student)
                .order_by(LearnerInteraction.id)
                .offset(after)
            ).all()
        return pd.DataFrame(rows, columns=["item", "skills", "correct", "class"])

    def _current(self, tenant: str, version: int, model: Any, student: str) -> StudentState:
        """The student's state with every stored answer applied (incrementally)."""
        key = (tenant, version, student)
        with self._lock:
            st = self._states.get(key)
            if st is None:
                st = StudentState(
                    model.init_state(),
                    practised=np.zeros(model.n_skills + 1, int),
                    correct=np.zeros(model.n_skills + 1, int),
                )
                self._states[key] = st
        with st.lock:
            new = self._history(tenant, student, st.rows)
            if len(new):
                new.insert(0, "student", student)
                new["order"] = np.arange(len(new))
                data = from_log(
                    new.astype(str),
                    "stored interactions",
                    question_ids=model.question_ids,
                    skill_ids=model.skill_ids,
                )
                for i in range(len(data)):
                    skills = data.skills(i)
                    q, c = int(data.question[i]), int(data.correct[i])
                    st.state = model.update(st.state, q, skills, c)
                    st.practised[skills] += 1
                    st.correct[skills] += c
                    if c:
                        st.correct_questions.add(q)
                    st.recent = (st.recent + [c])[-RECENT:]
                st.rows += len(new)
        return st

    def _mastery_dict(self, model: Any, st: StudentState) -> dict[str, float]:
        m = model.mastery_from(st.state)
        return {
            name: round(float(m[i]), 4)
            for name, i in model.skill_ids.items()
            if st.practised is not None and st.practised[i] > 0
        }

    def mastery(
        self,
        *,
        tenant: str,
        student: str,
        model_version: int | None = None,
        policy: Policy = Policy(),
        actor: str = "odlar",
    ) -> dict[str, Any]:
        version, model = self.model(tenant, model_version)
        student = pseudonym(student, tenant=tenant)
        st = self._known(tenant, version, model, student)
        m = model.mastery_from(st.state)
        skills = [
            {
                "skill": name,
                "name": model.skill_name(name),
                "mastery": round(float(m[i]), 4),
                "answers": int(st.practised[i]),
                "mastered": bool(m[i] >= policy.mastered_at),
            }
            for name, i in model.skill_ids.items()
            if st.practised[i] > 0
        ]
        skills.sort(key=lambda r: r["mastery"])
        out = {
            "student": student,
            "model_version": version,
            "answers": st.rows,
            "recent_accuracy": _accuracy(st.recent),
            "skills": skills,
        }
        self._log(tenant, actor, "mastery", version, {"student": student}, out)
        return out

    def next_exercises(
        self,
        *,
        tenant: str,
        student: str,
        n: int = 5,
        model_version: int | None = None,
        policy: Policy = Policy(),
        actor: str = "odlar",
    ) -> dict[str, Any]:
        version, model = self.model(tenant, model_version)
        student = pseudonym(student, tenant=tenant)
        st = self._known(tenant, version, model, student, allow_new=True)
        m = model.mastery_from(st.state)
        ok = eligible_skills(m, model.prerequisites, policy)
        questions = np.array(sorted(model.catalogue))
        skills = [model.catalogue[int(q)] for q in questions]
        success = model.success(st.state, questions, skills)
        chosen = choose_exercises(questions, skills, success, ok, st.correct_questions, policy, n)
        item_of = {v: k for k, v in model.question_ids.items()}
        skill_of = {v: k for k, v in model.skill_ids.items()}
        for row in chosen:
            row["item"] = item_of.get(row.pop("question"), "")
            row["skills"] = [skill_of[s] for s in row["skills"]]
            row["skill_names"] = [model.skill_name(s) for s in row["skills"]]
        out = {
            "student": student,
            "model_version": version,
            "target": [policy.low, policy.high],
            "exercises": chosen,
        }
        self._log(tenant, actor, "next_exercises", version, {"student": student, "n": n}, out)
        return out

    def class_report(
        self,
        *,
        tenant: str,
        class_id: str,
        model_version: int | None = None,
        policy: Policy = Policy(),
        actor: str = "odlar",
    ) -> dict[str, Any]:
        version, model = self.model(tenant, model_version)
        students = _class_students(tenant, class_id)
        states = [self._current(tenant, version, model, st) for st in students]
        mastery = np.vstack([model.mastery_from(st.state) for st in states])
        practised = np.vstack([st.practised for st in states])
        correct = np.vstack([st.correct for st in states])
        report = class_report(
            students, mastery, practised, correct, [st.recent for st in states], policy
        )
        skill_of = {v: k for k, v in model.skill_ids.items()}
        for row in report["weakest_skills"]:
            row["skill"] = skill_of[row["skill"]]
            row["name"] = model.skill_name(row["skill"])
        for row in report["students_at_risk"]:
            row["weakest_skills"] = [skill_of[s] for s in row["weakest_skills"]]
            row["weakest_skill_names"] = [model.skill_name(s) for s in row["weakest_skills"]]
        out = {"class": class_id, "model_version": version, **report}
        self._log(tenant, actor, "class_report", version, {"class": class_id}, out)
        return out

    def class_matrix(
        self, *, tenant: str, class_id: str, model_version: int | None = None,
        actor: str = "odlar",
    ) -> dict[str, Any]:  # fmt: skip
        """Mastery of every student of a class (rows) on every skill the class practised
        (columns); None where a student never practised the skill. For heat maps."""
        version, model = self.model(tenant, model_version)
        students = _class_students(tenant, class_id)
        states = [self._current(tenant, version, model, st) for st in students]
        practised = np.vstack([st.practised for st in states])
        skills = [i for i in range(1, model.n_skills + 1) if practised[:, i].any()]
        skill_of = {v: k for k, v in model.skill_ids.items()}
        keys = [skill_of.get(i, str(i)) for i in skills]
        rows = []
        for st in states:
            m = model.mastery_from(st.state)
            rows.append([round(float(m[i]), 3) if st.practised[i] else None for i in skills])
        out = {
            "class": class_id,
            "model_version": version,
            "students": students,
            "skills": keys,
            "skill_names": [model.skill_name(k) for k in keys],
            "mastery": rows,
        }
        self._log(tenant, actor, "class_report", version, {"class": class_id}, out)
        return out

    def _known(
        self, tenant: str, version: int, model: Any, student: str, allow_new: bool = False
    ) -> StudentState:
        st = self._current(tenant, version, model, student)
        if st.rows == 0 and not allow_new:
            raise NotFound("no answers recorded for this student")
        return st


def _class_students(tenant: str, class_id: str) -> list[str]:
    with session_scope() as s:
        students = s.scalars(
            select(LearnerInteraction.student)
            .where(LearnerInteraction.tenant == tenant, LearnerInteraction.class_id == class_id)
            .distinct()
        ).all()
    if not students:
        raise NotFound(f"no answers recorded for class '{class_id}'")
    return sorted(students)


def _accuracy(recent: list[int]) -> float | None:
    return round(float(np.mean(recent)), 4) if recent else None


TRACKER = Tracker()
