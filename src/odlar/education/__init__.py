"""Education sector: tasks register themselves on import."""

from odlar.education import task  # noqa: F401  (registers education.tracing)
