"""Runs, artifacts and model versions in MLflow (embedded: SQLite + files under $ODLAR_HOME).

Each trained model is one MLflow run with its params, metrics and data provenance, logged
as a pyfunc model and registered as a version of the registered model named after its task
(``TENANT~TASK`` outside the default tenant: tenants never share a registered model). A
version serves only once approved (``odlar.governance.approval``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

from odlar import __version__
from odlar.core.config import get_settings
from odlar.core.errors import Conflict, NotFound
from odlar.core.privacy import tenant_scope
from odlar.core.store import DEFAULT_TENANT
from odlar.core.tasks import Dataset

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import mlflow  # noqa: E402  (environment first: telemetry off before import)
from mlflow.tracking import MlflowClient  # noqa: E402

# MLflow logs "Created version ..." at INFO on stderr; odlar reports versions itself.
logging.getLogger("mlflow").setLevel(logging.WARNING)

_lock = threading.Lock()
_configured: str | None = None


# MLflow forces a warning about predict's type hints onto stderr when a PythonModel class
# is created (its own filter overrides ours); nothing in it applies to odlar's models.
with contextlib.redirect_stderr(io.StringIO()):

    class OdlarPyfunc(mlflow.pyfunc.PythonModel):
        """pyfunc wrapper so MLflow can load any odlar model; the model is a joblib file."""

        def load_context(self, context: Any) -> None:
            payload = joblib.load(context.artifacts["model"])
            self.task_name: str = payload["task"]
            self.model: Any = payload["model"]

        def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201
            """A task request (dict) in, the task's response (dict) out."""
            from odlar.core.tasks import get_task

            task = get_task(self.task_name)
            request = task.Request.model_validate(model_input)
            return task.predict(self.model, request).model_dump()


@dataclass
class ModelVersion:
    task: str
    version: int
    run_id: str
    created_at: datetime
    method: str
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    job_id: str | None = None
    tenant: str = DEFAULT_TENANT
    created_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        from odlar.core.tasks import get_task

        risk = get_task(self.task).risk
        return {
            "task": self.task,
            "tenant": self.tenant,
            "risk": {"tier": risk.tier.value, "reason": risk.reason},
            "version": self.version,
            "run_id": self.run_id,
            "created_at": self.created_at.isoformat(),
            "method": self.method,
            "metrics": self.metrics,
            "params": self.params,
            "data": self.data,
            "job_id": self.job_id,
            "created_by": self.created_by,
        }


def data_summary(mv: ModelVersion) -> dict[str, Any]:
    """The training data's summary logged with the run ({} if the run has none)."""
    client = _configure()
    try:
        uri = client.get_run(mv.run_id).info.artifact_uri
        return dict(mlflow.artifacts.load_dict(f"{uri}/data_summary.json"))
    except (mlflow.exceptions.MlflowException, OSError):
        return {}


def warm() -> None:
    """Configure MLflow and touch its registry once (its first query is slow)."""
    _configure().search_registered_models(max_results=1)


def registry_name(task: str, tenant: str) -> str:
    return task if tenant == DEFAULT_TENANT else f"{tenant}~{task}"


def _configure() -> MlflowClient:
    global _configured
    uri = get_settings().tracking_uri
    with _lock:
        if _configured != uri:
            mlflow.set_tracking_uri(uri)
            mlflow.set_registry_uri(uri)
            _configured = uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _experiment_id(client: MlflowClient, task: str) -> str:
    exp = client.get_experiment_by_name(task)
    if exp is not None:
        return exp.experiment_id
    location = (get_settings().artifacts_dir / task).as_uri()
    return client.create_experiment(task, artifact_location=location)


def log_model_version(
    task: str,
    model: Any,
    *,
    method: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    data: Dataset,
    tenant: str = DEFAULT_TENANT,
    job_id: str | None = None,
    created_by: str | None = None,
) -> ModelVersion:
    """Record one trained model as an MLflow run and register it as a new version."""
    client = _configure()
    name = registry_name(task, tenant)
    exp_id = _experiment_id(client, name)
    tags = {
        "odlar.task": task,
        "odlar.tenant": tenant,
        "odlar.method": method,
        "odlar.data.source": data.source,
        "odlar.data.sha256": data.sha256,
        "odlar.data.rows": str(data.rows),
        "odlar.version": __version__,
    }
    if job_id:
        tags["odlar.job_id"] = job_id
    if created_by:
        tags["odlar.created_by"] = created_by
    with mlflow.start_run(experiment_id=exp_id, tags=tags):
        try:
            mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
            mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
            mlflow.log_dict(data.summary, "data_summary.json")
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "model.joblib"
                joblib.dump({"task": task, "model": model}, path)
                info = mlflow.pyfunc.log_model(
                    name="model",
                    python_model=OdlarPyfunc(),
                    artifacts={"model": str(path)},
                    pip_requirements=[f"odlar=={__version__}"],
                    registered_model_name=name,
                )
        except BaseException as exc:
            if not isinstance(exc, Exception):  # stopped (signal, Ctrl-C), not failed
                mlflow.end_run("KILLED")
            raise  # an Exception: MLflow's own exit marks the run FAILED
    return get_version(task, int(info.registered_model_version), tenant=tenant)


def end_job_runs(job_id: str, status: str) -> list[str]:
    """End the runs of a job still RUNNING in MLflow with `status` (FAILED or KILLED): a
    job whose process died cannot end them itself. Returns their run ids."""
    if not job_id.isalnum():  # ids are hex: nothing to quote in the filter
        raise ValueError(f"bad job id {job_id!r}")
    client = _configure()
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return []
    runs = client.search_runs(
        experiments,
        filter_string=f"tags.`odlar.job_id` = '{job_id}' and attributes.status = 'RUNNING'",
    )
    for run in runs:
        client.set_terminated(run.info.run_id, status)
    return [run.info.run_id for run in runs]


