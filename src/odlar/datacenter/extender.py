"""A Kubernetes scheduler extender over the cluster the server holds (`held.py`).

The scheduler (`k8s.io/kube-scheduler/extender/v1`, `nodeCacheCapable: true`) sends the
pod and candidate node names; filter answers ExtenderFilterResult, prioritize a
HostPriorityList on 0-10, bind an ExtenderBindingResult, with the Go field names the
scheduler's JSON decoder expects. Every call passes the serving gate (the newest approved
version of `datacenter.scheduling`, read on each call) and is an event-log record: the
decision, compact, with the digest of the answer sent. Answers are encoded once, here, so
the digest is of the bytes that leave.

A pod's GPU request is read from the annotations of the FGD authors' simulator
(hkust-adsl/kubernetes-scheduler-simulator): `alibabacloud.com/gpu-count`,
`alibabacloud.com/gpu-milli` (per GPU) and `alibabacloud.com/gpu-card-model` (allowed
models, `A|B`), or from an `nvidia.com/gpu` request (whole GPUs); CPU and memory from the
containers' requests (Kubernetes quantities).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from odlar.core import audit, tracking
from odlar.core.config import get_settings
from odlar.core.errors import Conflict, DataError
from odlar.datacenter import held as H
from odlar.datacenter.placement import (
    MODEL_NOT_ALLOWED,
    ClusterTable,
    PendingPod,
    PlacementModel,
)
from odlar.datacenter.trace import MAX_GPUS_PER_NODE, MILLI
from odlar.governance import serving

TASK = "datacenter.scheduling"
GPU_COUNT = "alibabacloud.com/gpu-count"
GPU_MILLI = "alibabacloud.com/gpu-milli"
GPU_MODEL = "alibabacloud.com/gpu-card-model"
#: set by an adapter from the bind answer (the simulator's name; "-" between indices)
GPU_INDEX = "alibabacloud.com/gpu-index"
WHOLE_GPU = "nvidia.com/gpu"
UNKNOWN_NODE = "not in the cluster state odlar holds: add it (PATCH .../cluster)"

# --- the Kubernetes shapes (only the fields read; others are ignored) ------------------


class _Kube(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ObjectMeta(_Kube):
    name: str = Field(default="", max_length=253)
    namespace: str = Field(default="default", max_length=253)
    uid: str = Field(default="", max_length=128)
    annotations: dict[str, str] = Field(default_factory=dict, max_length=1000)


class Resources(_Kube):
    requests: dict[str, str | int | float] = Field(default_factory=dict, max_length=100)
    limits: dict[str, str | int | float] = Field(default_factory=dict, max_length=100)


class Container(_Kube):
    name: str = Field(default="", max_length=253)
    resources: Resources = Field(default_factory=Resources)


class PodSpec(_Kube):
    containers: list[Container] = Field(default_factory=list, max_length=100)
    init_containers: list[Container] = Field(
        default_factory=list, max_length=100, alias="initContainers"
    )


class KubePod(_Kube):
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PodSpec = Field(default_factory=PodSpec)


class ExtenderArgs(_Kube):
    """What the scheduler sends to filter and prioritize."""

    pod: KubePod = Field(alias="Pod")
    node_names: list[str] | None = Field(
        default=None, alias="NodeNames", max_length=20_000,
        description="Candidate nodes (nodeCacheCapable: true); null: every node held",
    )  # fmt: skip


class ExtenderFilterResult(_Kube):
    node_names: list[str] = Field(alias="NodeNames", description="Nodes that can take the pod")
    failed_nodes: dict[str, str] = Field(alias="FailedNodes", description="Out, and why")
    failed_and_unresolvable: dict[str, str] = Field(
        alias="FailedAndUnresolvableNodes",
        description="Out whatever is preempted (GPU model not allowed, node not held)",
    )
    error: str = Field(default="", alias="Error")


class HostPriority(_Kube):
    host: str = Field(alias="Host")
    score: int = Field(alias="Score", description="0-10, higher is better")


class ExtenderBindingArgs(_Kube):
    pod_name: str = Field(alias="PodName", max_length=253)
    pod_namespace: str = Field(default="default", alias="PodNamespace", max_length=253)
    pod_uid: str = Field(default="", alias="PodUID", max_length=128)
    node: str = Field(alias="Node", min_length=1, max_length=253)


class ExtenderBindingResult(_Kube):
    error: str = Field(default="", alias="Error")
    node: str = Field(alias="Node")
    gpus: list[int] = Field(alias="GPUs", description="GPU indices on the node")
    annotations: dict[str, str] = Field(
        alias="Annotations", description="What the adapter sets on the pod (GPU indices)"
    )
    version: int = Field(alias="Version", description="The cluster version after the bind")


class ClusterInfo(BaseModel):
    version: int = Field(description="Moves by one with every change")
    nodes: int
    gpus: int
    gpu_milli_free: int
    bound_pods: int = Field(description="Pods bound through this server and not unbound")
    model_version: int = Field(description="The policy version the arrays are measured for")


class ClusterChange(BaseModel):
    """Changes to the held cluster, applied in order (unbind, remove, add); refused with
    409 unless `version` is the one held."""

    version: int = Field(ge=1, description="The cluster version the changes apply to")
    unbind: list[str] = Field(
        default_factory=list, max_length=20_000,
        description="Pods gone: their UID, or namespace/name when bound without one",
    )  # fmt: skip
    remove: list[str] = Field(default_factory=list, max_length=20_000, description="Nodes")
    add: ClusterTable | None = Field(default=None, description="Nodes added, with free amounts")


# --- quantities and pods -----------------------------------------------------------------

_QUANTITY = re.compile(
    r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
)
_SCALE = {None: 1, "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
          "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
          "Pi": 2**50, "Ei": 2**60}  # fmt: skip


def quantity(value: str | int | float, where: str) -> Decimal:
    """A Kubernetes resource quantity ("500m", "4Gi", "2", "1e3") as a number."""
    m = _QUANTITY.match(str(value).strip())
    if not m:
        raise DataError(f"'{value}' is not a Kubernetes quantity (e.g. 500m, 4Gi)", field=where)
    try:
        out = Decimal(m.group(1)) * _SCALE[m.group(2)]
    except InvalidOperation:
        raise DataError(f"'{value}' is not a Kubernetes quantity", field=where) from None
    if out < 0:
        raise DataError(f"'{value}' is negative", field=where)
    return out


def _requests(pod: KubePod, resource: str) -> Decimal:
    """The pod's effective request: the containers' sum, or the largest init container's
    when larger (as the Kubernetes scheduler counts it)."""

    def of(kind: str, containers: list[Container]) -> list[Decimal]:
        return [
            quantity(c.resources.requests[resource],
                     f"Pod.spec.{kind}[{i}].resources.requests.{resource}")
            for i, c in enumerate(containers) if resource in c.resources.requests
        ]  # fmt: skip

    init = of("initContainers", pod.spec.init_containers)
    return max(sum(of("containers", pod.spec.containers), Decimal(0)), *init, Decimal(0))


def _annotation(notes: dict[str, str], name: str, high: int) -> int | None:
    if name not in notes:
        return None
    where, value = f"Pod.metadata.annotations.{name}", notes[name]
    try:
        n = int(value)
    except ValueError:
        raise DataError(f"'{value}' is not a whole number", field=where) from None
    if not 0 <= n <= high:
        raise DataError(f"{n} is out of range 0-{high}", field=where)
    return n


def pending_pod(pod: KubePod) -> PendingPod:
    """What the placement reads of a Kubernetes pod."""
    notes = pod.metadata.annotations
    num = _annotation(notes, GPU_COUNT, MAX_GPUS_PER_NODE)
    milli = _annotation(notes, GPU_MILLI, MILLI)
    if num is None and milli is not None:
        num = 1
    if num is None:  # whole GPUs asked as an extended resource
        whole = _requests(pod, WHOLE_GPU)
        num, milli = int(whole), MILLI
        if whole != num or num > MAX_GPUS_PER_NODE:
            raise DataError(f"{whole} is not a whole number of GPUs (0-16)", field=WHOLE_GPU)
    return PendingPod(
        name=pod.metadata.name or "pod",
        cpu_milli=math.ceil(_requests(pod, "cpu") * 1000),
        memory_mib=math.ceil(_requests(pod, "memory") / 2**20),
        num_gpu=num,
        gpu_milli=(MILLI if milli is None else milli) if num else 0,
        gpu_spec=notes.get(GPU_MODEL, "")[:1000],
    )


def pod_key(uid: str, namespace: str, name: str) -> str:
    return uid or f"{namespace}/{name}"


# --- the governed calls ------------------------------------------------------------------


def serving_version(tenant: str) -> int:
    """The version that serves the tenant now: approval is read on every call, so a
    revocation acts at once (the serving gate)."""
    return serving.serving_version(TASK, None, tenant=tenant)


def loaded(tenant: str, version: int) -> bool:
    """Whether the version's model is in memory (else loading it takes seconds: a caller
    on the event loop moves the call to a thread)."""
    return tracking.is_loaded(TASK, version, tenant=tenant)


def _model(tenant: str, version: int) -> PlacementModel:
    return tracking.load_version(TASK, version, tenant=tenant)[1]


def _installation() -> str:
    return get_settings().db_url


def _held(tenant: str, expected: int | None) -> H.HeldCluster:
    cluster = H.held(_installation(), tenant)
    cluster.check(expected)
    return cluster


def _log(tenant: str, actor: str, action: str, version: int, raw: bytes, output: Any) -> None:
    audit.record(
        tenant=tenant, actor=actor, action=action, target=TASK,
        model_version=f"{TASK}/{version}", input_digest=hashlib.sha256(raw).hexdigest(),
        output=output,
    )  # fmt: skip


def _requested(p: PendingPod) -> list[Any]:
    return [p.cpu_milli, p.memory_mib, p.num_gpu, p.gpu_milli, p.gpu_spec]


def set_state(
    tenant: str, actor: str, version: int, table: ClusterTable, raw: bytes
) -> ClusterInfo:
    model = _model(tenant, version)
    cluster = H.set_cluster(_installation(), tenant, model, version, table)
    info = _info(cluster)
    _log(tenant, actor, "cluster_set", version, raw, info.model_dump())
    return info


def state_info(tenant: str) -> ClusterInfo:
    return _info(H.held(_installation(), tenant))


def change(
    tenant: str, actor: str, version: int, body: ClusterChange, raw: bytes
) -> ClusterInfo:
    model = _model(tenant, version)
    cluster = _held(tenant, body.version)
    with cluster.lock:
        cluster.check(body.version)
        cluster.serve_with(model, version)
        for key in body.unbind:  # checked first: nothing changes when one is unknown
            if key not in cluster.bound:
                raise Conflict(f"pod '{key}' is not bound in the cluster state")
        for key in body.unbind:
            cluster.unbind(key)
        if body.remove or body.add is not None:
            cluster.change_nodes(model, version, body.add, body.remove)
        info = _info(cluster)
    _log(tenant, actor, "cluster_change", version, raw, {
        "unbind": body.unbind[:100], "removed": body.remove[:100],
        "added": len(body.add.name) if body.add else 0, "cluster": info.model_dump(),
    })  # fmt: skip
    return info


def filter_nodes(
    tenant: str, actor: str, version: int, args: ExtenderArgs, raw: bytes,
    expected: int | None = None,
) -> tuple[bytes, int]:  # fmt: skip
    """ExtenderFilterResult for the pod on the named nodes, as JSON, and the cluster
    version it was decided on."""
    return _decide(tenant, actor, version, args, raw, expected, "filter")


def prioritize(
    tenant: str, actor: str, version: int, args: ExtenderArgs, raw: bytes,
    expected: int | None = None,
) -> tuple[bytes, int]:  # fmt: skip
    """HostPriorityList (every named node held; 0 for those that cannot take the pod)."""
    return _decide(tenant, actor, version, args, raw, expected, "prioritize")


def _decide(
    tenant: str, actor: str, version: int, args: ExtenderArgs, raw: bytes,
    expected: int | None, verb: str,
) -> tuple[bytes, int]:  # fmt: skip
    model = _model(tenant, version)
    pod = pending_pod(args.pod)
    meta = args.pod.metadata
    key = pod_key(meta.uid, meta.namespace, meta.name)
    cluster = _held(tenant, expected)
    with cluster.lock:
        cluster.serve_with(model, version)
        r, unknown = cluster.place(model, pod, args.node_names, explain=verb == "filter")
        cluster.remember(key, pod, r)
        at = cluster.version
    if verb == "filter":
        out = ExtenderFilterResult.model_construct(
            node_names=r.feasible,
            failed_nodes={n: why for n, why in r.failed.items() if why != MODEL_NOT_ALLOWED},
            failed_and_unresolvable={
                **{n: why for n, why in r.failed.items() if why == MODEL_NOT_ALLOWED},
                **dict.fromkeys(unknown, UNKNOWN_NODE),
            },
            error="",
        )
        body = out.__pydantic_serializer__.to_json(out, by_alias=True)
    else:
        # plain JSON: a model object per host cost more than the placement itself
        ranked = [{"Host": n, "Score": p} for n, p in zip(r.feasible, r.priority, strict=True)]
        ranked += [{"Host": n, "Score": 0} for n in r.failed]
        body = json.dumps(ranked, separators=(",", ":")).encode()
    k = r.feasible.index(r.node) if r.node is not None else None
    _log(tenant, actor, f"extender_{verb}", version, raw, {
        "pod": key, "requests": _requested(pod), "policy": model.method, "cluster": at,
        "node": r.node, "gpus": r.gpus, "score": r.score[k] if k is not None else None,
        "nodes": len(r.feasible) + len(r.failed) + len(unknown), "feasible": len(r.feasible),
        "failed": len(r.failed), "unknown": len(unknown),
        "answer_sha256": hashlib.sha256(body).hexdigest(),
    })  # fmt: skip
    return body, at


def bind(
    tenant: str, actor: str, version: int, args: ExtenderBindingArgs, raw: bytes,
    expected: int | None = None,
) -> tuple[bytes, int]:  # fmt: skip
    """Bind a pod filtered or prioritized before to a node: its GPUs chosen there now and
    taken from the held state (the adapter creates the Binding and sets the annotation)."""
    model = _model(tenant, version)
    key = pod_key(args.pod_uid, args.pod_namespace, args.pod_name)
    cluster = _held(tenant, expected)
    with cluster.lock:
        cluster.serve_with(model, version)
        b = cluster.bind(model, key, args.node)
        at = cluster.version
    out = ExtenderBindingResult.model_construct(
        error="", node=b.node, gpus=b.gpus, version=at,
        annotations={GPU_INDEX: "-".join(map(str, b.gpus))} if b.gpus else {},
    )  # fmt: skip
    body = out.__pydantic_serializer__.to_json(out, by_alias=True)
    _log(tenant, actor, "extender_bind", version, raw, {
        "pod": key, "requests": _requested(b.pod), "policy": model.method, "node": b.node,
        "gpus": b.gpus, "cluster": at,
    })  # fmt: skip
    return body, at


def _info(c: H.HeldCluster) -> ClusterInfo:
    s = c.state
    return ClusterInfo(
        version=c.version, nodes=s.size, gpus=int(s.cluster.gpus.sum()),
        gpu_milli_free=int((s.gpu_free * s.present).sum()), bound_pods=len(c.bound),
        model_version=c.served_by[0],
    )  # fmt: skip
