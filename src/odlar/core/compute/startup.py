"""When a job's process and the processes above it started: the start-up breakdown.

A job's process prints one line `odlar-startup {json}` to its log: the wall-clock times
(seconds since 1970) at which its own process and each ancestor process began (from
/proc, to the kernel's 10 ms tick) and when its imports were done. `odlar bench compute`
reads it to split the submission-to-start latency into Ray's part (the job supervisor's
worker process) and odlar's own (interpreter start, imports). Only Linux has /proc:
elsewhere the process times are left out.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

PREFIX = "odlar-startup "


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, start time since 1970) of a process, or None if unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # field 22 (starttime) counts clock ticks since boot; CLOCK_BOOTTIME is the same clock
    age = time.clock_gettime(time.CLOCK_BOOTTIME) - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return int(fields[1]), time.time() - age


def _name(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return " ".join(p.decode(errors="replace") for p in raw.split(b"\0") if p)[:80]


def ancestry(depth: int = 3) -> list[dict[str, Any]]:
    """This process and up to `depth` ancestors: [{pid, cmd, start}], self first."""
    out: list[dict[str, Any]] = []
    pid = os.getpid()
    for _ in range(depth + 1):
        st = _stat(pid)
        if st is None:
            break
        out.append({"pid": pid, "cmd": _name(pid), "start": round(st[1], 3)})
        if st[0] <= 1:
            break
        pid = st[0]
    return out


def line(imported: float) -> str:
    return PREFIX + json.dumps({"imported": round(imported, 3), "processes": ancestry()})


def parse(log: str) -> dict[str, Any] | None:
    """The start-up record of a job's log, if it has one."""
    for text in log.splitlines():
        if text.startswith(PREFIX):
            try:
                return dict(json.loads(text[len(PREFIX) :]))
            except ValueError:
                return None
    return None
