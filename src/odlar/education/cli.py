"""`odlar education ...`: students' answers, mastery, next exercises, class reports."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from odlar.core.errors import UsageError
from odlar.core.versions import VERSION_HELP
from odlar.governance.roles import Permission as P
from odlar.terminal import acting, console

app = typer.Typer(
    no_args_is_help=True, help="Students' answers, mastery, next exercises, class reports."
)


@app.command("record")
def education_record(
    file: Path = typer.Argument(help="Answers: CSV/TSV with student, item/skill, correct"),
    model: int | None = typer.Option(None, "--model", help=VERSION_HELP),
) -> None:
    """Store answers (students pseudonymised) and update their mastery."""
    me = acting(P.OPERATE)
    from odlar.core.datasets import refuse_state
    from odlar.education.interactions import read_log
    from odlar.education.service import TRACKER

    frame = read_log(refuse_state(file))
    result = TRACKER.record(
        tenant=me.tenant,
        records=frame.to_dict(orient="records"),
        model_version=model,
        actor=me.name,
    )
    console.print(
        f"stored {result['stored']} answers of {len(result['students'])} students"
        + (
            f"; mastery from model v{result['model_version']}"
            if result.get("model_version")
            else "; no model yet"
        )
    )


@app.command("mastery")
def education_mastery(
    student: str, model: int | None = typer.Option(None, "--model", help=VERSION_HELP)
) -> None:
    """A student's mastery of each practised skill, weakest first."""
    me = acting(P.READ)
    from odlar.education.service import TRACKER

    m = TRACKER.mastery(tenant=me.tenant, student=student, model_version=model, actor=me.name)
    named = any(row["name"] for row in m["skills"])  # an id column only beside names
    table = Table(
        "skill",
        *(["id"] if named else []),
        "mastery",
        "answers",
        "mastered",
        title=f"{m['student']}: {m['answers']} answers, model v{m['model_version']}",
    )
    for row in m["skills"]:
        table.add_row(
            row["name"] or row["skill"],
            *([row["skill"]] if named else []),
            f"{row['mastery']:.2f}",
            str(row["answers"]),
            "yes" if row["mastered"] else "",
        )
    console.print(table)


@app.command("next")
def education_next(
    student: str,
    n: int = typer.Option(5, "--n", min=1, max=50),
    low: float = typer.Option(0.6, "--low"),
    high: float = typer.Option(0.8, "--high"),
    model: int | None = typer.Option(None, "--model", help=VERSION_HELP),
) -> None:
    """The next exercises for a student: success probability in [low, high]."""
    me = acting(P.READ)
    from odlar.education.exercises import Policy
    from odlar.education.service import TRACKER

    try:
        policy = Policy(low=low, high=high)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out = TRACKER.next_exercises(
        tenant=me.tenant,
        student=student,
        n=n,
        model_version=model,
        policy=policy,
        actor=me.name,
    )
    table = Table("item", "skills", "success", "in band", title=f"next for {out['student']}")
    for row in out["exercises"]:
        table.add_row(
            row["item"],
            ", ".join(n or k for k, n in zip(row["skills"], row["skill_names"], strict=True)),
            f"{row['success_probability']:.2f}",
            "yes" if row["in_target_band"] else "",
        )
    console.print(table)


@app.command("roster")
def education_roster(
    file: Path = typer.Argument(help="A file with the real student ids (answers or class list)"),
    out: Path = typer.Option(..., "--out", help="Roster CSV to write (pseudonym, name)"),
) -> None:
    """Write which pseudonym is which pupil, for the class page to show names (opened in
    the browser only: odlar stores and receives none of it)."""
    me = acting(P.READ)
    from odlar.core.datasets import refuse_state
    from odlar.core.files import write_atomic
    from odlar.education.roster import roster

    table = roster(refuse_state(file), tenant=me.tenant)
    write_atomic(out, table.to_csv(index=False))
    console.print(f"wrote {len(table)} pupils to {out}; open it on the class page")


@app.command("report")
def education_report(
    class_id: str, model: int | None = typer.Option(None, "--model", help=VERSION_HELP)
) -> None:
    """Where a class is stuck and which students need help."""
    me = acting(P.READ)
    from odlar.education.service import TRACKER

    r = TRACKER.class_report(
        tenant=me.tenant, class_id=class_id, model_version=model, actor=me.name
    )
    skills = Table(
        "skill",
        "mean mastery",
        "accuracy",
        "practised",
        "mastered",
        "answers",
        title=f"class {class_id}: weakest skills ({r['students']} students; skills with at "
        f"least {r['min_evidence']} answers from two students)",
    )
    for row in r["weakest_skills"]:
        skills.add_row(
            row["name"] or row["skill"],
            f"{row['mean_mastery']:.2f}",
            f"{row['accuracy']:.2f}",
            str(row["students_practised"]),
            str(row["students_mastered"]),
            str(row["answers"]),
        )
    console.print(skills)
    risk = Table("student", "why", "weakest skills", title="students at risk")
    for row in r["students_at_risk"]:
        weakest = zip(row["weakest_skills"], row["weakest_skill_names"], strict=True)
        names = ", ".join(n or k for k, n in weakest)
        risk.add_row(row["student"], "; ".join(row["reasons"]), names)
    console.print(risk)
