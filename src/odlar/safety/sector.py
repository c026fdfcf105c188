"""The safety sector's plug-in declaration (issue 14's interface). Light on purpose:
importing it imports no model code; the strings are imported only when needed."""

from __future__ import annotations

from odlar.core.sectors import Sector

SECTOR = Sector(
    name="safety",
    title="Public safety",
    tasks=("odlar.safety.hotspots.task", "odlar.safety.response.task"),
    cli="odlar.safety.cli:app",
    # console pages (forecast map, siting page) not built yet: no navigation entry
)
