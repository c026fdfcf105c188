"""Data-center sector (GPU clusters for AI): tasks register themselves on import."""

from odlar.datacenter import task  # noqa: F401  (registers datacenter.scheduling)
