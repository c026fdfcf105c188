"""`odlar compute`, `odlar quotas`, `odlar usage`: shared compute from the command line."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from odlar.core.errors import Forbidden
from odlar.core.store import DEFAULT_TENANT
from odlar.governance.roles import ROLES, Principal
from odlar.governance.roles import Permission as P

quotas_app = typer.Typer(no_args_is_help=True, help="Tenant quotas: concurrent jobs, CPUs, GPUs.")


def _cli() -> object:
    from odlar import cli

    return cli


def _reader() -> Principal:
    """An admin or an auditor (usage and the queue are theirs to read)."""
    from odlar.governance.accounts import cli_principal

    me = cli_principal()
    perms = ROLES.get(me.role, frozenset())
    if P.ADMIN not in perms and P.AUDIT not in perms:
        raise Forbidden(f"role '{me.role}' may not read usage (admins and auditors may)")
    return me


def _scope(me: Principal, tenant: str | None) -> str | None:
    if me.tenant == DEFAULT_TENANT:
        return tenant
    if tenant not in (None, me.tenant):
        raise Forbidden("only the platform's admins and auditors see other tenants")
    return me.tenant


def usage(
    tenant: str | None = typer.Option(None, "--tenant", "-t", help="One tenant (default: all)"),
    since: str | None = typer.Option(None, "--since", help="7d, 12h, 30m or an ISO date"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """What each tenant's jobs used, per task: jobs, wall, CPU and GPU seconds, memory."""
    from odlar.core import usage as usage_mod

    me = _reader()
    out = usage_mod.report(tenant=_scope(me, tenant), since=usage_mod.parse_since(since))
    console = _cli().console  # type: ignore[attr-defined]
    if as_json:
        console.print_json(json.dumps(out))
        return
    table = Table("tenant", "task", "jobs", "states", "backends", "wall s", "CPU s", "GPU s",
                  "peak MiB", title=f"usage since {out['since'] or 'the start'}")  # fmt: skip
    for r in out["rows"]:
        peak = "-" if r["peak_memory_mb"] is None else f"{r['peak_memory_mb']:.0f}"
        table.add_row(r["tenant"], r["task"], str(r["jobs"]),
                      ", ".join(f"{k} {v}" for k, v in sorted(r["states"].items())),
                      ", ".join(f"{k} {v}" for k, v in sorted(r["backends"].items())),
                      f"{r['wall_seconds']:.1f}", f"{r['cpu_seconds']:.1f}",
                      f"{r['gpu_seconds']:.1f}", peak)  # fmt: skip
    console.print(table)


def compute(as_json: bool = typer.Option(False, "--json", help="Print JSON")) -> None:
    """The backend's capacity and the jobs running and queued per tenant."""
    from odlar.core.compute import scheduler

    me = _reader()
    out = scheduler.overview(_scope(me, None))
    console = _cli().console  # type: ignore[attr-defined]
    if as_json:
        console.print_json(json.dumps(out))
        return
    cap = out["capacity"]
    head = f"backend {cap['backend']}: {cap.get('cpus', 0):g} CPUs, {cap.get('gpus', 0):g} GPUs"
    console.print(head + (f" - {cap['error']}" if cap.get("error") else
                          f" on {len(cap.get('nodes', []))} node(s)"))  # fmt: skip
    table = Table("tenant", "running", "queued", "CPUs held", "GPUs held")
    for t, row in sorted(out["tenants"].items()):
        table.add_row(t, str(row["running"]), str(row["queued"]), f"{row['cpus']:g}",
                      f"{row['gpus']:g}")  # fmt: skip
    console.print(table)
    for q in out["queued"]:
        console.print(f"- {q['id']} ({q['tenant']}, {q['task']}): {q['message']}", markup=False)


@quotas_app.command("list")
def quotas_list() -> None:
    """Every tenant's limits (a tenant missing here has none)."""
    from odlar.core import quotas

    me = _cli()._as(P.ADMIN)  # type: ignore[attr-defined]
    rows = quotas.all_quotas()
    if me.tenant != DEFAULT_TENANT:
        rows = {me.tenant: quotas.get(me.tenant)}
    table = Table("tenant", "concurrent jobs", "CPUs", "GPUs")

    def fmt(v: float | None) -> str:
        return "no limit" if v is None else f"{v:g}"

    for q in rows.values():
        table.add_row(q.tenant, fmt(q.max_jobs), fmt(q.max_cpus), fmt(q.max_gpus))
    _cli().console.print(table)  # type: ignore[attr-defined]


@quotas_app.command("set")
def quotas_set(
    tenant: str = typer.Argument(help="Tenant id"),
    jobs: int | None = typer.Option(None, "--jobs", min=0, help="Concurrent jobs"),
    cpus: float | None = typer.Option(None, "--cpus", min=0, help="CPUs held at once"),
    gpus: float | None = typer.Option(None, "--gpus", min=0, help="GPUs held at once"),
) -> None:
    """Set a tenant's limits (platform admins); an option left out means no limit."""
    from odlar.core import quotas

    me = _cli()._as(P.ADMIN)  # type: ignore[attr-defined]
    if me.tenant != DEFAULT_TENANT:
        raise Forbidden("only the platform's admins (tenant 'default') set quotas")
    q = quotas.set_quota(tenant, max_jobs=jobs, max_cpus=cpus, max_gpus=gpus, actor=me.name)
    _cli().console.print_json(json.dumps(q.to_dict()))  # type: ignore[attr-defined]


def register(app: typer.Typer) -> None:
    app.command("usage")(usage)
    app.command("compute")(compute)
    app.add_typer(quotas_app, name="quotas")
