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
from odlar.governance.roles import Permission as P
from odlar.governance.roles import Principal, acting_tenant

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
models_app = typer.Typer(
    invoke_without_command=True,
    help="Model versions: list (the default), check, approve, revoke, documentation.",
)
app.add_typer(models_app, name="models")
tenants_app = typer.Typer(no_args_is_help=True, help="Tenants (platform admins).")
app.add_typer(tenants_app, name="tenants")
users_app = typer.Typer(no_args_is_help=True, help="Users of a tenant and their roles.")
app.add_typer(users_app, name="users")
audit_app = typer.Typer(no_args_is_help=True, help="The event log: verify, show, export, prune.")
app.add_typer(audit_app, name="audit")
alerts_app = typer.Typer(no_args_is_help=True, help="Alerts raised by live monitors.")
app.add_typer(alerts_app, name="alerts")
education_app = typer.Typer(
    no_args_is_help=True, help="Students' answers, mastery, next exercises, class reports."
)
app.add_typer(education_app, name="education")
mobility_app = typer.Typer(
    no_args_is_help=True, help="Traffic-signal scenarios: import, list, run controllers."
)
mobility_import_app = typer.Typer(
    no_args_is_help=True,
    help="Bring a network: OpenStreetMap, SUMO files, origin-destination counts, or a "
    "synthetic city.",
)
mobility_app.add_typer(mobility_import_app, name="import")
app.add_typer(mobility_app, name="mobility")

# Wide enough for benchmark tables when output is piped to a file or a CI log.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


def _as(permission: P) -> Principal:
    """The user running this command (``ODLAR_TOKEN``, else the installation's owner), if
    their role has ``permission``."""
    from odlar.governance.accounts import cli_principal
    from odlar.governance.roles import check

    return check(cli_principal(), permission)


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
    _as(P.READ)
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
    data: str | None = typer.Option(None, "--data", "-d", help="Training data: file or dataset id"),
    scenario: str | None = typer.Option(
        None, "--scenario", help="mobility.signals: a RESCO name, an imported scenario or folder"
    ),
    method: str | None = typer.Option(None, "--method", "-m", help="Model family"),
    param: list[str] = typer.Option([], "--param", "-p", help="Hyperparameter name=value"),
    eval_data: str | None = typer.Option(None, "--eval", help="Test data with ground truth"),
    detach: bool = typer.Option(False, "--detach", help="Run as a background job and return"),
) -> None:
    """Train a model; it is recorded as a job and registered as a model version."""
    me = _as(P.OPERATE)
    from odlar.core import jobs

    if (data is None) == (scenario is None):
        raise UsageError("give the training data: --data FILE (or --scenario for traffic)")
    data = data if scenario is None else _scenario_ref(scenario)
    spec = jobs.FitSpec(task=task, data=data, method=method, params=_params(param), eval=eval_data)
    if detach:
        job = jobs.submit(spec, tenant=me.tenant, created_by=me.name)
        status = "started" if job.message == "starting" else f"queued ({job.message})"
        console.print(f"job {job.id} {status} on {job.backend}; follow it with: "
                      f"odlar jobs show {job.id} --follow")  # fmt: skip
        return
    job = jobs.create(spec, tenant=me.tenant, created_by=me.name)
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
    me = _as(P.OPERATE)
    from odlar.core import tracking
    from odlar.core.datasets import resolve_source
    from odlar.core.tasks import get_task

    t = get_task(task)
    request = t.request_from(
        t.load(resolve_source(data, tenant=me.tenant)), level=level, model_version=model
    )
    response = tracking.predict(t, request, tenant=me.tenant, actor=me.name)
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


@models_app.callback()
def models_default(ctx: typer.Context) -> None:
    """`odlar models` alone lists every model version."""
    if ctx.invoked_subcommand is None:
        models_list(task=None)


@models_app.command("list")
def models_list(task: str | None = typer.Argument(None, help="Only this task")) -> None:
    """Model versions with their state (pending, approved, revoked), risk tier and metrics."""
    me = _as(P.READ)
    from odlar.core import tracking
    from odlar.core.tasks import get_task
    from odlar.governance import approval

    if task:
        get_task(task)
    table = Table("task", "version", "state", "risk", "method", "created", "metrics", "data")
    states: dict[str, dict[int, str]] = {}
    for v in tracking.list_versions(task, tenant=me.tenant):
        states.setdefault(v.task, approval.states(me.tenant, v.task))
        shown = {k: f"{x:.3g}" for k, x in sorted(v.metrics.items())}
        table.add_row(
            v.task,
            str(v.version),
            states[v.task].get(v.version, "pending"),
            get_task(v.task).risk.tier.value,
            v.method,
            v.created_at.strftime("%Y-%m-%d %H:%M"),
            " ".join(f"{k}={x}" for k, x in shown.items()),
            Path(v.data.get("source") or "").name,
        )
    console.print(table)


