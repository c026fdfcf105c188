"""The `odlar` command line: wiring only; every command calls core or a task."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from odlar.core.errors import Conflict, OdlarError, UsageError
from odlar.core.figures import figure
from odlar.core.params import parse_params
from odlar.core.store import DEFAULT_TENANT
from odlar.core.versions import VERSION_HELP
from odlar.governance.roles import Permission as P
from odlar.governance.roles import acting_tenant
from odlar.terminal import acting, console, err, progress_bar

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
@app.command()
def tasks() -> None:
    """List the registered tasks with their risk tier."""
    acting(P.READ)
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
        None, "--scenario", help="A named scenario (traffic): RESCO name, imported name or folder"
    ),
    method: str | None = typer.Option(None, "--method", "-m", help="Model family"),
    param: list[str] = typer.Option([], "--param", "-p", help="Hyperparameter name=value"),
    eval_data: str | None = typer.Option(None, "--eval", help="Test data with ground truth"),
    detach: bool = typer.Option(False, "--detach", help="Run as a background job and return"),
) -> None:
    """Train a model; it is recorded as a job and registered as a model version."""
    me = acting(P.OPERATE)
    from odlar.core import jobs
    from odlar.core.tasks import named_input

    if (data is None) == (scenario is None):
        raise UsageError("give the training data: --data FILE (or --scenario for traffic)")
    data = data if scenario is None else named_input("scenario", scenario)
    params = parse_params(param)
    spec = jobs.FitSpec(task=task, data=data, method=method, params=params, eval=eval_data)
    if detach:
        job = jobs.submit(spec, tenant=me.tenant, created_by=me.name)
        status = "started" if job.message == "starting" else f"queued ({job.message})"
        console.print(f"job {job.id} {status} on {job.backend}; follow it with: "
                      f"odlar jobs show {job.id} --follow")  # fmt: skip
        return
    job = jobs.create(spec, tenant=me.tenant, created_by=me.name)
    try:
        with progress_bar(f"fit {task} ({job.spec['method']})") as update:
            done = jobs.run(job.id, echo=update)
    except KeyboardInterrupt:
        err.print(f"job {job.id} cancelled; start it again with: odlar jobs retry {job.id}")
        raise typer.Exit(130) from None
    model = done.result["model"]
    console.print(f"job {done.id}: model [bold]{model['task']} v{model['version']}[/bold]")
    _metrics_table(done.result["metrics"])


def _metrics_table(metrics: dict[str, float]) -> None:
    table = Table("metric", "value")
    for k, v in sorted(metrics.items()):
        table.add_row(k, figure(v))
    console.print(table)


@app.command()
def predict(
    task: str = typer.Argument(help="Task name"),
    data: str = typer.Option(..., "--data", "-d", help="Input file (e.g. running units)"),
    model: int | None = typer.Option(
        None, "--model", help=VERSION_HELP
    ),
    level: float = typer.Option(0.9, "--level", help="Prediction interval level"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write results (.json or .csv)"),
) -> None:
    """Predict with a registered model version."""
    me = acting(P.OPERATE)
    from odlar.core.datasets import resolve_source
    from odlar.core.privacy import tenant_scope
    from odlar.core.tasks import get_task
    from odlar.governance import serving

    t = get_task(task)
    with tenant_scope(me.tenant):  # people in the input get the tenant's pseudonyms
        loaded = t.load(resolve_source(data, tenant=me.tenant))
    request = t.request_from(loaded, level=level, model_version=model)
    response = serving.predict(t, request, tenant=me.tenant, actor=me.name)
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
        table.add_row(*(figure(v) if isinstance(v, float) else str(v) for v in row.values()))
    console.print(table)
    if len(rows) > len(shown):
        console.print(f"... {len(rows) - len(shown)} more rows: use --out FILE for all of them")


SHOW_ROWS = 50


def _write_rows(out: Path, rows: list[dict[str, Any]], full: dict[str, Any]) -> None:
    import pandas as pd

    from odlar.core.files import atomic_path

    with atomic_path(out) as tmp:  # never a half-written file
        if out.suffix.lower() == ".csv":
            pd.DataFrame(rows).convert_dtypes().to_csv(tmp, index=False)
        else:
            tmp.write_text(json.dumps(full, indent=2))


@models_app.callback()
def models_default(ctx: typer.Context) -> None:
    """`odlar models` alone lists every model version."""
    if ctx.invoked_subcommand is None:
        models_list(task=None)


@models_app.command("list")
def models_list(task: str | None = typer.Argument(None, help="Only this task")) -> None:
    """Model versions with their state (pending, approved, revoked), risk tier and metrics."""
    me = acting(P.READ)
    from odlar.core.tasks import get_task
    from odlar.governance import approval

    if task:
        get_task(task)
    table = Table("task", "version", "state", "risk", "method", "created", "metrics", "data")
    for v, state in approval.versions(me.tenant, task):
        shown = {k: figure(x, 3) for k, x in sorted(v.metrics.items())}
        table.add_row(
            v.task,
            str(v.version),
            state,
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
    me = acting(P.APPROVE)
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
    me = acting(P.APPROVE)
    from odlar.governance import approval

    try:
        out = approval.approve(
            me.tenant, task, version, actor=me.name, reason=reason, override=override
        )
    except approval.ChecksFailed as exc:
        raise Conflict(f"{exc.message} (--override --reason ...)") from None
    except UsageError as exc:
        raise UsageError(f"{exc.message} (--reason)") from None
    _check_table(out["checks"])
    console.print(f"{task} v{version} approved by {me.name}")


@models_app.command("revoke")
def models_revoke(
    task: str, version: int, reason: str = typer.Option(..., "--reason", help="Why")
) -> None:
    """Revoke an approval: the version stops serving at once."""
    me = acting(P.APPROVE)
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
    me = acting(P.READ)
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
    from odlar.core.files import write_atomic

    write_atomic(out, text)
    console.print(f"wrote {out}")


@jobs_app.callback()
def jobs_default(ctx: typer.Context) -> None:
    """`odlar jobs` alone lists recent jobs."""
    if ctx.invoked_subcommand is None:
        jobs_list(limit=20)


@jobs_app.command("list")
def jobs_list(limit: int = typer.Option(20, help="How many, newest first")) -> None:
    """Recent jobs and their state."""
    me = acting(P.READ)
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
    me = acting(P.READ)
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
    me = acting(P.OPERATE)
    from odlar.core import jobs

    console.print(f"job {jobs.cancel(job_id, tenant=me.tenant).id} cancelled")


@jobs_app.command("retry")
def jobs_retry(job_id: str) -> None:
    """Start a finished, failed or interrupted job again as a new job."""
    me = acting(P.OPERATE)
    from odlar.core import jobs

    console.print(f"job {jobs.retry(job_id, tenant=me.tenant, created_by=me.name).id} started")


@jobs_app.command("logs")
def jobs_logs(job_id: str) -> None:
    """The output of a background job's process."""
    me = acting(P.READ)
    from odlar.core import jobs

    console.print(jobs.logs(job_id, tenant=me.tenant) or "(no output)", markup=False)


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address (default ODLAR_HOST or 127.0.0.1)"),
    port: int | None = typer.Option(None, help="Port (default ODLAR_PORT or 8000)"),
) -> None:
    """Start the HTTP API (docs at /docs); the first start prints the admin token once."""
    acting(P.ADMIN)
    from odlar.core.config import get_settings
    from odlar.core.threads import limit_threads

    # before the models' libraries load: OpenMP reads the environment once, and a thread
    # count set later applies only to the thread that sets it
    limit_threads(get_settings().serve_threads)
    import uvicorn

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
    uvicorn.run(create_app(), **server_options(host, port))


