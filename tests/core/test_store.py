"""The store: Alembic migrations own the schema and match the models."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from odlar.core.store import Base, migrate


def test_migrations_create_the_schema_the_models_describe(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    migrate(url)
    migrate(url)  # idempotent
    engine = create_engine(url)
    assert {"api_tokens", "datasets", "jobs", "alembic_version"} <= set(
        inspect(engine).get_table_names()
    )
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models changed without a migration: {diff}"


def test_any_sqlalchemy_url(home: Path, tmp_path: Path, monkeypatch) -> None:
    from odlar.core import config, store
    from odlar.core.jobs import FitSpec, create, list_jobs

    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setenv("ODLAR_DATABASE_URL", url)
    config.reset_settings()
    store.reset_store()
    job = create(FitSpec(task="energy.rul", data="energy/cmapss/train_FD001.txt"))
    assert (tmp_path / "elsewhere.db").exists()
    assert job.spec["method"] == "sequence"
    assert [j.id for j in list_jobs()] == [job.id]
