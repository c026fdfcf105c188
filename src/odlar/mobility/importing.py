"""Turn a user's data into a scenario folder that `scenarios.load` reads.

Four sources: an OpenStreetMap extract (netconvert + randomTrips), a SUMO network with its
route files, a SUMO network with origin-destination counts (duarouter), or a generated
network (netgenerate + randomTrips).

Every import is built in a scratch folder beside `out_dir`, validated with
`scenarios.validate`, and renamed into place only at the end: a failure never leaves a
half-written scenario behind. Errors name the user's own file (never the scratch copy) and
pass the SUMO tool's "Error:" lines through.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from odlar.core.errors import Conflict, DataError, NotFound, UsageError
from odlar.mobility import scenarios
from odlar.mobility.scenarios import MANIFEST, Scenario

#: seconds any one SUMO tool may run before the import is abandoned
TIMEOUT_S = 600

# osmWebWizard-like conversion; traffic lights tagged in the map are always kept.
_OSM_OPTIONS = (
    "--geometry.remove", "--ramps.guess", "--junctions.join",
    "--tls.guess-signals", "--tls.discard-simple", "--tls.join", "--tls.default-type", "static",
    "--no-turnarounds", "--keep-edges.by-vclass", "passenger", "--remove-edges.isolated",
)  # fmt: skip


def import_osm(
    osm: Path,
    out_dir: Path,
    *,
    name: str | None = None,
    guess_signals: bool = True,
    type_map: str = "osmNetconvert.typ.xml",
    routes: list[Path] | None = None,
    begin: int = 0,
    end: int = 3600,
    period: float = 2.0,
    seed: int = 42,
    overwrite: bool = False,
) -> Scenario:
    """Convert an OSM extract (roads open to cars only) and draw random trips over it.

    `guess_signals` also places lights at busy unsignalised junctions (netconvert only
    guesses where the roads are at most about 70 km/h). `type_map` is a file in SUMO's
    data/typemap folder or a path (comma-separated for several); `routes` replaces the
    random demand with the caller's route files."""
    osm, out_dir = _input_file(osm), _output_dir(out_dir)
    home = _sumo_home()
    type_files = ",".join(str(_type_map(home, t)) for t in type_map.split(",") if t.strip())
    with _staging(out_dir, overwrite) as (tmp, work):
        net = tmp / f"{_stem(osm)}.net.xml"
        args = [_tool("netconvert"), "--osm-files", str(osm), "--type-files", type_files]
        args += [*_OSM_OPTIONS, "--tls.guess"] if guess_signals else list(_OSM_OPTIONS)
        try:
            _run([*args, "--output-file", str(net)], osm, work)
        except _ToolError:
            # Xerces places XML errors a line late; expat names the right line
            for _ in scenarios.elements(osm):
                pass
            raise
        sources: _Sources = {net: (osm, False)}
        s = Scenario(_name(name, out_dir), net, (), begin, end, origin="osm")
        facts = scenarios.read_network(net)
        if not facts.edges:
            raise DataError("the map has no roads open to cars", file=str(osm))
        if not facts.signals:
            _validate(s, sources)  # raises validate's own "no traffic lights" error
        if routes is None:
            route_files = (_random_trips(net, tmp, work, osm, begin, end, period, seed),)
        else:
            route_files = _copy_all([Path(r) for r in routes], tmp, sources)
        return _publish(replace(s, routes=route_files), tmp, out_dir, overwrite, sources)


def import_sumo(
    net: Path,
    routes: list[Path],
    out_dir: Path,
    *,
    name: str | None = None,
    begin: int = 0,
    end: int = 3600,
    delta: int = 10,
    yellow: int = 3,
    overwrite: bool = False,
) -> Scenario:
    """Copy a SUMO network and its route files, checked where they lie first so that
    errors name the user's files."""
    if not routes:
        raise UsageError("give at least one route file with the network")
    net, out_dir = _input_file(net), _output_dir(out_dir)
    route_paths = [_input_file(r) for r in routes]
    s = Scenario(_name(name, out_dir), net, tuple(route_paths), begin, end, delta, yellow)
    scenarios.validate(s)
    with _staging(out_dir, overwrite) as (tmp, _work):
        sources: _Sources = {}
        (net_copy,) = _copy_all([net], tmp, sources)
        copied = replace(s, net=net_copy, routes=_copy_all(route_paths, tmp, sources))
        return _publish(copied, tmp, out_dir, overwrite, sources)


