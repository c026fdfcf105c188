"""Energy sector (oil and gas): remaining useful life (energy.rul) and fault detection
(energy.faults). Declared in `sector.py`; importing this package imports nothing else."""