def _check_table(report: dict[str, Any]) -> None:
    table = Table("check", "result", "detail")
    for c in report["checks"]:
        table.add_row(c["name"], "pass" if c["passed"] else "[red]FAIL[/red]", c["detail"])
    console.print(table)


@models_app.command("check")
def models_check(task: str, version: int) -> None:
    """Run the automatic checks (metrics, data, robustness) on a version."""
    me = _as(P.APPROVE)
    from odlar.core import tracking
    from odlar.governance import checks

    report = checks.run(tracking.get_version(task, version, tenant=me.tenant), actor=me.name)
    _check_table(report)
    if not report["passed"]:
        raise typer.Exit(1)


@models_app.command("approve")
def models_approve(
    task: str,
    version: int,
    reason: str = typer.Option("", "--reason", help="Why (required with --override)"),
    override: bool = typer.Option(False, "--override", help="Approve although checks failed"),
) -> None:
    """Approve a version after its checks: from now on it serves predictions."""
    me = _as(P.APPROVE)
    from odlar.governance import approval

    out = approval.approve(
        me.tenant, task, version, actor=me.name, reason=reason, override=override
    )
    _check_table(out["checks"])
    console.print(f"{task} v{version} approved by {me.name}")


@models_app.command("revoke")
def models_revoke(
    task: str, version: int, reason: str = typer.Option(..., "--reason", help="Why")
) -> None:
    """Revoke an approval: the version stops serving at once."""
    me = _as(P.APPROVE)
    from odlar.governance import approval

    approval.revoke(me.tenant, task, version, actor=me.name, reason=reason)
    console.print(f"{task} v{version} revoked")


