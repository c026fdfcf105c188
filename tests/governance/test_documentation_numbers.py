"""Model documentation in Markdown reads as a document: numbers formatted for people
(counts with thousands separators, 4 significant digits), not float reprs or JSON dumps."""

from __future__ import annotations

from pathlib import Path

from odlar.core.figures import readable
from odlar.core.tasks import Dataset


def test_markdown_documentation_numbers_are_readable(home: Path) -> None:
    from odlar.core import tracking
    from odlar.governance import documentation

    data = Dataset(frame=None, source="train.csv", sha256="0" * 64, rows=20631,
                   summary={"units": 100, "cycles_mean": 206.31234})  # fmt: skip
    tracking.log_model_version(
        "energy.rul", {"w": 1}, method="gbm",
        params={"lr": 0.001234567, "max_iter": 20000, "cap": 125.0}, data=data,
        metrics={"val_score": 2431.123, "val_rmse": 15.4321, "interactions": 123456.0},
    )  # fmt: skip
    md = documentation.to_markdown(documentation.build("energy.rul", 1, tenant="default"))
    assert "| val_score | 2,431 |" in md and "| interactions | 123,456 |" in md
    assert "| val_rmse | 15.43 |" in md
    assert "lr: 0.001235; max_iter: 20,000; cap: 125" in md  # MLflow keeps params as text
    assert "rows: 20,631" in md and "cycles_mean: 206.3" in md
    assert "0" * 64 in md, "a digest stays as it is"
    assert "e+0" not in md and "0.001234567" not in md and "15.4321" not in md
    assert '{"' not in md, "no JSON dumps in the document"


def test_readable() -> None:
    assert [readable(x) for x in (20631, 2431.123, 15.4321, 125.0, 0.5, True, "0042", "7")] == [
        "20,631", "2,431", "15.43", "125", "0.5", "True", "0042", "7",
    ]  # fmt: skip
    assert readable(float("nan")) == "nan" and readable("abc") == "abc"
