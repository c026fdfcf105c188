"""Data-center sector (GPU clusters for AI): placement policies replayed on real traces
(datacenter.scheduling). Declared in `sector.py`; importing this package imports nothing
else."""
