"""Public safety and emergency services: incident forecasting and crew siting."""

from odlar.safety.hotspots import task as _hotspots  # noqa: F401  registers safety.hotspots
from odlar.safety.response import task as _response  # noqa: F401  registers safety.response
