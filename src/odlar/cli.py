"""The `odlar` command line: wiring only; every command calls core or a task."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from odlar.core.errors import OdlarError, UsageError
from odlar.core.store import DEFAULT_TENANT

app = typer.Typer(
    name="odlar",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train, evaluate, serve and audit AI for critical civilian sectors.",
)
jobs_app = typer.Typer(
    invoke_without_command=True, help="List (the default), follow, cancel and retry jobs."
)
data_app = typer.Typer(no_args_is_help=True, help="Download and register datasets.")
tokens_app = typer.Typer(no_args_is_help=True, help="API tokens for the HTTP API.")
app.add_typer(jobs_app, name="jobs")
app.add_typer(data_app, name="data")
app.add_typer(tokens_app, name="tokens")
alerts_app = typer.Typer(no_args_is_help=True, help="Alerts raised by live monitors.")
app.add_typer(alerts_app, name="alerts")
education_app = typer.Typer(
    no_args_is_help=True, help="Students' answers, mastery, next exercises, class reports."
)
app.add_typer(education_app, name="education")

# Wide enough for benchmark tables when output is piped to a file or a CI log.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


@contextmanager
def progress_bar(title: str) -> Iterator[Any]:
    """A Rich progress bar fed by a task's progress(fraction, message) callback."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
        console=err,
        transient=True,
    ) as bar:
        handle = bar.add_task(title, total=1.0, note="")

        def update(fraction: float, message: str) -> None:
            bar.update(handle, completed=fraction, note=message)

        yield update


def _params(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise UsageError(f"--param '{pair}' must look like name=value")
        key, value = pair.split("=", 1)
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


@app.command()
def tasks() -> None:
    """List the registered tasks with their risk tier."""
    from odlar.core.tasks import get_task, task_names

    table = Table("task", "title", "risk", "methods")
    for name in task_names():
        d = get_task(name).describe()
        table.add_row(
            name, d["title"], f"{d['risk']['tier']}: {d['risk']['reason']}", ", ".join(d["methods"])
        )
    console.print(table)


@app.command()
def fit(
    task: str = typer.Argument(help="Task name, e.g. energy.rul"),
    data: str = typer.Option(..., "--data", "-d", help="Training data: file or dataset id"),
    method: str | None = typer.Option(None, "--method", "-m", help="Model family"),
    param: list[str] = typer.Option([], "--param", "-p", help="Hyperparameter name=value"),
    eval_data: str | None = typer.Option(None, "--eval", help="Test data with ground truth"),
    detach: bool = typer.Option(False, "--detach", help="Run as a background job and return"),
) -> None:
    """Train a model; it is recorded as a job and registered as a model version."""
    from odlar.core import jobs

    spec = jobs.FitSpec(task=task, data=data, method=method, params=_params(param), eval=eval_data)
    if detach:
        job = jobs.submit(spec, created_by="cli")
        console.print(f"job {job.id} started; follow it with: odlar jobs show {job.id}")
        return
    job = jobs.create(spec, created_by="cli")
    with progress_bar(f"fit {task} ({job.spec['method']})") as update:
        done = jobs.run(job.id, echo=update)
    model = done.result["model"]
    console.print(f"job {done.id}: model [bold]{model['task']} v{model['version']}[/bold]")
    _metrics_table(done.result["metrics"])


def _metrics_table(metrics: dict[str, float]) -> None:
    table = Table("metric", "value")
    for k, v in sorted(metrics.items()):
        table.add_row(k, f"{v:.4g}")
    console.print(table)


@app.command()
def predict(
    task: str = typer.Argument(help="Task name"),
    data: str = typer.Option(..., "--data", "-d", help="Input file (e.g. running units)"),
    model: int | None = typer.Option(None, "--model", help="Model version (default: newest)"),
    level: float = typer.Option(0.9, "--level", help="Prediction interval level"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write results (.json or .csv)"),
) -> None:
    """Predict with a registered model version."""
    from odlar.core import tracking
    from odlar.core.datasets import resolve_source
    from odlar.core.tasks import get_task

    t = get_task(task)
    request = t.request_from(t.load(resolve_source(data)), level=level, model_version=model)
    response = tracking.predict(t, request)
    rows = t.response_rows(response)
    if out:
        _write_rows(out, rows, response.model_dump())
        console.print(f"wrote {len(rows)} predictions to {out}")
        return
    shown = rows[:SHOW_ROWS]
    table = (
        Table(*shown[0].keys(), title=f"{t.name} v{response.model_version}") if rows else Table()
    )
    for row in shown:
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()))
    console.print(table)
    if len(rows) > len(shown):
        console.print(f"... {len(rows) - len(shown)} more rows: use --out FILE for all of them")


