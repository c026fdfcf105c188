"""Timetables as the registrar sees them: a model version of `admin.timetabling` read back
with its instance, cost and violations; the instances a tenant can solve; the files a
published timetable is downloaded as. The console page and the API both call these.

- `instances`: the competition's instances under ODLAR_DATA and the tenant's uploads;
- `read`, `review`: any version of the tenant (pending ones too: a registrar reviews a
  timetable before an approver approves it), with its approval state and score;
- `export`: the file of a timetable that may be published (approved, or any version when
  approval is switched off), through the serving gate, as the competition's `.sol`, CSV or
  iCalendar, whole or for one curriculum, teacher, room or course.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import Field

from odlar.admin.timetabling import bench as itc_bench
from odlar.admin.timetabling import exports, references
from odlar.admin.timetabling.instance import Instance, Lecture, write_solution
from odlar.admin.timetabling.task import TimetableResponse, response
from odlar.admin.timetabling.validator import WEIGHTS, Score, score
from odlar.core import datasets, tracking
from odlar.core.config import get_settings
from odlar.core.errors import UsageError
from odlar.governance import approval, serving

TASK = "admin.timetabling"
FORMATS = {"sol": "text/plain", "csv": "text/csv", "ics": "text/calendar"}


def instances(tenant: str) -> list[tuple[str, str]]:
    """(data reference, label) of every instance the tenant can solve: the ITC 2007
    instances under ODLAR_DATA (when present), then the tenant's uploads."""
    folder_ref = "admin/itc2007-cct"
    folder = get_settings().data_dir / folder_ref
    out = [(f"{folder_ref}/{p.name}", f"{p.stem} (ITC 2007)")
           for p in sorted(folder.glob("comp*.ctt"))] if folder.is_dir() else []  # fmt: skip
    out += [(d["id"], f"{d['name']} (uploaded, {d['rows']} lectures)")
            for d in datasets.list_datasets(tenant=tenant) if d["task"] == TASK]  # fmt: skip
    return out


@dataclass
class Timetable:
    version: tracking.ModelVersion
    state: str  # approval: pending, approved, revoked
    inst: Instance
    lectures: list[Lecture]
    score: Score
    best_known: int | None  # the best known cost of a competition instance (references.py)
    anchors: list[dict[str, Any]]

    @property
    def instance_id(self) -> str:
        """`comp01` for a competition file (its published figures are keyed so)."""
        return Path(str(self.version.data.get("source", ""))).stem or self.inst.name

    def soft_rows(self) -> list[dict[str, Any]]:
        counts: dict[str, int] = {k: 0 for k in WEIGHTS}
        for v in self.score.violations:
            if not v.hard:
                counts[v.kind] = counts.get(v.kind, 0) + 1
        return [{"kind": k, "weight": w, "violations": counts.get(k, 0),
                 "cost": self.score.soft.get(k, 0)} for k, w in WEIGHTS.items()]  # fmt: skip

    @property
    def gap(self) -> int | None:
        return None if self.best_known is None else self.score.cost - self.best_known


def read(tenant: str, version: int) -> Timetable:
    """A version of the tenant's (NotFound for another tenant's: versions are per tenant)."""
    mv, model = tracking.load_version(TASK, version, tenant=tenant)
    inst = model.inst()
    lectures = model.timetable
    t = Timetable(mv, approval.state(tenant, TASK, version), inst, lectures,
                  score(inst, lectures), None, [])  # fmt: skip
    known = references.best_known(t.instance_id)
    t.best_known = None if known is None else known.cost
    t.anchors = [{"method": a.method, "cost": a.metrics["cost"], "source": a.source}
                 for a in itc_bench.anchors([t.instance_id])]  # fmt: skip
    return t


class TimetableView(TimetableResponse):
    """A timetable for review: the answer of the predict route, with its approval state and
    the best known cost of the instance."""

    approval: str = Field(description="pending, approved or revoked")
    best_known: int | None = Field(description="Lowest traced published cost, if any")


def review(
    tenant: str, version: int, view: str | None = None, key: str | None = None
) -> TimetableView:
    """Any version of the tenant as the API's review answer (pending ones too)."""
    t = read(tenant, version)
    answer = response(t.inst, t.lectures, version=version, view=view, key=key)
    return TimetableView(**answer.model_dump(), approval=t.state, best_known=t.best_known)


def views(inst: Instance) -> list[tuple[str, list[str]]]:
    """The week grids a timetable can be shown as: every curriculum, teacher and room."""
    return [
        ("curriculum", [q.id for q in inst.curricula]),
        ("teacher", inst.teachers),
        ("room", [r.id for r in inst.rooms]),
    ]


def parse_show(text: str | None, inst: Instance) -> tuple[str | None, str | None]:
    """`curriculum:q001` -> ("curriculum", "q001"); empty -> the first curriculum (or the
    whole timetable for an instance without curricula); `all` -> the whole timetable."""
    if not text:
        return ("curriculum", inst.curricula[0].id) if inst.curricula else (None, None)
    if text == "all":
        return None, None
    view, sep, key = text.partition(":")
    if not sep or view not in exports.VIEWS or not key:
        raise UsageError(f"show '{text[:60]}' must be VIEW:KEY, VIEW one of "
                         f"{', '.join(exports.VIEWS)} (e.g. curriculum:q001), or all")  # fmt: skip
    return view, key


def grid(t: Timetable, view: str | None, key: str | None) -> dict[str, Any]:
    """The week grid of one curriculum, teacher or room (all lectures when view is None),
    violations on their cells; UsageError names an unknown key."""
    shown = exports.select(t.inst, t.lectures, view, key)
    return exports.week_grid(t.inst, shown, t.score)


def export(
    tenant: str,
    version: int | None,
    fmt: str,
    *,
    view: str | None = None,
    key: str | None = None,
    week_of: str = "2026-09-07",
) -> tuple[str, str, bytes]:
    """(file name, media type, content) of a timetable that may be published: the version
    asked for if approved, else the newest approved (any when approval is off)."""
    if fmt not in FORMATS:
        raise UsageError(f"format '{fmt[:20]}' unknown (known: {', '.join(FORMATS)})")
    if (view is None) != (key is None):
        raise UsageError("give view and key together (e.g. view=curriculum, key=q001)")
    try:
        start = date.fromisoformat(week_of)
    except ValueError:
        raise UsageError(f"week_of '{week_of[:20]}' is not a date (YYYY-MM-DD)") from None
    v = serving.serving_version(TASK, version, tenant=tenant)
    t = read(tenant, v)
    lectures = exports.select(t.inst, t.lectures, view, key)
    stem = f"{t.instance_id}-v{v}" + (f"-{view}-{key}" if view else "")
    if fmt == "sol":
        if view is not None:
            raise UsageError("the competition's .sol format holds a whole timetable: no view")
        content = write_solution(lectures).encode()
    elif fmt == "csv":
        content = exports.to_csv(t.inst, lectures).encode()
    else:
        name = f"{t.inst.name} {view} {key}" if view else t.inst.name
        content = exports.to_ical(t.inst, lectures, week_of=start, name=name)
    return f"{_safe(stem)}.{fmt}", FORMATS[fmt], content


def _safe(name: str) -> str:
    """A file name a browser keeps as given (ids may hold spaces or slashes)."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:120]