def import_od(
    net: Path,
    od_csv: Path,
    out_dir: Path,
    *,
    name: str | None = None,
    begin: int = 0,
    end: int = 3600,
    seed: int = 42,
    overwrite: bool = False,
) -> Scenario:
    """Route origin-destination counts over a SUMO network.

    The CSV has the columns origin,destination,count (edge ids, vehicles) and optionally
    begin,end (seconds, default the episode); each row becomes a flow that departs evenly
    spread over its interval. Every row is checked before any tool runs."""
    net, od_csv, out_dir = _input_file(net), _input_file(od_csv), _output_dir(out_dir)
    rows = _read_od(od_csv, net, scenarios.read_network(net).edges, begin, end)
    with _staging(out_dir, overwrite) as (tmp, work):
        sources: _Sources = {}
        (net_copy,) = _copy_all([net], tmp, sources)
        flows = work / "flows.xml"
        _write_flows(rows, flows)
        routed = work / "routes.rou.xml"
        args = [_tool("duarouter"), "--net-file", str(net_copy), "--route-files", str(flows)]
        args += ["--output-file", str(routed), "--seed", str(seed), "--ignore-errors", "false"]
        try:
            _run([*args, "--no-step-log"], od_csv, work)
        except _ToolError as exc:
            row = _failed_row(exc.lines, rows)
            if row is None:
                raise
            raise DataError(
                f"cannot route vehicles from edge '{row.origin}' to edge '{row.destination}' "
                f"of {net.name} (duarouter: {exc.lines[0]})",
                file=str(od_csv),
                line=row.line,
                field="destination",
            ) from None
        route_file = routed.replace(tmp / "routes.rou.xml")
        s = Scenario(_name(name, out_dir), net_copy, (route_file,), begin, end, origin="od")
        sources[route_file] = (od_csv, False)
        return _publish(s, tmp, out_dir, overwrite, sources)


def synthetic(
    out_dir: Path,
    *,
    kind: str = "grid",
    size: int = 3,
    length: float = 200.0,
    lanes: int = 2,
    begin: int = 0,
    end: int = 3600,
    period: float = 2.0,
    seed: int = 42,
    name: str | None = None,
    overwrite: bool = False,
) -> Scenario:
    """Generate a network and random trips over it.

    grid: size x size signalised crossings `length` m apart, each with four arms (short
    roads attached at the boundary, as in RESCO's grid4x4); spider: max(size, 3) arms and
    `size` rings; rand: about 4*size^2 junctions. Lights are placed where netgenerate's
    guess puts them (not at bends or the grid's entry points)."""
    if size < 1 or lanes < 1 or length <= 0:
        raise UsageError("size and lanes must be at least 1 and length positive")
    shapes = {
        "grid": ["--grid", "--grid.number", str(size), "--grid.length", str(length),
                 "--grid.attach-length", str(length)],
        "spider": ["--spider", "--spider.arm-number", str(max(size, 3)),
                   "--spider.circle-number", str(size), "--spider.space-radius", str(length)],
        "rand": ["--rand", "--rand.iterations", str(4 * size * size),
                 "--rand.min-distance", str(length / 2), "--rand.max-distance", str(length * 1.25)],
    }  # fmt: skip
    if kind not in shapes:
        raise UsageError(f"unknown network kind '{kind}' (known: {', '.join(shapes)})")
    out_dir = _output_dir(out_dir)
    with _staging(out_dir, overwrite) as (tmp, work):
        net = tmp / f"{kind}.net.xml"
        args = [_tool("netgenerate"), *shapes[kind], "--default.lanenumber", str(lanes)]
        args += ["--tls.guess", "true", "--seed", str(seed), "--output-file", str(net)]
        _run(args, None, work)
        routes = _random_trips(net, tmp, work, None, begin, end, period, seed)
        s = Scenario(_name(name, out_dir), net, (routes,), begin, end, origin="synthetic")
        return _publish(s, tmp, out_dir, overwrite, {})


# -- the scratch folder ----------------------------------------------------------------


def _check_target(out_dir: Path, overwrite: bool) -> None:
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise Conflict(f"{out_dir} exists and is not a folder")
    if not any(out_dir.iterdir()):
        return
    if not overwrite:
        raise Conflict(f"{out_dir} already exists and is not empty (overwrite to replace it)")
    if not (out_dir / MANIFEST).exists():
        # Replacing deletes the folder: only ever delete one that an import made.
        raise Conflict(f"{out_dir} is not a scenario folder (no {MANIFEST}); not replacing it")


@contextmanager
def _staging(out_dir: Path, overwrite: bool) -> Iterator[tuple[Path, Path]]:
    """(scratch folder beside out_dir, a work folder inside it for tool by-products);
    removed however the import ends: `_publish` renames the scratch folder into place."""
    _check_target(out_dir, overwrite)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    work = tmp / ".work"
    work.mkdir()
    try:
        yield tmp, work
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


#: scratch file -> (the user's file it came from, whether it is a verbatim copy)
_Sources = dict[Path, tuple[Path, bool]]


