"""Unknown query parameters are refused, not ignored: `?stat=open` for `?state=open` would
otherwise answer as if no filter had been asked for."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from odlar.core.errors import UsageError

_ALLOWED: dict[int, frozenset[str]] = {}


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _allowed(route: APIRoute) -> frozenset[str]:
    key = id(route)
    if key not in _ALLOWED:
        _ALLOWED[key] = frozenset(_query_names(route.dependant))
    return _ALLOWED[key]


async def reject_unknown_query(request: Request) -> None:
    """Router dependency: a query parameter the route does not declare is a 400."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    # no route takes a list in its query: a name given twice is a mistake, not a choice
    repeated = sorted({k for k in request.query_params if len(request.query_params.getlist(k)) > 1})
    if repeated:
        shown = ", ".join(repr(r[:40]) for r in repeated[:5])
        raise UsageError(f"query parameter(s) {shown} given more than once")
    unknown = sorted(set(request.query_params) - _allowed(route))
    if unknown:
        known = ", ".join(sorted(_allowed(route))) or "none"
        shown = ", ".join(repr(u[:40]) for u in unknown[:5])
        raise UsageError(f"unknown query parameter(s) {shown} (this route takes: {known})")
