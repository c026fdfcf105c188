"""Remaining useful life of rotating equipment (task `energy.rul`)."""
