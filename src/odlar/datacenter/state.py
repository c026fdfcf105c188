"""The simulated cluster: free CPU, memory and per-GPU milli-GPU of every node, as arrays.

Placing or releasing a pod touches one node; its version counter moves so that cached
per-node scores (FGD's) know to recompute it, and its fragmentation is measured again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from odlar.datacenter.frag import Fragmentation, allowed
from odlar.datacenter.trace import MAX_GPUS_PER_NODE, MILLI, Cluster

#: GPU-clustering affinity of a pod: 0 shares one GPU, k uses k whole GPUs.
TAGS = MAX_GPUS_PER_NODE + 1


@dataclass(frozen=True)
class Pod:
    """One pending pod as the policies see it."""

    cpu: int
    memory: int
    num_gpu: int
    gpu_milli: int  # per GPU; 0 for a CPU-only pod
    access: np.ndarray | None  # allowed model codes, None when unconstrained

    @property
    def shares(self) -> bool:
        return self.num_gpu == 1 and self.gpu_milli < MILLI

    @property
    def demand(self) -> int:
        return self.num_gpu * self.gpu_milli

    @property
    def tag(self) -> int:
        return 0 if self.shares else self.num_gpu

    @property
    def key(self) -> tuple[int, int, int]:
        """What a node's fragmentation after placement depends on."""
        return (self.cpu, self.num_gpu, self.gpu_milli)


def pod_of(
    cpu: int, memory: int, num_gpu: int, gpu_milli: int, spec: str, models: tuple[str, ...]
) -> Pod:
    access = allowed(spec, models) if spec and num_gpu else None
    return Pod(int(cpu), int(memory), int(num_gpu), int(gpu_milli) if num_gpu else 0, access)


class ClusterState:
    def __init__(
        self,
        cluster: Cluster,
        frag: Fragmentation,
        gpu_free: np.ndarray | None = None,
        measure: bool = True,
    ) -> None:
        """An idle cluster, or the one whose free milli-GPU per GPU `gpu_free` gives (with
        the cluster's cpu and memory read as free amounts). Without `measure` nodes'
        fragmentation is not computed: enough to test feasibility, then `subset`."""
        self.cluster = cluster
        self.fragmentation = frag
        slots = np.arange(cluster.width)
        self.present = slots[None, :] < cluster.gpus[:, None]  # (N, G) real GPUs
        if gpu_free is None:
            gpu_free = np.where(self.present, MILLI, 0).astype(np.int64)
        self.gpu_free = gpu_free
        self.cpu_free = cluster.cpu.astype(np.int64).copy()
        self.memory_free = cluster.memory.astype(np.int64).copy()
        self.model = cluster.model
        self.tags = np.zeros((cluster.size, TAGS), dtype=np.int64)
        self.version = np.zeros(cluster.size, dtype=np.int64)
        self.frag = frag.of(self.gpu_free, self.cpu_free, self.model) if measure else None
        self.capacity_milli = int(cluster.gpus.sum()) * MILLI

    def subset(self, nodes: np.ndarray) -> ClusterState:
        """The state of some nodes only (in the given order), fragmentation measured: a
        placement request scores only the nodes that can take its pod."""
        sub = ClusterState(self.cluster.take(nodes), self.fragmentation, self.gpu_free[nodes])
        sub.tags[:] = self.tags[nodes]
        return sub

    @property
    def size(self) -> int:
        return self.cluster.size

    @property
    def allocated_milli(self) -> int:
        return self.capacity_milli - int(self.gpu_free.sum())

    def feasible(self, pod: Pod) -> np.ndarray:
        """Nodes with the CPU, memory, GPU model and enough GPUs the pod needs (N,)."""
        ok = (self.cpu_free >= pod.cpu) & (self.memory_free >= pod.memory)
        if pod.num_gpu:
            ok &= (self.gpu_free >= pod.gpu_milli).sum(axis=1) >= pod.num_gpu
            if pod.access is not None:
                ok &= pod.access[self.model]
        return ok

    def whole_gpus(self, node: int, count: int) -> np.ndarray:
        """The first `count` fully free GPUs of a node, in index order (as the authors)."""
        return np.flatnonzero(self.gpu_free[node] == MILLI)[:count]

    def whole_gpus_of(self, nodes: np.ndarray, count: int) -> list[list[int]]:
        """`whole_gpus` for many nodes at once."""
        whole = self.gpu_free[nodes] == MILLI
        take = whole & (np.cumsum(whole, axis=1) <= count)
        # feasible nodes have at least `count` whole GPUs: `count` picks per row
        return np.nonzero(take)[1].reshape(len(nodes), count).tolist()

    def place(self, node: int, gpus: np.ndarray, pod: Pod) -> None:
        if self.cpu_free[node] < pod.cpu or self.memory_free[node] < pod.memory:
            raise ValueError(f"node {node} lacks CPU or memory for the pod")
        if pod.num_gpu:
            if len(gpus) != pod.num_gpu or (self.gpu_free[node, gpus] < pod.gpu_milli).any():
                raise ValueError(f"node {node} GPUs {list(gpus)} cannot take the pod")
            self.gpu_free[node, gpus] -= pod.gpu_milli
            self.tags[node, pod.tag] += 1
        self.cpu_free[node] -= pod.cpu
        self.memory_free[node] -= pod.memory
        self._changed(node)

    def release(self, node: int, gpus: np.ndarray, pod: Pod) -> None:
        if pod.num_gpu:
            self.gpu_free[node, gpus] += pod.gpu_milli
            self.tags[node, pod.tag] -= 1
        self.cpu_free[node] += pod.cpu
        self.memory_free[node] += pod.memory
        self._changed(node)

    def _changed(self, node: int) -> None:
        self.version[node] += 1
        self.frag[node] = self.fragmentation.of(
            self.gpu_free[node : node + 1],
            self.cpu_free[node : node + 1],
            self.model[node : node + 1],
        )[0]

    def after(self, nodes: np.ndarray, pod: Pod) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate states if the pod went to each of `nodes`: for a GPU-sharing pod one
        per distinct free amount on the node (GPUs with equal free milli give the same
        state; the lowest index stands for them). Returns (node, slot, fragmentation after);
        slot is -1 for pods that take whole GPUs or none."""
        free = self.gpu_free[nodes]
        cpu = self.cpu_free[nodes] - pod.cpu
        model = self.model[nodes]
        if pod.shares:
            # first GPU of each distinct free amount: a stable sort keeps equal amounts in
            # index order, so the first of each run is the lowest index
            order = np.argsort(free, axis=1, kind="stable")
            ordered = np.take_along_axis(free, order, axis=1)
            starts = np.ones_like(ordered, dtype=bool)
            starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
            first = np.zeros_like(starts)
            np.put_along_axis(first, order, starts, axis=1)
            rows, slots = np.nonzero(first & (free >= pod.gpu_milli) & self.present[nodes])
            cand = free[rows].copy()
            cand[np.arange(len(rows)), slots] -= pod.gpu_milli
            frag = self.fragmentation.of(cand, cpu[rows], model[rows])
            return nodes[rows], slots, frag
        if pod.num_gpu:
            whole = free == MILLI
            take = whole & (np.cumsum(whole, axis=1) <= pod.num_gpu)
            free = np.where(take, 0, free)
        frag = self.fragmentation.of(free, cpu, model)
        return nodes, np.full(len(nodes), -1), frag
