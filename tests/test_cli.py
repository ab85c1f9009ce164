"""Each CLI verb runs its real code path on a tiny budget."""

import json

import numpy as np
import pytest

from robo_reward.cli import main


def test_every_verb_has_help(capsys):
    """Each verb's --help renders (a stray % in a help string breaks argparse's formatting)."""
    from robo_reward.cli import _verbs

    for name, *_ in _verbs():
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0, name
        assert "usage: robo-reward " + name in capsys.readouterr().out


def test_tasks(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out.split()
    assert {"pick-place", "peg-insert", "drawer-stow", "mw/pick-place-v3"} <= set(out) and "mw/window-open-v3" not in out
    assert main(["tasks", "--all"]) == 0
    every = capsys.readouterr().out.split()
    assert len([n for n in every if n.startswith("mw/")]) == 50 and "mw/window-open-v3" in every


def test_collect_and_view(tmp_path, capsys):
    data = tmp_path / "ds"
    assert main(["collect", "--task", "peg-insert", "--episodes", "2", "--out", str(data),
                 "--image-size", "64", "--cameras", "front,wrist"]) == 0
    printed = json.loads(capsys.readouterr().out.splitlines()[0])
    assert printed["outcomes"] == {"success": 2}
    video = tmp_path / "ep.mp4"
    assert main(["view", "--data", str(data), "--episode", "1", "--out", str(video)]) == 0
    assert video.stat().st_size > 1000
    import av

    with av.open(str(video)) as c:
        frames = sum(1 for _ in c.decode(video=0))
    from robo_reward.data.lerobot_io import read_info

    assert frames == read_info(data).episodes[1].length


def test_collect_random_actions_records_a_warm_up_labelled_by_physics(tmp_path, capsys):
    """`collect --random-actions`: uniform actions over the whole range, the same episodes for the same
    seed, each labelled by the simulator; combined with --policy it is refused before anything is written."""
    from robo_reward.data.lerobot_io import load_episode, read_info

    args = ["collect", "--task", "pick-place", "--random-actions", "--episodes", "2", "--seed", "3",
            "--image-size", "32", "--cameras", "front"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    info = read_info(tmp_path / "a")
    assert [a.mode for a in info.episodes] == ["random", "random"]
    assert all(a.outcome == "failure" for a in info.episodes)  # flailing does not place a cube in a bin
    a, b = (load_episode(tmp_path / d, 1, ("front",)) for d in "ab")
    np.testing.assert_array_equal(a.actions, b.actions)
    assert a.actions.min() < -0.9 and a.actions.max() > 0.9
    assert not np.array_equal(a.actions, load_episode(tmp_path / "a", 0, ("front",)).actions)
    capsys.readouterr()
    assert main(args + ["--policy", str(tmp_path), "--out", str(tmp_path / "c")]) == 2
    assert "--random-actions and --policy" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_bad_input_exits_nonzero_with_a_message(tmp_path, capsys):
    assert main(["collect", "--task", "pick-place", "--episodes", "1", "--out", str(tmp_path / "x"),
                 "--image-size", "4000"]) == 2
    assert "image size 4000 out of range" in capsys.readouterr().err
    assert main(["collect", "--task", "stack-blocks", "--out", str(tmp_path / "y")]) == 2
    assert "unknown task 'stack-blocks'" in capsys.readouterr().err
    assert main(["view", "--data", str(tmp_path), "--out", str(tmp_path / "v.mp4")]) == 2
    assert "not a LeRobot dataset" in capsys.readouterr().err


def test_bench_sim(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench-sim", "--tasks", "pick-place", "--steps", "30", "--collect-episodes", "1",
                 "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["control_steps_per_s"]["pick-place"] > 10
    assert result["collect_episodes_per_min"]["pick-place"] > 1


def test_bench_reward_prints_one_json_line(capsys):
    assert main(["bench-reward", "--steps", "5", "--image-size", "48"]) == 0
    line = capsys.readouterr().out.strip().splitlines()
    assert len(line) == 1
    result = json.loads(line[0])
    assert result["fused_step_ms_median"] > 0 and result["fused_step_ms_p90"] >= result["fused_step_ms_median"]


def test_rl_cli(tmp_path, capsys):
    out = tmp_path / "rl"
    from robo_reward.rl.config import PRE_REDESIGN

    assert main(["rl", "--config", str(PRE_REDESIGN), "--task", "peg-insert", "--out", str(out), "--episodes", "1", "--warmup-steps", "20",
                 "--batch-size", "8", "--utd", "1", "--eval-episodes", "0"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["episodes"] == 1 and "success_rate_final" in summary
    assert main(["rl", "--task", "peg-insert", "--out", str(out), "--reward", "magic"]) == 2


def test_demo_tiny_budget(tmp_path):
    """`make demo`'s code path end to end: collect, train, evaluate, GRM-shaped RL on camera frames, report."""
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--train-episodes", "4", "--test-episodes", "3", "--steps", "5",
                 "--image-size", "32", "--rl-episodes", "1", "--rl-bc-steps", "20"]) == 0
    report = json.loads((out / "demo_report.json").read_text())
    assert report["eval_held_out"]["episodes"] == 3
    assert report["rl"]["episodes"] == 1
    assert json.loads((out / "rl" / "config.json").read_text())["pixel_shape"] == [3, 32, 32, 3]  # the GRM's cameras
    assert (out / "rl" / "success.png").exists() and list((out / "eval" / "plots").glob("*.png"))
