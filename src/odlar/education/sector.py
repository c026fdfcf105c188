"""The education sector's declaration (read through the `odlar.sectors` entry point)."""

from odlar.core.sectors import NavEntry, Sector

SECTOR = Sector(
    name="education",
    title="Education",
    tasks=("odlar.education.task",),
    cli="odlar.education.cli:app",
    api="odlar.education.api:router",
    web="odlar.education.web:router",
    nav=(NavEntry("Education", "/ui/education", "read"),),
    templates="odlar.education:templates",
    moved=(("odlar.education.model", "odlar.education.tracing_model"),),
)
