"""Sectors are plug-ins: each declares itself in the `odlar.sectors` entry-point group.

A sector package (built in or installed separately) holds a light ``sector.py`` with
``SECTOR = Sector(...)`` and names it in its ``pyproject.toml``::

    [project.entry-points."odlar.sectors"]
    datacenter = "odlar.datacenter.sector:SECTOR"

Every surface reads sectors from here: the task registry imports ``Sector.tasks``, the CLI
mounts ``Sector.cli`` as ``odlar <name>``, the API mounts ``Sector.api`` under ``/api/v1``,
the console mounts ``Sector.web`` under ``/ui`` with its navigation and templates. The
strings are imported only when a surface needs them, so discovering sectors (``odlar
--help``, ``odlar tasks``) never imports a sector's heavy dependencies.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import re
import sys
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from odlar.core.errors import OdlarError

GROUP = "odlar.sectors"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class NavEntry:
    label: str  # "Data center"
    path: str  # under the console, e.g. "/ui/datacenter"
    permission: str  # a governance permission value, e.g. "read"


@dataclass(frozen=True)
class Sector:
    name: str  # "datacenter": CLI group `odlar datacenter ...`
    title: str  # "Data center"
    tasks: tuple[str, ...]  # modules whose import registers the sector's tasks (@register)
    cli: str | None = None  # "odlar.datacenter.cli:app": a typer.Typer, `odlar <name>`
    api: str | None = None  # "odlar.datacenter.api:router": an APIRouter under /api/v1
    web: str | None = None  # "odlar.datacenter.web:router": an APIRouter under /ui
    nav: tuple[NavEntry, ...] = ()  # console navigation entries
    templates: str | None = None  # Jinja2 template folder, "odlar.datacenter:templates"
    #: modules renamed since models were stored: (old name, new name). Stored models are
    #: pickles that name the module of their classes; the old name still imports as the
    #: new module (the same module object), so models stored before a rename still load.
    moved: tuple[tuple[str, str], ...] = ()


class SectorError(OdlarError):
    """A sector plug-in that cannot be loaded: named, with what is wrong."""

    exit_code = 2
    http_status = 500


@cache
def sectors() -> tuple[Sector, ...]:
    """Every installed sector, by name; a broken declaration fails loudly, naming it."""
    found: dict[str, Sector] = {}
    for ep in metadata.entry_points(group=GROUP):
        try:
            sector = ep.load()
        except Exception as exc:  # a plug-in's own import error: say which plug-in
            raise SectorError(f"sector plug-in '{ep.name}' ({ep.value}): {exc}") from exc
        if not isinstance(sector, Sector):
            raise SectorError(f"sector plug-in '{ep.name}' ({ep.value}) is not a Sector")
        if not _NAME.match(sector.name):
            raise SectorError(f"sector plug-in '{ep.name}': bad name '{sector.name}'")
        if sector.name in found and found[sector.name] != sector:
            raise SectorError(f"two sector plug-ins are named '{sector.name}'")
        found[sector.name] = sector
    return tuple(found[n] for n in sorted(found))


def load(ref: str) -> Any:
    """The object a ``module:attribute`` string names (imported now, not at discovery)."""
    module, _, attr = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in filter(None, attr.split(".")):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise SectorError(f"cannot load '{ref}': {exc}") from exc
    return obj


def folder(ref: str) -> Path:
    """A package folder named ``package:sub/folder`` (a sector's templates)."""
    package, _, sub = ref.partition(":")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SectorError(f"'{ref}': no package {package}")
    return Path(next(iter(spec.submodule_search_locations))) / sub


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import a moved module's old name as its new module (no second copy: a stored model's
    classes must be the very classes the task checks against)."""

    def __init__(self, moved: dict[str, str]) -> None:
        self.moved = moved

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in self.moved:
            return None
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec: Any) -> Any:
        return importlib.import_module(self.moved[spec.name])

    def exec_module(self, module: Any) -> None:
        return None


@cache
def install_moved_modules() -> None:
    """Make every sector's moved modules importable by their old names (once)."""
    moved = {old: new for sector in sectors() for old, new in sector.moved}
    if moved:
        sys.meta_path.append(_MovedModules(moved))


def import_tasks() -> None:
    """Import every sector's task modules, which register their tasks and data sources."""
    for sector in sectors():
        for module in sector.tasks:
            importlib.import_module(module)
