"""The energy sector's own API routes (mounted under /api/v1): live fault monitoring."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path

from odlar.energy.faults.live import HUB, MonitorResponse
from odlar.energy.faults.task import FaultRequest
from odlar.governance.roles import Principal
from odlar.server.auth import OPERATE

router = APIRouter()

STREAM = Path(
    pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$",
    description="Stream name: a plant, unit or well (letters, digits, . _ : -)",
)


@router.post(
    "/tasks/energy.faults/monitor/{stream}",
    tags=["monitor"],
    response_model=MonitorResponse,
    summary="Score a batch of live readings; raise, update and clear stored alerts",
)
def monitor_readings(
    body: FaultRequest,
    stream: str = STREAM,
    principal: Principal = Depends(OPERATE),
) -> MonitorResponse:
    return HUB.push(
        tenant=principal.tenant,
        stream=stream,
        readings=body.readings,
        model_version=body.model_version,
        actor=principal.name,
    )
