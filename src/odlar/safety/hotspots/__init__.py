"""Incident forecasting per area and day (`safety.hotspots`)."""
