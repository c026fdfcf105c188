"""`odlar bench energy.faults --dataset {tep,skab,3w}`: the published protocols of
BENCHMARKS.md sections 2 to 4, our detectors beside the published figures. One module per
dataset: bench_tep.py, bench_skab.py, bench_3w.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from odlar.core.errors import UsageError
from odlar.core.tasks import BenchResult, Progress, only
from odlar.energy.faults.bench_3w import W3_ANCHORS, W3_METHODS, run_3w
from odlar.energy.faults.bench_skab import SKAB_ANCHORS, SKAB_METHODS, run_skab
from odlar.energy.faults.bench_tep import TEP_ANCHORS, TEP_METHODS, run_tep

DATASETS = ("tep", "skab", "3w")
ALL_ANCHORS = [*TEP_ANCHORS, *SKAB_ANCHORS, *W3_ANCHORS]


def run(
    task: Any,
    data_dir: Path,
    dataset: str,
    *,
    quick: bool,
    progress: Progress,
    methods: tuple[str, ...] | None = None,
) -> BenchResult:
    def pick(rows: list[tuple[str, str, dict[str, Any]]]) -> list[tuple[str, str, dict[str, Any]]]:
        return only(rows, methods, lambda r: r[1])

    if dataset == "tep":
        return run_tep(task, data_dir, quick=quick, progress=progress, runs=pick(TEP_METHODS))
    if dataset == "skab":
        return run_skab(data_dir, quick=quick, progress=progress, runs=pick(SKAB_METHODS))
    if dataset == "3w":
        return run_3w(data_dir, quick=quick, progress=progress, runs=pick(W3_METHODS))
    raise UsageError(f"unknown benchmark '{dataset}' (known: {', '.join(DATASETS)})")
