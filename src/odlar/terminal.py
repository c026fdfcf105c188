"""What every command line shares, the platform's and the sectors': who runs the command,
the terminals it writes to, a progress bar, tables and result files.

Layer: surface helpers (docs/architecture.md). Sector CLIs import this module, never
`odlar.cli`; it imports nothing heavy, so `odlar --help` stays fast."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from odlar.core.files import write_atomic
from odlar.governance.roles import Permission, Principal

# Wide enough for benchmark tables when output is piped to a file or a CI log.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


def acting(permission: Permission) -> Principal:
    """The user running this command (``ODLAR_TOKEN``, else the installation's owner), if
    their role has ``permission``."""
    from odlar.governance.accounts import cli_principal
    from odlar.governance.roles import check

    return check(cli_principal(), permission)


@contextmanager
def progress_bar(title: str) -> Iterator[Any]:
    """A Rich progress bar fed by a task's progress(fraction, message) callback."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
        console=err,
        transient=True,
    ) as bar:
        handle = bar.add_task(title, total=1.0, note="")

        def update(fraction: float, message: str) -> None:
            bar.update(handle, completed=fraction, note=message)

        yield update


def write_json(out: Path, value: Any) -> None:
    """A result as a JSON file, written whole or not at all; says where."""
    write_atomic(out, json.dumps(value, indent=2))
    console.print(f"wrote {out}")
