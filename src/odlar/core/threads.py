"""Bounded thread pools for the math libraries (OpenMP, BLAS, torch).

By default each library starts one thread per core and spins while waiting; a server worker
and a fit job on the same machine then fight over every core, and predict latency grows from
milliseconds to seconds (issue 13, finding 3). The server (ODLAR_SERVE_THREADS) and each fit
job (ODLAR_JOB_THREADS) use a bounded number instead.
"""

from __future__ import annotations

import os
import sys

#: read by OpenMP, OpenBLAS, MKL and torch when they load (children inherit them)
ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def thread_env(n: int) -> dict[str, str]:
    """Environment for a child process whose math libraries use `n` threads."""
    return {name: str(n) for name in ENV_VARS}


def limit_threads(n: int) -> None:
    """Bound this process to `n` math-library threads: libraries loaded later read the
    environment, those already loaded are set through threadpoolctl and torch."""
    os.environ.update(thread_env(n))
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)  # not as a context: stays in effect for the process
    if "torch" in sys.modules:  # importing torch costs seconds: only when already loaded
        import torch

        torch.set_num_threads(n)
