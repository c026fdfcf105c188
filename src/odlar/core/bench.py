"""`odlar bench`: run a task's published protocol and write our figures beside the anchors."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.table import Table

from odlar.core import benchmarks
from odlar.core.config import get_settings
from odlar.core.errors import NotFound
from odlar.core.figures import figure
from odlar.core.tasks import Progress, no_progress

PACKAGES = ("odlar", "torch", "scikit-learn", "numpy", "pandas", "mlflow", "eclipse-sumo")


def run(
    target: str,
    *,
    data_dir: Path | None = None,
    quick: bool = False,
    dataset: str | None = None,
    methods: tuple[str, ...] | None = None,
    progress: Progress = no_progress,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run a registered benchmark (`core.benchmarks`): a task's, or a platform target's."""
    entry = benchmarks.find(target, dataset)
    entry.check(params or {})
    folder = data_dir or (get_settings().data_dir / entry.folder if entry.folder else Path())
    # no folder means the benchmark's data ship in an installed package (RESCO scenarios)
    if (entry.folder or data_dir) and not folder.exists():
        raise NotFound(f"{folder}: benchmark data folder not found (pass --data DIR)")
    start = time.perf_counter()
    given = benchmarks.BenchRun(folder, quick, progress, methods, dict(params or {}), dataset)
    result = entry.run(given)
    return _package(result, quick, time.perf_counter() - start, record=entry.record)


def _package(result: Any, quick: bool, wall: float, record: bool = True) -> dict[str, Any]:
    out = {
        "task": result.task,
        "dataset": result.dataset,
        "protocol": result.protocol,
        "quick": quick,
        "results": [row.to_dict() for row in result.results],
        "anchors": [asdict(a) for a in result.anchors],
        "notes": result.notes,
        "wall_seconds": round(wall, 1),
        "environment": environment(),
    }
    if record:  # kept on the installation too: model documentation cites these runs
        write(out, recorded_path(result.task, result.dataset, quick))
    return out


def recorded_path(task: str, dataset: str, quick: bool) -> Path:
    """One file per task, dataset and kind, directly in bench/: a dataset name may hold a
    slash (`cmapss/FD001`), which must not make a folder the readers never look in."""
    kind = "quick" if quick else "full"
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{task}-{dataset}-{kind}")
    return get_settings().home.expanduser() / "bench" / f"{name}.json"


def recorded(task: str) -> list[dict[str, Any]]:
    """Benchmark runs recorded on this installation for a task, full runs first (runs
    recorded before dataset names were made flat lie one folder down: read them too)."""
    folder = get_settings().home.expanduser() / "bench"
    paths = [*folder.glob(f"{task}-*.json"), *folder.glob(f"{task}-*/**/*.json")]
    runs = []
    for path in sorted(paths) if folder.exists() else []:
        try:
            runs.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return sorted(runs, key=lambda r: (bool(r.get("quick")), str(r.get("dataset"))))


def environment() -> dict[str, Any]:
    packages = {}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            packages[name] = metadata.version(name)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "packages": packages,
        "commit": _git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


@contextmanager
def scratch_store() -> Iterator[None]:
    """Point the platform at a throw-away home, so timing runs leave nothing behind."""
    from odlar.core import config, store

    old = os.environ.get("ODLAR_HOME")
    with tempfile.TemporaryDirectory(prefix="odlar-bench-") as home:
        os.environ["ODLAR_HOME"] = home
        config.reset_settings()
        store.reset_store()
        store.get_engine()  # create and migrate now, not inside the first timed call
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("ODLAR_HOME", None)
            else:
                os.environ["ODLAR_HOME"] = old
            config.reset_settings()
            store.reset_store()


@contextmanager
def server_process(*command: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """A server process on a free loopback port (its own process, as in production)."""
    import os
    import socket
    import subprocess
    import sys

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-P", "-m", *command, "--port", str(port)],
        # one thread each: the model's OpenMP threads of two servers and this client would
        # otherwise fight over 2 cores and drown the difference being measured in noise
        env=env if env is not None else {**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def write(result: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(out)


SOURCE_WIDTH = 24  # a published figure's source wraps rather than widening the table


def tables(result: dict[str, Any], width: int) -> list[Table]:
    """Ours and the published figures, one row per method. Metric columns that do not fit in
    `width` beside the method names go to a further table with the same rows, so a narrow
    terminal never cuts a scenario's name or a figure."""
    keys: list[str] = []
    for row in result["results"] + result["anchors"]:
        keys += [k for k in row["metrics"] if k not in keys]

    def fmt(v: Any) -> str:
        return "-" if v is None else (figure(v) if isinstance(v, float) else str(v))

    ours, published = result["results"], result["anchors"]
    names = [r["method"] for r in ours] + [a["method"] for a in published]
    sources = ["odlar (measured)"] * len(ours) + [a["source"] for a in published]
    columns = [("source", sources)]  # wraps at SOURCE_WIDTH
    columns += [(k, [fmt(r["metrics"].get(k)) for r in ours + published]) for k in keys]
    columns += [
        ("fit s", [fmt(r.get("fit_seconds")) for r in ours] + [""] * len(published)),
        ("predict s", [fmt(r.get("predict_seconds")) for r in ours] + [""] * len(published)),
    ]

    def span(header: str, cells: list[str]) -> int:  # with its padding and rule
        most = SOURCE_WIDTH if header == "source" else 10**6
        return min(most, max([len(header), *map(len, cells)])) + 3

    fixed = 1 + span("method", names)
    groups: list[list[tuple[str, list[str]]]] = [[]]
    used = fixed
    for column in columns:
        if groups[-1] and used + span(*column) > width:
            groups.append([])
            used = fixed
        groups[-1].append(column)
        used += span(*column)
    out = []
    for i, group in enumerate(groups, 1):
        part = f" ({i} of {len(groups)})" if len(groups) > 1 else ""
        t = Table(
            title=f"{result['task']} on {result['dataset']}{part}",
            caption=result["protocol"] if i == len(groups) else None,
        )
        t.add_column("method", no_wrap=True)
        for header, _ in group:
            if header == "source":
                t.add_column(header, max_width=SOURCE_WIDTH)
            else:
                t.add_column(header, justify="right", no_wrap=True)
        for r in range(len(names)):
            t.add_row(names[r], *(cells[r] for _, cells in group))
        out.append(t)
    return out
