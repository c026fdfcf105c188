"""The sector's console page, mounted under /ui."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from odlar.web.console import principal_of, render

router = APIRouter()


@router.get("/tiny", response_class=HTMLResponse)
def page(request: Request) -> HTMLResponse:
    me = principal_of(request)
    return render(request, "tiny/page.html", me, greeting=f"hello {me.name}")
