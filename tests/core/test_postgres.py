"""The store on a real PostgreSQL server (CI starts one; set ODLAR_TEST_POSTGRES_URL)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

URL = os.environ.get("ODLAR_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not URL, reason="ODLAR_TEST_POSTGRES_URL not set")


@pytest.fixture
def pg_url(home: Path, monkeypatch: pytest.MonkeyPatch):
    from odlar.core import config, store

    name = f"odlar_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = URL.rsplit("/", 1)[0] + "/" + name
    monkeypatch.setenv("ODLAR_DATABASE_URL", url)
    config.reset_settings()
    store.reset_store()
    yield url
    store.get_engine(url).dispose()
    store.reset_store()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


def test_store_works_on_postgresql(pg_url: str, cmapss: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from odlar.core import jobs
    from odlar.core.datasets import list_datasets, save_upload
    from odlar.core.store import Base, get_engine
    from odlar.governance.accounts import authenticate, create_token, create_user

    engine = get_engine()
    assert engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []

    create_user("pg", "operator", tenant="default", actor="test")
    token = create_token("pg", actor="test")
    assert authenticate(token).name == "pg"
    spec = jobs.FitSpec(
        task="energy.rul",
        data=str(cmapss / "train_FD001.txt"),
        method="gbm",
        params={"folds": 2, "max_iter": 10, "cuts_per_unit": 1},
    )
    done = jobs.run(jobs.create(spec).id)
    assert done.state == "succeeded" and jobs.get(done.id).result["model"]["version"] == 1
    save_upload("energy.rul", "test.txt", (cmapss / "test_FD001.txt").read_bytes())
    assert list_datasets()[0]["summary"]["units"] == 100
