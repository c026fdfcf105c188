"""Start-up time of light commands, and which heavy libraries they import.

    python scripts/startup.py [--runs 10] [--out FILE] [--reads]

Each command runs `--runs` times in a fresh interpreter, with a scratch ODLAR_HOME: median
and min wall seconds, and median CPU seconds (user + system of the process, which other
work on a shared machine inflates far less than wall time); a second pass with
`-X importtime` lists the heavy libraries the command imported (torch, libsumo, mlflow).
Light commands should import none of them. `--reads` times simple reads instead
(`odlar models list`, on an empty registry), which need MLflow.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = (["--help"], ["tasks"], ["audit", "verify"])
READS = (["models", "list"],)
HEAVY = ("torch", "libsumo", "traci", "mlflow")


def measure(args: list[str], runs: int, env: dict[str, str]) -> dict[str, object]:
    cmd = [sys.executable, "-m", "odlar", *args]
    subprocess.run(cmd, env=env, capture_output=True, check=True)  # warm the file cache
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    trace = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "odlar", *args],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    imported = {line.rsplit("|", 1)[-1].strip() for line in trace.stderr.splitlines()}
    heavy = sorted(h for h in HEAVY if h in imported)
    return {
        "command": "odlar " + " ".join(args),
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "median_cpu_s": round(statistics.median(cpu), 3),
        "heavy_imports": heavy,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--reads", action="store_true", help="time READS, not COMMANDS")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="odlar-startup-") as home:
        env = os.environ | {"ODLAR_HOME": home}
        rows = [measure(list(a), opts.runs, env) for a in (READS if opts.reads else COMMANDS)]
    result = {"runs": opts.runs, "cores": os.cpu_count(), "results": rows}
    text = json.dumps(result, indent=2) + "\n"
    if opts.out:
        opts.out.write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
