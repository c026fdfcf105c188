"""The data-center sector's declaration (read through the `odlar.sectors` entry point)."""

from odlar.core.sectors import Sector

SECTOR = Sector(
    name="datacenter",
    title="Data center",
    tasks=("odlar.datacenter.task",),
    cli="odlar.datacenter.cli:app",
)
