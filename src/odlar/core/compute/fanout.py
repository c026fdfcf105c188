"""Fan-out: one function over many independent items (episodes, folds, seeds), in parallel.

Two backends behind one call, `map_items(fn, items, ...)`:

- local: a process pool on this machine (the default);
- ray: one Ray task per item on the cluster of ODLAR_RAY_ADDRESS (its head's GCS address,
  ODLAR_RAY_GCS), with the CPUs and GPUs each item declares.

`fresh_process=True` gives every item a process that ran nothing before: locally a pool
worker that serves one item (`max_tasks_per_child=1`), on Ray a task with `max_calls=1`
(Ray starts a new worker process for each call). libsumo needs it: it keeps state from one
simulation to the next inside a process. Results come back in the order of `items`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, Literal, TypeVar

from odlar.core.config import get_settings
from odlar.core.errors import OdlarError, Unavailable, UsageError

T = TypeVar("T")
R = TypeVar("R")
Backend = Literal["local", "ray"]


def default_backend() -> Backend:
    return "ray" if get_settings().ray_address else "local"


def map_items(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    cpus: float = 1.0,
    gpus: float = 0.0,
    fresh_process: bool = False,
    preload: Sequence[str] = (),
    workers: int | None = None,
    on_result: Callable[[R], None] | None = None,
    backend: Backend | None = None,
) -> list[R]:
    """`[fn(x) for x in items]` in parallel processes; `fn` must be a module-level function
    and items and results picklable. `preload`: modules the local pool's fork server
    imports once (each worker then starts in milliseconds, not an interpreter's seconds)."""
    todo = list(items)
    if not todo:
        return []
    backend = backend or default_backend()
    if backend == "ray":
        return _ray_map(fn, todo, cpus, gpus, fresh_process, on_result)
    if backend != "local":
        raise UsageError(f"unknown compute backend '{backend}' (local or ray)")
    return _local_map(fn, todo, cpus, fresh_process, preload, workers, on_result)


def _local_map(
    fn: Callable[[T], R],
    todo: list[T],
    cpus: float,
    fresh_process: bool,
    preload: Sequence[str],
    workers: int | None,
    on_result: Callable[[R], None] | None,
) -> list[R]:
    cores = os.cpu_count() or 1
    workers = max(1, min(workers or int(cores // max(cpus, 1.0)) or 1, len(todo)))
    if preload:
        ctx = get_context("forkserver")
        ctx.set_forkserver_preload(list(preload))
    else:
        ctx = get_context("spawn")
    results: list[R] = []
    with ProcessPoolExecutor(
        workers, mp_context=ctx, max_tasks_per_child=1 if fresh_process else None
    ) as pool:
        for r in pool.map(fn, todo):
            results.append(r)
            if on_result:
                on_result(r)
    return results


_connected: str | None = None


def connect(address: str | None = None) -> Any:
    """This process as a Ray driver of the configured cluster (once per process)."""
    global _connected
    try:
        import ray
    except ImportError:
        raise Unavailable("the ray backend needs Ray: pip install 'odlar[ray]'") from None
    if _connected is None and ray.is_initialized():
        return ray  # inside a Ray task (a fan-out within a fan-out): Ray's own connection
    # inside a Ray job, Ray names its own cluster (RAY_ADDRESS) and this node
    address = address or os.environ.get("RAY_ADDRESS") or get_settings().ray_gcs_address
    if not address:
        raise UsageError("no Ray cluster configured (set ODLAR_RAY_ADDRESS)")
    if _connected == address and ray.is_initialized():
        return ray
    if ray.is_initialized():
        ray.shutdown()
    kw: dict[str, Any] = {}
    host = address.rsplit(":", 1)[0]
    if host.startswith("127.") and "RAY_ADDRESS" not in os.environ:
        kw["_node_ip_address"] = host  # a cluster on loopback: this is the head's machine
    try:
        ray.init(address=address, logging_level="warning", log_to_driver=False, **kw)
    except (ConnectionError, RuntimeError, TimeoutError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise Unavailable(f"Ray cluster at {address} is unreachable: {first}") from None
    _connected = address
    return ray


def disconnect() -> None:
    global _connected
    if _connected is not None:
        import ray

        ray.shutdown()
        _connected = None


def _ray_map(
    fn: Callable[[T], R],
    todo: list[T],
    cpus: float,
    gpus: float,
    fresh_process: bool,
    on_result: Callable[[R], None] | None,
) -> list[R]:
    ray = connect()
    from ray.exceptions import RayError, RayTaskError

    remote = ray.remote(num_cpus=cpus, num_gpus=gpus, max_calls=1 if fresh_process else 0,
                        max_retries=0)(fn)  # fmt: skip
    refs = [remote.remote(item) for item in todo]
    results: list[R] = []
    try:
        for ref in refs:
            r = ray.get(ref)
            results.append(r)
            if on_result:
                on_result(r)
    except RayTaskError as exc:  # the function raised: the same error as locally
        for ref in refs:
            ray.cancel(ref, force=True)
        cause = exc.cause if isinstance(exc.cause, BaseException) else None
        if isinstance(cause, OdlarError):
            raise cause from None
        raise RuntimeError(str(exc).splitlines()[0]) from cause
    except RayError as exc:  # a worker or node died under the task
        for ref in refs:
            ray.cancel(ref, force=True)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise Unavailable(f"a Ray worker failed during fan-out: {first}") from None
    return results
