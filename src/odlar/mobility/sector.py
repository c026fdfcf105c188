"""The transport sector's declaration (read through the `odlar.sectors` entry point)."""

from odlar.core.sectors import NavEntry, Sector

SECTOR = Sector(
    name="mobility",
    title="Transport",
    tasks=("odlar.mobility.task",),
    cli="odlar.mobility.cli:app",
    web="odlar.mobility.web:router",
    nav=(NavEntry("Traffic signals", "/ui/traffic", "read"),),
    templates="odlar.mobility:templates",
)
