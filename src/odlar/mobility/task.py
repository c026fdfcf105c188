"""Task `mobility.signals`: adaptive traffic signal control, trained and judged in SUMO.

A "dataset" is a scenario (network, demand, episode timing). Fitting gives a controller:
the learned DQN, or max-pressure / max-wave, which need no training but become model
versions too so that every controller in service has documentation, checks and approval.
Each is measured on several seeds against the network's own fixed-time programs.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from odlar.core.benchmarks import BenchRun, benchmark
from odlar.core.errors import DataError
from odlar.core.tasks import (
    NAMED_INPUTS,
    PACKAGED_SOURCES,
    Anchor,
    BenchResult,
    Dataset,
    Progress,
    Report,
    Risk,
    RiskTier,
    Robustness,
    Task,
    register,
)
from odlar.mobility import bench as resco_bench
from odlar.mobility import constraints, dqn, nextphase, scenarios
from odlar.mobility.layout import SignalLayout
from odlar.mobility.nextphase import (
    LinkDetectors,
    NextPhaseRequest,
    NextPhaseResponse,
    SignalState,
)
from odlar.mobility.scenarios import Scenario
from odlar.mobility.sim import Options, read_layouts, run_many

PACKAGED_SOURCES["resco:"] = scenarios.packaged_folder
NAMED_INPUTS["scenario"] = scenarios.named


@dataclass
class SignalsModel:
    method: str
    params: dict[str, Any]
    scenario: dict[str, Any]
    layouts: dict[str, SignalLayout]
    weights: list[Any] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    #: pedestrian limits every decision keeps, in simulation and in service
    rules: constraints.Rules | None = None

    @property
    def controller_params(self) -> dict[str, Any]:
        return {"weights": self.weights} if self.weights is not None else {}


METHODS = ("dqn", "max_pressure", "greedy")


@register
class SignalsTask(Task[SignalsModel, NextPhaseRequest, NextPhaseResponse]):
    name: ClassVar[str] = "mobility.signals"
    title: ClassVar[str] = "Adaptive traffic signal control"
    risk: ClassVar[Risk] = Risk(
        RiskTier.high,
        "road traffic: a safety component in the management and operation of road traffic "
        "(EU AI Act Annex III point 2(a))",
    )
    purpose: ClassVar[str] = (
        "Choose the next green phase of each signalised intersection from its detectors, "
        "to cut vehicle delay against the city's fixed-time programs. It chooses among the "
        "intersection's own green phases only; yellow times, intergreens and conflict "
        "safety stay with the signal controller's own safety logic."
    )
    limitations: ClassVar[tuple[str, ...]] = (
        "Trained and measured in simulation (SUMO); the real network differs from its "
        "model, so a field trial under supervision comes before service.",
        "Pedestrians are not simulated: their minimum green and maximum red are kept as "
        "limits (-p ped_min_green, -p ped_max_red, -p ped_limits) that no decision breaks; "
        "cyclist phases and public-transport priority are not modelled.",
        "Emergency pre-emption gives green to vehicles of class emergency within 200 m of "
        "a signal, in simulation and when a cabinet reports them (emergency_links); it "
        "never cuts a pedestrian minimum green.",
        "With teleporting off, a junction can deadlock in simulation; the benchmark flags "
        "any run where a vehicle stood over 300 s inside a junction.",
        "A learned controller is valid for the scenario it was trained on; others need "
        "their own evaluation before approval.",
    )
    acceptance: ClassVar[dict[str, tuple[str, float]]] = {"val_delay_vs_fixed": ("<=", 1.0)}
    methods: ClassVar[tuple[str, ...]] = METHODS
    default_method: ClassVar[str] = "dqn"
    Request: ClassVar[type[BaseModel]] = NextPhaseRequest
    Response: ClassVar[type[BaseModel]] = NextPhaseResponse
    primary_metric: ClassVar[str] = "delay"
    lower_is_better: ClassVar[bool] = True
    bench_data: ClassVar[str] = ""  # the RESCO scenarios ship in the sumo-rl package
    min_rows: ClassVar[int] = 100
    inline_predict: ClassVar[bool] = True  # a decision rule or a small numpy network
    quick_params: ClassVar[dict[str, dict[str, Any]]] = {
        "dqn": {"minutes": 0.05, "episodes": 1, "eval_every": 1, "horizon": 600, "seeds": "42"},
        "max_pressure": {"horizon": 600, "seeds": "42"},
        "greedy": {"horizon": 600, "seeds": "42"},
    }

    def load(self, source: str | Path, **options: Any) -> Dataset:
        sc = scenarios.load(source)
        facts = scenarios.validate(sc)
        return Dataset(
            frame=sc,
            source=str(source),
            sha256=sc.sha256(),
            rows=facts["vehicles_in_episode"],
            summary={**facts, "scenario": sc.describe()},
        )

    def _fit(
        self, data: Dataset, *, method: str, params: dict[str, Any], progress: Progress
    ) -> SignalsModel:
        if method not in METHODS:
            raise DataError(f"no controller '{method}' (known: {', '.join(METHODS)})")
        sc = _with_horizon(data.frame, params)
        p = {"seed": 0, **params}
        rules = constraints.rules_from(p, sc.delta, sc.yellow)
        progress(0.01, "reading the signals")
        layouts = read_layouts(sc)
        if rules is not None:  # refused before any training if no order can keep them
            constraints.check_feasible(rules, layouts)
            p["ped_limits_applied"] = rules.to_dict()
        weights, history = None, []
        if method == "dqn":
            progress(0.02, f"training on {sc.name}")
            trained = dqn.train(sc, p, lambda f, m: progress(0.02 + 0.78 * f, m), rules)
            weights, history = trained.weights, trained.history
            p["trained_episodes"] = trained.episodes
            p["trained_seconds"] = round(trained.seconds, 1)
        model = SignalsModel(
            method, p, sc.describe(), layouts, weights, history=history, rules=rules
        )
        progress(0.85, "measuring on several seeds against fixed time")
        model.metrics = _measure(model, sc, p)
        progress(0.97, f"delay {model.metrics['delay']:.2f} s")
        return model

    def evaluate(self, model: SignalsModel, data: Dataset) -> Report:
        sc = _with_horizon(data.frame, model.params)
        metrics = _measure(model, sc, model.params)
        anchors = resco_bench.anchors(sc.name) if sc.origin == "resco" else []
        anchors.append(
            Anchor("fixed (measured here)", {"delay": metrics["delay_fixed"]}, "this run")
        )
        return Report(metrics=metrics, anchors=anchors, protocol=resco_bench.PROTOCOL)

    def predict(self, model: SignalsModel, request: NextPhaseRequest) -> NextPhaseResponse:
        return nextphase.answer(model, request)

    def logged_output(
        self, model: SignalsModel, request: NextPhaseRequest, response: NextPhaseResponse
    ) -> dict[str, Any]:
        """The decisions, not the whole answer: a city's answer is some 15 kB of JSON
        (nextphase.decision_record says what is kept)."""
        return nextphase.decision_record(model, request, response)

    def request_from(self, data: Dataset, **options: Any) -> NextPhaseRequest:
        """Every signal of the scenario, empty detectors, first phase: a smoke request."""
        layouts = read_layouts(data.frame)
        return NextPhaseRequest(
            model_version=options.get("model_version"),
            signals=[
                SignalState(
                    signal=tid,
                    current_phase=0,
                    links=[LinkDetectors(index=j) for j, lk in enumerate(lay.links) if lk],
                )
                for tid, lay in layouts.items()
            ],
        )

    def response_rows(self, response: NextPhaseResponse) -> list[dict[str, Any]]:
        return response.model_dump()["predictions"]

    def example(self, data_dir: Path) -> tuple[Path, Path]:
        folder = scenarios.packaged_folder("resco:cologne1")
        return folder, folder

    def robustness(self, model: SignalsModel, data: Dataset, seed: int = 0) -> list[Robustness]:
        """Delay with faulty detectors against clean ones: 20% noise on every count, and
        10% of the links' detectors dead (reading zero) all episode."""
        sc = _with_horizon(data.frame, model.params)
        base = model.controller_params
        o = Options(seed=42 + seed, rules=getattr(model, "rules", None))
        runs = [
            (sc, model.method, base, o),
            (sc, model.method, {**base, "detector_noise": 0.2}, o),
            (sc, model.method, {**base, "detector_missing": 0.1}, o),
        ]
        clean, noisy, missing = (r["delay"] for r in run_many(runs))
        return [
            Robustness(
                "detector noise 20%",
                (noisy - clean) / clean,
                0.25,
                f"delay {clean:.1f} s -> {noisy:.1f} s with 20% noise on every count",
            ),
            Robustness(
                "dead detectors 10%",
                (missing - clean) / clean,
                0.5,
                f"delay {clean:.1f} s -> {missing:.1f} s with 10% of link detectors dead",
            ),
        ]


