"""Curriculum-based course timetabling (ITC 2007 track 3): data, validator, solvers, task."""
