"""RUL models: a gradient-boosting baseline and a PyTorch sequence model, each an ensemble
of K members trained on K-1 folds of units, with cross-conformal prediction intervals."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from odlar.core.config import get_settings
from odlar.core.errors import UsageError
from odlar.core.tasks import Progress
from odlar.energy.rul.conformal import CrossConformal
from odlar.energy.rul.features import (
    Scaler,
    gbm_features,
    gbm_features_last,
    rul_target,
    sequence_channels,
    sort_units,
    truncations,
    unit_slices,
    windows_ending_at,
)

COMMON = {
    "seed": 0,
    "cap": 125,  # piecewise-linear target capped at 125 cycles (the usual C-MAPSS protocol)
    "folds": 5,  # ensemble members; each one's held-out units calibrate the intervals
    "cuts_per_unit": 10,  # random truncations of each held-out unit for calibration
    "min_history": 31,  # cycles a truncated unit keeps (the shortest C-MAPSS test unit)
    "calibration_rul": [5, 150],  # true RUL range of the calibration cuts (see docs)
    "min_corr": 0.05,
    "baseline": 30,  # early-life cycles whose mean each unit's readings are compared with
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "gbm": COMMON
    | {
        "lags": [5, 15, 30],
        "max_iter": 200,
        "learning_rate": 0.1,
        "max_leaf_nodes": 15,
        "min_samples_leaf": 50,
        "l2": 0.0,
        "row_stride": 2,  # train on every 2nd cycle: neighbouring cycles are near-duplicates
    },
    "sequence": COMMON
    | {
        "net": "cnn",  # cnn or tcn (nets.py)
        "window": 80,
        "hidden": 64,
        "epochs": 30,
        "epoch_fraction": 0.5,  # each epoch sees a random half of the windows
        "batch_size": 256,
        "lr": 1e-3,
        "dropout": 0.2,
    },
}
# three kinds of member on the same folds (the CNN, a dilated causal TCN and the trees err
# differently); their weights are chosen on the held-out cuts of the training units
DEFAULTS["blend"] = (
    DEFAULTS["gbm"]
    | {k: v for k, v in DEFAULTS["sequence"].items() if k != "net"}  # `parts` names the nets
    | {
        "parts": ["cnn", "tcn", "gbm"],
        "tcn_hidden": 32,  # half the CNN's width: the same cost per step as the CNN
        "weights": "auto",  # or one weight per part, summing to 1
    }
)
WEIGHT_STEP = 0.1  # grid of the weight simplex searched by "auto"


def nasa_score(predicted: np.ndarray, truth: np.ndarray) -> float:
    d = np.asarray(predicted, float) - np.asarray(truth, float)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1, np.exp(d / 10.0) - 1)))


def point_metrics(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    d = np.asarray(predicted, float) - np.asarray(truth, float)
    return {
        "rmse": float(np.sqrt(np.mean(d**2))),
        "mae": float(np.mean(np.abs(d))),
        "score": nasa_score(predicted, truth),
    }


# --- members ---------------------------------------------------------------------------


class GbmMember:
    def __init__(self, p: dict[str, Any], seed: int) -> None:
        from sklearn.ensemble import HistGradientBoostingRegressor

        self.lags = tuple(int(v) for v in p["lags"])
        self.baseline, self.stride = int(p["baseline"]), int(p["row_stride"])
        self.model = HistGradientBoostingRegressor(
            max_iter=int(p["max_iter"]),
            learning_rate=float(p["learning_rate"]),
            max_leaf_nodes=int(p["max_leaf_nodes"]),
            min_samples_leaf=int(p["min_samples_leaf"]),
            l2_regularization=float(p["l2"]),
            random_state=seed,
            early_stopping=False,
        )

    def fit(self, x: np.ndarray, frame: pd.DataFrame, y: np.ndarray, progress: Progress) -> None:
        cycles = frame["cycle"].to_numpy(dtype=np.float64)
        slices = unit_slices(frame)
        feats = gbm_features(x, slices, cycles, self.lags, self.baseline)
        rows = np.concatenate([np.arange(s, e)[:: self.stride] for _u, s, e in slices])
        self.model.fit(feats[rows], y[rows])
        progress(1.0, "")

    def predict_last(self, x: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
        cycles = frame["cycle"].to_numpy(dtype=np.float64)
        feats = gbm_features_last(x, unit_slices(frame), cycles, self.lags, self.baseline)
        return self.model.predict(feats)


class SequenceMember:
    """A 1-D CNN over the last `window` cycles; weights kept as a state dict."""

    def __init__(self, p: dict[str, Any], seed: int) -> None:
        from odlar.energy.rul.nets import NETS

        if p["net"] not in NETS:
            raise UsageError(f"unknown net '{p['net']}' (choose from: {', '.join(NETS)})")
        self.p, self.seed = dict(p), seed
        self.state: dict[str, Any] | None = None
        self._net: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_net": None}

    def _build(self, n_channels: int) -> Any:
        from odlar.energy.rul.nets import NETS

        return NETS[str(self.p["net"])](
            n_channels,
            int(self.p["window"]),
            int(self.p["hidden"]),
            float(self.p["dropout"]),
            float(self.p["cap"]),
        )

    def _inputs(self, x: np.ndarray, frame: pd.DataFrame) -> tuple[np.ndarray, list]:
        # min-max to [0, 1] on this member's training units: small, bounded inputs train
        # the CNN better than z-scores (measured: held-out RMSE 13.6 -> about 11)
        x = (x - self.low) / self.span
        slices = unit_slices(frame)
        channels = sequence_channels(
            x, slices, frame["cycle"].to_numpy(dtype=np.float64), int(self.p["baseline"])
        )
        return channels, slices

    def fit(self, x: np.ndarray, frame: pd.DataFrame, y: np.ndarray, progress: Progress) -> None:
        import torch

        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        w, cap = int(self.p["window"]), float(self.p["cap"])
        self.low = x.min(axis=0)
        self.span = np.where(x.max(axis=0) > self.low, x.max(axis=0) - self.low, 1.0)
        channels, slices = self._inputs(x, frame)
        xs = np.concatenate(
            [windows_ending_at(channels, s, np.arange(s, e), w) for _u, s, e in slices]
        )
        xt, yt = torch.from_numpy(xs), torch.from_numpy((y / cap).astype(np.float32))
        net = self._build(xs.shape[2])
        epochs, bs = int(self.p["epochs"]), int(self.p["batch_size"])
        per_epoch = max(1, int(len(xt) * float(self.p["epoch_fraction"])))
        steps = epochs * -(-per_epoch // bs)
        opt = torch.optim.Adam(net.parameters(), lr=float(self.p["lr"]))
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=float(self.p["lr"]), total_steps=steps, pct_start=0.2
        )
        for epoch in range(epochs):
            net.train()
            for idx in torch.randperm(len(xt), generator=gen)[:per_epoch].split(bs):
                opt.zero_grad()
                loss = ((net(xt[idx]) / cap - yt[idx]) ** 2).mean()
                loss.backward()
                opt.step()
                sched.step()
            rmse = float(loss.detach()) ** 0.5 * cap
            progress((epoch + 1) / epochs, f"epoch {epoch + 1}/{epochs}, batch rmse {rmse:.1f}")
        net.eval()
        self.state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        self._net = net

    def predict_last(self, x: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
        import torch

        channels, slices = self._inputs(x, frame)
        if self._net is None:
            self._net = self._build(channels.shape[1])
            self._net.load_state_dict(self.state)
            self._net.eval()
        w = int(self.p["window"])
        xs = np.stack(
            [windows_ending_at(channels, s, np.array([e - 1]), w)[0] for _u, s, e in slices]
        )
        with torch.inference_mode():
            return self._net(torch.from_numpy(xs)).numpy().astype(np.float64)


class BlendMember:
    """A CNN, a TCN and a gradient-boosting member (`parts`) trained on the same units; the
    prediction is their weighted mean. `weights="auto"` leaves them to `fit_rul`, which picks
    them on the held-out cuts of every fold."""

    def __init__(self, p: dict[str, Any], seed: int) -> None:
        parts = p["parts"].split(",") if isinstance(p["parts"], str) else p["parts"]
        self.parts = [str(v).strip() for v in parts]
        if not self.parts or set(self.parts) - set(PARTS) or len(set(self.parts)) < len(self.parts):
            raise UsageError(f"parts must be distinct names from {', '.join(PARTS)}")
        self.weights = None if p["weights"] == "auto" else check_weights(p["weights"], self.parts)
        self.members = [PARTS[name](p, seed) for name in self.parts]

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "sequence" in state:  # stored before the TCN part: a CNN and trees, fixed weight
            w = state["weight"]
            state = {
                "parts": ["cnn", "gbm"],
                "weights": [w, 1.0 - w],
                "members": [state["sequence"], state["gbm"]],
            }
        self.__dict__.update(state)

    def fit(self, x: np.ndarray, frame: pd.DataFrame, y: np.ndarray, progress: Progress) -> None:
        n = len(self.members)
        for j, (name, member) in enumerate(zip(self.parts, self.members, strict=True)):

            def sub(f: float, m: str, j: int = j, name: str = name) -> None:
                progress((j + f) / n, f"{name} {m}")

            member.fit(x, frame, y, sub)

    def predict_parts(self, x: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
        """(parts, units) predictions of each part, clipped at 0 as the blend's are."""
        return np.clip([m.predict_last(x, frame) for m in self.members], 0.0, None)

    def predict_last(self, x: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
        if self.weights is None:
            raise UsageError("blend weights not chosen yet (fit_rul chooses them)")
        return np.asarray(self.weights) @ self.predict_parts(x, frame)


def check_weights(weights: Any, parts: list[str]) -> list[float]:
    w = [float(v) for v in (weights.split(",") if isinstance(weights, str) else weights)]
    if len(w) != len(parts) or min(w) < 0 or abs(sum(w) - 1.0) > 1e-6:
        raise UsageError(
            f"weights must be 'auto' or {len(parts)} non-negative numbers summing to 1 "
            f"(one per part: {', '.join(parts)}), not {weights}"
        )
    return w


def choose_weights(parts: np.ndarray, truth: np.ndarray) -> list[float]:
    """The point of the weight simplex (steps of WEIGHT_STEP) with the lowest RMSE of the
    blended held-out predictions; of equal ones, the first found."""
    steps = round(1 / WEIGHT_STEP)
    best, best_rmse = None, np.inf
    for combo in itertools.product(range(steps + 1), repeat=len(parts) - 1):
        if sum(combo) > steps:
            continue
        w = np.array([*combo, steps - sum(combo)], float) / steps
        rmse = float(np.sqrt(np.mean((w @ parts - truth) ** 2)))
        if rmse < best_rmse - 1e-9:
            best, best_rmse = w, rmse
    return [round(float(v), 4) for v in best]


def _part(net: str) -> Any:
    def make(p: dict[str, Any], seed: int) -> Any:
        if net == "gbm":
            return GbmMember(p, seed)
        width = p["hidden"] if net == "cnn" else p["tcn_hidden"]
        return SequenceMember(p | {"net": net, "hidden": width}, seed)

    return make


PARTS = {name: _part(name) for name in ("cnn", "tcn", "gbm")}


MEMBERS = {"gbm": GbmMember, "sequence": SequenceMember, "blend": BlendMember}


# --- the fitted model ------------------------------------------------------------------


@dataclass
class RulModel:
    method: str
    params: dict[str, Any]
    scaler: Scaler
    members: list[Any]
    bands: CrossConformal
    metrics: dict[str, float] = field(default_factory=dict)
    fit_seconds: float = 0.0

    @property
    def columns(self) -> list[str]:
        return self.scaler.columns

    def predict(self, frame: pd.DataFrame, level: float = 0.9) -> pd.DataFrame:
        """RUL at the last cycle of each unit, with an interval; one row per unit."""
        frame = sort_units(frame)
        x = self.scaler.transform(frame)
        member_preds = np.clip([m.predict_last(x, frame) for m in self.members], 0.0, None)
        point = member_preds.mean(axis=0)
        lower, upper = self.bands.interval(member_preds, level)
        slices = unit_slices(frame)
        return pd.DataFrame(
            {
                "unit": [u for u, _s, _e in slices],
                "last_cycle": [float(frame["cycle"].iloc[e - 1]) for _u, _s, e in slices],
                "rul": point,
                "lower": np.minimum(lower, point),
                "upper": np.maximum(upper, point),
            }
        )


def fit_rul(
    frame: pd.DataFrame, method: str, params: dict[str, Any], progress: Progress
) -> RulModel:
    """K members on K-1 folds of units each; held-out units, cut at random cycles, give
    the validation metrics and calibrate the cross-conformal intervals."""
    if method not in DEFAULTS:
        raise UsageError(f"unknown method '{method}' (choose from: {', '.join(DEFAULTS)})")
    unknown = sorted(set(params) - set(DEFAULTS[method]))
    if unknown:
        raise UsageError(
            f"unknown parameter '{unknown[0]}' for {method} "
            f"(known: {', '.join(sorted(DEFAULTS[method]))})"
        )
    p = DEFAULTS[method] | params
    import torch

    torch.set_num_threads(get_settings().job_threads)  # ODLAR_JOB_THREADS: see core/threads
    start = time.perf_counter()
    frame = sort_units(frame)
    units = pd.unique(frame["unit"])
    k = int(p["folds"])
    if k < 2 or len(units) < k:
        raise UsageError(
            f"need at least 2 folds and as many units as folds ({len(units)} units, {k} folds)"
        )
    rng = np.random.default_rng(int(p["seed"]))
    fold_of = dict(zip(rng.permutation(units), np.arange(len(units)) % k, strict=True))
    fold = frame["unit"].map(fold_of).to_numpy()
    y = rul_target(frame, p["cap"])
    scaler = Scaler.fit(frame, y, float(p["min_corr"]))
    x = scaler.transform(frame)
    cut_rng = np.random.default_rng(int(p["seed"]) + 1)
    members, oof_pred, oof_true, oof_member, oof_parts = [], [], [], [], []
    for i in range(k):

        def sub(frac: float, msg: str, i: int = i) -> None:
            progress(0.05 + 0.9 * (i + frac) / k, f"member {i + 1}/{k} {msg}".strip())

        train = fold != i
        member = MEMBERS[method](p, int(p["seed"]) + i)
        member.fit(x[train], frame[train].reset_index(drop=True), y[train], sub)
        held = frame[~train].reset_index(drop=True)
        cut, truth = truncations(
            held,
            cut_rng,
            int(p["cuts_per_unit"]),
            int(p["min_history"]),
            tuple(int(v) for v in p["calibration_rul"]),
        )
        if isinstance(member, BlendMember):
            oof_parts.append(member.predict_parts(scaler.transform(cut), cut))
        else:
            oof_pred.append(np.clip(member.predict_last(scaler.transform(cut), cut), 0, None))
        oof_true.append(truth)
        oof_member.append(np.full(len(truth), i))
        members.append(member)
    true = np.concatenate(oof_true)
    extra: dict[str, float] = {}
    if oof_parts:
        parts = np.concatenate(oof_parts, axis=1)
        weights = members[0].weights or choose_weights(parts, true)
        for member in members:
            member.weights = weights
        for name, w, part in zip(members[0].parts, weights, parts, strict=True):
            extra |= {f"weight_{name}": w} | {
                f"{k}_{name}": v for k, v in point_metrics(part, true).items()
            }
        oof_pred = [np.asarray(weights) @ parts]
    pred = np.concatenate(oof_pred)
    edges = float(p["cap"]) * np.array([0.2, 0.4, 0.6, 0.8])  # Mondrian bins of predicted RUL
    bands = CrossConformal.fit(pred, true, np.concatenate(oof_member), edges)
    metrics = point_metrics(pred, true) | {"calibration_points": float(len(true))} | extra
    model = RulModel(
        method, p, scaler, members, bands, metrics, fit_seconds=time.perf_counter() - start
    )
    progress(0.96, "members trained, intervals calibrated")
    return model
