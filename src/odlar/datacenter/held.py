"""The cluster a server holds per tenant, for a scheduler extender that sends node names
only (Kubernetes `nodeCacheCapable: true`).

It is set once with the full state (the same columns as a predict request), then changed
in place: a pod bound or unbound touches one node, nodes are added or removed. Every
change moves the version by one; a change sent against another version is refused (409),
so a client that missed one sends the full state again. The arrays stay in memory with
every node's fragmentation measured once, and again only for the node a change touches:
a placement scores cached arrays, and FGD's per-node scores stay cached between requests.
The event log records every change (`extender.py`); the arrays are not kept across a
restart: after one the first call answers 409 and the client sends the full state.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from odlar.core.errors import Conflict, DataError
from odlar.datacenter.placement import (
    ClusterTable,
    PendingPod,
    PlacementModel,
    PlacementResponse,
    answer,
    check_pod,
    pod_of_request,
    table_state,
)
from odlar.datacenter.policies import Policy, make
from odlar.datacenter.state import TAGS, ClusterState

#: pods seen by filter or prioritize, kept for their bind (the oldest are forgotten first)
SEEN_PODS = 20_000
RECENT_LISTS = 4
COLUMNS = ("name", "model", "cpu_free", "memory_free", "gpu_free", "gpu_pods")


@dataclass
class Binding:
    node: str
    gpus: list[int]
    pod: PendingPod


@dataclass
class Choice:
    node: str
    gpus: list[int]
    stamp: int  # the node's change counter when chosen


@dataclass
class Seen:
    pod: PendingPod
    choice: Choice | None


@dataclass
class HeldCluster:
    """One tenant's cluster as arrays, measured against the serving model's target."""

    state: ClusterState
    served_by: tuple[int, int]  # (model version, id of the loaded model object)
    policy: Policy
    version: int = 1
    index: dict[str, int] = field(default_factory=dict)
    bound: dict[str, Binding] = field(default_factory=dict)
    seen: OrderedDict[str, Seen] = field(default_factory=OrderedDict)
    #: node-name lists asked lately, with their indices (valid until nodes change)
    recent: list[tuple[list[str], tuple[np.ndarray, list[str]]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(
        cls, model: PlacementModel, model_version: int, table: ClusterTable, version: int
    ) -> HeldCluster:
        state = table_state(model, table, measure=True)
        return cls(
            state=state,
            served_by=(model_version, id(model)),
            policy=make(model.method, model.policy_params()),
            version=version,
            index={n: i for i, n in enumerate(state.cluster.names)},
        )

    def serve_with(self, model: PlacementModel, model_version: int) -> None:
        """Measure against another model (a newly approved version): the same free amounts
        and bindings, fragmentation and the policy's caches made again."""
        if self.served_by != (model_version, id(model)):
            fresh = HeldCluster.build(model, model_version, self.table(), self.version)
            self.state, self.served_by, self.policy = fresh.state, fresh.served_by, fresh.policy

    def check(self, expected: int | None) -> None:
        if expected is not None and expected != self.version:
            raise Conflict(
                f"cluster version {expected} is stale: the server holds version "
                f"{self.version}; send the full state again (PUT .../cluster)"
            )

    # --- reading ------------------------------------------------------------------------

    def place(
        self, model: PlacementModel, pod: PendingPod, names: list[str] | None = None,
        explain: bool = True,
    ) -> tuple[PlacementResponse, list[str]]:  # fmt: skip
        """The answer for `pod` on the nodes named (all when None), in the order named, and
        the names this server does not hold."""
        check_pod(pod)
        candidates, unknown = self.candidates(names)
        shaped = pod_of_request(pod, self.state.cluster.models)
        return answer(model, self.state, shaped, candidates, self.policy, explain), unknown

    def candidates(self, names: list[str] | None) -> tuple[np.ndarray, list[str]]:
        """Node indices of `names` in their order, and the names not held. The scheduler
        sends the same lists again and again (every node, then what its filters kept):
        the last few are kept, and a list equal to one (compared in C) costs no lookups."""
        if names is None:
            return np.arange(self.state.size), []
        for i, (known, found) in enumerate(self.recent):
            if known == names:
                if i:
                    self.recent.insert(0, self.recent.pop(i))
                return found
        got = [self.index.get(n, -1) for n in names]
        found = (
            np.array([i for i in got if i >= 0], dtype=np.int64),
            [n for n, i in zip(names, got, strict=True) if i < 0],
        )
        self.recent.insert(0, (names, found))
        del self.recent[RECENT_LISTS:]
        return found

    def remember(self, key: str, pod: PendingPod, answer: PlacementResponse | None = None) -> None:
        """Keep a pod's requests for its bind, and the GPUs chosen on the node chosen (a
        bind to that node, unchanged since, takes them: random-fit draws differ per call)."""
        choice = None
        if answer is not None and answer.node is not None:
            i = self.index[answer.node]
            choice = Choice(answer.node, list(answer.gpus), int(self.state.version[i]))
        self.seen[key] = Seen(pod, choice)
        self.seen.move_to_end(key)
        while len(self.seen) > SEEN_PODS:
            self.seen.popitem(last=False)

    def table(self) -> ClusterTable:
        """The state as columns: what a full-state request for it would send."""
        s = self.state
        gpus = s.cluster.gpus.tolist()
        return ClusterTable.model_construct(
            name=list(s.cluster.names),
            model=[s.cluster.models[k] for k in s.model.tolist()],
            cpu_free=s.cpu_free.tolist(),
            memory_free=s.memory_free.tolist(),
            gpu_free=[row[:g] for row, g in zip(s.gpu_free.tolist(), gpus, strict=True)],
            gpu_pods=s.tags.tolist(),
        )

    # --- changing -----------------------------------------------------------------------

    def bind(self, model: PlacementModel, key: str, node: str) -> Binding:
        """Place a pod seen before on `node`, on the GPUs the policy picks there now."""
        seen = self.seen.get(key)
        if seen is None:
            raise Conflict(
                f"pod '{key}' was not filtered or prioritized by this server: its requests "
                "are unknown (the scheduler's filter or prioritize call comes first)"
            )
        if key in self.bound:
            raise Conflict(f"pod '{key}' is bound already (to {self.bound[key].node})")
        if node not in self.index:
            raise Conflict(f"node '{node}' is not in the cluster state (version {self.version})")
        pod, c, i = seen.pod, seen.choice, self.index[node]
        if c is not None and c.node == node and c.stamp == self.state.version[i]:
            gpus = c.gpus
        else:  # another node, or changed since: the policy chooses its GPUs now
            chosen, _ = self.place(model, pod, [node])
            if chosen.node is None:
                raise Conflict(f"node '{node}' cannot take pod '{key}' now: {chosen.failed[node]}")
            gpus = list(chosen.gpus)
        shaped = pod_of_request(pod, self.state.cluster.models)
        self.state.place(i, np.array(gpus, dtype=np.int64), shaped)
        binding = Binding(node, gpus, pod)
        self.bound[key] = binding
        self.seen.pop(key, None)
        self.version += 1
        return binding

    def unbind(self, key: str) -> Binding:
        binding = self.bound.pop(key, None)
        if binding is None:
            raise Conflict(f"pod '{key}' is not bound in the cluster state")
        shaped = pod_of_request(binding.pod, self.state.cluster.models)
        gpus = np.array(binding.gpus, dtype=np.int64)
        self.state.release(self.index[binding.node], gpus, shaped)
        self.version += 1
        return binding

    def change_nodes(
        self, model: PlacementModel, model_version: int, add: ClusterTable | None,
        remove: list[str],
    ) -> None:  # fmt: skip
        """Remove and add nodes: the arrays are built again (pods bound on a removed node
        are forgotten with it)."""
        gone = set(remove)
        missing = sorted(gone - set(self.index))
        if missing:
            raise DataError(f"node '{missing[0]}' is not in the cluster state", field="remove")
        now = _columns(self.table())
        keep = [i for i, n in enumerate(now["name"]) if n not in gone]
        columns = {c: [now[c][i] for i in keep] for c in COLUMNS}
        if add is not None:
            taken = set(columns["name"])
            again = next((n for n in add.name if n in taken), None)
            if again is not None:
                raise DataError(f"node '{again}' is in the cluster state already", field="add.name")
            new = _columns(add)
            for c in COLUMNS:
                columns[c] += new[c]
        fresh = HeldCluster.build(
            model, model_version, ClusterTable.model_construct(**columns), self.version + 1
        )
        self.state, self.served_by, self.policy = fresh.state, fresh.served_by, fresh.policy
        self.index, self.version, self.recent = fresh.index, fresh.version, []
        self.bound = {k: b for k, b in self.bound.items() if b.node not in gone}


def _columns(table: ClusterTable) -> dict[str, list]:
    out = {c: list(getattr(table, c)) for c in COLUMNS if c != "gpu_pods"}
    out["gpu_pods"] = list(table.gpu_pods or [[0] * TAGS for _ in table.name])
    return out


_HELD: dict[tuple[str, str], HeldCluster] = {}
_LOCK = threading.Lock()


def held(installation: str, tenant: str) -> HeldCluster:
    """The tenant's cluster, or 409 when none was set (or the server restarted since)."""
    cluster = _HELD.get((installation, tenant))
    if cluster is None:
        raise Conflict(
            "no cluster state held for this tenant: send the full state first "
            "(PUT /api/v1/tasks/datacenter.scheduling/cluster)"
        )
    return cluster


def set_cluster(
    installation: str, tenant: str, model: PlacementModel, model_version: int,
    table: ClusterTable,
) -> HeldCluster:  # fmt: skip
    """Replace the tenant's cluster with a full state; the version moves on from the one
    replaced (1 for the first)."""
    with _LOCK:
        old = _HELD.get((installation, tenant))
        cluster = HeldCluster.build(model, model_version, table, old.version + 1 if old else 1)
        _HELD[(installation, tenant)] = cluster
    return cluster
