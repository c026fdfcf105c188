"""Public safety and emergency services: incident forecasting and crew siting."""

from odlar.safety.hotspots import task as _hotspots  # noqa: F401  registers safety.hotspots
