"""The data-center sector's declaration (read through the `odlar.sectors` entry point)."""

from odlar.core.sectors import NavEntry, Sector

SECTOR = Sector(
    name="datacenter",
    title="Data center",
    tasks=("odlar.datacenter.task",),
    cli="odlar.datacenter.cli:app",
    api="odlar.datacenter.api:router",
    web="odlar.datacenter.web:router",
    nav=(NavEntry("Data center", "/ui/datacenter", "read"),),
    templates="odlar.datacenter:templates",
)
