"""Each CLI verb runs its real code path on a tiny budget."""

import json

from robo_reward.cli import main


def test_tasks(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out.split()
    assert {"pick-place", "peg-insert", "drawer-stow", "mw/pick-place-v3"} <= set(out)


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