@models_app.command("doc")
def models_doc(
    task: str,
    version: int,
    fmt: str = typer.Option("markdown", "--format", help="markdown, html or json"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to this file"),
) -> None:
    """Technical documentation of a version, generated from what the platform recorded."""
    me = _as(P.READ)
    from odlar.governance import documentation

    if fmt not in ("markdown", "html", "json"):
        raise UsageError(f"--format {fmt}: choose markdown, html or json")
    doc = documentation.build(task, version, tenant=me.tenant)
    text = {
        "markdown": documentation.to_markdown,
        "html": documentation.to_html,
        "json": lambda d: json.dumps(d, indent=2, default=str) + "\n",
    }[fmt](doc)
    if out is None:
        print(text, end="")
        return
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(out)
    console.print(f"wrote {out}")


@jobs_app.callback()
def jobs_default(ctx: typer.Context) -> None:
    """`odlar jobs` alone lists recent jobs."""
    if ctx.invoked_subcommand is None:
        jobs_list(limit=20)


@jobs_app.command("list")
def jobs_list(limit: int = typer.Option(20, help="How many, newest first")) -> None:
    """Recent jobs and their state."""
    me = _as(P.READ)
    from odlar.core import jobs

    table = Table("id", "task", "state", "progress", "message", "created")
    for j in jobs.list_jobs(tenant=me.tenant, limit=limit):
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
    me = _as(P.READ)
    import time

    from odlar.core import jobs

    job = jobs.get(job_id, tenant=me.tenant)
    if follow and job.state in jobs.ACTIVE:
        with progress_bar(f"job {job_id}") as update:
            while job.state in jobs.ACTIVE:
                update(job.progress, job.message)
                time.sleep(0.5)
                jobs.recover()
                job = jobs.get(job_id, tenant=me.tenant)
            update(job.progress, job.message)
    console.print_json(json.dumps(job.to_dict()))
    if job.state == "failed":
        raise typer.Exit(1)


@jobs_app.command("cancel")
def jobs_cancel(job_id: str) -> None:
    """Stop a queued or running job."""
    me = _as(P.OPERATE)
    from odlar.core import jobs

    console.print(f"job {jobs.cancel(job_id, tenant=me.tenant).id} cancelled")


@jobs_app.command("retry")
def jobs_retry(job_id: str) -> None:
    """Start a finished, failed or interrupted job again as a new job."""
    me = _as(P.OPERATE)
    from odlar.core import jobs

    console.print(f"job {jobs.retry(job_id, tenant=me.tenant, created_by=me.name).id} started")


@jobs_app.command("logs")
def jobs_logs(job_id: str) -> None:
    """The output of a background job's process."""
    me = _as(P.READ)
    from odlar.core import jobs

    console.print(jobs.logs(job_id, tenant=me.tenant) or "(no output)", markup=False)


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address (default ODLAR_HOST or 127.0.0.1)"),
    port: int | None = typer.Option(None, help="Port (default ODLAR_PORT or 8000)"),
) -> None:
    """Start the HTTP API (docs at /docs); the first start prints the admin token once."""
    _as(P.ADMIN)
    import uvicorn

    from odlar.core.config import get_settings
    from odlar.core.store import get_engine
    from odlar.governance.accounts import ensure_admin
    from odlar.server.app import create_app

    settings = get_settings()
    get_engine()
    token = ensure_admin()
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
    param: list[str] = typer.Option(
        [], "--param", "-p", help="Protocol setting name=value, e.g. seeds=42,1,2 minutes=20"
    ),
) -> None:
    """Run the task's published protocol; print ours beside the published figures."""
    _as(P.OPERATE)
    from odlar.core import bench as bench_mod

    with progress_bar(f"bench {task}") as update:
        result = bench_mod.run(
            task,
            data_dir=data,
            quick=quick,
            dataset=dataset,
            methods=tuple(method) or None,
            progress=update,
            params=_params(param),
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
    me = _as(P.OPERATE)
    from odlar.energy.faults.follow import follow_csv

    follow_csv(
        file,
        stream=stream or file.stem,
        model_version=model,
        follow=follow,
        batch=batch,
        poll=poll,
        echo=console.print,
        tenant=me.tenant,
        actor=me.name,
    )


@alerts_app.command("list")
def alerts_list(
    state: str | None = typer.Option(None, "--state", help="open or cleared"),
    stream: str | None = typer.Option(None, "--stream"),
    limit: int = typer.Option(50, "--limit"),
) -> None:
    """Alerts, newest first."""
    me = _as(P.READ)
    from odlar.core import alerts

    rows = alerts.list_alerts(tenant=me.tenant, state=state, stream=stream, limit=limit)
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
    """One alert, whole."""
    me = _as(P.READ)
    from odlar.core import alerts

    console.print_json(json.dumps(alerts.get(alert_id, tenant=me.tenant)))


@alerts_app.command("ack")
def alerts_ack(
    alert_id: str, note: str | None = typer.Option(None, "--note", help="What was done")
) -> None:
    """Acknowledge an alert (it stays open until the stream returns to normal)."""
    me = _as(P.OPERATE)
    from odlar.core import alerts

    a = alerts.acknowledge(alert_id, tenant=me.tenant, by=me.name, note=note)
    console.print(f"acknowledged {a['id']} ({a['state']})")


@education_app.command("record")
def education_record(
    file: Path = typer.Argument(help="Answers: CSV/TSV with student, item/skill, correct"),
    model: int | None = typer.Option(None, "--model", help="Model version (default: newest)"),
) -> None:
    """Store answers (students pseudonymised) and update their mastery."""
    me = _as(P.OPERATE)
    from odlar.education.interactions import read_log
    from odlar.education.service import TRACKER

    frame = read_log(file)
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


@education_app.command("mastery")
def education_mastery(student: str, model: int | None = typer.Option(None, "--model")) -> None:
    """A student's mastery of each practised skill, weakest first."""
    me = _as(P.READ)
    from odlar.education.service import TRACKER

    m = TRACKER.mastery(tenant=me.tenant, student=student, model_version=model, actor=me.name)
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
    me = _as(P.READ)
    from odlar.education.learning import Policy
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
            ", ".join(row["skills"]),
            f"{row['success_probability']:.2f}",
            "yes" if row["in_target_band"] else "",
        )
    console.print(table)


@education_app.command("report")
def education_report(class_id: str, model: int | None = typer.Option(None, "--model")) -> None:
    """Where a class is stuck and which students need help."""
    me = _as(P.READ)
    from odlar.education.service import TRACKER

    r = TRACKER.class_report(
        tenant=me.tenant, class_id=class_id, model_version=model, actor=me.name
    )
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
    _as(P.OPERATE)
    from odlar.core.datasets import fetch

    files = fetch(name, source_file=source, dest=dest)
    console.print(f"{name}: {len(files)} files verified")


