"""The trained knowledge-tracing model: a network (or BKT) plus the names it was trained
with, the question catalogue (question -> skills) for recommendations and the skill
prerequisites. Mastery vectors are indexed by skill id (index 0 unused)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from odlar.core.errors import DataError, UsageError
from odlar.core.tasks import Progress
from odlar.education.interactions import Interactions
from odlar.education.kt import AKT, BKT, DKT

NETS: dict[str, type] = {"bkt": BKT, "dkt": DKT, "akt": AKT}
COMMON = {"valid_share": 0.1, "max_students": 0, "seed": 0}


def defaults(method: str) -> dict[str, Any]:
    net = NETS[method]
    own = dict(getattr(net, "defaults", {})) or {"iters": 60, "lr": 0.1}
    return own | COMMON


@dataclass
class TracingModel:
    method: str
    params: dict[str, Any]
    net: Any
    n_questions: int
    n_skills: int
    question_ids: dict[str, int]
    skill_ids: dict[str, int]
    catalogue: dict[int, tuple[int, ...]]  # question id -> skills
    prerequisites: dict[int, list[int]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    #: skill key -> readable name where the training data had one (ids stay the keys)
    skill_names: dict[str, str] = field(default_factory=dict)

    def skill_name(self, key: str) -> str | None:
        # models pickled before names were kept have no attribute
        return getattr(self, "skill_names", {}).get(key)

    def predict(self, data: Interactions) -> np.ndarray:
        """Causal probability of a correct answer for every interaction (question level)."""
        with torch.inference_mode():
            return self.net.predict(data)

    def init_state(self) -> Any:
        return self.net.init_state()

    def update(self, state: Any, question: int, skills: np.ndarray, correct: int) -> Any:
        with one_thread():
            return self.net.update(state, question, np.asarray(skills), correct)

    def mastery_from(self, state: Any) -> np.ndarray:
        """(n_skills + 1,) probability of answering a typical question of each skill right."""
        with one_thread():
            return np.concatenate([[0.0], np.asarray(self.net.mastery_from(state), float)])

    def success(
        self, state: Any, questions: np.ndarray, skills: list[tuple[int, ...]]
    ) -> np.ndarray:
        """Predicted success on each candidate question: the network's own answer when it
        can score arbitrary questions, else the mean mastery of the question's skills."""
        if hasattr(self.net, "success"):
            return np.asarray(self.net.success(state, questions, skills), float)
        m = self.mastery_from(state)
        return np.array([m[list(s)].mean() for s in skills])


@contextmanager
def one_thread() -> Iterator[None]:
    """Single-answer updates are tiny tensor operations: with several threads they spend
    their time synchronising (measured: 8 ms an LSTM step on 2 busy cores, 0.3 ms on one)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_params(method: str, params: dict[str, Any]) -> dict[str, Any]:
    if method not in NETS:
        raise UsageError(f"unknown method '{method}' (known: {', '.join(NETS)})")
    known = defaults(method)
    unknown = sorted(set(params) - set(known) - {"prerequisites"})
    if unknown:
        raise UsageError(
            f"unknown parameter(s) for {method}: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )
    return known | params


def fit_tracing(
    data: Interactions, method: str, params: dict[str, Any], progress: Progress
) -> TracingModel:
    p = resolve_params(method, params)
    if len(data) == 0:
        raise DataError("no interactions to learn from", file=data.source)
    students = np.unique(data.student)
    rng = np.random.default_rng(p["seed"])
    if p["max_students"]:
        students = np.sort(rng.permutation(students)[: int(p["max_students"])])
    shuffled = rng.permutation(students)
    n_valid = int(round(float(p["valid_share"]) * len(students)))
    valid = data.subset_students(np.sort(shuffled[:n_valid])) if n_valid else None
    train = data.subset_students(np.sort(shuffled[n_valid:]))
    torch.manual_seed(p["seed"])
    net_params = {k: v for k, v in p.items() if k not in COMMON and k != "prerequisites"}
    if "seed" in getattr(NETS[method], "defaults", {}):
        net_params["seed"] = p["seed"]
    net = NETS[method]().fit(train, valid, net_params, progress)
    catalogue: dict[int, tuple[int, ...]] = {}
    for i in range(len(data)):
        q = int(data.question[i])
        if q and q not in catalogue:
            catalogue[q] = tuple(int(s) for s in data.skills(i))
    if not catalogue:  # skill-only data: each skill is its own exercise
        catalogue = {-s: (s,) for s in range(1, data.n_skills + 1)}
    metrics: dict[str, float] = {"train_students": float(len(np.unique(train.student)))}
    if valid is not None:
        from odlar.education.evaluation import question_auc_acc

        with torch.inference_mode():
            auc, acc = question_auc_acc(valid.correct, net.predict(valid))
        metrics |= {"auc": auc, "acc": acc}
    return TracingModel(
        method=method,
        params=p,
        net=net,
        n_questions=data.n_questions,
        n_skills=data.n_skills,
        question_ids=dict(data.question_ids),
        skill_ids=dict(data.skill_ids),
        catalogue=catalogue,
        prerequisites=_prerequisites(p.get("prerequisites"), data.skill_ids),
        metrics=metrics,
        skill_names=dict(data.skill_names),
    )


def _prerequisites(spec: Any, skill_ids: dict[str, int]) -> dict[int, list[int]]:
    """'B:A,C:B' (skill:prerequisite pairs, names as in the data) -> {B: [A], C: [B]}."""
    if not spec:
        return {}
    out: dict[int, list[int]] = {}
    for pair in str(spec).split(","):
        skill, _, needs = pair.partition(":")
        for name in (skill.strip(), needs.strip()):
            if name not in skill_ids:
                raise UsageError(f"prerequisites: no skill named '{name}' in the data")
        out.setdefault(skill_ids[skill.strip()], []).append(skill_ids[needs.strip()])
    return out
