"""Administration sector: tasks register themselves on import."""

from odlar.admin.timetabling import task  # noqa: F401  (registers admin.timetabling)
