"""One settings object for the whole platform, read from ODLAR_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ODLAR_", extra="ignore")

    home: Path = Field(default=Path.home() / ".odlar", description="State: database, models, logs.")
    data: Path | None = Field(default=None, description="Datasets; default $ODLAR_HOME/data.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the store.")
    mlflow_uri: str | None = Field(default=None, description="MLflow tracking URI.")
    ray_address: str | None = Field(
        default=None,
        description="Jobs API of an existing Ray cluster (its head's dashboard, e.g. "
        "http://10.0.0.5:8265): fit jobs and fan-out run there; unset: local processes.",
    )
    ray_gcs: str | None = Field(
        default=None,
        description="The Ray head's GCS address for fan-out tasks (host:port); default: the "
        "host of ODLAR_RAY_ADDRESS, port 6379.",
    )
    ray_python: str = Field(
        default="python",
        description="Python on the Ray nodes that has odlar installed (a job's entrypoint).",
    )
    local_cpus: float | None = Field(
        default=None,
        gt=0,
        description="CPUs that local jobs may hold at once (jobs beyond wait queued); "
        "default: no limit but tenant quotas.",
    )
    pseudonym_key: str | None = Field(
        default=None,
        description="Secret for keyed pseudonyms of personal identifiers; default: a random key "
        "created once in $ODLAR_HOME/pseudonym.key",
    )
    audit_key: str | None = Field(
        default=None,
        description="Secret key of the event log's MAC; default: a random key created once "
        "in $ODLAR_HOME/audit.key (keep a copy apart from the database's backups)",
    )
    require_approval: bool = Field(
        default=True,
        description="Serve only model versions an approver approved (turn off only for "
        "experiments on a private installation).",
    )
    audit_retention_days: int = Field(
        default=183, ge=183, description="Keep event-log records at least this long (6 months)."
    )
    max_failed_sign_ins: int = Field(
        default=5, ge=1, description="Failed sign-ins in a row before a user is locked out."
    )
    lockout_minutes: int = Field(default=15, ge=1, description="How long a lock-out lasts.")
    trusted_proxies: str = Field(
        default="",
        description="Reverse proxies (IP addresses or networks, comma separated) whose "
        "X-Forwarded-For names the client; empty: the header is never believed.",
    )
    max_upload_mb: int = Field(
        default=512,
        ge=1,
        description="Largest upload (and request body) in MB; a compressed upload counts "
        "at its decompressed size.",
    )
    max_header_kb: int = Field(
        default=64, ge=1, description="Largest request head (request line and headers) in KB."
    )
    serve_threads: int = Field(
        default=1,
        ge=1,
        description="Threads each server worker's math libraries (OpenMP, BLAS, torch) use.",
    )
    job_threads: int = Field(
        default=2, ge=1, description="Threads each fit job's math libraries use."
    )
    rul_red: float = Field(
        default=30, gt=0,
        description="Fleet RUL chart: a unit whose interval's lower end is at or below this "
        "many cycles is red (maintain now).",
    )  # fmt: skip
    rul_amber: float = Field(
        default=60, gt=0,
        description="Fleet RUL chart: at or below this many cycles (above red), amber (plan "
        "maintenance); above, green.",
    )  # fmt: skip
    host: str = "127.0.0.1"
    port: int = 8000

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def data_dir(self) -> Path:
        return (self.data or self.home / "data").expanduser()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home.expanduser() / 'odlar.db'}"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_uri or f"sqlite:///{self.home.expanduser() / 'mlflow.db'}"

    @property
    def ray_gcs_address(self) -> str | None:
        if self.ray_gcs or not self.ray_address:
            return self.ray_gcs
        from urllib.parse import urlsplit

        return f"{urlsplit(self.ray_address).hostname}:6379"

    @property
    def artifacts_dir(self) -> Path:
        return self.home.expanduser() / "artifacts"

    @property
    def jobs_dir(self) -> Path:
        return self.home.expanduser() / "jobs"

    @property
    def scenarios_dir(self) -> Path:
        """Traffic scenarios made by `odlar mobility import`: data, though under home."""
        return self.home.expanduser() / "scenarios"

    @property
    def uploads_dir(self) -> Path:
        return self.home.expanduser() / "datasets"

    def ensure_dirs(self) -> None:
        for d in (self.home.expanduser(), self.artifacts_dir, self.jobs_dir, self.uploads_dir):
            d.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    settings = Settings()
    settings.ensure_dirs()
    return settings


def reset_settings() -> None:
    """Forget cached settings (tests change ODLAR_* between cases)."""
    get_settings.cache_clear()
