"""GPU fragmentation measured against a target workload (Weng et al., ATC 2023, section 4).

A node's idle GPU capacity is *fragmented* for a pod shape when that pod cannot use it: the
node lacks CPU, lacks enough GPUs with the milli-GPU the pod wants, or has the wrong GPU
model; or, when the pod fits, the GPUs each too small for it. The fragmentation of a node is
the expectation over the target workload's pod shapes (their shares among all pods). CPU-only
pod shapes use no GPU, so every idle GPU counts as fragment for them, as in the authors'
simulator. FGD places each pod where this expectation grows least.

Everything here works on arrays of candidate node states at once: GPU free milli `(C, G)`,
CPU free `(C,)`, model code `(C,)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from odlar.datacenter.trace import MILLI, Workload

POPULARITY = 0.95  # the authors' default: shapes that make up 95% of pods


@dataclass(frozen=True)
class Target:
    """The target workload: the most popular pod shapes and their shares (sum 1)."""

    cpu: np.ndarray  # milli-CPU
    num_gpu: np.ndarray
    gpu_milli: np.ndarray  # 0 for CPU-only shapes
    spec: tuple[str, ...]
    share: np.ndarray

    @property
    def size(self) -> int:
        return len(self.share)

    def rows(self) -> list[dict[str, object]]:
        return [
            {
                "cpu_milli": int(self.cpu[i]),
                "num_gpu": int(self.num_gpu[i]),
                "gpu_milli": int(self.gpu_milli[i]),
                "gpu_spec": self.spec[i],
                "share": float(self.share[i]),
            }
            for i in range(self.size)
        ]


def target_of(
    workload: Workload, popularity: float = POPULARITY, gpu_weight: float = 0.0
) -> Target:
    """Pod shapes (CPU, GPU count, milli-GPU, GPU models) by how many pods have them; the
    most common ones up to `popularity` of all pods, renormalised (the authors' rule).

    `gpu_weight` w counts a pod taking k whole GPUs as 1 + k w pods (the authors'
    `gpuResWeight`, 0 in their experiments): big pods then weigh in the target."""
    counts: dict[tuple[int, int, int, str], float] = {}
    for i in range(workload.size):
        key = (
            int(workload.cpu[i]),
            int(workload.num_gpu[i]),
            int(workload.gpu_milli[i]),
            workload.spec[i],
        )
        whole = workload.gpu_milli[i] == MILLI
        counts[key] = counts.get(key, 0.0) + 1.0 + (gpu_weight * key[1] if whole else 0.0)
    # most pods first; ties in a fixed order so that the target is reproducible
    shapes = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(counts.values())
    kept, cum = [], 0
    for key, n in shapes:
        if cum >= popularity * total:
            break
        kept.append((key, n))
        cum += n
    share = np.array([n for _, n in kept], dtype=float) / cum
    return Target(
        cpu=np.array([k[0] for k, _ in kept], dtype=np.int64),
        num_gpu=np.array([k[1] for k, _ in kept], dtype=np.int64),
        gpu_milli=np.array([k[2] for k, _ in kept], dtype=np.int64),
        spec=tuple(k[3] for k, _ in kept),
        share=share,
    )


def allowed(spec: str, models: tuple[str, ...]) -> np.ndarray:
    """Which model codes a GPU constraint admits ("" admits every GPU model, not code 0)."""
    if not spec:
        return np.array([code > 0 for code in range(len(models))])
    wanted = set(spec.split("|"))
    return np.array([code > 0 and m in wanted for code, m in enumerate(models)])


@dataclass(frozen=True)
class Fragmentation:
    """A target bound to a cluster's GPU models, ready to score node states in bulk."""

    thresholds: np.ndarray  # distinct milli-GPU of the GPU shapes (M,)
    level: np.ndarray  # each GPU shape's index into thresholds (T,)
    cpu: np.ndarray  # (T,)
    num: np.ndarray  # (T,)
    share: np.ndarray  # (T,)
    access: np.ndarray  # (models, T): shape t may run on model m
    total_share: float  # all shapes, CPU-only ones included

    @classmethod
    def bind(cls, target: Target, models: tuple[str, ...]) -> Fragmentation:
        gpu = target.gpu_milli > 0
        thresholds = np.unique(target.gpu_milli[gpu])
        return cls(
            thresholds=thresholds,
            level=np.searchsorted(thresholds, target.gpu_milli[gpu]),
            cpu=target.cpu[gpu],
            num=target.num_gpu[gpu],
            share=target.share[gpu],
            access=np.stack(
                [allowed(s, models) for s, g in zip(target.spec, gpu, strict=True) if g], axis=1
            )
            if gpu.any()
            else np.zeros((len(models), 0), dtype=bool),
            total_share=float(target.share.sum()),
        )

    def of(self, gpu_free: np.ndarray, cpu_free: np.ndarray, model: np.ndarray) -> np.ndarray:
        """Expected fragmented milli-GPU of each node state (C,).

        For a GPU shape that fits (CPU, model and `num` GPUs with enough free milli) only
        the GPUs too small for it are fragment; otherwise every idle GPU is.
        """
        idle = gpu_free.sum(axis=1)
        if not len(self.share):
            return self.total_share * idle.astype(float)
        count, usable = self.levels(gpu_free)
        fits = (
            self.access[model]
            & (cpu_free[:, None] >= self.cpu[None, :])
            & (count[:, self.level] >= self.num[None, :])
        )
        # a row-wise sum, not a matrix product: BLAS blocks rows differently for different
        # row counts, so a node's value would depend on how many nodes were scored with it
        return self.total_share * idle - (fits * usable[:, self.level] * self.share).sum(axis=1)

    def levels(self, gpu_free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per node and threshold m: GPUs with at least m free, and their free milli-GPU.

        Each GPU's level (thresholds it reaches) is found once, then counted per node with
        one bincount: O(nodes x GPUs), not O(nodes x GPUs x thresholds) (5x faster for
        1,500 nodes)."""
        rows, width = gpu_free.shape
        top = len(self.thresholds) + 1
        level = np.searchsorted(self.thresholds, gpu_free, side="right")  # (C, G)
        index = (np.arange(rows)[:, None] * top + level).ravel()
        hist = np.bincount(index, minlength=rows * top).reshape(rows, top)
        milli = np.bincount(index, weights=gpu_free.ravel(), minlength=rows * top)
        milli = milli.reshape(rows, top)
        # at least threshold i: levels i+1 and above (a reverse cumulative sum)
        count = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1][:, 1:]
        usable = np.cumsum(milli[:, ::-1], axis=1)[:, ::-1][:, 1:]
        return count, usable
