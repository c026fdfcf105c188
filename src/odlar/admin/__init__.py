"""Administration sector: course timetabling (admin.timetabling). Declared in `sector.py`;
importing this package imports nothing else."""