def server_options(host: str, port: int) -> dict[str, Any]:
    """uvicorn's options for `odlar serve`. Its own proxy headers are off: by default it
    believes X-Forwarded-For from 127.0.0.1, so any local process could pose as any
    client; odlar believes only ODLAR_TRUSTED_PROXIES (odlar.server.auth)."""
    return {"host": host, "port": port, "log_level": "warning", "proxy_headers": False}


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
    acting(P.OPERATE)
    from odlar.core import bench as bench_mod
    from odlar.core.datasets import refuse_state
    from odlar.governance import bench as _governance_bench  # noqa: F401  (registers it)
    from odlar.server import compute_bench as _compute_bench  # noqa: F401  (registers it)
    from odlar.web import bench as _console_bench  # noqa: F401  (registers it)

    if data is not None:
        refuse_state(data)
    with progress_bar(f"bench {task}") as update:
        result = bench_mod.run(
            task,
            data_dir=data,
            quick=quick,
            dataset=dataset,
            methods=tuple(method) or None,
            progress=update,
            params=parse_params(param),
        )
    for table in bench_mod.tables(result, console.width):
        console.print(table)
    for note in result["notes"]:
        console.print(f"- {note}")
    console.print(f"whole bench: {result['wall_seconds']:.0f} s")
    if out:
        bench_mod.write(result, out)
        console.print(f"wrote {out}")


