"""Transport sector: traffic-signal control (mobility.signals) on SUMO scenarios.
Declared in `sector.py`; importing this package imports nothing else."""