@data_app.command("add")
def data_add(
    task: str = typer.Argument(help="Task whose loader validates the file"),
    file: Path = typer.Argument(help="CSV, Parquet or task-specific file"),
    personal: str = typer.Option(
        "", "--personal", help="Columns of personal identifiers (comma separated): pseudonymised"
    ),
) -> None:
    """Validate a file and register it as a dataset (usable by id in fit jobs)."""
    me = _as(P.OPERATE)
    from odlar.core.datasets import save_upload

    if not file.is_file():
        raise UsageError(f"{file}: no such file")
    rec = save_upload(
        task,
        file.name,
        file.read_bytes(),
        tenant=me.tenant,
        actor=me.name,
        personal=tuple(c.strip() for c in personal.split(",") if c.strip()),
    )
    console.print(f"dataset {rec['id']}: {rec['rows']} rows, sha256 {rec['sha256'][:12]}")


@data_app.command("list")
def data_list() -> None:
    """Registered datasets."""
    me = _as(P.READ)
    from odlar.core.datasets import list_datasets

    table = Table("id", "task", "name", "rows", "created")
    for d in list_datasets(tenant=me.tenant):
        table.add_row(d["id"], d["task"], d["name"], str(d["rows"]), d["created_at"][:19])
    console.print(table)


TENANT_OPT = typer.Option(None, "--tenant", help="Another tenant (platform admins only)")


@tenants_app.command("create")
def tenants_create(
    tenant_id: str = typer.Argument(help="Short id: lower-case letters, digits, '-'"),
    name: str | None = typer.Option(None, "--name", help="Display name"),
) -> None:
    """Create a tenant."""
    me = _as(P.ADMIN)
    from odlar.governance import accounts

    if me.tenant != DEFAULT_TENANT:
        from odlar.core.errors import Forbidden

        raise Forbidden("only the platform's admins (tenant 'default') create tenants")
    accounts.create_tenant(tenant_id, name, actor=me.name)
    console.print(f"tenant {tenant_id} created")


@tenants_app.command("list")
def tenants_list() -> None:
    """Tenants."""
    me = _as(P.ADMIN)
    from odlar.governance import accounts

    table = Table("id", "name", "created")
    for t in accounts.list_tenants():
        if me.tenant in (DEFAULT_TENANT, t["id"]):
            table.add_row(t["id"], t["name"], t["created_at"][:19])
    console.print(table)


@users_app.command("create")
def users_create(
    name: str,
    role: str = typer.Option(..., "--role", help="viewer, operator, approver, auditor, admin"),
    password: bool = typer.Option(False, "--password", help="Ask for a sign-in password"),
    tenant: str | None = TENANT_OPT,
) -> None:
    """Create a user (with a token from `odlar tokens create`, or a password to sign in)."""
    me = _as(P.ADMIN)
    from odlar.governance import accounts

    secret = (
        typer.prompt("password", hide_input=True, confirmation_prompt=True) if password else None
    )
    accounts.create_user(
        name, role, tenant=acting_tenant(me, tenant), actor=me.name, password=secret
    )
    console.print(f"user {name} ({role}) created")


@users_app.command("list")
def users_list(tenant: str | None = TENANT_OPT) -> None:
    """Users of the tenant."""
    me = _as(P.ADMIN)
    from odlar.governance import accounts

    table = Table("name", "role", "password", "locked until", "disabled")
    for u in accounts.list_users(acting_tenant(me, tenant)):
        table.add_row(
            u["name"], u["role"], "yes" if u["password"] else "", u["locked_until"] or "",
            "yes" if u["disabled"] else "",
        )  # fmt: skip
    console.print(table)


@users_app.command("role")
def users_role(name: str, role: str, tenant: str | None = TENANT_OPT) -> None:
    """Change a user's role (their tokens follow at once)."""
    me = _as(P.ADMIN)
    from odlar.governance import accounts

    accounts.set_role(name, role, tenant=acting_tenant(me, tenant), actor=me.name)
    console.print(f"user {name} is now {role}")