SHOW_ROWS = 50


def _write_rows(out: Path, rows: list[dict[str, Any]], full: dict[str, Any]) -> None:
    import pandas as pd

    tmp = out.with_name(out.name + ".tmp")
    if out.suffix.lower() == ".csv":
        pd.DataFrame(rows).convert_dtypes().to_csv(tmp, index=False)
    else:
        tmp.write_text(json.dumps(full, indent=2))
    tmp.replace(out)  # never a half-written file


@app.command()
def models(task: str | None = typer.Argument(None, help="Only this task")) -> None:
    """List model versions with their metrics."""
    from odlar.core import tracking
    from odlar.core.tasks import get_task

    if task:
        get_task(task)
    table = Table("task", "version", "method", "created", "metrics", "data")
    for v in tracking.list_versions(task):
        shown = {k: f"{x:.3g}" for k, x in sorted(v.metrics.items())}
        table.add_row(
            v.task,
            str(v.version),
            v.method,
            v.created_at.strftime("%Y-%m-%d %H:%M"),
            " ".join(f"{k}={x}" for k, x in shown.items()),
            Path(v.data.get("source") or "").name,
        )
    console.print(table)


@jobs_app.callback()
def jobs_default(ctx: typer.Context) -> None:
    """`odlar jobs` alone lists recent jobs."""
    if ctx.invoked_subcommand is None:
        jobs_list(limit=20)


@jobs_app.command("list")
def jobs_list(limit: int = typer.Option(20, help="How many, newest first")) -> None:
    """Recent jobs and their state."""
    from odlar.core import jobs

    table = Table("id", "task", "state", "progress", "message", "created")
    for j in jobs.list_jobs(limit=limit):
        table.add_row(
            j.id,
            j.task,
            j.state,
            f"{j.progress:.0%}",
            (j.error or j.message)[:60],
            j.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console.print(table)


@jobs_app.command("show")
def jobs_show(job_id: str, follow: bool = typer.Option(False, "--follow", "-f")) -> None:
    """One job in full; --follow shows a progress bar until it ends."""
    import time

    from odlar.core import jobs

    job = jobs.get(job_id)
    if follow and job.state in jobs.ACTIVE:
        with progress_bar(f"job {job_id}") as update:
            while job.state in jobs.ACTIVE:
                update(job.progress, job.message)
                time.sleep(0.5)
                jobs.recover()
                job = jobs.get(job_id)
            update(job.progress, job.message)
    console.print_json(json.dumps(job.to_dict()))
    if job.state == "failed":
        raise typer.Exit(1)


@jobs_app.command("cancel")
def jobs_cancel(job_id: str) -> None:
    """Stop a queued or running job."""
    from odlar.core import jobs

    console.print(f"job {jobs.cancel(job_id).id} cancelled")


@jobs_app.command("retry")
def jobs_retry(job_id: str) -> None:
    """Start a finished, failed or interrupted job again as a new job."""
    from odlar.core import jobs

    console.print(f"job {jobs.retry(job_id, created_by='cli').id} started")


@jobs_app.command("logs")
def jobs_logs(job_id: str) -> None:
    """The output of a background job's process."""
    from odlar.core import jobs

    jobs.get(job_id)
    path = jobs.log_path(job_id)
    console.print(path.read_text() if path.exists() else "(no output)")


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address (default ODLAR_HOST or 127.0.0.1)"),
    port: int | None = typer.Option(None, help="Port (default ODLAR_PORT or 8000)"),
) -> None:
    """Start the HTTP API (docs at /docs); the first start prints the admin token once."""
    import uvicorn

    from odlar.core.config import get_settings
    from odlar.core.store import get_engine
    from odlar.server.app import create_app
    from odlar.server.auth import ensure_admin_token

    settings = get_settings()
    get_engine()
    token = ensure_admin_token()
    if token:
        err.print("[bold]Admin API token (shown once, store it now):[/bold]")
        print(token, flush=True)
    host, port = host or settings.host, port or settings.port
    err.print(f"odlar on http://{host}:{port}  (API docs: /docs, state: {settings.home})")
    uvicorn.run(create_app(), host=host, port=port, log_level="warning")


