"""The benchmark registry: one entry per task (or platform target) and dataset.

Each entry names its data folder and the protocol settings `--param` may give, and runs
with one argument, a `BenchRun`; so no task repeats a `bench(...)` signature and nothing
probes one. A sector registers its benchmarks where it registers its tasks (the task
module, imported on discovery); the platform's own targets (governance, console,
compute) register from the layer that owns them. The run functions import their heavy
dependencies when called, so registering stays light::

    @benchmark("energy.rul", "FD001", folder="energy/cmapss")
    def _fd001(run: BenchRun) -> BenchResult:
        from odlar.energy.rul import bench
        return bench.run(run.data_dir, quick=run.quick, progress=run.progress)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odlar.core.errors import NotFound, UsageError
from odlar.core.tasks import BenchResult, Progress, no_progress, only


@dataclass(frozen=True)
class BenchRun:
    """What every benchmark is given."""

    data_dir: Path  # its data folder (Path() when the data ship in a package)
    quick: bool = False  # small and fast: tests, CI
    progress: Progress = no_progress
    methods: tuple[str, ...] | None = None  # only these methods (None: all)
    params: dict[str, Any] = field(default_factory=dict)  # protocol settings (--param)
    #: the dataset as the user named it (None: the default, or whatever --data holds)
    asked: str | None = None

    def chosen(self, methods: list[Any] | tuple[Any, ...], method_of: Any = str) -> list[Any]:
        """The benchmarked methods this run keeps; an unknown name is refused."""
        return only(list(methods), self.methods, method_of)


#: `settings` value of a benchmark that checks its own settings (e.g. solver options)
ITS_OWN = None


@dataclass(frozen=True)
class Benchmark:
    target: str  # a task name ("energy.rul") or a platform target ("governance")
    dataset: str  # "FD001", "tep", "api": `odlar bench TARGET --dataset NAME`
    run: Callable[[BenchRun], BenchResult]
    folder: str = ""  # its data under ODLAR_DATA; "" when the data ship in a package
    #: the names `--param` may set; ITS_OWN (None) when the run validates its own
    settings: tuple[str, ...] | None = ()
    #: a run is kept on the installation (model documentation and the console cite it);
    #: the platform's timing benches are not
    record: bool = True
    summary: str = ""

    def check(self, params: dict[str, Any]) -> None:
        if self.settings is ITS_OWN or not params:
            return
        unknown = sorted(set(params) - set(self.settings))
        if unknown:
            takes = ", ".join(self.settings) if self.settings else "no --param settings"
            raise UsageError(
                f"the {self.target} {self.dataset} benchmark has no setting "
                f"{', '.join(unknown)} (it takes: {takes})"
            )


_BENCHMARKS: dict[str, dict[str, Benchmark]] = {}


def benchmark(
    target: str,
    dataset: str,
    *,
    folder: str = "",
    settings: tuple[str, ...] | None = (),
    record: bool = True,
    summary: str = "",
) -> Callable[[Callable[[BenchRun], BenchResult]], Callable[[BenchRun], BenchResult]]:
    """Decorator: register `run` as `odlar bench TARGET --dataset DATASET`; a target's first
    registered dataset is its default."""

    def add(run: Callable[[BenchRun], BenchResult]) -> Callable[[BenchRun], BenchResult]:
        entry = Benchmark(target, dataset, run, folder, settings, record, summary)
        _BENCHMARKS.setdefault(target, {})[dataset] = entry
        return run

    return add


def of(target: str) -> list[Benchmark]:
    """A target's benchmarks, the default first."""
    from odlar.core.tasks import task_names

    task_names()  # discovering the sectors registers their benchmarks
    return list(_BENCHMARKS.get(target, {}).values())


def find(target: str, dataset: str | None = None) -> Benchmark:
    entries = of(target)
    if not entries:
        from odlar.core.tasks import task_names

        if target in task_names():
            raise NotFound(f"task '{target}' has no benchmark")
        tasks = ", ".join(n for n in sorted(_BENCHMARKS) if n in task_names())
        platform = ", ".join(n for n in sorted(_BENCHMARKS) if n not in task_names())
        raise NotFound(
            f"unknown task '{target}' (benchmarked tasks: {tasks}; platform: {platform or 'none'})"
        )
    if dataset is None:
        return entries[0]
    for entry in entries:
        if entry.dataset == dataset:
            return entry
    raise UsageError(
        f"{target} has no benchmark '{dataset}' (known: {', '.join(e.dataset for e in entries)})"
    )
