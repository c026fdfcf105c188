"""Task `education.tracing`: each student's mastery of each skill, updated after every
answer, from interaction logs or the pyKT sequence formats."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from odlar.core.benchmarks import BenchRun, benchmark
from odlar.core.datasets import sha256_file
from odlar.core.errors import DataError, UsageError
from odlar.core.privacy import pseudonym
from odlar.core.tasks import (
    MAX_VERSION,
    BenchResult,
    Dataset,
    Progress,
    Report,
    Risk,
    RiskTier,
    Robustness,
    Task,
    register,
)
from odlar.core.versions import VERSION_DEFAULT
from odlar.education import bench as kt_bench
from odlar.education.evaluation import question_auc_acc
from odlar.education.interactions import (
    STUDENT_COLUMNS,
    Interactions,
    from_log,
    is_table,
    read_log,
    read_sequences,
)

if TYPE_CHECKING:  # torch stays unimported until a model is fitted or loaded
    from odlar.education.tracing_model import TracingModel


class Answer(BaseModel):
    item: str = Field(default="", max_length=200, description="Question or exercise id")
    skills: str = Field(
        default="",
        max_length=2000,
        description="Skill(s) of the question, several separated by ~~ or ;",
    )
    correct: int = Field(ge=0, le=1)


class StudentAnswers(BaseModel):
    student: str = Field(
        min_length=1,
        max_length=200,
        description="Student id: pseudonymised on arrival, never stored",
    )
    answers: list[Answer] = Field(min_length=1, description="Oldest first")


class TracingRequest(BaseModel):
    model_version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description=VERSION_DEFAULT
    )
    students: list[StudentAnswers] = Field(min_length=1, max_length=10_000)


class SkillMastery(BaseModel):
    skill: str = Field(description="The skill's id (its key) as in the training data")
    name: str | None = Field(default=None, description="Its name, where the data has one")
    mastery: float = Field(description="Probability of answering a question of the skill")


class StudentMastery(BaseModel):
    student: str = Field(description="Pseudonym")
    answers: int
    next_answer_probabilities: list[float] = Field(
        description="Predicted probability of each posted answer being correct, from the "
        "answers before it"
    )
    mastery: list[SkillMastery] = Field(description="Skills the student has practised")


class TracingResponse(BaseModel):
    model_version: int | None = None
    predictions: list[StudentMastery]


@register
class TracingTask(Task["TracingModel", TracingRequest, TracingResponse]):
    name: ClassVar[str] = "education.tracing"
    title: ClassVar[str] = "Knowledge tracing and personalised next exercises"
    risk: ClassVar[Risk] = Risk(
        RiskTier.high,
        "education: it steers the learning path of students, who are minors, and flags "
        "students at risk (EU AI Act Annex III point 3)",
    )
    purpose: ClassVar[str] = (
        "Estimate each student's mastery of each skill after every answer, propose next "
        "exercises at a target success probability, and show teachers where a class is "
        "stuck and which students need help. It advises teachers and students; it grades "
        "nobody and decides nothing about a student's progression."
    )
    limitations: ClassVar[tuple[str, ...]] = (
        "Mastery is a model estimate from past answers only; it knows nothing of a "
        "student's circumstances and must not be used alone to judge a student.",
        "Skills and questions not seen in training get no information of their own.",
        "Trained and benchmarked on ASSISTments (US middle-school mathematics) and an "
        "engineering statics course; other curricula and ages need their own data.",
        "Students are pseudonymised with a keyed hash; losing the key unlinks new answers "
        "from stored ones.",
    )
    acceptance: ClassVar[dict[str, tuple[str, float]]] = {"val_auc": (">=", 0.70)}
    methods: ClassVar[tuple[str, ...]] = ("bkt", "dkt", "akt")  # education.model.NETS
    default_method: ClassVar[str] = "akt"
    Request: ClassVar[type[BaseModel]] = TracingRequest
    Response: ClassVar[type[BaseModel]] = TracingResponse
    primary_metric: ClassVar[str] = "auc"
    lower_is_better: ClassVar[bool] = False
    bench_data: ClassVar[str] = "education/assist2009"
    quick_params: ClassVar[dict[str, dict[str, Any]]] = {
        "bkt": {"iters": 5, "max_students": 150},
        "dkt": {"epochs": 1, "max_students": 150, "d": 16},
        "akt": {"epochs": 1, "max_students": 150, "d": 16, "d_ff": 32, "final_dim": 32},
    }

    def load(self, source: str | Path, **options: Any) -> Dataset:
        """An interaction log (CSV or TSV with student, item and/or skill, correct, and
        optionally time and class), or a file in the AKT/pyKT sequence formats."""
        path = Path(source)
        data = load_interactions(path)
        return Dataset(
            frame=data,
            source=str(path),
            sha256=sha256_file(path),
            rows=len(data),
            summary={
                "students": int(len(np.unique(data.student))),
                "questions": data.n_questions,
                "skills": data.n_skills,
                "repairs": data.repairs,
            },
        )

    def ingest(self, staged: Path) -> bool:
        """An uploaded log is kept only with its students pseudonymised."""
        if not is_table(staged):
            return False
        with staged.open("r", encoding="utf-8", errors="replace") as handle:
            header = handle.readline()
        sep = max(("\t", ",", ";"), key=header.count)
        frame = read_log(staged)
        column = next(c for c in frame.columns if c.strip().lower() in STUDENT_COLUMNS)
        frame[column] = frame[column].map(pseudonym)
        frame.to_csv(staged, sep=sep, index=False)
        return True

    def _fit(
        self, data: Dataset, *, method: str, params: dict[str, Any], progress: Progress
    ) -> TracingModel:
        from odlar.education.tracing_model import fit_tracing  # torch: only when a model is fitted

        return fit_tracing(data.frame, method, params, progress)

    def robustness(self, model: TracingModel, data: Dataset, seed: int = 0) -> list[Robustness]:
        """Drop of question-level AUC (against the true answers) when 5% of the answers the
        model reads are flipped, and when 10% of the interactions are missing; on up to
        300 students of the training data."""
        rng = np.random.default_rng(seed)
        test = to_model_ids(data.frame, model)
        students = np.unique(test.student)
        test = test.subset_students(np.sort(rng.permutation(students)[:300]))
        clean = model.predict(test)
        base, _ = question_auc_acc(test.correct, clean)
        noisy = test.subset_rows(np.arange(len(test)))
        flip = rng.random(len(test)) < 0.05
        noisy.correct = np.where(flip, 1 - test.correct, test.correct)
        noisy_auc, _ = question_auc_acc(test.correct, model.predict(noisy))
        kept = np.flatnonzero(rng.random(len(test)) >= 0.10)
        holes = test.subset_rows(kept)
        holes_auc, _ = question_auc_acc(holes.correct, model.predict(holes))
        kept_base, _ = question_auc_acc(holes.correct, clean[kept])
        out = []
        for name, drop, before, after in (
            ("5% of answers flipped", base - noisy_auc, base, noisy_auc),
            ("10% of interactions missing", kept_base - holes_auc, kept_base, holes_auc),
        ):
            out.append(
                Robustness(
                    name,
                    round(float(drop), 4),
                    0.03,
                    f"AUC {before:.4f} -> {after:.4f} on {len(np.unique(test.student))} "
                    "students (a drop of at most 0.03 allowed)",
                )  # fmt: skip
            )
        return out

    def evaluate(self, model: TracingModel, data: Dataset) -> Report:
        test = to_model_ids(data.frame, model)
        auc, acc = question_auc_acc(test.correct, model.predict(test))
        return Report(
            metrics={"auc": auc, "acc": acc, "interactions": float(len(test))},
            anchors=kt_bench.ALL_ANCHORS,
            protocol="question-level AUC and accuracy of every answer, predicted from the "
            "student's earlier answers only",
        )

    def predict(self, model: TracingModel, request: TracingRequest) -> TracingResponse:
        rows = [
            {
                "student": s.student,
                "item": a.item,
                "skills": a.skills,
                "correct": a.correct,
                "order": i,
            }
            for s in request.students
            for i, a in enumerate(s.answers)
        ]
        data = from_log(
            pd.DataFrame(rows).astype(str),
            "request",
            question_ids=model.question_ids,
            skill_ids=model.skill_ids,
        )
        p = model.predict(data)
        skill_of = {v: k for k, v in model.skill_ids.items()}
        out = []
        for rows_of in _student_rows(data):
            state = model.init_state()
            practised: set[int] = set()
            for i in rows_of:
                skills = data.skills(i)
                state = model.update(state, int(data.question[i]), skills, int(data.correct[i]))
                practised.update(int(s) for s in skills)
            m = model.mastery_from(state)
            out.append(
                StudentMastery(
                    student=(data.names or [""])[int(data.student[rows_of[0]])],
                    answers=len(rows_of),
                    next_answer_probabilities=[round(float(p[i]), 4) for i in rows_of],
                    mastery=[
                        SkillMastery(
                            skill=skill_of[s],
                            name=model.skill_name(skill_of[s]),
                            mastery=round(float(m[s]), 4),
                        )
                        for s in sorted(practised)
                        if s in skill_of
                    ],
                )
            )
        return TracingResponse(predictions=out)

    def request_from(self, data: Dataset, **options: Any) -> TracingRequest:
        inter: Interactions = data.frame
        item_of = {v: k for k, v in inter.question_ids.items()}
        skill_of = {v: k for k, v in inter.skill_ids.items()}
        students = []
        for rows in _student_rows(inter)[: options.get("max_students", 50)]:
            answers = [
                Answer(
                    item=item_of.get(int(inter.question[i]), ""),
                    skills="~~".join(skill_of[int(s)] for s in inter.skills(i)),
                    correct=int(inter.correct[i]),
                )
                for i in rows
            ]
            name = (inter.names or [None] * (int(inter.student.max()) + 1))[
                int(inter.student[rows[0]])
            ] or f"student-{int(inter.student[rows[0]])}"
            students.append(StudentAnswers(student=name, answers=answers))
        return TracingRequest(students=students, model_version=options.get("model_version"))

    def response_rows(self, response: TracingResponse) -> list[dict[str, Any]]:
        return [
            {
                "student": p.student,
                "skill": m.skill,
                "name": m.name or "",
                "mastery": m.mastery,
                "answers": p.answers,
            }
            for p in response.predictions
            for m in p.mastery
        ]

    def example(self, data_dir: Path) -> tuple[Path, Path]:
        return data_dir / "assist2009_pid_test2.csv", data_dir / "assist2009_pid_test1.csv"

def _tracing_bench(r: BenchRun) -> BenchResult:
    """A named benchmark or any folder in a format odlar reads (``bench.folds``: the
    dataset as named, else recognised by its files). Settings: ``folds=N`` runs only the
    first N folds (figures then say so); ``part=latency`` measures only the one-answer
    update, without training; ``backend=local|ray`` where the folds fan out (default:
    Ray when ODLAR_RAY_ADDRESS is set)."""
    n_folds, part = r.params.get("folds"), str(r.params.get("part", "all"))
    if n_folds is not None and (not str(n_folds).isdigit() or int(n_folds) < 1):
        raise UsageError(f"folds={n_folds}: give a whole number of folds, 1 or more")
    if part not in ("all", "latency"):
        raise UsageError(f"part={part}: known parts are all and latency")
    chosen = r.chosen(kt_bench.METHODS, lambda row: row[1])
    task = TracingTask()
    if part == "latency":
        return kt_bench.latency_only(task, r.data_dir, r.asked, progress=r.progress,
                                     methods=chosen)  # fmt: skip
    return kt_bench.run(task, r.data_dir, r.asked, quick=r.quick, progress=r.progress,
                        methods=chosen,
                        n_folds=int(n_folds) if n_folds is not None else None,
                        backend=r.params.get("backend"))  # fmt: skip


for _name in kt_bench.DATASETS:  # the named shortcuts; --data DIR reads any folder
    benchmark("education.tracing", _name, folder=f"education/{_name}",
              settings=("folds", "part", "backend"))(_tracing_bench)  # fmt: skip


def load_interactions(path: Path) -> Interactions:
    if not path.is_file():
        raise DataError("no such file", file=str(path))
    if is_table(path):
        return from_log(read_log(path), str(path))
    return read_sequences(path)


def to_model_ids(data: Interactions, model: TracingModel) -> Interactions:
    """The data's question and skill ids translated into the model's, by name; unknown
    names become 0 (no information) and are counted."""
    q_map = np.zeros(data.n_questions + 1, int)
    for name, i in data.question_ids.items():
        q_map[i] = model.question_ids.get(name, 0)
    s_map = np.zeros(data.n_skills + 1, int)
    for name, i in data.skill_ids.items():
        s_map[i] = model.skill_ids.get(name, 0)
    if (s_map[1:] == 0).all():
        raise DataError("none of the data's skills is known to the model", file=data.source)
    mapped = data.subset_rows(np.arange(len(data)))
    mapped.question = q_map[data.question]
    mapped.skill_idx = s_map[data.skill_idx]
    mapped.n_questions, mapped.n_skills = model.n_questions, model.n_skills
    return mapped


def _student_rows(data: Interactions) -> list[np.ndarray]:
    starts, ends = data.bounds()
    return [np.arange(s, e) for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
