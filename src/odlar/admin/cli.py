"""`odlar admin ...`: what a registrar does with timetables beyond the generic commands.

`odlar fit admin.timetabling --data comp01.ctt` registers a timetable as a model version for
approval; these commands work on files: validate a timetable, solve to a file, re-solve after
a change with the fewest lectures moved, export per curriculum, teacher or room.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from odlar.core.errors import OdlarError, UsageError

app = typer.Typer(
    help="Administration: course timetables (ITC 2007 track 3 formulation).", no_args_is_help=True
)
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def _errors(fn: F) -> F:
    """One line and the error's exit code, whether mounted under `odlar` or run alone."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OdlarError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _write(out: Path, data: str | bytes) -> None:
    """Whole or nothing: a temporary file renamed into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    if isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        tmp.write_text(data)
    tmp.replace(out)


def _score_table(sc: Any) -> Table:
    t = Table("cost", "value")
    for k, v in {**sc.hard, **sc.soft}.items():
        t.add_row(k, str(v))
    t.add_row("[bold]soft cost[/bold]", f"[bold]{sc.cost}[/bold]")
    return t


@app.command()
@_errors
def validate(
    instance: Path = typer.Argument(help="Instance: .ctt, school .json or a CSV folder"),
    timetable: Path = typer.Argument(
        help="Timetable in the competition's format (course room day period)"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Costs only, no list of violations"),
) -> None:
    """Cost and every violation of a timetable, as the ITC 2007 validator counts them;
    exits 1 when a hard constraint is broken."""
    from odlar.admin.timetabling.instance import read, read_solution
    from odlar.admin.timetabling.validator import score

    inst = read(instance)
    sc = score(inst, read_solution(inst, timetable))
    console.print(_score_table(sc))
    if not quiet:
        for v in sc.violations:
            tag = "[red]hard[/red]" if v.hard else f"soft {v.cost}"
            console.print(f"{tag}  {v.text}", highlight=False)
    if not sc.feasible:
        raise typer.Exit(1)


def _settings(time_limit: float, seed: int, workers: int, iterations: int | None) -> Any:
    from odlar.admin.timetabling.solver import Settings

    return Settings.from_params(
        {"time_limit": time_limit, "seed": seed, "workers": workers, "iterations": iterations}
    )


@app.command()
@_errors
def solve(
    instance: Path = typer.Argument(help="Instance: .ctt, school .json or a CSV folder"),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Timetable file to write (competition format)"
    ),
    time_limit: float = typer.Option(60, "--time-limit", "-t", help="Seconds"),
    method: str = typer.Option("anneal", "--method", "-m", help="anneal or cpsat"),
    seed: int = typer.Option(0, "--seed"),
    workers: int = typer.Option(0, "--workers", help="Threads; 0: every core"),
    iterations: int | None = typer.Option(None, "--iterations", help="Moves instead of the clock"),
) -> None:
    """Solve an instance to a file (use `odlar fit` to register it for approval)."""
    from odlar.admin.timetabling.instance import read, write_solution
    from odlar.admin.timetabling.solver import solve as run

    inst = read(instance)
    sol = run(inst, method=method, settings=_settings(time_limit, seed, workers, iterations))
    _write(out, write_solution(sol.lectures))
    console.print(_score_table(sol.score))
    if sol.lower_bound is not None:
        console.print(f"lower bound (CP-SAT): {sol.lower_bound:g}")
    console.print(
        f"{len(sol.lectures)} lectures written to {out} in {sol.seconds:.1f} s "
        f"({sol.moves_per_second:,.0f} moves/s)"
    )


def _slot(text: str, what: str, need_period: bool) -> tuple[str, int, int | None]:
    """NAME@DAY or NAME@DAY:PERIOD (days and periods from 0)."""
    try:
        name, when = text.rsplit("@", 1)
        day, _, period = when.partition(":")
        d = int(day)
        p = int(period) if period else None
    except ValueError:
        raise UsageError(
            f"{what} '{text}' must look like NAME@DAY or NAME@DAY:PERIOD (from 0)"
        ) from None
    if need_period and p is None:
        raise UsageError(f"{what} '{text}' needs a period: NAME@DAY:PERIOD")
    return name, d, p


@app.command()
@_errors
def resolve(
    instance: Path = typer.Argument(help="Instance the published timetable was built for"),
    timetable: Path = typer.Argument(help="The published timetable (competition format)"),
    out: Path = typer.Option(..., "--out", "-o", help="Repaired timetable to write"),
    close_room: list[str] = typer.Option([], "--close-room", help="Room closed all week"),
    close: list[str] = typer.Option([], "--close", help="ROOM@DAY:PERIOD closed"),
    away: list[str] = typer.Option([], "--teacher-away", help="TEACHER@DAY or TEACHER@DAY:PERIOD"),
    pin: list[str] = typer.Option(
        [], "--pin", help="COURSE/ROOM@DAY:PERIOD: a lecture that must stay"
    ),
    time_limit: float = typer.Option(30, "--time-limit", "-t", help="Seconds"),
    seed: int = typer.Option(0, "--seed"),
    workers: int = typer.Option(0, "--workers", help="Threads; 0: every core"),
    iterations: int | None = typer.Option(None, "--iterations", help="Moves instead of the clock"),
) -> None:
    """Re-solve after a change, moving as few lectures of the published timetable as possible."""
    from odlar.admin.timetabling.instance import read, read_solution, write_solution
    from odlar.admin.timetabling.solver import solve as run
    from odlar.admin.timetabling.task import Change, apply_change

    inst = read(instance)
    published = read_solution(inst, timetable)
    slots = []
    for c in close:
        room, d, p = _slot(c, "--close", True)
        slots.append({"room": room, "day": d, "period": p})
    teachers = []
    for a in away:
        t, d, p = _slot(a, "--teacher-away", False)
        teachers.append({"teacher": t, "day": d} | ({"period": p} if p is not None else {}))
    pins = []
    for x in pin:
        what, d, p = _slot(x, "--pin", True)
        course, _, room = what.partition("/")
        if not room:
            raise UsageError(f"--pin '{x}' must look like COURSE/ROOM@DAY:PERIOD")
        pins.append({"course": course, "room": room, "day": d, "period": p})
    changed = apply_change(
        inst, Change(close_rooms=close_room, close_slots=slots, teachers_away=teachers, pin=pins)
    )
    sol = run(
        changed, settings=_settings(time_limit, seed, workers, iterations), published=published
    )
    _write(out, write_solution(sol.lectures))
    console.print(_score_table(sol.score))
    least = (
        f" (CP-SAT proved {sol.least_moved} is the least)" if sol.least_moved is not None else ""
    )
    console.print(f"moved {sol.moved} of {len(published)} lectures{least}; written to {out}")


@app.command()
@_errors
def export(
    instance: Path = typer.Argument(help="Instance: .ctt, school .json or a CSV folder"),
    timetable: Path = typer.Argument(help="Timetable (competition format)"),
    out: Path = typer.Option(..., "--out", "-o", help="File to write: .csv or .ics"),
    view: str | None = typer.Option(None, "--view", help="curriculum, teacher, room or course"),
    key: str | None = typer.Option(None, "--key", help="Which one, e.g. q001"),
    week_of: str = typer.Option(
        "2026-09-07", "--week-of", help="iCalendar: first teaching day (day 0) of term"
    ),
) -> None:
    """A timetable as CSV rows or an iCalendar file, whole or for one curriculum, teacher or
    room."""
    from odlar.admin.timetabling import exports
    from odlar.admin.timetabling.instance import read, read_solution

    if (view is None) != (key is None):
        raise UsageError("give --view and --key together (e.g. --view curriculum --key q001)")
    inst = read(instance)
    lectures = exports.select(inst, read_solution(inst, timetable), view, key)
    if out.suffix == ".csv":
        _write(out, exports.to_csv(inst, lectures))
    elif out.suffix == ".ics":
        name = f"{inst.name} {view} {key}" if view else inst.name
        _write(
            out, exports.to_ical(inst, lectures, week_of=exports.parse_start(week_of), name=name)
        )
    else:
        raise UsageError(f"{out.name}: write a .csv or an .ics file")
    console.print(f"{len(lectures)} lectures written to {out}")


if __name__ == "__main__":  # until the sector plug-in mounts it as `odlar admin`
    app()
