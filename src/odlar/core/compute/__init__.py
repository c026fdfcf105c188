"""Where odlar's work runs: local processes (the embedded default) or a Ray cluster.

Two interfaces, each with both backends:

- fit jobs (`core/jobs.py`) start through `backend_for(...)`: a local process, or a Ray
  Job submitted with the resources the job declares (`ray_jobs.RayJobs`);
- fan-out (`fanout.map_items`): one function over many independent items (episodes,
  folds, seeds), on a local process pool or as Ray tasks.

The store stays the source of truth: job rows, progress, results and errors are written by
the job's own process on whichever machine runs it.
"""

from odlar.core.compute.resources import Resources

__all__ = ["Resources"]
