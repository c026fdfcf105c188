"""Education sector: knowledge tracing (education.tracing), next exercises, class reports.
Declared in `sector.py`; importing this package imports nothing else."""
