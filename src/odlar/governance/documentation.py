"""Technical documentation of a model version, generated from what the platform recorded
(never typed by hand): the task's declared purpose, risk tier and limitations; MLflow's
parameters, metrics and data provenance; benchmark runs beside the published anchors; the
checks, approvals and predictions in the event log. Sections follow the structure of
Annex IV of the EU AI Act. Exported as JSON, Markdown or HTML."""

from __future__ import annotations

import html
import json
from typing import Any

from sqlalchemy import func, select

from odlar import __version__
from odlar.core import bench, tracking
from odlar.core.figures import readable
from odlar.core.store import AuditEvent, session_scope, utcnow
from odlar.core.tasks import get_task
from odlar.governance import approval


def _events(tenant: str, model: str, action: str) -> tuple[int, dict[str, Any] | None]:
    """How many records of an action for a model version, and the newest one's output."""
    with session_scope() as s:
        where = (
            AuditEvent.tenant == tenant,
            AuditEvent.model_version == model,
            AuditEvent.action == action,
        )
        n = s.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
        last = s.scalar(select(AuditEvent.output).where(*where).order_by(AuditEvent.seq.desc()))
    try:
        return n, json.loads(last) if last else None
    except json.JSONDecodeError:
        return n, None


def build(task_name: str, version: int, *, tenant: str) -> dict[str, Any]:
    task = get_task(task_name)
    mv = tracking.get_version(task_name, version, tenant=tenant)
    ref = f"{task_name}/{version}"
    n_checks, last_check = _events(tenant, ref, "model_check")
    n_pred, _ = _events(tenant, ref, "predict")
    summary = tracking.data_summary(mv)
    runs = [
        {
            "dataset": r.get("dataset"),
            "quick": r.get("quick"),
            "protocol": r.get("protocol"),
            "ours": [
                {"method": x.get("method"), "metrics": x.get("metrics")}
                for x in r.get("results", [])
            ],
            "published": r.get("anchors", []),
            "wall_seconds": r.get("wall_seconds"),
            "commit": (r.get("environment") or {}).get("commit"),  # bench.environment()'s key
        }
        for r in bench.recorded(task_name)
    ]
    state = approval.state(tenant, task_name, version)
    others = tracking.list_versions(task_name, tenant=tenant)
    states = approval.states(tenant, task_name)
    return {
        "document": "technical documentation (structure of EU AI Act Annex IV)",
        "generated_at": utcnow().isoformat(),
        "generated_by": f"odlar {__version__}",
        "model": ref,
        "1_general_description": {
            "system": task.title,
            "task": task_name,
            "version": version,
            "tenant": tenant,
            "intended_purpose": task.purpose,
            "risk_tier": task.risk.tier.value,
            "risk_reason": task.risk.reason,
            "state": state,
            "created_at": mv.created_at.isoformat(),
            "trained_by": mv.created_by,
            "training_job": mv.job_id,
            "interface": f"POST /api/v1/tasks/{task_name}/predict; odlar predict {task_name}",
        },
        "2_development": {
            "method": mv.method,
            "parameters": mv.params,
            "training_data": {**mv.data, "summary": summary},
            "data_governance": (
                "Files are validated by the task's loader on arrival (errors name file, row "
                "and field); personal data is masked and linkable identifiers pseudonymised "
                "with a keyed hash at ingestion; the training data's SHA-256 is recorded and "
                "re-checked before approval."
            ),
            "run_id": mv.run_id,
        },
        "3_monitoring_and_control": {
            "human_oversight": (
                "A version serves only after an approver approves it; revoking stops it at "
                "once. Every prediction is a hash-chained event-log record."
            ),
            "decisions": approval.decisions(tenant, task_name, version),
            "predictions_logged": n_pred,
        },
        "4_performance": {
            "recorded_metrics": mv.metrics,
            "primary_metric": task.primary_metric,
            "acceptance": {k: f"{op} {v:g}" for k, (op, v) in task.acceptance.items()},
            "benchmarks": runs,
        },
        "5_risk_management": {
            "checks_run": n_checks,
            "latest_checks": last_check,
        },
        "6_limitations": list(task.limitations),
        "7_changes": [
            {
                "version": v.version,
                "method": v.method,
                "created_at": v.created_at.isoformat(),
                "state": states.get(v.version, "pending"),
            }
            for v in others
        ],
    }


TITLES = {
    "1_general_description": "1. General description",
    "2_development": "2. Development: method, parameters and data",
    "3_monitoring_and_control": "3. Monitoring, functioning and control",
    "4_performance": "4. Performance, beside published results",
    "5_risk_management": "5. Risk management: automatic checks",
    "6_limitations": "6. Known limitations and conditions of use",
    "7_changes": "7. Changes: versions of this task",
}


