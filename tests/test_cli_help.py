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