@users_app.command("disable")
def users_disable(name: str, tenant: str | None = TENANT_OPT) -> None:
    """Disable a user and revoke all their tokens."""
    me = _as(P.ADMIN)
    from odlar.governance import accounts

    accounts.disable_user(name, tenant=acting_tenant(me, tenant), actor=me.name)
    console.print(f"user {name} disabled")


@tokens_app.command("create")
def tokens_create(
    user: str = typer.Argument(help="The user the token acts as"),
    label: str | None = typer.Option(None, "--label", help="What uses it"),
    days: int | None = typer.Option(None, "--days", min=1, help="Expire after N days"),
    tenant: str | None = TENANT_OPT,
) -> None:
    """Create an API token for a user and print it once."""
    me = _as(P.ADMIN)
    from odlar.governance import accounts

    print(
        accounts.create_token(
            user, tenant=acting_tenant(me, tenant), actor=me.name, label=label, days=days
        )
    )


@tokens_app.command("list")
def tokens_list(tenant: str | None = TENANT_OPT) -> None:
    """Tokens (never their secrets)."""
    me = _as(P.ADMIN)
    from odlar.governance import accounts

    table = Table("id", "user", "label", "prefix", "role", "created", "expires", "revoked")
    for t in accounts.list_tokens(acting_tenant(me, tenant)):
        table.add_row(
            t["id"], t["user"], t["label"], t["prefix"] + "…", t["role"], t["created_at"][:19],
            (t["expires_at"] or "")[:19], "yes" if t["revoked"] else "",
        )  # fmt: skip
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: str, tenant: str | None = TENANT_OPT) -> None:
    """Revoke a token at once."""
    me = _as(P.ADMIN)
    from odlar.governance import accounts

    accounts.revoke_token(token_id, tenant=acting_tenant(me, tenant), actor=me.name)
    console.print(f"token {token_id} revoked")


@audit_app.command("verify")
def audit_verify(tenant: str | None = TENANT_OPT) -> None:
    """Check every record of the event log: edited, removed or reordered records are named.
    Platform admins without --tenant verify every tenant."""
    me = _as(P.AUDIT)
    from odlar.governance import audit

    scope = None if me.tenant == DEFAULT_TENANT and tenant is None else acting_tenant(me, tenant)
    result = audit.verify(scope)
    for p in result.problems:
        err.print(f"[red]{p.kind}[/red] tenant {p.tenant} record {p.seq}: {p.detail}")
    state = "intact" if result.ok else f"{len(result.problems)} problem(s)"
    console.print(
        f"event log {state}: {result.records} records, {result.tenants} tenant(s), "
        f"{result.seconds:.1f} s"
    )
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("show")
def audit_show(
    limit: int = typer.Option(20, "--limit"),
    action: str | None = typer.Option(None, "--action"),
    tenant: str | None = TENANT_OPT,
) -> None:
    """The newest records."""
    me = _as(P.AUDIT)
    from odlar.governance import audit

    table = Table("seq", "at", "actor", "action", "target", "model", "hash")
    rows = audit.events(acting_tenant(me, tenant), action=action, limit=limit, newest_first=True)
    for r in rows:
        table.add_row(
            str(r["seq"]), r["at"][:23], r["actor"], r["action"], r["target"],
            r["model_version"], r["hash"][:12],
        )  # fmt: skip
    console.print(table)


@audit_app.command("export")
def audit_export(
    out: Path = typer.Option(..., "--out", "-o", help="JSON Lines file"),
    tenant: str | None = TENANT_OPT,
) -> None:
    """Export the tenant's records (with their hashes) as JSON Lines."""
    me = _as(P.AUDIT)
    from odlar.governance import audit

    scope = acting_tenant(me, tenant)
    n = audit.export(scope, out, actor=me.name)
    console.print(f"wrote {n} records to {out}")


@audit_app.command("prune")
def audit_prune(tenant: str | None = TENANT_OPT) -> None:
    """Remove records older than the retention period (ODLAR_AUDIT_RETENTION_DAYS, at
    least 183 days); the chain stays verifiable from the last removed record."""
    me = _as(P.ADMIN)
    from odlar.governance import audit

    n = audit.prune(acting_tenant(me, tenant), actor=me.name)
    console.print(f"removed {n} records older than the retention period")


def _scenarios_dir() -> Path:
    from odlar.core.config import get_settings

    return get_settings().home.expanduser() / "scenarios"