def _to_version(client: MlflowClient, mv: Any) -> ModelVersion:
    run = client.get_run(mv.run_id)
    tags = run.data.tags
    return ModelVersion(
        task=tags.get("odlar.task", mv.name),
        tenant=tags.get("odlar.tenant", DEFAULT_TENANT),
        created_by=tags.get("odlar.created_by"),
        version=int(mv.version),
        run_id=mv.run_id,
        created_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=UTC),
        method=tags.get("odlar.method", ""),
        metrics=dict(run.data.metrics),
        params=dict(run.data.params),
        data={
            "source": tags.get("odlar.data.source"),
            "sha256": tags.get("odlar.data.sha256"),
            "rows": int(tags.get("odlar.data.rows", 0)),
        },
        job_id=tags.get("odlar.job_id"),
    )


def list_versions(task: str | None = None, *, tenant: str = DEFAULT_TENANT) -> list[ModelVersion]:
    """The tenant's versions, of one task or of all."""
    from odlar.core.tasks import task_names

    client = _configure()
    out = []
    for name in [task] if task else task_names():
        versions = client.search_model_versions(f"name='{registry_name(name, tenant)}'")
        out += [_to_version(client, mv) for mv in versions]
    return sorted(out, key=lambda v: (v.task, v.version))


def get_version(
    task: str, version: int | None = None, *, tenant: str = DEFAULT_TENANT
) -> ModelVersion:
    """One version of the tenant's, or its newest when `version` is None."""
    client = _configure()
    name = registry_name(task, tenant)
    if version is None:
        versions = client.search_model_versions(f"name='{name}'")
        if not versions:
            raise NotFound(f"task '{task}' has no trained model yet (run: odlar fit {task})")
        mv = max(versions, key=lambda v: int(v.version))
    else:
        try:
            mv = client.get_model_version(name, str(version))
        except mlflow.exceptions.MlflowException:
            raise NotFound(f"task '{task}' has no model version {version}") from None
    return _to_version(client, mv)


_cache: dict[tuple[str, str, str, int], Any] = {}


def serving_version(task: str, version: int | None, *, tenant: str) -> int:
    """The version that may serve: the one asked for if approved, else the newest approved
    (any version when approval is switched off)."""
    from odlar.governance import approval

    if not get_settings().require_approval:
        return get_version(task, version, tenant=tenant).version
    if version is not None:
        state = approval.state(tenant, task, version)
        if state != "approved":
            get_version(task, version, tenant=tenant)  # 404 first for a version that never was
            raise Conflict(
                f"model version {version} of {task} is {state}, not approved: it does not "
                f"serve (an approver runs: odlar models approve {task} {version})"
            )
        return version
    decided = approval.states(tenant, task)
    approved = [v for v, d in decided.items() if d == "approved"]
    if not approved:
        get_version(task, None, tenant=tenant)  # 404 when nothing was trained at all
        revoked = sorted(v for v, d in decided.items() if d == "revoked")
        # say so when serving stopped because of a revocation, not for lack of an approval
        why = f" (revoked: version {', '.join(map(str, revoked))})" if revoked else ""
        raise Conflict(
            f"no approved model version of {task}{why}: an approver must approve one first "
            f"(odlar models list {task}; odlar models approve {task} VERSION)"
        )
    return max(approved)


def load_version(task: str, version: int, *, tenant: str) -> tuple[ModelVersion, Any]:
    """Any version's model object, approved or not (for checks and documentation), cached
    per process."""
    key = (get_settings().tracking_uri, tenant, task, version)
    with _lock:
        cached = _cache.get(key)
    if cached is None:
        mv = get_version(task, version, tenant=tenant)
        _configure()
        pyfunc = mlflow.pyfunc.load_model(f"models:/{registry_name(task, tenant)}/{version}")
        cached = (mv, pyfunc.unwrap_python_model().model)
        with _lock:
            _cache[key] = cached
    return cached


def is_loaded(task: str, version: int, *, tenant: str) -> bool:
    """Whether this process holds the version's model already (loading takes seconds)."""
    with _lock:
        return (get_settings().tracking_uri, tenant, task, version) in _cache


def load_model(
    task: str, version: int | None = None, *, tenant: str = DEFAULT_TENANT
) -> tuple[ModelVersion, Any]:
    """The model object of a version that may serve (newest approved by default); the
    approval is read on every call, so a revocation acts at once."""
    return load_version(task, serving_version(task, version, tenant=tenant), tenant=tenant)


def predict(
    task: Any,
    request: Any,
    *,
    tenant: str = DEFAULT_TENANT,
    actor: str,
    serving: int | None = None,
) -> Any:
    """Answer a task's request with the version it names (newest approved by default),
    stamping the version used on the response, and log the prediction (model version,
    input digest, output): the one path the CLI and the API both serve through.
    `serving`: the version `serving_version` just gave for this request, if the caller
    asked already."""
    from odlar.governance import audit

    if serving is None:
        serving = serving_version(task.name, getattr(request, "model_version", None), tenant=tenant)
    mv, model = load_version(task.name, serving, tenant=tenant)
    with tenant_scope(tenant):  # people in the response carry the tenant's own pseudonyms
        response = task.predict(model, request)
    response = response.model_copy(update={"model_version": mv.version})
    audit.record(
        tenant=tenant, actor=actor, action="predict", target=task.name,
        model_version=f"{task.name}/{mv.version}",
        # pydantic's JSON (fields in schema order): fast, and the same request always
        # gives the same digest
        input_digest=audit.digest(request.model_dump_json().encode()),
        output=response.model_dump_json(),
    )  # fmt: skip
    return response
