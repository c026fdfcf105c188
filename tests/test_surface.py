"""The public surface survives refactors: every command's --help and every route recorded
in tests/surface.json (first taken before sectors became plug-ins, refreshed by
`scripts/surface.py --write` when a command or route is added on purpose) still exists, with
the same help. Added commands and routes are fine; changed ones are listed."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import surface  # noqa: E402

BEFORE = json.loads((REPO / "tests" / "surface.json").read_text())
#: Help texts that changed on purpose, and why; their commands and options must remain.
CHANGED: dict[str, str] = {}  # none since the snapshot was refreshed (issue 16: a console
# documentation route; --model's help says "the newest approved")


def _names(help_text: str) -> set[str]:
    """Options and sub-commands a help text lists."""
    options = set(re.findall(r"(--[a-z][a-z-]*)", help_text))
    commands = set(re.findall(r"^│ ([a-z][a-z-]*) ", help_text, flags=re.M))
    return options | commands


def test_every_command_keeps_its_help(home: Path) -> None:
    after = surface.cli_help()
    for command, text in BEFORE["cli"].items():
        assert command in after, f"`{command}` is gone"
        if command in CHANGED:
            assert _names(text) <= _names(after[command]), command
        else:
            assert after[command] == text, f"`{command} --help` changed"


def test_every_route_remains(home: Path) -> None:
    after = surface.routes()
    for kind in ("openapi", "console"):
        missing = sorted(set(BEFORE["routes"][kind]) - set(after[kind]))
        assert not missing, f"{kind} routes gone: {missing}"
