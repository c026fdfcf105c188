"""The data-center sector's own API routes (mounted under /api/v1): the cluster the server
holds per tenant and the Kubernetes scheduler extender's filter, prioritize and bind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from odlar.datacenter import extender as X
from odlar.datacenter.placement import ClusterTable
from odlar.governance.roles import Principal
from odlar.server.auth import OPERATE, READ

router = APIRouter()

BASE = "/tasks/datacenter.scheduling"
VERSION_HEADER = "X-Cluster-Version"
#: the version a filter, prioritize or bind was decided on, and an optional precondition
EXPECTED = Header(
    None, alias=VERSION_HEADER, ge=1,
    description="The cluster version the caller holds: 409 when the server holds another",
)  # fmt: skip


async def _governed(principal: Principal, call: Callable[..., Any], *args: Any) -> Any:
    """Through the serving gate: on the event loop when the serving version is loaded (no
    thread-pool hop), in a thread while its first use loads it from MLflow."""
    tenant, actor = principal.tenant, principal.name
    version = X.serving_version(tenant)
    if X.loaded(tenant, version):
        return call(tenant, actor, version, *args)
    return await run_in_threadpool(call, tenant, actor, version, *args)


def _answer(result: tuple[bytes, int]) -> Response:
    body, version = result
    return Response(body, media_type="application/json", headers={VERSION_HEADER: str(version)})


@router.put(f"{BASE}/cluster", tags=["datacenter"], summary="Set the cluster state held")
async def set_cluster(
    body: ClusterTable, request: Request, principal: Principal = Depends(OPERATE)
) -> X.ClusterInfo:
    """The full state (the columns of a predict request's `nodes`), held for the extender
    routes until changed; answers the new version."""
    return await _governed(principal, X.set_state, body, await request.body())


@router.get(f"{BASE}/cluster", tags=["datacenter"], summary="The cluster state held")
def cluster_info(principal: Principal = Depends(READ)) -> X.ClusterInfo:
    return X.state_info(principal.tenant)


@router.patch(f"{BASE}/cluster", tags=["datacenter"], summary="Change the cluster state held")
async def change_cluster(
    body: X.ClusterChange, request: Request, principal: Principal = Depends(OPERATE)
) -> X.ClusterInfo:
    """Unbind pods, remove and add nodes; 409 unless `version` is the one held."""
    return await _governed(principal, X.change, body, await request.body())


@router.post(
    f"{BASE}/extender/filter", tags=["datacenter"], response_model=X.ExtenderFilterResult,
    summary="Kubernetes scheduler extender: filter",
)  # fmt: skip
async def extender_filter(
    body: X.ExtenderArgs,
    request: Request,
    expected: int | None = EXPECTED,
    principal: Principal = Depends(OPERATE),
) -> Response:
    return _answer(await _governed(principal, X.filter_nodes, body, await request.body(),
                                   expected))  # fmt: skip


@router.post(
    f"{BASE}/extender/prioritize", tags=["datacenter"], response_model=list[X.HostPriority],
    summary="Kubernetes scheduler extender: prioritize",
)  # fmt: skip
async def extender_prioritize(
    body: X.ExtenderArgs,
    request: Request,
    expected: int | None = EXPECTED,
    principal: Principal = Depends(OPERATE),
) -> Response:
    return _answer(await _governed(principal, X.prioritize, body, await request.body(),
                                   expected))  # fmt: skip


@router.post(
    f"{BASE}/extender/bind", tags=["datacenter"], response_model=X.ExtenderBindingResult,
    summary="Kubernetes scheduler extender: bind",
)  # fmt: skip
async def extender_bind(
    body: X.ExtenderBindingArgs,
    request: Request,
    expected: int | None = EXPECTED,
    principal: Principal = Depends(OPERATE),
) -> Response:
    return _answer(await _governed(principal, X.bind, body, await request.body(), expected))