@app.command()
def bench(
    task: str = typer.Argument(help="Task name"),
    data: Path | None = typer.Option(
        None, "--data", help="Dataset folder (default under ODLAR_DATA)"
    ),
    dataset: str | None = typer.Option(
        None, "--dataset", help="Which benchmark, for tasks with several (e.g. tep, skab, 3w)"
    ),
    method: list[str] = typer.Option([], "--method", "-m", help="Only this method (repeatable)"),
    quick: bool = typer.Option(False, "--quick", help="Small, fast version (for tests)"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the JSON result here"),
) -> None:
    """Run the task's published protocol; print ours beside the published figures."""
    from odlar.core import bench as bench_mod

    with progress_bar(f"bench {task}") as update:
        result = bench_mod.run(
            task,
            data_dir=data,
            quick=quick,
            dataset=dataset,
            methods=tuple(method) or None,
            progress=update,
        )
    console.print(bench_mod.table(result))
    for note in result["notes"]:
        console.print(f"- {note}")
    console.print(f"whole bench: {result['wall_seconds']:.0f} s")
    if out:
        bench_mod.write(result, out)
        console.print(f"wrote {out}")


@app.command()
def monitor(
    file: Path = typer.Argument(help="CSV of readings (header first); may still be growing"),
    stream: str | None = typer.Option(None, "--stream", help="Stream name (default: file name)"),
    model: int | None = typer.Option(None, "--model", help="Model version (default: newest)"),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep reading new rows"),
    batch: int = typer.Option(1000, "--batch", min=1, help="Rows scored per batch"),
    poll: float = typer.Option(1.0, "--poll", min=0.05, help="Seconds between reads (--follow)"),
) -> None:
    """Monitor a stream of readings with energy.faults: score every row, store alerts."""
    from odlar.energy.faults.follow import follow_csv

    follow_csv(
        file,
        stream=stream or file.stem,
        model_version=model,
        follow=follow,
        batch=batch,
        poll=poll,
        echo=console.print,
    )


@alerts_app.command("list")
def alerts_list(
    state: str | None = typer.Option(None, "--state", help="open or cleared"),
    stream: str | None = typer.Option(None, "--stream"),
    limit: int = typer.Option(50, "--limit"),
) -> None:
    """Alerts, newest first."""
    from odlar.core import alerts

    rows = alerts.list_alerts(tenant=DEFAULT_TENANT, state=state, stream=stream, limit=limit)
    table = Table(
        "id",
        "stream",
        "kind",
        "state",
        "opened",
        "score",
        "top variables",
        "event",
        "acknowledged",
        title="alerts",
    )
    for a in rows:
        top = ", ".join(c["variable"] for c in a["contributors"][:3])
        table.add_row(
            a["id"],
            a["stream"],
            a["kind"],
            a["state"],
            a["opened_at"][:19],
            f"{a['score']:.2f}",
            top,
            str(a["event_class"] or ""),
            a["acknowledged_by"] or "",
        )
    console.print(table)


@alerts_app.command("show")
def alerts_show(alert_id: str) -> None:
    from odlar.core import alerts

    console.print_json(json.dumps(alerts.get(alert_id, tenant=DEFAULT_TENANT)))


@alerts_app.command("ack")
def alerts_ack(
    alert_id: str, note: str | None = typer.Option(None, "--note", help="What was done")
) -> None:
    """Acknowledge an alert (it stays open until the stream returns to normal)."""
    import getpass

    from odlar.core import alerts

    a = alerts.acknowledge(alert_id, tenant=DEFAULT_TENANT, by=getpass.getuser(), note=note)
    console.print(f"acknowledged {a['id']} ({a['state']})")


@education_app.command("record")
def education_record(
    file: Path = typer.Argument(help="Answers: CSV/TSV with student, item/skill, correct"),
    model: int | None = typer.Option(None, "--model", help="Model version (default: newest)"),
) -> None:
    """Store answers (students pseudonymised) and update their mastery."""
    from odlar.education.interactions import read_log
    from odlar.education.service import TRACKER

    frame = read_log(file)
    result = TRACKER.record(
        tenant=DEFAULT_TENANT, records=frame.to_dict(orient="records"), model_version=model
    )
    console.print(
        f"stored {result['stored']} answers of {len(result['students'])} students"
        + (
            f"; mastery from model v{result['model_version']}"
            if result.get("model_version")
            else "; no model yet"
        )
    )


@education_app.command("mastery")
def education_mastery(student: str, model: int | None = typer.Option(None, "--model")) -> None:
    """A student's mastery of each practised skill, weakest first."""
    from odlar.education.service import TRACKER

    m = TRACKER.mastery(tenant=DEFAULT_TENANT, student=student, model_version=model)
    table = Table(
        "skill",
        "mastery",
        "answers",
        "mastered",
        title=f"{m['student']}: {m['answers']} answers, model v{m['model_version']}",
    )
    for row in m["skills"]:
        table.add_row(
            row["skill"],
            f"{row['mastery']:.2f}",
            str(row["answers"]),
            "yes" if row["mastered"] else "",
        )
    console.print(table)


@education_app.command("next")
def education_next(
    student: str,
    n: int = typer.Option(5, "--n", min=1, max=50),
    low: float = typer.Option(0.6, "--low"),
    high: float = typer.Option(0.8, "--high"),
    model: int | None = typer.Option(None, "--model"),
) -> None:
    """The next exercises for a student: success probability in [low, high]."""
    from odlar.education.learning import Policy
    from odlar.education.service import TRACKER

    try:
        policy = Policy(low=low, high=high)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out = TRACKER.next_exercises(
        tenant=DEFAULT_TENANT, student=student, n=n, model_version=model, policy=policy
    )
    table = Table("item", "skills", "success", "in band", title=f"next for {out['student']}")
    for row in out["exercises"]:
        table.add_row(
            row["item"],
            ", ".join(row["skills"]),
            f"{row['success_probability']:.2f}",
            "yes" if row["in_target_band"] else "",
        )
    console.print(table)


@education_app.command("report")
def education_report(class_id: str, model: int | None = typer.Option(None, "--model")) -> None:
    """Where a class is stuck and which students need help."""
    from odlar.education.service import TRACKER

    r = TRACKER.class_report(tenant=DEFAULT_TENANT, class_id=class_id, model_version=model)
    skills = Table(
        "skill",
        "mean mastery",
        "practised",
        "mastered",
        "answers",
        title=f"class {class_id}: weakest skills ({r['students']} students)",
    )
    for row in r["weakest_skills"]:
        skills.add_row(
            row["skill"],
            f"{row['mean_mastery']:.2f}",
            str(row["students_practised"]),
            str(row["students_mastered"]),
            str(row["answers"]),
        )
    console.print(skills)
    risk = Table(
        "student", "mean mastery", "recent accuracy", "weakest skills", title="students at risk"
    )
    for row in r["students_at_risk"]:
        risk.add_row(
            row["student"],
            f"{row['mean_mastery']:.2f}",
            f"{row['recent_accuracy']:.2f}",
            ", ".join(row["weakest_skills"]),
        )
    console.print(risk)


@data_app.command("fetch")
def data_fetch(
    name: str = typer.Argument(help="Dataset, e.g. cmapss"),
    source: Path | None = typer.Option(None, "--from", help="Use this downloaded archive"),
    dest: Path | None = typer.Option(None, "--dest", help="Folder (default under ODLAR_DATA)"),
) -> None:
    """Download a public dataset from its publisher, unpack it and verify its checksums."""
    from odlar.core.datasets import fetch

    files = fetch(name, source_file=source, dest=dest)
    console.print(f"{name}: {len(files)} files verified")


@data_app.command("add")
def data_add(
    task: str = typer.Argument(help="Task whose loader validates the file"),
    file: Path = typer.Argument(help="CSV, Parquet or task-specific file"),
) -> None:
    """Validate a file and register it as a dataset (usable by id in fit jobs)."""
    from odlar.core.datasets import save_upload

    if not file.is_file():
        raise UsageError(f"{file}: no such file")
    rec = save_upload(task, file.name, file.read_bytes())
    console.print(f"dataset {rec['id']}: {rec['rows']} rows, sha256 {rec['sha256'][:12]}")


@data_app.command("list")
def data_list() -> None:
    """Registered datasets."""
    from odlar.core.datasets import list_datasets

    table = Table("id", "task", "name", "rows", "created")
    for d in list_datasets():
        table.add_row(d["id"], d["task"], d["name"], str(d["rows"]), d["created_at"][:19])
    console.print(table)


@tokens_app.command("create")
def tokens_create(
    name: str = typer.Argument(help="Who or what uses the token"),
    role: str = typer.Option("admin", help="Role (roles are enforced from issue 6 on)"),
) -> None:
    """Create an API token and print it once."""
    from odlar.server.auth import create_token

    print(create_token(name, role=role))


@tokens_app.command("list")
def tokens_list() -> None:
    """Tokens (never their secrets)."""
    from odlar.server.auth import list_tokens

    table = Table("id", "name", "prefix", "role", "created", "revoked")
    for t in list_tokens():
        table.add_row(
            t["id"],
            t["name"],
            t["prefix"] + "…",
            t["role"],
            t["created_at"][:19],
            "yes" if t["revoked"] else "",
        )
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: str) -> None:
    """Revoke a token at once."""
    from odlar.server.auth import revoke_token

    revoke_token(token_id)
    console.print(f"token {token_id} revoked")


def main() -> None:
    try:
        app()
    except OdlarError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