def _validate(s: Scenario, sources: _Sources) -> dict[str, object]:
    """`scenarios.validate`, with errors about scratch files naming the user's input (and
    its line and field only where the scratch file is a verbatim copy)."""
    try:
        return scenarios.validate(s)
    except DataError as exc:
        by_name = {str(k): v for k, v in sources.items()}
        if str(exc.file) not in by_name:
            raise
        source, verbatim = by_name[str(exc.file)]
        raise DataError(
            exc.reason,
            file=str(source),
            line=exc.line if verbatim else None,
            field=exc.field if verbatim else None,
        ) from None


def _publish(s: Scenario, tmp: Path, out_dir: Path, overwrite: bool, sources: _Sources) -> Scenario:
    _validate(s, sources)
    shutil.rmtree(tmp / ".work", ignore_errors=True)
    scenarios.write_manifest(s, tmp)
    _check_target(out_dir, overwrite)
    old = None
    if out_dir.exists():
        old = out_dir.rename(tmp.with_suffix(".old"))
    tmp.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return scenarios.load(out_dir)


def _copy_all(paths: list[Path], folder: Path, sources: _Sources) -> tuple[Path, ...]:
    """Copy files into `folder` under their own names, prefixed where two would clash."""
    copies = []
    for i, path in enumerate(paths):
        path = _input_file(path)
        target = folder / path.name
        if target.exists() or target.name == MANIFEST:
            target = folder / f"{i + 1}-{path.name}"
        shutil.copyfile(path, target)
        sources[target] = (path, True)
        copies.append(target)
    return tuple(copies)


def _input_file(path: Path) -> Path:
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise NotFound(f"input file {path} does not exist")
    return path


def _output_dir(path: Path) -> Path:
    # absolute: the tools run in a work folder
    return Path(path).expanduser().resolve()


def _name(name: str | None, out_dir: Path) -> str:
    return name or out_dir.name


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _stem(path: Path) -> str:
    return path.name.split(".")[0] or "network"


# -- SUMO tools ------------------------------------------------------------------------


def _sumo_home() -> Path:
    try:
        import sumo
    except ImportError:
        raise NotFound("SUMO is not installed (pip install eclipse-sumo)") from None
    return Path(sumo.SUMO_HOME)


def _tool(name: str) -> str:
    return str(_sumo_home() / "bin" / name)


def _type_map(home: Path, name: str) -> Path:
    for candidate in (Path(name.strip()).expanduser(), home / "data" / "typemap" / name.strip()):
        if candidate.is_file():
            return candidate.resolve()
    known = ", ".join(sorted(p.name for p in (home / "data" / "typemap").glob("*Netconvert*")))
    raise NotFound(f"no type map '{name}' (SUMO ships: {known})")


def _env() -> dict[str, str]:
    """SUMO_HOME of the installed wheel, so the tools find its schemas, tools and proj.db."""
    home = _sumo_home()
    env = dict(os.environ, SUMO_HOME=str(home))
    if not env.get("PROJ_LIB") and not env.get("PROJ_DATA"):
        env["PROJ_LIB"] = env["PROJ_DATA"] = str(home / "data" / "proj")
    return env


class _ToolError(DataError):
    """A SUMO tool refused the input; `lines` are its own error messages."""

    def __init__(self, tool: str, lines: list[str], source: Path | None):
        super().__init__(f"{tool} failed: {' '.join(lines)}", file=_str(source))
        self.lines = lines


