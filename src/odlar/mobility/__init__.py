"""Transport sector: tasks register themselves on import."""

from odlar.mobility import task  # noqa: F401  (registers mobility.signals)
