"""Datasets robo_reward did not write: files from LeRobot's own writer (`LeRobotDataset.create` / `add_frame` /
`save_episode` / `finalize`), annotated by LeRobot's own `save_annotations_to_dataset` (whole-second times,
shared boundary frames, legacy columns too), cameras named unlike ours, no `outcome` column."""

import json

import numpy as np
import pandas as pd
import pytest

from robo_reward.cli import main
from robo_reward.data.annotations import spans_from_lerobot
from robo_reward.data.lerobot_io import DatasetError, read_info
from robo_reward.types import SubtaskSpan

CAMERAS = {"front": "cam_high", "side": "cam_left", "wrist": "cam_hand"}  # ours -> a user's names
FPS = 10


def _mmss(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60:02d}:{s % 60:02d}"


def write_with_lerobot(root, episodes, rewards: bool) -> None:
    """Episodes through LeRobot's writer, then LeRobot's annotator: what a LeRobot user's dataset looks like."""
    from lerobot.data_processing.sarm_annotations.subtask_annotation import (
        Subtask,
        SubtaskAnnotation,
        Timestamp,
        save_annotations_to_dataset,
    )
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    h, w = episodes[0].images["front"].shape[1:3]
    feats = {f"observation.images.{CAMERAS[c]}": {"dtype": "video", "shape": (h, w, 3), "names": ["height", "width", "channels"]}
             for c in CAMERAS}
    feats["observation.state"] = {"dtype": "float32", "shape": (episodes[0].states.shape[1],), "names": None}
    feats["action"] = {"dtype": "float32", "shape": (episodes[0].actions.shape[1],), "names": None}
    if rewards:  # as gym_manipulator / HIL-SERL record them
        feats["next.reward"] = {"dtype": "float32", "shape": (1,), "names": None}
        feats["next.done"] = {"dtype": "bool", "shape": (1,), "names": None}
    ds = LeRobotDataset.create(repo_id="user/foreign", fps=FPS, features=feats, root=root, robot_type="panda",
                               use_videos=True, video_backend="pyav")
    for ep in episodes:
        for t in range(ep.length):
            frame = {f"observation.images.{CAMERAS[c]}": ep.images[c][t] for c in CAMERAS}
            frame.update({"observation.state": ep.states[t], "action": ep.actions[t], "task": ep.task_text})
            if rewards:
                last = t == ep.length - 1
                frame["next.reward"] = np.array([float(last and ep.outcome == "success")], np.float32)
                frame["next.done"] = np.array([last])
            ds.add_frame(frame)
        ds.save_episode()
    ds.finalize()
    annotations = {}
    for i, ep in enumerate(episodes):  # whole-second times; each subtask ends where the next starts
        starts = [s.start / FPS for s in ep.subtasks]
        ends = starts[1:] + [ep.length / FPS]
        annotations[i] = SubtaskAnnotation(subtasks=[Subtask(name=s.name, timestamps=Timestamp(start=_mmss(a), end=_mmss(b)))
                                                     for s, a, b in zip(ep.subtasks, starts, ends)])
    save_annotations_to_dataset(root, annotations, fps=FPS)


@pytest.fixture(scope="module")
def episodes():
    """Five pick-place episodes; the last recorded a second past its success, as people record (its `place`, the
    release, then outlasts the annotator's one-second resolution; in the first it does not)."""
    from robo_reward.data.recording import record_episode
    from robo_reward.envs import SimConfig, make_env

    plain = make_env("pick-place", SimConfig(image_size=32))
    tail = make_env("pick-place", SimConfig(image_size=32, after_success=10))
    try:
        return [record_episode(env, mode, seed) for env, mode, seed in
                ((plain, "expert", 1), (plain, "expert", 2), (plain, "drop", 3), (plain, "miss_grasp", 4),
                 (tail, "expert", 5))]
    finally:
        plain.close()
        tail.close()


@pytest.fixture(scope="module")
def foreign(episodes, tmp_path_factory):
    root = tmp_path_factory.mktemp("foreign") / "with_rewards"
    write_with_lerobot(root, episodes, rewards=True)
    return root


@pytest.fixture(scope="module")
def bare(episodes, tmp_path_factory):
    root = tmp_path_factory.mktemp("foreign") / "bare"
    write_with_lerobot(root, episodes, rewards=False)
    return root


def test_lerobot_annotations_read_as_lerobot_writes_them(foreign, episodes):
    episodes_meta = pd.concat(pd.read_parquet(p) for p in sorted(foreign.glob("meta/episodes/*/*.parquet")))
    assert "outcome" not in episodes_meta and "subtask_names" in episodes_meta  # LeRobot's legacy columns too
    shared = [(e, f) for e, f in zip(episodes_meta["sparse_subtask_end_frames"], episodes_meta["sparse_subtask_start_frames"])
              if any(a == b for a, b in zip(e[:-1], f[1:]))]
    assert shared, "LeRobot's int(t * fps) boundaries: a subtask starts on the frame the previous one ends"
    # whole seconds at 10 fps: a subtask shorter than a second (the release over the bin) gets no frame, and is named
    with pytest.warns(UserWarning, match=r"no frame of their own .*: episode 0 'place'"):
        info = read_info(foreign)
    assert info.cameras == tuple(CAMERAS.values()) and info.outcome_source == "derived from next.reward"
    assert [a.outcome for a in info.episodes] == [e.outcome for e in episodes]  # success by the reward, else by subtasks
    for a in info.episodes:  # whole seconds: the last span ends within a second of the episode's end
        assert a.subtasks[0].start == 0 and a.length - FPS <= a.subtasks[-1].end <= a.length - 1


