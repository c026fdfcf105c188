"""The sector's own API routes, mounted under /api/v1."""

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from odlar.governance.roles import Principal
from odlar.server.auth import READ

router = APIRouter(tags=["tiny"])


class Hello(BaseModel):
    greeting: str


@router.get("/tiny/hello", response_model=Hello)
def hello(principal: Principal = Depends(READ)) -> Hello:
    return Hello(greeting=f"hello {principal.name}")
