"""Timetables for people: per curriculum, teacher or room, as CSV rows, iCalendar files and
week grids (the data a console page draws, violations marked on their cells)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Any

from icalendar import Calendar, Event

from odlar.admin.timetabling.instance import Instance, Lecture
from odlar.admin.timetabling.validator import Score
from odlar.core.errors import UsageError

VIEWS = ("curriculum", "teacher", "room", "course")


def select(
    inst: Instance, lectures: list[Lecture], view: str | None, key: str | None
) -> list[Lecture]:
    """The lectures a curriculum, teacher, room or course sees (all when view is None)."""
    if view is None:
        return list(lectures)
    if view not in VIEWS:
        raise UsageError(f"no view '{view}' (known: {', '.join(VIEWS)})")
    if view == "curriculum":
        q = next((q for q in inst.curricula if q.id == key), None)
        if q is None:
            raise UsageError(f"no curriculum '{key}' in {inst.name}")
        keep = set(q.courses)
        return [x for x in lectures if x.course in keep]
    if view == "teacher":
        keep = {c.id for c in inst.courses if c.teacher == key}
        if not keep:
            raise UsageError(f"no teacher '{key}' in {inst.name}")
        return [x for x in lectures if x.course in keep]
    if view == "room":
        if key not in {r.id for r in inst.rooms}:
            raise UsageError(f"no room '{key}' in {inst.name}")
        return [x for x in lectures if x.room == key]
    if key not in {c.id for c in inst.courses}:
        raise UsageError(f"no course '{key}' in {inst.name}")
    return [x for x in lectures if x.course == key]


def rows(inst: Instance, lectures: list[Lecture]) -> list[dict[str, Any]]:
    teacher = {c.id: c.teacher for c in inst.courses}
    out = []
    for x in sorted(lectures, key=lambda x: (x.day, x.period, x.room, x.course)):
        out.append(
            {
                "course": x.course,
                "teacher": teacher.get(x.course, ""),
                "room": x.room,
                "day": x.day,
                "period": x.period,
                "day_name": inst.day_names[x.day],
                "start": inst.period_starts[x.period],
            }
        )
    return out


def to_csv(inst: Instance, lectures: list[Lecture]) -> str:
    buf = io.StringIO()
    fields = ["course", "teacher", "room", "day", "period", "day_name", "start"]
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(rows(inst, lectures))
    return buf.getvalue()


def to_ical(inst: Instance, lectures: list[Lecture], *, week_of: date, name: str = "") -> bytes:
    """One weekly-recurring event per lecture, from the week starting on `week_of` (a Monday
    for day 0); `weeks` of term are the calendar app's business (RRULE weekly, no end)."""
    cal = Calendar()
    cal.add("prodid", "-//odlar//admin.timetabling//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name or inst.name)
    teacher = {c.id: c.teacher for c in inst.courses}
    for x in sorted(lectures, key=lambda x: (x.day, x.period, x.room, x.course)):
        hh, mm = (int(v) for v in inst.period_starts[x.period].split(":")[:2])
        start = datetime.combine(week_of + timedelta(days=x.day), datetime.min.time()).replace(
            hour=hh, minute=mm
        )
        ev = Event()
        ev.add("uid", f"{inst.name}-{x.course}-{x.day}-{x.period}-{x.room}@odlar")
        ev.add("summary", f"{x.course} ({teacher.get(x.course, '')})")
        ev.add("location", x.room)
        ev.add("dtstart", start)
        ev.add("dtend", start + timedelta(minutes=inst.period_minutes))
        ev.add("dtstamp", datetime(2000, 1, 1))  # fixed: the same timetable gives the same file
        ev.add("rrule", {"freq": "weekly"})
        cal.add_component(ev)
    return cal.to_ical()


def parse_start(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--week-of '{text}' is not a date (YYYY-MM-DD)") from None


def week_grid(
    inst: Instance, lectures: list[Lecture], score: Score | None = None
) -> dict[str, Any]:
    """Rows are periods, columns days; each cell lists its lectures, and the violations that
    name that day and period (for a console page to highlight)."""
    cells: list[list[dict[str, Any]]] = [
        [{"lectures": [], "violations": []} for _ in range(inst.days)]
        for _ in range(inst.periods_per_day)
    ]
    for r in rows(inst, lectures):
        cells[r["period"]][r["day"]]["lectures"].append(
            {k: r[k] for k in ("course", "teacher", "room")}
        )
    courses = {x.course for x in lectures}
    unplaced = []
    for v in score.violations if score else []:
        if v.course is not None and v.course not in courses:
            continue
        if v.day is not None and v.period is not None:
            cells[v.period][v.day]["violations"].append(
                {"kind": v.kind, "hard": v.hard, "text": v.text}
            )
        else:
            unplaced.append({"kind": v.kind, "hard": v.hard, "text": v.text})
    return {
        "days": list(inst.day_names),
        "periods": list(inst.period_starts),
        "cells": cells,
        "violations": unplaced,  # week-wide ones (working days, room stability)
    }
