"""Runs, artifacts and model versions in MLflow (embedded: SQLite + files under $ODLAR_HOME).

Each trained model is one MLflow run with its params, metrics and data provenance, logged
as a pyfunc model and registered as a version of the registered model named after its task.
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
from odlar.core.errors import NotFound
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "version": self.version,
            "run_id": self.run_id,
            "created_at": self.created_at.isoformat(),
            "method": self.method,
            "metrics": self.metrics,
            "params": self.params,
            "data": self.data,
            "job_id": self.job_id,
        }


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
    job_id: str | None = None,
) -> ModelVersion:
    """Record one trained model as an MLflow run and register it as a new version."""
    client = _configure()
    exp_id = _experiment_id(client, task)
    tags = {
        "odlar.task": task,
        "odlar.method": method,
        "odlar.data.source": data.source,
        "odlar.data.sha256": data.sha256,
        "odlar.data.rows": str(data.rows),
        "odlar.version": __version__,
    }
    if job_id:
        tags["odlar.job_id"] = job_id
    with mlflow.start_run(experiment_id=exp_id, tags=tags):
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
                registered_model_name=task,
            )
    return get_version(task, int(info.registered_model_version))


def _to_version(client: MlflowClient, mv: Any) -> ModelVersion:
    run = client.get_run(mv.run_id)
    tags = run.data.tags
    return ModelVersion(
        task=mv.name,
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


def list_versions(task: str | None = None) -> list[ModelVersion]:
    client = _configure()
    query = f"name='{task}'" if task else ""
    versions = client.search_model_versions(query) if query else client.search_model_versions()
    out = [_to_version(client, mv) for mv in versions]
    return sorted(out, key=lambda v: (v.task, v.version))


def get_version(task: str, version: int | None = None) -> ModelVersion:
    """One version, or the newest when `version` is None."""
    client = _configure()
    if version is None:
        versions = client.search_model_versions(f"name='{task}'")
        if not versions:
            raise NotFound(f"task '{task}' has no trained model yet (run: odlar fit {task})")
        mv = max(versions, key=lambda v: int(v.version))
    else:
        try:
            mv = client.get_model_version(task, str(version))
        except mlflow.exceptions.MlflowException:
            raise NotFound(f"task '{task}' has no model version {version}") from None
    return _to_version(client, mv)


_cache: dict[tuple[str, str, int], Any] = {}


def load_model(task: str, version: int | None = None) -> tuple[ModelVersion, Any]:
    """The model object of a version (newest by default), cached per process."""
    mv = get_version(task, version)
    key = (get_settings().tracking_uri, task, mv.version)
    with _lock:
        cached = _cache.get(key)
    if cached is None:
        _configure()
        pyfunc = mlflow.pyfunc.load_model(f"models:/{task}/{mv.version}")
        cached = pyfunc.unwrap_python_model().model
        with _lock:
            _cache[key] = cached
    return mv, cached


def predict(task: Any, request: Any) -> Any:
    """Answer a task's request with the version it names (newest by default), stamping the
    version used on the response: the one path the CLI and the API both serve through."""
    mv, model = load_model(task.name, getattr(request, "model_version", None))
    return task.predict(model, request).model_copy(update={"model_version": mv.version})
