"""Runs, artifacts and model versions in MLflow (embedded: SQLite + files under $ODLAR_HOME).

Each trained model is one MLflow run with its params, metrics and data provenance, logged
as a pyfunc model and registered as a version of the registered model named after its task
(``TENANT~TASK`` outside the default tenant: tenants never share a registered model). A
version serves only once approved (``odlar.governance.approval``).
"""

from __future__ import annotations

import contextlib
import gc
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
from odlar.core.errors import NotFound
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
            from odlar.core.sectors import install_moved_modules

            install_moved_modules()  # models stored before a module was renamed
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
            with _first_use(uri):  # MLflow creates and migrates its tables on first use
                client = MlflowClient(tracking_uri=uri, registry_uri=uri)
                client.search_experiments(max_results=1)
                client.search_registered_models(max_results=1)
            _configured = uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@contextlib.contextmanager
def _first_use(uri: str) -> Any:
    """One process at a time past MLflow's schema set-up of a SQLite store: two jobs
    starting at once on a fresh store both ran its migrations, and one failed with
    "duplicate column name" (seen in `odlar bench compute`)."""
    if not uri.startswith("sqlite:///"):
        yield  # a server database: MLflow's own migrations take its locks
        return
    import fcntl

    with open(uri.removeprefix("sqlite:///") + ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


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
                with _quiet():
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


@contextlib.contextmanager
def _quiet() -> Any:
    """Silence MLflow's own stream while a version is logged: it prints "Successfully
    registered model" and "Created version" (odlar reports the version itself) and warns
    that the pyfunc wrapper is pickled (the wrapper is odlar's own class; the model itself is
    a joblib file). Failures still raise."""
    from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM

    before = MLFLOW_LOGGING_STREAM.enabled
    MLFLOW_LOGGING_STREAM.enabled = False
    try:
        yield
    finally:
        MLFLOW_LOGGING_STREAM.enabled = before


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
        # The model and what loading it imported stay for the process's life: out of the
        # collector's full passes too, as a server's start-up objects are (each pass over
        # them stalled a request by 15-20 ms, the 99th percentile of a city's requests).
        gc.freeze()
    return cached


def is_loaded(task: str, version: int, *, tenant: str) -> bool:
    """Whether this process holds the version's model already (loading takes seconds)."""
    with _lock:
        return (get_settings().tracking_uri, tenant, task, version) in _cache
