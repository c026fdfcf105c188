"""The data-center console page (under /ui): the cluster's GPUs at a chosen point of a
replay (allocation and fragmentation per node), the policies' allocation curves side by
side, the recorded bench beside the FGD authors' figures, and a placement form that asks
the serving policy where a pod goes on that cluster, and shows why.

Reading is `read`; placing a pod is a prediction (`operate`), through the serving gate
exactly as `POST /api/v1/tasks/datacenter.scheduling/predict`."""

from __future__ import annotations

import json
import threading
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from odlar.core import audit, bench, datasets
from odlar.core.config import get_settings
from odlar.core.errors import DataError, OdlarError, UsageError
from odlar.core.tasks import get_task
from odlar.governance import serving
from odlar.governance.roles import Permission as P
from odlar.governance.roles import can
from odlar.web.console import chart, data_source, need, principal_of, render

router = APIRouter()
TASK = "datacenter.scheduling"
DEFAULT_COMPARE = "random,bestfit,fgd"
PAGE = "datacenter/cluster.html"
SCENE = "datacenter/scene.html"


def _trace_folder() -> str:
    return get_task(TASK).bench_data  # datacenter/alibaba-gpu-v2023/csv under ODLAR_DATA


def _default_pods() -> str:
    return f"{_trace_folder()}/openb_pod_list_default.csv"


def _number(text: str, name: str, lo: float, hi: float, whole: bool = False) -> float:
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise UsageError(f"{name} '{text[:40]}' is not {kind}") from None
    if not lo <= value <= hi:
        raise UsageError(f"{name} {value:g} must be between {lo:g} and {hi:g}")
    return value


def _policies(text: str) -> tuple[str, ...]:
    from odlar.datacenter.policies import METHODS

    chosen = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    unknown = [p for p in chosen if p not in METHODS]
    if unknown or not chosen:
        raise UsageError(
            f"unknown policy {', '.join(unknown) or '(none given)'} (known: {', '.join(METHODS)})"
        )
    return chosen[:7]


def _choices(me: Any) -> list[tuple[str, str]]:
    """Pod lists to choose from: the trace's under ODLAR_DATA, then the tenant's uploads."""
    from odlar.datacenter.views import pod_lists

    folder = _trace_folder()
    out = [(f"{folder}/{n}", n) for n in pod_lists(get_settings().data_dir / folder)]
    out += [(d["id"], f"{d['name']} (uploaded)") for d in datasets.list_datasets(tenant=me.tenant)
            if d["task"] == TASK]  # fmt: skip
    return out


_SCENES: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


def _scene(me: Any, form: dict[str, str], replay: bool = True) -> dict[str, Any] | None:
    """The replays the page draws, once per trace, policies, percent and seed in a process
    (a full replay takes seconds; the page is opened far more often than traces change).
    Every input is checked first; without `replay`, None when they are not kept yet (the
    page then loads them from `/ui/datacenter/scene` once it shows)."""
    from odlar.datacenter import views

    source = data_source(me, form["pods"])  # first: nothing else is said of a refused ref
    percent = _number(form["percent"], "percent", 1, 130)
    seed = int(_number(form["seed"], "seed", 0, 2**31 - 1, whole=True))
    policy = _policies(form["policy"])[0]
    compare = _policies(form["compare"])
    data = get_task(TASK).load(source)
    methods = tuple(dict.fromkeys((policy, *compare)))
    key = (data.sha256, methods, percent, seed)
    with _LOCK:
        replays = _SCENES.get(key)
    if replays is None and not replay:
        return None
    if replays is None:  # two first requests may both replay: the same result, kept once
        replays = views.scene(data.frame.cluster, data.frame.workload, methods, percent, seed)
        with _LOCK:
            if len(_SCENES) >= 16:
                _SCENES.pop(next(iter(_SCENES)))
            _SCENES[key] = replays
    cluster = data.frame.cluster
    snap = replays[policy].snapshot
    rows = views.node_rows(cluster, snap)
    return {
        "cluster": cluster, "snapshot": snap, "policy": policy, "percent": percent,
        "replays": replays, "summary": views.summary(cluster, snap),
        "fragmented": sorted(rows, key=lambda r: -r["frag_milli"])[:10],
        "heat": chart(_heat_map(rows, policy, percent)),
        "curves": chart(_curves({m: r.curve() for m, r in replays.items()}, percent)),
        "trace": data.summary,
    }  # fmt: skip