def _scenario_ref(ref: str) -> str:
    """A RESCO name, the name of an imported scenario, or a path."""
    from odlar.mobility.scenarios import scenario_ref

    if scenario_ref(ref):
        return f"resco:{scenario_ref(ref)}"
    named = _scenarios_dir() / ref
    return str(named) if (named / "scenario.json").exists() else ref


def _imported(scenario: Any) -> None:
    from odlar.mobility.scenarios import validate

    facts = validate(scenario)
    console.print(
        f"scenario [bold]{scenario.name}[/bold] ({scenario.origin}): {facts['signals']} "
        f"signals, {facts['edges']} edges, {facts['vehicles_in_episode']} vehicles from "
        f"{scenario.begin} to {scenario.end} s, in {scenario.net.parent}"
    )
    console.print(f"next: odlar mobility run --scenario {scenario.name} "
                  "-c fixed -c max_pressure --plot delay.png")  # fmt: skip


def _import_out(name: str, out: Path | None) -> Path:
    return out or _scenarios_dir() / name


@mobility_import_app.command("osm")
def mobility_import_osm(
    osm: Path = typer.Argument(help="OpenStreetMap extract (.osm XML)"),
    name: str | None = typer.Option(None, help="Scenario name (default: the file's stem)"),
    guess_signals: bool = typer.Option(
        True, help="Also guess traffic lights where the map has none (netconvert --tls.guess)"
    ),
    routes: list[Path] = typer.Option(
        [], "--routes", help="Own route files (default: random trips)"
    ),
    begin: int = typer.Option(0),
    end: int = typer.Option(3600),
    period: float = typer.Option(2.0, help="Random trips: seconds between departures"),
    seed: int = typer.Option(42),
    out: Path | None = typer.Option(None, help="Folder (default: ODLAR_HOME/scenarios/NAME)"),
    overwrite: bool = typer.Option(False, help="Replace an imported scenario of that name"),
) -> None:
    """Convert an OpenStreetMap extract with netconvert and SUMO's type map."""
    _as(P.OPERATE)
    from odlar.mobility.importing import import_osm

    name = name or osm.stem.split(".")[0]
    _imported(import_osm(osm, _import_out(name, out), name=name, guess_signals=guess_signals,
                         routes=routes or None, begin=begin, end=end, period=period, seed=seed,
                         overwrite=overwrite))  # fmt: skip


@mobility_import_app.command("sumo")
def mobility_import_sumo(
    net: Path = typer.Argument(help="SUMO network (.net.xml)"),
    routes: list[Path] = typer.Argument(help="Route files (.rou.xml)"),
    name: str | None = typer.Option(None),
    begin: int = typer.Option(0),
    end: int = typer.Option(3600),
    delta: int = typer.Option(10, help="Seconds between decisions"),
    yellow: int = typer.Option(3, help="Yellow seconds"),
    out: Path | None = typer.Option(None),
    overwrite: bool = typer.Option(False),
) -> None:
    """Take a SUMO network and route files as they are."""
    _as(P.OPERATE)
    from odlar.mobility.importing import import_sumo

    name = name or net.name.split(".")[0]
    _imported(import_sumo(net, routes, _import_out(name, out), name=name, begin=begin, end=end,
                          delta=delta, yellow=yellow, overwrite=overwrite))  # fmt: skip


@mobility_import_app.command("od")
def mobility_import_od(
    net: Path = typer.Argument(help="SUMO network (.net.xml)"),
    counts: Path = typer.Argument(help="CSV: origin,destination,count[,begin,end] (edge ids)"),
    name: str | None = typer.Option(None),
    begin: int = typer.Option(0),
    end: int = typer.Option(3600),
    seed: int = typer.Option(42),
    out: Path | None = typer.Option(None),
    overwrite: bool = typer.Option(False),
) -> None:
    """Demand from origin-destination counts, routed with duarouter."""
    _as(P.OPERATE)
    from odlar.mobility.importing import import_od

    name = name or counts.stem
    _imported(import_od(net, counts, _import_out(name, out), name=name, begin=begin, end=end,
                        seed=seed, overwrite=overwrite))  # fmt: skip


