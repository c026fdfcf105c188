"""The sector's declaration: light, so discovering it imports nothing else."""

from odlar.core.sectors import NavEntry, Sector

SECTOR = Sector(
    name="tiny",
    title="Tiny example",
    tasks=("odlar_tiny.task",),
    cli="odlar_tiny.cli:app",
    api="odlar_tiny.api:router",
    web="odlar_tiny.web:router",
    nav=(NavEntry("Tiny", "/ui/tiny", "read"),),
    templates="odlar_tiny:templates",
)
