"""Public safety and emergency services: incident forecasting (safety.hotspots) and crew
siting (safety.response). Declared in `sector.py`; importing this package imports nothing
else."""
