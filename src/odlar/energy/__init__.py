"""Energy sector (oil and gas): remaining useful life (energy.rul), fault detection
(energy.faults) and production analytics (energy.production). Declared in `sector.py`;
importing this package imports nothing else."""
