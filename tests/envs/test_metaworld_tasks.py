"""Every MetaWorld v3 task behind `mw/<name>`, not only the curated seven: experts from MetaWorld's own scripted
policies, subtasks reach -> manipulate from generic predicates, the mixed modes a generic task allows."""

import json
import sys
from pathlib import Path

import pytest

from robo_reward.cli import main
from robo_reward.data.lerobot_io import read_info

pytestmark = pytest.mark.metaworld
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))


def test_collect_a_task_outside_the_curated_seven(tmp_path, capsys):
    out = tmp_path / "window"
    assert main(["collect", "--task", "mw/window-open-v3", "--episodes", "2", "--quality", "mixed", "--image-size", "32",
                 "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out.splitlines()[0])
    assert sum(printed["outcomes"].values()) == 2 and set(printed["modes"]) <= {"expert", "stall", "imposter"}
    info = read_info(out)
    assert info.subtasks == ("reach", "manipulate") and info.tasks == ("window open",)
    assert main(["collect", "--task", "mw/window-shut-v9", "--episodes", "1", "--out", str(tmp_path / "x")]) == 2
    assert "MetaWorld v3 has" in capsys.readouterr().err  # the unknown task is named with the real list


@pytest.mark.slow
def test_the_scripted_expert_solves_at_least_45_of_the_50_tasks():
    """Measured: 48 of 50. bin-picking and handle-pull-side fail at our 20 Hz control (MetaWorld's closed-loop
    policies acting on 4x repeated actions) and are solved 3/3 at its own 80 Hz or at 40 Hz."""
    from mw_expert_success import measure

    result = measure(seeds=3)
    assert result["tasks"] == 50 and result["solved"] >= 45, result["unsolved"]
