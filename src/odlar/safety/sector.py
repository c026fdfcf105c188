"""The safety sector's plug-in declaration (issue 14's interface). Light on purpose:
importing it imports no model code; the strings are imported only when needed."""

from __future__ import annotations

from odlar.core.sectors import NavEntry, Sector

SECTOR = Sector(
    name="safety",
    title="Public safety",
    tasks=("odlar.safety.hotspots.task", "odlar.safety.response.task"),
    cli="odlar.safety.cli:app",
    api="odlar.safety.api:router",
    web="odlar.safety.web:router",
    nav=(
        NavEntry("Safety: forecast map", "/ui/safety/forecast", "read"),
        NavEntry("Safety: stationing", "/ui/safety/stations", "read"),
    ),
    templates="odlar.safety:templates",
    moved=(("odlar.safety.hotspots.models", "odlar.safety.hotspots.forecasters"),),
)