@benchmark("mobility.signals", "resco", settings=("seeds", "minutes", "backend"),
           summary="RESCO's eight scenarios, classic controllers and the DQN")  # fmt: skip
def _bench_resco(run: BenchRun) -> BenchResult:
    return resco_bench.run(quick=run.quick, progress=run.progress, methods=run.methods,
                           params=run.params)  # fmt: skip


@benchmark("mobility.signals", "api", summary="next-phase latency over HTTP")
def _bench_api(run: BenchRun) -> BenchResult:
    return resco_bench.next_phase_latency(200 if run.quick else 2000, run.progress)


@benchmark("mobility.signals", "emergency", settings=("seeds",),
           summary="emergency-vehicle priority: their delay and what it costs others")  # fmt: skip
def _bench_emergency(run: BenchRun) -> BenchResult:
    from odlar.mobility import emergency

    seeds = tuple(int(x) for x in str(run.params.get("seeds", "42,1,2")).split(","))
    return emergency.bench(run.progress, quick=run.quick, seeds=seeds)


@benchmark("mobility.signals", "city", settings=("size", "period", "minutes", "requests", "parts"),
           summary="a 100-signal city: an hour of traffic and the all-signals API")  # fmt: skip
def _bench_city(run: BenchRun) -> BenchResult:
    from odlar.mobility import city

    return city.bench(run.progress, quick=run.quick, params=run.params)


