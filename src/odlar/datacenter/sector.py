"""The data-center sector as a plug-in (`odlar.sectors` entry point).

Light on purpose: importing it imports no numpy-heavy code; the strings name what the
platform imports when it mounts the sector.
"""

from __future__ import annotations

try:  # the plug-in interface (issue 14) lands on main separately
    from odlar.core.sectors import NavEntry, Sector
except ImportError:  # pragma: no cover - before the plug-in architecture is merged
    SECTOR = None
else:
    SECTOR = Sector(
        name="datacenter",
        title="Data center",
        tasks=("odlar.datacenter.task",),
        cli="odlar.datacenter.cli:app",
        nav=(NavEntry(label="Data center", path="/ui/datacenter", permission="read"),),
    )
