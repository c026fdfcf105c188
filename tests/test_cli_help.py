"""Help texts say what the commands do: a version left out is the newest approved one."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner


@pytest.mark.parametrize("command", [["predict"], ["monitor"], ["energy", "monitor"]])
def test_model_default_is_the_newest_approved(command: list[str]) -> None:
    from odlar.cli import app

    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "default: the newest approved" in result.output


def _commands(group, path=()):  # noqa: ANN001, ANN202
    for name, cmd in group.commands.items():
        if getattr(cmd, "commands", None) is not None:  # a group (sectors' are typer groups)
            yield from _commands(cmd, (*path, name))
        else:
            yield (*path, name), cmd


def test_every_model_version_option_says_newest_approved() -> None:
    """Every sector's --model/--version option, not only the three above (education's
    record said "newest"; mastery, next and report said nothing; safety's forecast-map
    said "newest" and loaded it unapproved)."""
    import typer

    from odlar.cli import app

    seen = []
    for path, cmd in _commands(typer.main.get_command(app)):
        for p in cmd.params:
            if {"--model", "--version"} & set(p.opts) and not p.multiple:
                seen.append(" ".join(path))
                # a version used only when given (production's field) states no default
                if "default" in (p.help or "") or not p.help:
                    assert "newest approved" in (p.help or ""), (path, p.opts, p.help)
    assert {"education record", "education mastery", "education next", "education report",
            "safety forecast-map", "predict"} <= set(seen)  # fmt: skip


def test_every_api_model_version_says_newest_approved() -> None:
    from odlar.server.app import create_app

    schema = create_app().openapi()
    found = []
    for path, methods in schema["paths"].items():
        for op in methods.values():
            for p in op.get("parameters", []):
                if p["name"] == "model_version":
                    found.append(path)
                    assert "newest approved" in p["schema"].get("description", p.get(
                        "description", "")), path  # fmt: skip
    for name, model in schema["components"]["schemas"].items():
        field = model.get("properties", {}).get("model_version")
        if field and name.endswith("Request"):
            found.append(name)
            assert "newest approved" in field.get("description", ""), name
    assert len(found) > 5
