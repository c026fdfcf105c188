"""Scenarios: a SUMO network, its demand and the episode's timing.

Three kinds, one `Scenario`:
- the eight RESCO benchmark scenarios, read from the installed `sumo-rl` package (never
  imported: only its data files are used, found with `importlib.util.find_spec`);
- a folder written by `odlar mobility import`, described by its `scenario.json`;
- a SUMO configuration file (`.sumocfg`) naming net and route files.

`validate` reads the files once and names the file, line and element of anything wrong:
broken XML, a network without traffic lights, routes over edges the network lacks.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import xml.parsers.expat
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from odlar.core.errors import DataError, NotFound

MANIFEST = "scenario.json"


@dataclass(frozen=True)
class Scenario:
    name: str
    net: Path
    routes: tuple[Path, ...]
    begin: int
    end: int
    #: seconds between decisions and of yellow (RESCO map_config step_length / yellow_length)
    delta: int = 10
    yellow: int = 3
    #: "resco", "osm", "sumo", "synthetic" or "sumocfg": where the network came from
    origin: str = "sumo"
    additional: tuple[Path, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.net, *self.routes, *self.additional)

    def sha256(self) -> str:
        """One digest over every file of the scenario, in a fixed order."""
        h = hashlib.sha256()
        for path in self.files:
            h.update(path.name.encode())
            with path.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        return h.hexdigest()

    def describe(self) -> dict[str, Any]:
        d = asdict(self)
        d["net"] = str(self.net)
        d["routes"] = [str(p) for p in self.routes]
        d["additional"] = [str(p) for p in self.additional]
        d["notes"] = list(self.notes)
        return d


# RESCO map_config.py: begin/end, decision interval and yellow per scenario.
_RESCO: dict[str, tuple[str, int, int, int, int]] = {
    "cologne1": ("cologne1.rou.xml", 25200, 28800, 10, 3),
    "cologne3": ("cologne3.rou.xml", 25200, 28800, 10, 3),
    "cologne8": ("cologne8.rou.xml", 25200, 28800, 10, 3),
    "ingolstadt1": ("ingolstadt1.rou.xml", 57600, 61200, 10, 3),
    "ingolstadt7": ("ingolstadt7.rou.xml", 57600, 61200, 10, 3),
    "ingolstadt21": ("ingolstadt21.rou.xml", 57600, 61200, 10, 3),
    "grid4x4": ("grid4x4_1.rou.xml", 0, 3600, 10, 3),
    "arterial4x4": ("arterial4x4_1.rou.xml", 0, 3600, 5, 2),
}
RESCO_NAMES: tuple[str, ...] = tuple(_RESCO)


def resco_dir() -> Path:
    spec = importlib.util.find_spec("sumo_rl")
    if spec is None or not spec.submodule_search_locations:
        raise NotFound(
            "the RESCO scenarios ship in the sumo-rl package, which is not installed "
            "(pip install sumo-rl==1.4.5)"
        )
    return Path(spec.submodule_search_locations[0]) / "nets" / "RESCO"


def resco(name: str) -> Scenario:
    if name not in _RESCO:
        raise NotFound(f"no RESCO scenario '{name}' (known: {', '.join(RESCO_NAMES)})")
    route, begin, end, delta, yellow = _RESCO[name]
    folder = resco_dir() / name
    notes: tuple[str, ...] = ()
    if name in ("grid4x4", "arterial4x4"):
        notes = ("RESCO drew a new route file every episode; sumo-rl ships only the first",)
    return Scenario(
        name=name,
        net=folder / f"{name}.net.xml",
        routes=(folder / route,),
        begin=begin,
        end=end,
        delta=delta,
        yellow=yellow,
        origin="resco",
        notes=notes,
    )


def packaged_folder(ref: str) -> Path:
    """`resco:NAME` as the folder that holds it (for `resolve_source`)."""
    name = scenario_ref(ref)
    if name is None:
        raise NotFound(f"no RESCO scenario '{ref}' (known: {', '.join(RESCO_NAMES)})")
    return resco_dir() / name


def scenario_ref(ref: str) -> str | None:
    """`cologne1` or `resco:cologne1` name a RESCO scenario; anything else is a path."""
    name = ref.removeprefix("resco:")
    return name if name in _RESCO else None


def display_name(source: str | None) -> str:
    """A data source as a person reads it: `resco:NAME` for a packaged RESCO scenario (its
    install path means nothing to a traffic engineer), an imported scenario's name, else
    the source as given."""
    if not source:
        return "-"
    path = Path(source)
    for root, label in ((_resco_root(), "resco:"), (imported_dir(), "")):
        if root is not None and path.is_relative_to(root) and path != root:
            return label + path.relative_to(root).parts[0]
    return source


def _resco_root() -> Path | None:
    try:
        return resco_dir()
    except NotFound:
        return None


def imported_dir() -> Path:
    """Where `odlar mobility import` keeps scenarios: ODLAR_HOME/scenarios/NAME."""
    from odlar.core.config import get_settings

    return get_settings().scenarios_dir


def named(ref: str) -> str:
    """A RESCO name, the name of an imported scenario, or a path, as a data reference."""
    if scenario_ref(ref):
        return f"resco:{scenario_ref(ref)}"
    folder = imported_dir() / ref
    return str(folder) if (folder / "scenario.json").exists() else ref


def load(source: str | Path) -> Scenario:
    """A RESCO name, an imported folder (with scenario.json), its manifest, or a .sumocfg."""
    name = scenario_ref(str(source))
    if name is not None:
        return resco(name)
    path = Path(source)
    is_resco = path.name in _RESCO and not (path / MANIFEST).exists()
    if is_resco and path.is_dir() and path.resolve() == (resco_dir() / path.name).resolve():
        return resco(path.name)
    if path.is_dir():
        path = path / MANIFEST
    if not path.exists():
        raise NotFound(
            f"scenario '{source}' not found: give a RESCO name ({', '.join(RESCO_NAMES)}), "
            f"a folder made by 'odlar mobility import', or a .sumocfg file"
        )
    if path.suffix == ".sumocfg":
        return _from_sumocfg(path)
    return _from_manifest(path)


def _from_manifest(path: Path) -> Scenario:
    try:
        m = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"not a scenario manifest: {exc}", file=str(path)) from None
    if not isinstance(m, dict):
        raise DataError("not a scenario manifest: expected a JSON object", file=str(path))
    for key in ("name", "net", "routes", "begin", "end"):
        if key not in m:
            raise DataError("missing", file=str(path), field=key)
    root = path.parent
    try:
        return Scenario(
            name=str(m["name"]),
            net=root / m["net"],
            routes=tuple(root / r for r in m["routes"]),
            begin=int(m["begin"]),
            end=int(m["end"]),
            delta=int(m.get("delta", 10)),
            yellow=int(m.get("yellow", 3)),
            origin=str(m.get("origin", "sumo")),
            additional=tuple(root / a for a in m.get("additional", [])),
            notes=tuple(m.get("notes", [])),
        )
    except (TypeError, ValueError) as exc:
        raise DataError(f"bad value in scenario manifest: {exc}", file=str(path)) from None


def write_manifest(s: Scenario, folder: Path) -> Path:
    """Record a scenario whose files all lie in `folder` (paths stored relative)."""
    d = s.describe()
    d["net"] = s.net.name
    d["routes"] = [p.name for p in s.routes]
    d["additional"] = [p.name for p in s.additional]
    path = folder / MANIFEST
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(d, indent=2))
    tmp.replace(path)
    return path


def _from_sumocfg(path: Path) -> Scenario:
    values: dict[str, str] = {}
    for tag, attrs, _line in elements(path):
        if "value" in attrs:
            values[tag] = attrs["value"]
    if "net-file" not in values:
        raise DataError("no <net-file> in the configuration", file=str(path))
    if "route-files" not in values:
        raise DataError("no <route-files> in the configuration", file=str(path))
    root = path.parent

    def files(v: str) -> tuple[Path, ...]:
        return tuple(root / f.strip() for f in v.split(",") if f.strip())

    begin = int(float(values.get("begin", "0")))
    end = int(float(values.get("end", str(begin + 3600))))
    return Scenario(
        name=path.name.removesuffix(".sumocfg"),
        net=root / values["net-file"],
        routes=files(values["route-files"]),
        begin=begin,
        end=end,
        origin="sumocfg",
        additional=files(values.get("additional-files", "")),
    )


def elements(path: Path) -> Iterator[tuple[str, dict[str, str], int]]:
    """Every element of an XML file as (tag, attributes, line), streamed; a broken file
    raises DataError with the line and what expat found wrong."""
    events: list[tuple[str, dict[str, str], int]] = []
    parser = xml.parsers.expat.ParserCreate()

    def start(tag: str, attrs: dict[str, str]) -> None:
        events.append((tag, attrs, parser.CurrentLineNumber))

    parser.StartElementHandler = start
    try:
        f = path.open("rb")
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", file=str(path)) from None
    with f:
        while True:
            chunk = f.read(1 << 16)
            try:
                parser.Parse(chunk, not chunk)
            except xml.parsers.expat.ExpatError as exc:
                raise DataError(
                    f"broken XML: {xml.parsers.expat.ErrorString(exc.code)} (column {exc.offset})",
                    file=str(path),
                    line=exc.lineno,
                ) from None
            yield from events
            events.clear()
            if not chunk:
                break


@dataclass
class NetworkFacts:
    edges: set[str]
    signals: list[str]


def read_network(net: Path) -> NetworkFacts:
    edges: set[str] = set()
    signals: list[str] = []
    root_seen = False
    for tag, attrs, line in elements(net):
        if not root_seen:
            if tag != "net":
                raise DataError(
                    f"not a SUMO network: the root element is <{tag}>, expected <net>",
                    file=str(net),
                    line=line,
                )
            root_seen = True
        if tag == "edge" and attrs.get("function") != "internal":
            edges.add(attrs.get("id", ""))
        elif tag == "tlLogic" and attrs.get("id") not in signals:
            signals.append(attrs.get("id", ""))
    if not root_seen:
        raise DataError("empty file: expected a SUMO network", file=str(net))
    return NetworkFacts(edges, signals)


def validate(s: Scenario) -> dict[str, Any]:
    """Read every file of a scenario once; raise DataError naming the first problem.

    Returns facts for the dataset summary: signals, edges and vehicles departing in
    [begin, end)."""
    if s.end <= s.begin:
        raise DataError(f"the episode ends ({s.end}) before it begins ({s.begin})")
    if s.yellow >= s.delta:
        raise DataError(f"yellow ({s.yellow} s) must be shorter than a decision ({s.delta} s)")
    for path in s.files:
        if not path.exists():
            raise NotFound(f"scenario '{s.name}': file {path} does not exist")
    facts = read_network(s.net)
    if not facts.signals:
        raise DataError(
            "the network has no traffic lights; convert it with traffic lights guessed "
            "(odlar mobility import --guess-signals) or add <tlLogic> programs",
            file=str(s.net),
        )
    vehicles = in_window = 0
    departs: list[float] = []
    for route_file in s.routes:
        n, k, span = _check_routes(route_file, facts.edges, s.begin, s.end)
        vehicles += n
        in_window += k
        departs += span
    if in_window == 0:
        # RESCO's and other real demand often starts hours into the day: say where it is
        hint = (
            f": the demand departs from {min(departs):g} to {max(departs):g} s; choose the "
            f"episode with --begin {int(min(departs))} --end {int(max(departs)) + 1}"
            if departs
            else ""
        )
        raise DataError(
            f"no vehicle departs between {s.begin} and {s.end} s{hint}",
            file=str(s.routes[0]) if s.routes else None,
        )
    return {
        "signals": len(facts.signals),
        "edges": len(facts.edges),
        "vehicles": vehicles,
        "vehicles_in_episode": in_window,
    }


_DEMAND = ("vehicle", "trip", "flow")


def _check_routes(
    path: Path, edges: set[str], begin: int, end: int
) -> tuple[int, int, list[float]]:
    """(demand elements, of which depart in the episode, [first, last] departure); every
    edge named must exist."""
    routes: dict[str, list[str]] = {}
    n = in_window = 0
    first, last = float("inf"), float("-inf")
    root_seen = False
    for tag, attrs, line in elements(path):
        if not root_seen:
            if tag != "routes":
                raise DataError(
                    f"not a SUMO route file: the root element is <{tag}>, expected <routes>",
                    file=str(path),
                    line=line,
                )
            root_seen = True
        named: list[tuple[str, str]] = []
        if tag == "route":
            named += [("edges", e) for e in attrs.get("edges", "").split()]
            if "id" in attrs:
                routes[attrs["id"]] = attrs.get("edges", "").split()
        for key in ("from", "to"):
            if tag in ("trip", "flow") and key in attrs:
                named.append((key, attrs[key]))
        for key, edge in named:
            if edge not in edges:
                raise DataError(
                    f"<{tag}> uses edge '{edge}', which the network does not have",
                    file=str(path),
                    line=line,
                    field=key,
                )
        if tag in _DEMAND:
            ref = attrs.get("route")
            if ref is not None and ref not in routes:
                raise DataError(
                    f"<{tag} id='{attrs.get('id')}'> names route '{ref}', not defined before it",
                    file=str(path),
                    line=line,
                    field="route",
                )
            n += 1
            try:
                t = float(attrs.get("depart", attrs.get("begin", "0")))
            except ValueError:
                raise DataError(
                    f"departure '{attrs.get('depart')}' is not a number of seconds",
                    file=str(path),
                    line=line,
                    field="depart",
                ) from None
            in_window += begin <= t < end
            first, last = min(first, t), max(last, t)
    if not root_seen:
        raise DataError("empty file: expected SUMO routes", file=str(path))
    return n, in_window, [first, last] if n else []
