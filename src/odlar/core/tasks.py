"""The task contract and the one registry every surface (CLI, API, jobs, bench) reads.

A task is one AI capability: it loads and validates its data, fits a model, evaluates it
against published anchors and answers prediction requests with pydantic models.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from odlar.core.compute.resources import Resources
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
class BenchRow:
    """One measured row of a benchmark: the method (with its setting, e.g. "fixed
    (cologne1)"), its metrics, and the row's other columns (scenario, fold, timings,
    details), which the results file keeps beside them."""

    method: str
    metrics: dict[str, float | None]
    columns: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not self.method:
            raise TypeError(f"a bench row needs a method name, not {self.method!r}")
        for k, v in self.metrics.items():
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                raise TypeError(f"bench row '{self.method}': metric {k}={v!r} is not a number")

    @classmethod
    def of(cls, row: BenchRow | dict[str, Any]) -> BenchRow:
        if isinstance(row, BenchRow):
            return row
        rest = dict(row)
        method, metrics = rest.pop("method", None), rest.pop("metrics", None)
        if not isinstance(metrics, dict):
            raise TypeError(f"bench row '{method}' has no metrics mapping")
        return cls(method, metrics, rest)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "metrics": self.metrics, **self.columns}


@dataclass
class BenchResult:
    """What a benchmark returns: typed rows (dicts of the same shape are made rows), the
    published anchors for the same protocol, and notes on how it ran."""

    task: str
    dataset: str
    protocol: str
    results: list[BenchRow]
    anchors: list[Anchor]
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.results = [BenchRow.of(r) for r in self.results]


ModelT = TypeVar("ModelT")
RequestT = TypeVar("RequestT", bound=BaseModel)
ResponseT = TypeVar("ResponseT", bound=BaseModel)

#: The seed a fit uses when its parameters name none.
DEFAULT_SEED = 0


class Task(ABC, Generic[ModelT, RequestT, ResponseT]):
    """The contract every capability fulfils, generic over its model, request and response
    types (``class RulTask(Task[RulModel, RulRequest, RulResponse])``); checked by
    `odlar.testing.check_task`."""

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
    #: Folder under ODLAR_DATA holding the task's example data ("" when it ships in a
    #: package); its benchmarks are registered in `core.benchmarks`, each with its folder.
    bench_data: ClassVar[str]
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

    def fit(
        self,
        data: Dataset,
        *,
        method: str,
        params: dict[str, Any],
        progress: Progress = no_progress,
    ) -> ModelT:
        """Train a model (a picklable object), reproducible from `params`: checks the
        method and the parameters, fixes the seed (``params["seed"]``, default 0) for
        Python's and numpy's global generators (and torch's, once imported), calls the
        task's `_fit` with it and records it in ``model.params``."""
        if method not in self.methods:
            raise UsageError(
                f"task '{self.name}' has no method '{method}' "
                f"(choose from: {', '.join(self.methods)})"
            )
        bad = [k for k in params if not isinstance(k, str) or not k]
        if bad:
            raise UsageError(f"parameter names must be text: {bad}")
        seed = params.get("seed", DEFAULT_SEED)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise UsageError(f"seed={seed!r}: give a whole number >= 0")
        _seed_everything(seed)
        model = self._fit(data, method=method, params={**params, "seed": seed}, progress=progress)
        recorded = getattr(model, "params", None)
        if isinstance(recorded, dict):
            recorded.setdefault("seed", seed)
        return model

    @abstractmethod
    def _fit(
        self, data: Dataset, *, method: str, params: dict[str, Any], progress: Progress
    ) -> ModelT:
        """The task's training, given a known method and params with their seed."""

    @abstractmethod
    def evaluate(self, model: ModelT, data: Dataset) -> Report: ...

    @abstractmethod
    def predict(self, model: ModelT, request: RequestT) -> ResponseT: ...

    @abstractmethod
    def request_from(self, data: Dataset, **options: Any) -> RequestT:
        """Build a prediction request from loaded data (the CLI's `odlar predict`)."""

    @abstractmethod
    def example(self, data_dir: Path) -> tuple[Path, Path]:
        """A (train, eval-with-truth) pair of files under the bench folder, for tests and docs."""

    def robustness(self, model: ModelT, data: Dataset, seed: int = 0) -> list[Robustness]:
        """Perturb the inputs (noise, missing values) and measure how far the model moves;
        each result names its limit. Tasks override; none declared fails the check."""
        return []

    def ingest(self, staged: Path) -> bool:
        """Rewrite a validated upload before it is kept (e.g. to pseudonymise people);
        returns whether the file changed."""
        return False

    def logged_output(self, model: ModelT, request: RequestT, response: ResponseT) -> Any:
        """What the event log keeps of one prediction (its input is kept as a digest).
        The whole response by default; a task whose answers are large (a score for every
        node of a cluster) keeps a compact record with a digest of the whole answer."""
        return response.model_dump_json()  # type: ignore[attr-defined]

    def response_rows(self, response: ResponseT) -> list[dict[str, Any]]:
        """A response as flat rows for CSV files and terminal tables."""
        return response.model_dump()["predictions"]

    def resources(self, method: str) -> Resources:
        """What a fit of `method` asks of the machine (a job may ask otherwise): one CPU by
        default; tasks whose methods use more (threads, a GPU) override."""
        return Resources()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "risk": {"tier": self.risk.tier.value, "reason": self.risk.reason},
            "methods": list(self.methods),
            "default_method": self.default_method,
            "primary_metric": self.primary_metric,
        }


def _seed_everything(seed: int) -> None:
    import random
    import sys

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:  # never import torch only to seed it
        sys.modules["torch"].manual_seed(seed)


_REGISTRY: dict[str, type[Task[Any, Any, Any]]] = {}
#: Data that ships inside an installed package, named by a prefix (e.g. ``resco:cologne1``):
#: prefix -> function giving the folder or file. Read-only, so the API may name it too.
PACKAGED_SOURCES: dict[str, Callable[[str], Path]] = {}
#: Inputs a sector lets users name (`odlar fit --scenario cologne1`): kind -> function giving
#: the data reference (a packaged source, a folder, a path) for a name.
NAMED_INPUTS: dict[str, Callable[[str], str]] = {}


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


def register(cls: type[Task[Any, Any, Any]]) -> type[Task[Any, Any, Any]]:
    """Class decorator: make a task discoverable by name."""
    _REGISTRY[cls.name] = cls
    return cls


def _discover() -> None:
    """Import the task modules of every installed sector (`core.sectors`), once."""
    from odlar.core.sectors import import_tasks

    import_tasks()


def packaged_source(ref: str) -> Path | None:
    _discover()
    for prefix, resolve in PACKAGED_SOURCES.items():
        if ref.startswith(prefix):
            return resolve(ref)
    return None


def named_input(kind: str, name: str) -> str:
    """The data reference a sector gives a named input of `kind` (e.g. a scenario)."""
    _discover()
    if kind not in NAMED_INPUTS:
        raise UsageError(f"no installed task takes a named {kind}")
    return NAMED_INPUTS[kind](name)


def task_names() -> list[str]:
    _discover()
    return sorted(_REGISTRY)


def get_task(name: str) -> Task[Any, Any, Any]:
    _discover()
    try:
        return _REGISTRY[name]()
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise NotFound(f"unknown task '{name}' (known tasks: {known})") from None