@mobility_import_app.command("synthetic")
def mobility_import_synthetic(
    kind: str = typer.Option("grid", help="grid, spider or rand (netgenerate)"),
    size: int = typer.Option(3, help="Junctions per side (grid), rings (spider)"),
    length: float = typer.Option(200.0, help="Metres between junctions"),
    lanes: int = typer.Option(2),
    begin: int = typer.Option(0),
    end: int = typer.Option(3600),
    period: float = typer.Option(2.0, help="Seconds between random departures"),
    seed: int = typer.Option(42),
    name: str | None = typer.Option(None),
    out: Path | None = typer.Option(None),
    overwrite: bool = typer.Option(False),
) -> None:
    """A synthetic city (netgenerate and randomTrips), for trying things without data."""
    _as(P.OPERATE)
    from odlar.mobility.importing import synthetic

    name = name or f"{kind}{size}"
    _imported(synthetic(_import_out(name, out), kind=kind, size=size, length=length,
                        lanes=lanes, begin=begin, end=end, period=period, seed=seed, name=name,
                        overwrite=overwrite))  # fmt: skip


@mobility_app.command("scenarios")
def mobility_scenarios() -> None:
    """The RESCO benchmark scenarios and the ones imported here."""
    _as(P.READ)
    from odlar.mobility import scenarios as sc

    table = Table("scenario", "origin", "begin", "end", "decision / yellow s", "where")
    found = [sc.resco(n) for n in sc.RESCO_NAMES]
    folder = _scenarios_dir()
    for manifest in sorted(folder.glob("*/scenario.json")) if folder.exists() else []:
        try:
            found.append(sc.load(manifest.parent))
        except OdlarError as exc:
            err.print(f"skipped {manifest.parent}: {exc}")
    for s in found:
        table.add_row(s.name, s.origin, str(s.begin), str(s.end), f"{s.delta} / {s.yellow}",
                      str(s.net.parent))  # fmt: skip
    console.print(table)


@mobility_app.command("run")
def mobility_run(
    scenario: str = typer.Option(..., "--scenario", "-s", help="RESCO name, imported name, path"),
    controller: list[str] = typer.Option(
        [], "--controller", "-c", help="fixed, actuated, greedy, max_pressure (repeatable)"
    ),
    model: list[int] = typer.Option([], "--model", help="A trained model version (repeatable)"),
    seed: list[int] = typer.Option([], "--seed", help="Seeds (default 42, 1, 2)"),
    junction_blocker: float | None = typer.Option(
        None, help="SUMO --ignore-junction-blocker SECONDS (a deviation from RESCO)"
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Delay over time: .png or .html"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write all metrics as JSON"),
) -> None:
    """Simulate controllers on a scenario (seeds in parallel processes) and compare them."""
    me = _as(P.OPERATE)
    from odlar.core import tracking
    from odlar.core.datasets import resolve_source
    from odlar.mobility import runs
    from odlar.mobility import scenarios as sc

    scen = sc.load(resolve_source(_scenario_ref(scenario), tenant=me.tenant))
    sc.validate(scen)
    models = {
        f"v{v}": tracking.load_version("mobility.signals", v, tenant=me.tenant)[1] for v in model
    }
    with progress_bar(f"simulating {scen.name}") as update:
        update(0.0, "running episodes")
        result = runs.compare(scen, controller or ([] if models else ["fixed", "max_pressure"]),
                              seed or [42, 1, 2], models=models,
                              junction_blocker=junction_blocker)  # fmt: skip
        update(1.0, "done")
    table = Table("controller", "delay s", "± sd", "RESCO-code delay", "trip time s",
                  "waiting s", "queue (mean/max)", "arrived", "never inserted", "teleports",
                  "deadlocks",
                  title=f"{scen.name}, seeds {', '.join(map(str, result['seeds']))}")  # fmt: skip
    for c in result["controllers"]:
        table.add_row(c["controller"], f"{c['delay']:.2f}", f"{c['delay_sd']:.2f}",
                      f"{c['delay_resco_code']:.2f}", f"{c['trip_time']:.1f}",
                      f"{c['waiting_time']:.1f}", f"{c['queue']:.0f}/{c['queue_max']:.0f}",
                      f"{c['throughput']:.0f}",
                      f"{c['never_inserted']:.0f}", f"{c['teleports']:.0f}",
                      str(c["deadlocks"]))  # fmt: skip
    console.print(table)
    if plot:
        console.print(f"wrote {runs.plot(result, plot)}")
    if out:
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(result, indent=2))
        tmp.replace(out)
        console.print(f"wrote {out}")


from odlar import cli_compute  # noqa: E402  (compute, quotas, usage: platform commands)

cli_compute.register(app)


def main() -> None:
    try:
        app()
    except OdlarError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
