"""Importing real demand that starts hours into the day (RESCO's cologne1 departs from
25205 s): the refusal says where the demand is and which --begin/--end to give."""

from __future__ import annotations

from pathlib import Path

import pytest

from odlar.core.errors import DataError
from odlar.mobility import importing, scenarios


def test_empty_episode_suggests_the_window_of_the_demand(tmp_path: Path) -> None:
    cologne1 = scenarios.resco_dir() / "cologne1"
    net, routes = cologne1 / "cologne1.net.xml", cologne1 / "cologne1.rou.xml"
    with pytest.raises(DataError) as refused:
        importing.import_sumo(net, [routes], tmp_path / "out")
    message = str(refused.value)
    assert "no vehicle departs between 0 and 3600 s" in message
    assert "from 25205 to 28799 s" in message
    assert "--begin 25205 --end 28800" in message
    assert not (tmp_path / "out").exists()
    scenario = importing.import_sumo(net, [routes], tmp_path / "out", begin=25205, end=28800)
    assert scenario.begin == 25205
