"""The serving gate: which model version may answer, loading it, predicting and logging.

Every prediction of the CLI, the API, the console and the sectors' own services passes
here: the version asked for if approved, else the newest approved (any version when
approval is switched off), read on every call so that a revocation acts at once; each
answer is an event-log record."""

from __future__ import annotations

from typing import Any

from odlar.core import audit, tracking
from odlar.core.config import get_settings
from odlar.core.errors import Conflict
from odlar.core.privacy import tenant_scope
from odlar.core.store import DEFAULT_TENANT
from odlar.governance import approval


def serving_version(task: str, version: int | None, *, tenant: str) -> int:
    """The version that may serve: the one asked for if approved, else the newest approved
    (any version when approval is switched off)."""
    if not get_settings().require_approval:
        return tracking.get_version(task, version, tenant=tenant).version
    if version is not None:
        state = approval.state(tenant, task, version)
        if state != "approved":
            # 404 first for a version that never was
            tracking.get_version(task, version, tenant=tenant)
            raise Conflict(
                f"model version {version} of {task} is {state}, not approved: it does not "
                f"serve (an approver runs: odlar models approve {task} {version})"
            )
        return version
    decided = approval.states(tenant, task)
    approved = [v for v, d in decided.items() if d == "approved"]
    if not approved:
        tracking.get_version(task, None, tenant=tenant)  # 404 when nothing was trained at all
        revoked = sorted(v for v, d in decided.items() if d == "revoked")
        # say so when serving stopped because of a revocation, not for lack of an approval
        why = f" (revoked: version {', '.join(map(str, revoked))})" if revoked else ""
        raise Conflict(
            f"no approved model version of {task}{why}: an approver must approve one first "
            f"(odlar models list {task}; odlar models approve {task} VERSION)"
        )
    return max(approved)


def load_model(
    task: str, version: int | None = None, *, tenant: str = DEFAULT_TENANT
) -> tuple[tracking.ModelVersion, Any]:
    """The model object of a version that may serve (newest approved by default); the
    approval is read on every call, so a revocation acts at once."""
    return tracking.load_version(task, serving_version(task, version, tenant=tenant), tenant=tenant)


def predict(
    task: Any,
    request: Any,
    *,
    tenant: str = DEFAULT_TENANT,
    actor: str,
    serving: int | None = None,
) -> Any:
    """Answer a task's request with the version it names (newest approved by default),
    stamping the version used on the response, and log the prediction (model version,
    input digest, output): the one path the CLI and the API both serve through.
    `serving`: the version `serving_version` just gave for this request, if the caller
    asked already."""
    if serving is None:
        serving = serving_version(task.name, getattr(request, "model_version", None), tenant=tenant)
    mv, model = tracking.load_version(task.name, serving, tenant=tenant)
    with tenant_scope(tenant):  # people in the response carry the tenant's own pseudonyms
        response = task.predict(model, request)
    response = response.model_copy(update={"model_version": mv.version})
    audit.record(
        tenant=tenant, actor=actor, action="predict", target=task.name,
        model_version=f"{task.name}/{mv.version}",
        # pydantic's JSON (fields in schema order): fast, and the same request always
        # gives the same digest
        input_digest=audit.digest(request.model_dump_json().encode()),
        output=task.logged_output(model, request, response),
    )  # fmt: skip
    return response
