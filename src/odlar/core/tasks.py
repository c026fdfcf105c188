"""The task contract and the one registry every surface (CLI, API, jobs, bench) reads.

A task is one AI capability: it loads and validates its data, fits a model, evaluates it
against published anchors and answers prediction requests with pydantic models.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from odlar.core.errors import NotFound, UsageError

#: the largest model version a request may name: versions are counted from 1, and a
#: bound keeps a huge number from overflowing the store's 64-bit integers (a 500)
MAX_VERSION = 2**31 - 1

#: progress(fraction in [0, 1], message) — called by long-running task code.
Progress = Callable[[float, str], None]


def no_progress(_fraction: float, _message: str) -> None:
    return None


class RiskTier(StrEnum):
    """Risk tiers after the EU AI Act: high-risk systems need documentation and approval."""

    minimal = "minimal"
    limited = "limited"
    high = "high"


@dataclass(frozen=True)
class Risk:
    tier: RiskTier
    reason: str


@dataclass
class Dataset:
    """Validated data plus where it came from (recorded with every model trained on it)."""

    frame: Any
    source: str
    sha256: str
    rows: int
    summary: dict[str, Any] = field(default_factory=dict)
    truth: Any = None  # optional ground truth for evaluation


@dataclass
class Robustness:
    """One robustness measurement: how far outputs moved under a perturbation."""

    name: str
    value: float
    limit: float
    detail: str

    @property
    def passed(self) -> bool:
        return bool(self.value <= self.limit)


@dataclass
class Anchor:
    method: str
    metrics: dict[str, float]
    source: str


@dataclass
class Report:
    """Metrics of one model on one dataset, with the published anchors for the same protocol."""

    metrics: dict[str, float]
    anchors: list[Anchor] = field(default_factory=list)
    protocol: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class BenchResult:
    task: str
    dataset: str
    protocol: str
    results: list[dict[str, Any]]
    anchors: list[Anchor]
    notes: list[str] = field(default_factory=list)


class Task(ABC):
    """The contract every capability fulfils; see tests/test_task_contract.py."""

    name: ClassVar[str]
    title: ClassVar[str]
    risk: ClassVar[Risk]
    methods: ClassVar[tuple[str, ...]]
    default_method: ClassVar[str]
    Request: ClassVar[type[BaseModel]]
    Response: ClassVar[type[BaseModel]]
    #: Which metric ranks models (and whether lower is better).
    primary_metric: ClassVar[str]
    lower_is_better: ClassVar[bool] = True
    #: Folder under ODLAR_DATA that `odlar bench` reads by default.
    bench_data: ClassVar[str]
    #: Benchmarks a task can run (`odlar bench TASK --dataset NAME`); the first is the default.
    datasets: ClassVar[tuple[str, ...]] = ()
    #: Tiny training budgets per method: `bench --quick` and the contract tests use them.
    quick_params: ClassVar[dict[str, dict[str, Any]]]
    #: What the model is for, in the words of its documentation (Annex IV 1(a)).
    purpose: ClassVar[str] = ""
    #: Known limitations and conditions of use, stated in the model's documentation.
    limitations: ClassVar[tuple[str, ...]] = ()
    #: Minimum recorded metrics for approval: metric -> (">=" or "<=", bound).
    acceptance: ClassVar[dict[str, tuple[str, float]]] = {}
    #: Fewest training rows the data-quality check accepts.
    min_rows: ClassVar[int] = 100
    #: `predict` answers in well under a millisecond (a decision rule, a small network):
    #: the API runs it on the event loop once the model is loaded, saving the thread-pool
    #: hop that costs milliseconds under load. Heavy models keep the thread pool.
    inline_predict: ClassVar[bool] = False

    @abstractmethod
    def load(self, source: str | Path, **options: Any) -> Dataset:
        """Parse and validate; raise DataError naming the file, line and field."""

    @abstractmethod
    def fit(self, data: Dataset, *, method: str, params: dict[str, Any], progress: Progress) -> Any:
        """Train a model (a picklable object); reproducible from `params` (seed included)."""

    @abstractmethod
    def evaluate(self, model: Any, data: Dataset) -> Report: ...

    @abstractmethod
    def predict(self, model: Any, request: BaseModel) -> BaseModel: ...

    @abstractmethod
    def request_from(self, data: Dataset, **options: Any) -> BaseModel:
        """Build a prediction request from loaded data (the CLI's `odlar predict`)."""

    @abstractmethod
    def example(self, data_dir: Path) -> tuple[Path, Path]:
        """A (train, eval-with-truth) pair of files under the bench folder, for tests and docs."""

    @abstractmethod
    def bench(
        self,
        data_dir: Path,
        *,
        quick: bool,
        progress: Progress,
        dataset: str | None = None,
        methods: tuple[str, ...] | None = None,
    ) -> BenchResult:
        """Run the published protocol; `methods` limits it to some of the task's methods."""

    def robustness(self, model: Any, data: Dataset, seed: int = 0) -> list[Robustness]:
        """Perturb the inputs (noise, missing values) and measure how far the model moves;
        each result names its limit. Tasks override; none declared fails the check."""
        return []

    def ingest(self, staged: Path) -> bool:
        """Rewrite a validated upload before it is kept (e.g. to pseudonymise people);
        returns whether the file changed."""
        return False

    def response_rows(self, response: BaseModel) -> list[dict[str, Any]]:
        """A response as flat rows for CSV files and terminal tables."""
        return response.model_dump()["predictions"]

    def bench_folder(self, dataset: str | None) -> str:
        """Folder under ODLAR_DATA holding a benchmark's data."""
        return self.bench_data

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "risk": {"tier": self.risk.tier.value, "reason": self.risk.reason},
            "methods": list(self.methods),
            "default_method": self.default_method,
            "primary_metric": self.primary_metric,
        }


_REGISTRY: dict[str, type[Task]] = {}
#: Data that ships inside an installed package, named by a prefix (e.g. ``resco:cologne1``):
#: prefix -> function giving the folder or file. Read-only, so the API may name it too.
PACKAGED_SOURCES: dict[str, Callable[[str], Path]] = {}
#: Sector packages whose import registers their tasks; a new sector adds one line here.
SECTOR_PACKAGES = ("odlar.energy", "odlar.education", "odlar.mobility", "odlar.safety")


def only(rows: list[Any], methods: tuple[str, ...] | None, method_of: Any) -> list[Any]:
    """The bench rows whose method is among `methods` (all when None); refuses an unknown
    method name so a typo does not run an empty bench."""
    if not methods:
        return rows
    known = {method_of(r) for r in rows}
    unknown = sorted(set(methods) - known)
    if unknown:
        raise UsageError(
            f"no benchmarked method {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    return [r for r in rows if method_of(r) in methods]


def register(cls: type[Task]) -> type[Task]:
    """Class decorator: make a task discoverable by name."""
    _REGISTRY[cls.name] = cls
    return cls


def _discover() -> None:
    for package in SECTOR_PACKAGES:
        importlib.import_module(package)


def packaged_source(ref: str) -> Path | None:
    _discover()
    for prefix, resolve in PACKAGED_SOURCES.items():
        if ref.startswith(prefix):
            return resolve(ref)
    return None


def task_names() -> list[str]:
    _discover()
    return sorted(_REGISTRY)


def get_task(name: str) -> Task:
    _discover()
    try:
        return _REGISTRY[name]()
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise NotFound(f"unknown task '{name}' (known tasks: {known})") from None