def _form(**given: str) -> dict[str, str]:
    defaults = {"pods": _default_pods(), "policy": "fgd", "percent": "90", "seed": "42",
                "compare": DEFAULT_COMPARE, "cpu_milli": "4000", "memory_mib": "16384",
                "num_gpu": "1", "gpu_milli": "500", "gpu_spec": "",
                "model_version": ""}  # fmt: skip
    return defaults | {k: v for k, v in given.items() if v is not None}


def _context(me: Any, form: dict[str, str]) -> dict[str, Any]:
    from odlar.datacenter import views
    from odlar.datacenter.policies import AUTHOR_NAMES

    run = next((r for r in bench.recorded(TASK) if str(r.get("dataset", "")).startswith(
        "alibaba-gpu-v2023")), None)  # fmt: skip
    policies, rows = views.bench_rows(run)
    from odlar.datacenter.policies import METHODS

    return {"form": form, "choices": _choices(me), "methods": METHODS, "bench_run": run,
            "bench_policies": policies,
            "bench_rows": rows, "author_names": AUTHOR_NAMES,
            "placements": _placements(me)}  # fmt: skip


@router.get("/datacenter", response_class=HTMLResponse)
def cluster_page(
    request: Request, pods: str | None = None, policy: str | None = None,
    percent: str | None = None, seed: str | None = None, compare: str | None = None,
) -> HTMLResponse:  # fmt: skip
    """The cluster under one policy at a percent of arrived workload; the curves of the
    policies compared; the bench; the placement form (operators)."""
    me = principal_of(request)
    form = _form(pods=pods, policy=policy, percent=percent, seed=seed, compare=compare)  # type: ignore[arg-type]
    context = _context(me, form)
    try:  # inputs checked now; replays not yet kept come in after the page shows
        context |= _scene(me, form, replay=False) or {"pending": True}
    except OdlarError as exc:
        return render(request, PAGE, me, exc.http_status, error=exc.message, **context)
    return render(request, PAGE, me, **context)


@router.get("/datacenter/scene", response_class=HTMLResponse)
def cluster_scene(
    request: Request, pods: str | None = None, policy: str | None = None,
    percent: str | None = None, seed: str | None = None, compare: str | None = None,
) -> HTMLResponse:  # fmt: skip
    """The cluster section alone, replayed (seconds) and kept: htmx loads it into the page."""
    me = principal_of(request)
    form = _form(pods=pods, policy=policy, percent=percent, seed=seed, compare=compare)  # type: ignore[arg-type]
    return render(request, SCENE, me, form=form, **(_scene(me, form) or {}))


@router.post("/datacenter/place", response_class=HTMLResponse)
def place(
    request: Request,
    pods: str = Form(..., max_length=1000), policy: str = Form("fgd", max_length=100),
    percent: str = Form("100", max_length=20), seed: str = Form("42", max_length=20),
    compare: str = Form(DEFAULT_COMPARE, max_length=200),
    cpu_milli: str = Form("", max_length=20), memory_mib: str = Form("", max_length=20),
    num_gpu: str = Form("0", max_length=20), gpu_milli: str = Form("0", max_length=20),
    gpu_spec: str = Form("", max_length=1000), model_version: str = Form("", max_length=20),
) -> HTMLResponse:  # fmt: skip
    """Ask the serving policy where a pod goes on the cluster the page shows."""
    me = need(principal_of(request), P.OPERATE)
    form = _form(pods=pods, policy=policy, percent=percent, seed=seed, compare=compare,
                 cpu_milli=cpu_milli, memory_mib=memory_mib, num_gpu=num_gpu,
                 gpu_milli=gpu_milli, gpu_spec=gpu_spec, model_version=model_version)  # fmt: skip
    context = _context(me, form)
    try:
        context |= _scene(me, form)
        context["placed"] = _place(me, form, context)
        context["placements"] = _placements(me)
    except OdlarError as exc:
        return render(request, PAGE, me, exc.http_status, error=exc.message, **context)
    return render(request, PAGE, me, **context)