def _run(args: list[str], source: Path | None, cwd: Path) -> None:
    """Run a tool; on failure raise DataError naming `source` (the user's file, if any)
    and the tool's own error lines."""
    tool = Path(args[1] if args[0] == sys.executable else args[0]).name
    try:
        proc = subprocess.run(
            args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        reason = f"{tool} did not finish within {TIMEOUT_S} s"
        raise DataError(reason, file=_str(source)) from None
    except OSError as exc:
        raise NotFound(f"cannot run {args[0]}: {exc.strerror}") from None
    if proc.returncode == 0:
        return
    lines = _error_lines(proc.stderr) or _error_lines(proc.stdout)
    if not lines:  # e.g. a Python traceback: its last line says what went wrong
        tail = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        lines = tail[-1:] or [f"exit status {proc.returncode}"]
    raise _ToolError(tool, lines, source)


def _error_lines(text: str, most: int = 5) -> list[str]:
    """SUMO's "Error: ..." lines, each with its indented continuation ("In file ...")."""
    found: list[str] = []
    for line in text.splitlines():
        if line.startswith("Error:"):
            found.append(line.removeprefix("Error:").strip())
        elif found and line[:1].isspace() and line.strip():
            found[-1] += f" ({line.strip()})"
    unique = list(dict.fromkeys(found))
    more = len(unique) - most
    return unique[:most] + ([f"... and {more} more errors"] if more > 0 else [])


def _random_trips(
    net: Path,
    folder: Path,
    work: Path,
    source: Path | None,
    begin: int,
    end: int,
    period: float,
    seed: int,
) -> Path:
    """randomTrips.py, validated by duarouter: routes that actually exist in `net`."""
    script = _sumo_home() / "tools" / "randomTrips.py"
    routes = work / "routes.rou.xml"
    args = [sys.executable, str(script), "-n", str(net), "-o", str(work / "trips.trips.xml")]
    args += ["-r", str(routes), "--begin", str(begin), "--end", str(end)]
    args += ["--period", str(period), "--seed", str(seed), "--validate"]
    args += ["--fringe-factor", "5", "--min-distance", "100"]
    _run(args, source, work)
    if not routes.exists():
        raise DataError("randomTrips.py wrote no routes", file=_str(source))
    return routes.replace(folder / "routes.rou.xml")


# -- origin-destination counts ---------------------------------------------------------


@dataclass(frozen=True)
class _OD:
    line: int
    origin: str
    destination: str
    count: int
    begin: float
    end: float


_OD_REQUIRED = ("origin", "destination", "count")
_OD_COLUMNS = (*_OD_REQUIRED, "begin", "end")


def _read_od(path: Path, net: Path, edges: set[str], begin: int, end: int) -> list[_OD]:
    """Every row checked against the network; errors name the line and column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the CSV: {exc}", file=str(path)) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise DataError(f"empty file: expected the header {','.join(_OD_COLUMNS)}", file=str(path))
    reader.fieldnames = [c.strip() for c in reader.fieldnames]
    for column in reader.fieldnames:
        if column not in _OD_COLUMNS:
            reason = f"unknown column (expected {', '.join(_OD_COLUMNS)})"
            raise DataError(reason, file=str(path), line=1, field=column)
    for column in _OD_REQUIRED:
        if column not in reader.fieldnames:
            raise DataError("missing column", file=str(path), line=1, field=column)
    rows: list[_OD] = []
    for record in reader:
        line = reader.line_num

        def bad(reason: str, column: str | None, line: int = line) -> DataError:
            return DataError(reason, file=str(path), line=line, field=column)

        if None in record:
            raise bad(f"more values than the {len(reader.fieldnames)} columns", None)
        values = {k: (v or "").strip() for k, v in record.items()}
        for column in ("origin", "destination", "count"):
            if not values[column]:
                raise bad("missing value", column)
        for column in ("origin", "destination"):
            if values[column] not in edges:
                raise bad(f"edge '{values[column]}' is not in the network {net.name}", column)
        try:
            count = int(values["count"])
        except ValueError:
            raise bad(f"'{values['count']}' is not a whole number of vehicles", "count") from None
        if count < 0:
            raise bad(f"the count {count} is negative", "count")
        times = {}
        for column, default in (("begin", begin), ("end", end)):
            try:
                times[column] = float(values.get(column) or default)
            except ValueError:
                raise bad(f"'{values[column]}' is not a number of seconds", column) from None
        if not 0 <= times["begin"] < times["end"]:
            reason = f"the interval [{times['begin']:g}, {times['end']:g}) s is empty or negative"
            raise bad(reason, "begin")
        rows.append(_OD(line, values["origin"], values["destination"], count, **times))
    if not rows:
        raise DataError("no origin-destination rows below the header", file=str(path))
    return rows


def _seconds(t: float) -> str:
    return str(int(t)) if t.is_integer() else str(t)


def _write_flows(rows: list[_OD], path: Path) -> None:
    """One <flow> per row, named after its CSV line so duarouter's errors map back."""
    root = ET.Element("routes")
    for row in sorted(rows, key=lambda r: (r.begin, r.line)):
        if row.count == 0:
            continue
        ET.SubElement(
            root, "flow", id=f"od{row.line}", attrib={
                "from": row.origin, "to": row.destination, "begin": _seconds(row.begin),
                "end": _seconds(row.end), "number": str(row.count),
                "departLane": "best", "departSpeed": "max",
            },
        )  # fmt: skip
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _failed_row(lines: list[str], rows: list[_OD]) -> _OD | None:
    """The row behind duarouter's first routing error: via the vehicle id (od<line>.<n>),
    else via "No connection between edge 'a' and edge 'b'"."""
    message = " ".join(lines)
    by_line = {row.line: row for row in rows}
    vehicle = re.search(r"vehicle 'od(\d+)\.\d+'", message)
    if vehicle and int(vehicle.group(1)) in by_line:
        return by_line[int(vehicle.group(1))]
    pair = re.search(r"No connection between edge '([^']*)' and edge '([^']*)'", message)
    if pair:
        for row in rows:
            if (row.origin, row.destination) == pair.groups():
                return row
    return None
