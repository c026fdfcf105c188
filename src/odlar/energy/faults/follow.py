"""`odlar monitor FILE --follow`: tail a growing CSV of readings into the live monitor.

Only complete lines are read (a row being written is left for the next read); each batch is
validated with the file's own line numbers, scored, and its alerts stored before the next.
"""

from __future__ import annotations

import io
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from odlar.core.errors import DataError
from odlar.core.store import DEFAULT_TENANT
from odlar.core.tables import with_lines
from odlar.energy.faults.live import HUB, MonitorResponse, score_and_store
from odlar.energy.faults.monitor import StreamMonitor
from odlar.energy.faults.streams import parse_table


def follow_csv(
    path: Path,
    *,
    stream: str,
    model_version: int | None,
    follow: bool,
    batch: int,
    poll: float,
    echo: Callable[[str], None],
    tenant: str = DEFAULT_TENANT,
    actor: str = "odlar",
    stop_after: float | None = None,
) -> dict[str, int]:
    """Score the file's rows in batches; with `follow`, wait for more rows until interrupted
    (or for `stop_after` seconds without new rows, for tests and scripts)."""
    if not path.is_file():
        raise DataError("no such file", file=str(path))
    version, monitor, lock = HUB.monitor_for(
        tenant=tenant, stream=stream, model_version=model_version
    )
    echo(
        f"monitoring {path} as stream '{stream}' with energy.faults v{version} "
        f"({monitor.model.method}); Ctrl-C to stop"
    )
    totals = {"scored": 0, "alarms": 0, "opened": 0, "cleared": 0}
    said: set[tuple[str, str]] = set()  # columns ignored are the file's, said once
    header, pending, next_line = "", b"", 2
    idle_since = time.monotonic()
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop
    with path.open("rb") as handle:  # bytes: a line is decoded once complete
        try:
            while True:
                chunk = handle.read()
                if chunk:
                    idle_since = time.monotonic()
                    pending += chunk
                    *raw, pending = pending.split(b"\n")
                    first = next_line if header else 1  # the file line of raw[0]
                    lines = [_text(path, first + k, r) for k, r in enumerate(raw)]
                    if not header and lines:
                        header = lines.pop(0).rstrip("\r")
                    for start in range(0, len(lines), batch):
                        part = lines[start : start + batch]
                        numbered = [(next_line + k, r) for k, r in enumerate(part) if r.strip()]
                        if numbered:
                            result = _score(
                                path,
                                header,
                                numbered,
                                monitor,
                                lock,
                                tenant=tenant,
                                stream=stream,
                                version=version,
                                actor=actor,
                            )
                            _report(result, totals, echo, said)
                        next_line += len(lines[start : start + batch])
                    continue
                if not follow or (stop_after and time.monotonic() - idle_since > stop_after):
                    break
                time.sleep(poll)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
    last = _text(path, next_line, pending)
    if last.strip() and header:  # a last row without a newline, once the file stops
        _report(
            _score(
                path,
                header,
                [(next_line, last)],
                monitor,
                lock,
                tenant=tenant,
                stream=stream,
                version=version,
                actor=actor,
            ),
            totals,
            echo,
            said,
        )
    echo(
        f"scored {totals['scored']} samples: {totals['alarms']} above threshold, "
        f"{totals['opened']} alerts opened, {totals['cleared']} cleared"
    )
    return totals


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _score(
    path: Path,
    header: str,
    rows: list[tuple[int, str]],
    monitor: StreamMonitor,
    lock: threading.Lock,
    *,
    tenant: str,
    stream: str,
    version: int,
    actor: str,
) -> MonitorResponse:
    sep = ";" if header.count(";") > header.count(",") else ","
    text = header + "\n" + "\n".join(r.rstrip("\r") for _, r in rows)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise DataError(f"not readable as CSV ({exc})", file=str(path), line=rows[0][0]) from None
    # the rows' own file lines (blank lines between them were left out of the batch)
    frame = with_lines(frame, np.array([n for n, _ in rows], dtype=np.int64))
    table = parse_table(
        frame, str(path), variables=monitor.model.variables, training=False, fill_gaps=False
    )
    with lock:
        return score_and_store(
            monitor, table, tenant=tenant, stream=stream, model_version=version, actor=actor
        )


def _report(
    result: MonitorResponse,
    totals: dict[str, int],
    echo: Callable[[str], None],
    said: set[tuple[str, str]],
) -> None:
    totals["scored"] += result.scored
    totals["alarms"] += result.alarms
    for a in result.alerts:
        if a["first_sample"] >= result.first_sample:
            totals["opened"] += 1
            top = ", ".join(f"{c['variable']} {c['share']:.0%}" for c in a["contributors"][:3])
            event = f"; event class {a['event_class']}" if a["event_class"] is not None else ""
            echo(
                f"[red]ALERT[/red] {a['id']} {a['kind']} from sample {a['first_sample']} "
                f"({a['first_time'] or 'no time'}): score {a['score']:.2f}; {top}{event}"
                f"{'; ' + a['detail'] if a['detail'] else ''}"
            )
        if a["state"] == "cleared" and (a["cleared_sample"] or 0) >= result.first_sample:
            totals["cleared"] += 1
            echo(f"[green]cleared[/green] {a['id']} {a['kind']} at sample {a['cleared_sample']}")
    for r in result.repairs:
        if r["kind"] == "columns_ignored":
            if (r["kind"], r["column"] or "") in said:
                continue
            said.add((r["kind"], r["column"] or ""))
        echo(f"repair: {r['kind']} {r.get('column') or ''}: {r['detail']} ({r['rows']} rows)")


def _text(path: Path, line: int, raw: bytes) -> str:
    """One complete line as text; a line that is not UTF-8 is refused with its position."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"not UTF-8 text (byte {exc.start + 1} of the line): save the file as UTF-8",
            file=str(path),
            line=line,
        ) from None