def test_train_score_and_eval_on_a_foreign_dataset_with_no_other_flags(foreign, tmp_path, capsys):
    out = tmp_path / "grm"
    assert main(["train-reward", "--data", str(foreign), "--out", str(out), "--steps", "4", "--batch-size", "4",
                 "--image-size", "32"]) == 0
    printed = capsys.readouterr().out
    assert "cameras ['cam_high', 'cam_left', 'cam_hand'] (from" in printed and "derived from next.reward" in printed
    config = json.loads((out / "last" / "config.json").read_text())
    assert config["model"]["cameras"] == list(CAMERAS.values())
    assert set(config["outcome_sources"].values()) == {"derived from next.reward"}
    assert main(["score", "--model", str(out / "last"), "--data", str(foreign), "--out", str(tmp_path / "p.parquet")]) == 0
    scored = pd.read_parquet(tmp_path / "p.parquet")
    assert {"index", "episode_index", "frame_index", "progress_sparse"} <= set(scored.columns)
    assert len(scored) == sum(e.length for e in read_info(foreign, annotated=False).episodes)  # every frame
    assert main(["eval-reward", "--model", str(out / "last"), "--data", str(foreign), "--out", str(tmp_path / "ev")]) == 0
    assert "outcomes: derived from next.reward" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())["metrics"]
    assert metrics["outcome_source"] == "derived from next.reward" and metrics["episodes"] == 5


def test_a_dataset_without_outcomes_is_refused_until_a_rule_is_chosen(bare, tmp_path, capsys):
    args = ["train-reward", "--data", str(bare), "--out", str(tmp_path / "grm"), "--steps", "2", "--batch-size", "4",
            "--image-size", "32"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(bare) in err and "records no outcome" in err and "--outcome-from" in err
    assert main(args + ["--outcome-from", "last-subtask"]) == 0
    run = json.loads((tmp_path / "grm" / "run.json").read_text())
    assert set(run["outcome_sources"].values()) == {"last-subtask"}
    adapt = ["adapt", "--model", str(tmp_path / "grm" / "last"), "--demo", str(bare), "--episode", "0", "--task", "a new task",
             "--out", str(tmp_path / "adapted"), "--steps", "2", "--replay-episodes", "2"]
    assert main(adapt) == 2 and "records no outcome" in capsys.readouterr().err  # adapt needs a success it can trust
    assert main(adapt + ["--outcome-from", "all-success"]) == 0  # the user vouches for the demo; replay uses the parent's rule
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({str(i): "success" for i in range(4)}))
    with pytest.raises(ValueError, match="no outcome for episode 4"):
        read_info(bare, outcome_from=f"labels:{labels}")
    labels.write_text('{0: "success"')
    with pytest.raises(ValueError, match="labels.json: not valid JSON"):
        read_info(bare, outcome_from=f"labels:{labels}")


def test_a_recorded_outcome_column_with_a_gap_is_named(bare, tmp_path):
    import shutil

    copy = tmp_path / "gap"
    shutil.copytree(bare, copy)
    for path in copy.glob("meta/episodes/*/*.parquet"):
        df = pd.read_parquet(path)
        df["outcome"] = ["success"] * (len(df) - 1) + [None]
        df.to_parquet(path)
    with pytest.raises(DatasetError, match="episode 4 has no value in the 'outcome' column"):
        read_info(copy)


def test_spans_from_lerobot_boundaries():
    def spans(starts, ends, length=10, names=("a", "b", "c")):
        return spans_from_lerobot(names, starts, ends, None, None, 10.0, length, "ep 0")

    assert spans([0, 4, 7], [4, 7, 10]) == ((SubtaskSpan("a", 0, 4), SubtaskSpan("b", 5, 7), SubtaskSpan("c", 8, 9)), [])
    assert spans([0, 4, 4], [4, 4, 10])[1] == ["b"]  # no frame of its own: dropped and named
    times = spans_from_lerobot(("a", "b"), None, None, [0.0, 0.5], [0.5, 1.0], 10.0, 10, "ep 0")
    assert times[0] == (SubtaskSpan("a", 0, 5), SubtaskSpan("b", 6, 9))
    with pytest.raises(ValueError, match="ep 0: subtask 'b' starts at frame 3, before the previous one ended"):
        spans([0, 3, 7], [5, 7, 10])
    with pytest.raises(ValueError, match="outside"):
        spans([0, 4, 7], [4, 7, 12])