def _md_value(value: Any) -> str:
    """Readable text for a cell or a line: `key: value; ...` with numbers as people read
    them (`rows: 20,631; lr: 0.001235`), not a JSON dump of float reprs."""
    return _text(value)[:2000]


def _text(value: Any) -> str:
    if isinstance(value, dict):
        parts = [f"{k}: {_nested(v)}" for k, v in value.items()]
        return "; ".join(parts) if parts else "none"
    if isinstance(value, list):
        return ", ".join(_nested(v) for v in value) if value else "none"
    return readable(value)


def _nested(value: Any) -> str:
    return f"({_text(value)})" if isinstance(value, dict | list) and value else _text(value)


def to_markdown(doc: dict[str, Any]) -> str:
    lines = [
        f"# Technical documentation: {doc['model']}",
        "",
        f"Generated {doc['generated_at']} by {doc['generated_by']} from recorded data.",
    ]
    for key, title in TITLES.items():
        lines += ["", f"## {title}", ""]
        section = doc[key]
        if key == "6_limitations":
            lines += [f"- {x}" for x in section]
        elif key == "7_changes":
            lines += ["| version | method | created | state |", "|---|---|---|---|"]
            lines += [
                f"| {c['version']} | {c['method']} | {c['created_at'][:19]} | {c['state']} |"
                for c in section
            ]
        elif key == "4_performance":
            lines += _md_performance(section)
        elif key == "5_risk_management":
            lines += _md_checks(section)
        elif key == "3_monitoring_and_control":
            lines += [
                f"- **human oversight**: {section['human_oversight']}",
                f"- **predictions logged**: {section['predictions_logged']}",
                "",
                "| decision | by | reason | checks overridden | at |",
                "|---|---|---|---|---|",
            ]
            lines += [
                f"| {d['decision']} | {d['actor']} | {d['reason']} | "
                f"{'yes' if d['overridden'] else 'no'} | {d['at'][:19]} |"
                for d in section["decisions"]
            ] or ["| none yet | | | | |"]
        else:
            lines += [f"- **{k.replace('_', ' ')}**: {_md_value(v)}" for k, v in section.items()]
    return "\n".join(lines) + "\n"


def _md_performance(p: dict[str, Any]) -> list[str]:
    out = ["| metric | value |", "|---|---|"]
    out += [f"| {k} | {readable(v)} |" for k, v in sorted(p["recorded_metrics"].items())]
    out += ["", f"Acceptance for approval: {_md_value(p['acceptance'])}", ""]
    if not p["benchmarks"]:
        out.append("No `odlar bench` run recorded on this installation.")
    for run in p["benchmarks"]:
        kind = " (--quick: not comparable)" if run["quick"] else ""
        out += [f"### Benchmark {run['dataset']}{kind}", "", f"Protocol: {run['protocol']}", ""]
        out += ["| method | source | metrics |", "|---|---|---|"]
        out += [f"| {r['method']} | odlar | {_md_value(r['metrics'])} |" for r in run["ours"]]
        out += [
            f"| {a.get('method')} | {a.get('source')} | {_md_value(a.get('metrics'))} |"
            for a in run["published"]
        ]
        out.append("")
    return out


def _md_checks(r: dict[str, Any]) -> list[str]:
    last = r["latest_checks"]
    if not last:
        return ["No checks have run on this version yet (they run before approval)."]
    out = [
        f"Latest run {last.get('at', '')[:19]}: {'passed' if last.get('passed') else 'FAILED'}"
        f" ({r['checks_run']} runs in all).",
        "",
        "| check | result | detail |",
        "|---|---|---|",
    ]
    out += [
        f"| {c['name']} | {'pass' if c['passed'] else 'FAIL'} | {c['detail']} |"
        for c in last.get("checks", [])
    ]
    return out


def _inline(text: str) -> str:
    """Markdown's **bold** and `code` in one escaped line, as HTML."""
    import re

    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def to_html(doc: dict[str, Any]) -> str:
    """A self-contained HTML page of the Markdown text (no external assets)."""
    body = []
    in_table = False
    for line in to_markdown(doc).splitlines():
        if line.startswith("|"):
            cells = [_inline(html.escape(c.strip())) for c in line.strip("|").split("|")]
            if set("".join(cells)) <= {"-"}:
                continue
            if not in_table:
                body.append("<table>")
                in_table = True
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        text = _inline(html.escape(line))
        if line.startswith("### "):
            body.append(f"<h3>{text[4:]}</h3>")
        elif line.startswith("## "):
            body.append(f"<h2>{text[3:]}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{text[2:]}</h1>")
        elif line.startswith("- "):
            body.append(f"<p>&bull; {text[2:]}</p>")
        elif line:
            body.append(f"<p>{text}</p>")
    if in_table:
        body.append("</table>")
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "td{border:1px solid #ccc;padding:.2em .5em}table{border-collapse:collapse}"
    )
    title = html.escape(doc["model"])
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{style}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