@alerts_app.command("list")
def alerts_list(
    state: str | None = typer.Option(None, "--state", help="open or cleared"),
    stream: str | None = typer.Option(None, "--stream"),
    limit: int = typer.Option(50, "--limit"),
    each: bool = typer.Option(False, "--each", help="Every alert, newest first, ungrouped"),
) -> None:
    """Incidents as the console shows them: one per stream and episode, the process alert
    leading, its sensor findings counted inside; open first, process before sensor-only,
    highest score first."""
    me = acting(P.READ)
    from odlar.core import alerts

    if each:
        _alerts_table(alerts.list_alerts(tenant=me.tenant, state=state, stream=stream,
                                         limit=limit))  # fmt: skip
        return
    found = alerts.list_incidents(tenant=me.tenant, state=state, stream=stream, limit=limit)
    table = Table(
        "incident", "stream", "lead", "state", "opened", "peak score", "top variables",
        "sensor findings", "alerts", "acknowledged", title="incidents",
    )  # fmt: skip
    for i in found:
        a = i["lead"]
        acked = {x["acknowledged_by"] for x in i["alerts"] if x["acknowledged_by"]}
        table.add_row(
            i["id"],
            i["stream"],
            a["kind"],
            i["state"],
            i["first_time"] or i["opened_at"][:19],  # the sample's own time when it has one
            f"{i['score']:.2f}",
            ", ".join(c["variable"] for c in a["contributors"][:3]),
            ", ".join(f"{kind}: {len(where)}" for kind, where in i["findings"].items()),
            str(len(i["alert_ids"])),
            ", ".join(sorted(acked)) + (" (partly)" if acked and i["unacknowledged"] else ""),
        )
    console.print(table)


def _alerts_table(rows: list[dict[str, Any]]) -> None:
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
            a["first_time"] or a["opened_at"][:19],  # the sample's own time when it has one
            f"{a['score']:.2f}",
            top,
            str(a["event_class"] or ""),
            a["acknowledged_by"] or "",
        )
    console.print(table)


@alerts_app.command("show")
def alerts_show(
    alert_id: str,
    incident: bool = typer.Option(False, "--incident", help="The incident it belongs to"),
) -> None:
    """One alert, whole (or its whole incident)."""
    me = acting(P.READ)
    from odlar.core import alerts

    shown = (alerts.incident_of if incident else alerts.get)(alert_id, tenant=me.tenant)
    console.print_json(json.dumps(shown))


@alerts_app.command("ack")
def alerts_ack(
    alert_id: str = typer.Argument(help="An incident (its id) or any alert of it"),
    note: str | None = typer.Option(None, "--note", help="What was done"),
    only: bool = typer.Option(False, "--only", help="This alert alone, not its incident"),
) -> None:
    """Acknowledge an incident: every alert of it at once (they stay open until the stream
    returns to normal)."""
    me = acting(P.OPERATE)
    from odlar.core import alerts

    if only:
        a = alerts.acknowledge(alert_id, tenant=me.tenant, by=me.name, note=note)
        console.print(f"acknowledged {a['id']} ({a['state']})")
        return
    i = alerts.acknowledge_incident(alert_id, tenant=me.tenant, by=me.name, note=note)
    n = len(i["acknowledged_now"])
    console.print(
        f"acknowledged incident {i['id']} on {i['stream']} ({i['state']}): "
        f"{n} alert{'' if n == 1 else 's'}"
    )