def _register_scenario_benches() -> None:
    for name in scenarios.RESCO_NAMES:

        def one(run: BenchRun, name: str = name) -> BenchResult:
            return resco_bench.run(quick=run.quick, progress=run.progress, scenarios=(name,),
                                   methods=run.methods, params=run.params)  # fmt: skip

        benchmark("mobility.signals", name, settings=("seeds", "minutes", "backend"))(one)


_register_scenario_benches()


def _with_horizon(sc: Scenario, params: dict[str, Any]) -> Scenario:
    """`horizon` (s) shortens the episode: for tests and quick looks, never for figures."""
    horizon = params.get("horizon")
    return replace(sc, end=sc.begin + int(horizon)) if horizon else sc


def _seeds(params: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(s) for s in str(params.get("seeds", "42,1,2")).split(","))


def _measure(model: SignalsModel, sc: Scenario, params: dict[str, Any]) -> dict[str, float]:
    seeds = _seeds(params)
    rules = getattr(model, "rules", None)
    runs = [
        (sc, model.method, model.controller_params, Options(seed=s, rules=rules)) for s in seeds
    ]
    runs += [(sc, "fixed", {}, Options(seed=s)) for s in seeds]
    results = run_many(runs)
    ours, fixed = results[: len(seeds)], results[len(seeds) :]
    delay = statistics.fmean(r["delay"] for r in ours)
    delay_fixed = statistics.fmean(r["delay"] for r in fixed)
    return {
        "delay": delay,
        "delay_sd": statistics.stdev([r["delay"] for r in ours]) if len(ours) > 1 else 0.0,
        "delay_fixed": delay_fixed,
        "delay_vs_fixed": delay / delay_fixed if delay_fixed else 1.0,
        "trip_time": statistics.fmean(r["trip_time"] for r in ours),
        "waiting_time": statistics.fmean(r["waiting_time"] for r in ours),
        "queue": statistics.fmean(r["queue"] for r in ours),
        "throughput": statistics.fmean(r["throughput"] for r in ours),
        "never_inserted": statistics.fmean(r["never_inserted"] for r in ours),
        "teleports": statistics.fmean(r["teleports"] for r in ours),
        "deadlocks": float(sum(r["max_junction_wait"] > resco_bench.DEADLOCK_S for r in ours)),
        "seeds": float(len(seeds)),
    }
