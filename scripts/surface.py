"""The platform's public surface as JSON: `--help` of every command and group, and every
route of the HTTP API and the console. Committed under tests/ so a refactor that changes a
command, an option or a route fails tests/test_surface.py.

    python scripts/surface.py                  # print
    python scripts/surface.py --write          # refresh tests/surface.json
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).resolve().parents[1] / "tests" / "surface.json"


def cli_help() -> dict[str, str]:
    """`odlar ... --help` for every group and command, keyed by the command line."""
    import typer
    from typer.testing import CliRunner

    from odlar.cli import app

    root = typer.main.get_command(app)
    runner = CliRunner()
    out: dict[str, str] = {}

    def walk(cmd: Any, path: list[str]) -> None:
        result = runner.invoke(app, [*path, "--help"], terminal_width=100, env={"COLUMNS": "100"})
        # trailing blanks are the terminal's padding, not the help
        lines = (line.rstrip() for line in result.output.splitlines())
        out[" ".join(["odlar", *path])] = "\n".join(lines)
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):  # a group's commands
            walk(sub, [*path, name])

    walk(root, [])
    return out


def routes() -> dict[str, list[str]]:
    """`METHOD path` of every route: those in /openapi.json and the console's pages."""
    from fastapi.routing import APIRoute

    from odlar.server.app import create_app

    app = create_app()
    spec = app.openapi()
    documented = sorted(
        f"{method.upper()} {path}" for path, ops in spec["paths"].items() for method in ops
    )
    every: set[str] = set()

    def walk(routes: list[Any], prefix: str) -> None:
        for r in routes:
            if isinstance(r, APIRoute):
                path = re.sub(r"\{(\w+):\w+\}", r"{\1}", prefix + r.path)  # {x:path} is {x}
                every.update(f"{m} {path}" for m in r.methods)
            elif hasattr(r, "original_router"):  # an included router (FastAPI >= 0.16x)
                walk(r.original_router.routes, prefix + r.include_context.prefix)

    walk(app.routes, "")
    hidden = sorted(every - set(documented))
    return {"openapi": documented, "console": hidden}


def surface() -> dict[str, Any]:
    os.environ.setdefault("ODLAR_HOME", "/tmp/odlar-surface")
    return {"cli": cli_help(), "routes": routes()}


if __name__ == "__main__":
    text = json.dumps(surface(), indent=1, sort_keys=True) + "\n"
    if "--write" in sys.argv:
        SNAPSHOT.write_text(text)
        print(f"wrote {SNAPSHOT}")
    else:
        print(text, end="")