@data_app.command("fetch")
def data_fetch(
    name: str = typer.Argument(help="Dataset, e.g. cmapss"),
    source: Path | None = typer.Option(None, "--from", help="Use this downloaded archive"),
    dest: Path | None = typer.Option(None, "--dest", help="Folder (default under ODLAR_DATA)"),
) -> None:
    """Download a public dataset from its publisher, unpack it and verify its checksums."""
    acting(P.OPERATE)
    from odlar.core.datasets import fetch, refuse_state

    files = fetch(name, source_file=source and refuse_state(source), dest=dest)
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
    me = acting(P.OPERATE)
    from odlar.core.datasets import refuse_state, save_upload

    if not refuse_state(file).is_file():
        raise UsageError(f"{file}: no such file")
    with file.open("rb") as content:  # read in blocks: a large file never sits in memory
        rec = save_upload(
            task,
            file.name,
            content,
            tenant=me.tenant,
            actor=me.name,
            personal=tuple(c.strip() for c in personal.split(",") if c.strip()),
        )
    console.print(f"dataset {rec['id']}: {rec['rows']} rows, sha256 {rec['sha256'][:12]}")


@data_app.command("list")
def data_list() -> None:
    """Registered datasets."""
    me = acting(P.READ)
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
    me = acting(P.ADMIN)
    from odlar.governance import accounts

    if me.tenant != DEFAULT_TENANT:
        from odlar.core.errors import Forbidden

        raise Forbidden("only the platform's admins (tenant 'default') create tenants")
    accounts.create_tenant(tenant_id, name, actor=me.name)
    console.print(f"tenant {tenant_id} created")


@tenants_app.command("list")
def tenants_list() -> None:
    """Tenants."""
    me = acting(P.ADMIN)
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
    me = acting(P.ADMIN)
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
    me = acting(P.ADMIN)
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
    me = acting(P.ADMIN)
    from odlar.governance import accounts

    accounts.set_role(name, role, tenant=acting_tenant(me, tenant), actor=me.name)
    console.print(f"user {name} is now {role}")


@users_app.command("disable")
def users_disable(name: str, tenant: str | None = TENANT_OPT) -> None:
    """Disable a user and revoke all their tokens."""
    me = acting(P.ADMIN)
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
    me = acting(P.ADMIN)
    from odlar.governance import accounts

    print(
        accounts.create_token(
            user, tenant=acting_tenant(me, tenant), actor=me.name, label=label, days=days
        )
    )


@tokens_app.command("list")
def tokens_list(tenant: str | None = TENANT_OPT) -> None:
    """Tokens (never their secrets)."""
    me = acting(P.ADMIN)
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
    me = acting(P.ADMIN)
    from odlar.governance import accounts

    accounts.revoke_token(token_id, tenant=acting_tenant(me, tenant), actor=me.name)
    console.print(f"token {token_id} revoked")


@audit_app.command("verify")
def audit_verify(tenant: str | None = TENANT_OPT) -> None:
    """Check every record of the event log: edited, removed or reordered records are named.
    Platform admins without --tenant verify every tenant."""
    me = acting(P.AUDIT)
    from odlar.core import audit

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
    me = acting(P.AUDIT)
    from odlar.core import audit

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
    me = acting(P.AUDIT)
    from odlar.core import audit

    scope = acting_tenant(me, tenant)
    n = audit.export(scope, out, actor=me.name)
    console.print(f"wrote {n} records to {out}")


@audit_app.command("prune")
def audit_prune(tenant: str | None = TENANT_OPT) -> None:
    """Remove records older than the retention period (ODLAR_AUDIT_RETENTION_DAYS, at
    least 183 days); the chain stays verifiable from the last removed record."""
    me = acting(P.ADMIN)
    from odlar.core import audit

    n = audit.prune(acting_tenant(me, tenant), actor=me.name)
    console.print(f"removed {n} records older than the retention period")


def _mount_sectors() -> None:
    """Each installed sector's own commands as `odlar <sector> ...` (core/sectors.py), and
    the commands a sector keeps at the top level (its cli module's TOP_LEVEL)."""
    import importlib

    from odlar.core.sectors import load, sectors

    for sector in sectors():
        if sector.cli is None:
            continue
        sub = load(sector.cli)
        app.add_typer(sub, name=sector.name)
        module = importlib.import_module(sector.cli.partition(":")[0])
        for name, command in getattr(module, "TOP_LEVEL", {}).items():
            app.command(name)(command)


_mount_sectors()


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