def _place(me: Any, form: dict[str, str], scene: dict[str, Any]) -> dict[str, Any]:
    from odlar.datacenter import views
    from odlar.datacenter.placement import PendingPod

    fields = {k: form[k] for k in ("cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec")}
    try:
        pod = PendingPod.model_validate({"name": "console-pod", **fields})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise DataError(first["msg"], field=f"pod.{where}") from None
    version = (
        int(_number(form["model_version"], "model version", 1, 10**9, whole=True))
        if form["model_version"].strip()
        else None
    )
    req = views.request_at(scene["cluster"], scene["snapshot"], pod)
    req = req.model_copy(update={"model_version": version})
    answer = serving.predict(get_task(TASK), req, tenant=me.tenant, actor=me.name)
    return {"answer": answer, **views.explain(answer, req)}


def _placements(me: Any, limit: int = 10) -> list[dict[str, Any]] | None:
    """The tenant's latest placements from its event log: for those who may read the log
    (as `GET /api/v1/audit/events`), None for others."""
    if not can(me.role, P.AUDIT):
        return None
    events = audit.events(me.tenant, action="predict", newest_first=True, limit=500)
    out = []
    for e in events:
        if e["target"] != TASK:
            continue
        try:
            record = json.loads(e["output"]) if e["output"] else {}
        except json.JSONDecodeError:
            record = {}
        if not isinstance(record, dict):  # a record kept as a bare digest
            record = {}
        out.append({"seq": e["seq"], "at": e["at"], "actor": e["actor"],
                    "version": e["model_version"], **record})  # fmt: skip
        if len(out) >= limit:
            break
    return out


def _heat_map(rows: list[dict[str, Any]], policy: str, percent: float) -> dict[str, Any]:
    """GPUs as cells (x: nodes grouped by GPU model; y: device index), coloured by the
    milli-GPU allocated, and each node's fragmented milli-GPU below."""
    rows = sorted((r for r in rows if r["gpus"]), key=lambda r: (r["model"], r["node"]))
    width = max((r["gpus"] for r in rows), default=1)
    names = [r["node"] for r in rows]
    z = [[1000 - r["gpu_free"][g] if g < r["gpus"] else None for r in rows] for g in range(width)]
    text = [f"{r['node']} ({r['model']})" for r in rows]
    return {
        "data": [
            {"type": "heatmap", "x": names, "y": [f"GPU {g}" for g in range(width)], "z": z,
             "zmin": 0, "zmax": 1000, "colorscale": [[0, "#eaf2f8"], [1, "#1a5276"]],
             "xaxis": "x", "yaxis": "y",
             "colorbar": {"title": {"text": "milli-GPU<br>allocated"}, "len": 0.6, "y": 0.7},
             "hovertemplate": "%{x}<br>%{y}: %{z} milli-GPU allocated<extra></extra>",
             "customdata": text},
            {"type": "bar", "x": names, "y": [r["frag_milli"] for r in rows], "xaxis": "x2",
             "yaxis": "y2", "marker": {"color": "#b03a2e"}, "name": "fragmented",
             "hovertemplate": "%{x}: %{y} milli-GPU fragmented<extra></extra>"},
        ],
        "layout": {
            "title": {"text": f"{len(rows)} GPU nodes under {policy} at {percent:g}% of "
                              "arrived GPU demand"},
            "height": 520, "showlegend": False,
            "grid": {"rows": 2, "columns": 1, "pattern": "independent",
                     "roworder": "top to bottom"},
            "xaxis": {"showticklabels": False, "title": {"text": "nodes, grouped by GPU model"}},
            "yaxis": {"autorange": "reversed"},
            "xaxis2": {"showticklabels": False, "matches": "x"},
            "yaxis2": {"title": {"text": "fragmented<br>milli-GPU"}, "rangemode": "tozero"},
        },
    }  # fmt: skip


def _curves(curves: dict[str, dict[int, float]], percent: float) -> dict[str, Any]:
    data = []
    for m, c in curves.items():
        xs = sorted(c)
        data.append({"type": "scatter", "mode": "lines", "name": m, "x": xs,
                     "y": [round(c[x], 2) for x in xs]})  # fmt: skip
    return {
        "data": data,
        "layout": {
            "title": {"text": "Share of GPUs allocated as workload arrives (one seed)"},
            "height": 420,
            "xaxis": {"title": {"text": "arrived GPU demand, % of capacity"}},
            "yaxis": {"title": {"text": "GPU allocated, % of capacity"}},
            "shapes": [{"type": "line", "x0": percent, "x1": percent, "y0": 0, "y1": 1,
                        "yref": "paper", "line": {"dash": "dot", "color": "#5d6d7e"}}],
        },
    }  # fmt: skip
