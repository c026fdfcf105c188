"""The administration sector as a plug-in (the agreed interface of issue 14).

Light on purpose: importing this module imports no solver; the strings name the modules
that are imported only when a surface needs them.
"""

from odlar.core.sectors import NavEntry, Sector

SECTOR = Sector(
    name="admin",
    title="Administration",
    tasks=("odlar.admin.timetabling.task",),
    cli="odlar.admin.cli:app",
    api="odlar.admin.api:router",
    web="odlar.admin.web:router",
    nav=(NavEntry("Timetables", "/ui/admin/timetabling", "read"),),
    templates="odlar.admin:templates",
)
