import json
import shutil

import numpy as np
import pandas as pd
import pytest

from robo_reward.data.annotations import ANNOTATION_COLUMNS, NAME_COL, OUTCOME_COL
from robo_reward.data.collect import CollectConfig, collect
from robo_reward.data.lerobot_io import DatasetError, environment_state, load_episode, open_lerobot, read_info
from robo_reward.envs import SimConfig, make_env
from robo_reward.data.recording import record_episode


def test_collected_dataset_loads_with_lerobot(mixed_dataset):
    root, _ = mixed_dataset
    ds = open_lerobot(root)
    assert ds.num_episodes == 8
    item = ds[5]
    for cam in ("front", "side", "wrist"):
        img = item[f"observation.images.{cam}"]
        assert tuple(img.shape) == (3, 96, 96)
        assert float(img.std()) > 0.01
    assert tuple(item["observation.state"].shape) == (18,)
    assert tuple(item["action"].shape) == (4,)
    assert item["task"] == "pick up the cube and place it in the bin"


def test_annotation_columns_round_trip(mixed_dataset):
    root, summary = mixed_dataset
    info = read_info(root)
    assert info.subtasks == ("reach", "pick", "carry", "place")
    assert info.cameras == ("front", "side", "wrist")
    assert sum(summary["outcomes"].values()) == len(info.episodes) == 8
    df = pd.concat([pd.read_parquet(p) for p in sorted(root.glob("meta/episodes/*/*.parquet"))])
    for col in ANNOTATION_COLUMNS + (OUTCOME_COL,):
        assert col in df.columns
    for ann in info.episodes:
        row = df[df["episode_index"] == ann.episode_index].iloc[0]
        assert list(row[NAME_COL]) == [s.name for s in ann.subtasks]
        assert ann.subtasks[0].start == 0 and ann.subtasks[-1].end == ann.length - 1
        if ann.outcome == "success":
            assert [s.name for s in ann.subtasks] == list(info.subtasks)
    props = json.loads((root / "meta" / "temporal_proportions_sparse.json").read_text())
    assert list(props) == list(info.subtasks) and sum(props.values()) == pytest.approx(1.0)


def test_recorded_episode_matches_what_was_written(mixed_dataset, tmp_path):
    root, _ = mixed_dataset
    ep = load_episode(root, 2)
    env = make_env("pick-place", SimConfig())
    try:
        fresh = record_episode(env, ep.mode, ep.seed)
    finally:
        env.close()
    assert ep.length == fresh.length
    np.testing.assert_allclose(ep.states, fresh.states, atol=1e-5)
    np.testing.assert_allclose(ep.actions, fresh.actions, atol=1e-6)
    np.testing.assert_allclose(ep.env_state, fresh.env_state, atol=1e-6)  # observation.environment_state round-trips
    assert ep.subtasks == fresh.subtasks and ep.outcome == fresh.outcome
    dim = fresh.env_state.shape[1]
    assert environment_state(ep, dim, "d: episode 2") is ep.env_state
    with pytest.raises(DatasetError, match=f"d: episode 2 has {dim}-d observation.environment_state; .* reads {dim + 3} values"):
        environment_state(ep, dim + 3, "d: episode 2")
    # video is lossy: frames match on average, not bit for bit
    err = np.abs(ep.images["wrist"].astype(float) - fresh.images["wrist"].astype(float)).mean()
    assert err < 12.0


def test_mixed_quality_covers_all_outcomes(tmp_path):
    summary = collect(CollectConfig(task="pick-place", out=tmp_path / "mix", episodes=16, quality="mixed",
                                    image_size=32, cameras=("front",), seed=0), progress=False)
    assert set(summary["outcomes"]) == {"success", "partial", "failure"}
    assert summary["outcomes"]["partial"] + summary["outcomes"]["failure"] >= 6
    assert {"near_miss", "imposter"} <= set(summary["modes"])


def test_refuses_to_overwrite_and_leaves_nothing_half_written(tmp_path):
    out = tmp_path / "ds"
    collect(CollectConfig(task="pick-place", out=out, episodes=1, image_size=32, cameras=("front",)), progress=False)
    with pytest.raises(FileExistsError, match="already exists"):
        collect(CollectConfig(task="pick-place", out=out, episodes=1, image_size=32, cameras=("front",)), progress=False)
    with pytest.raises(ValueError, match="unknown camera"):
        collect(CollectConfig(task="pick-place", out=tmp_path / "bad", episodes=1, cameras=("front", "top")), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_dataset_without_annotations_is_rejected(mixed_dataset, tmp_path):
    root, _ = mixed_dataset
    copy = tmp_path / "plain"
    shutil.copytree(root, copy)
    for path in copy.glob("meta/episodes/*/*.parquet"):
        df = pd.read_parquet(path)
        df.drop(columns=[c for c in ANNOTATION_COLUMNS if c in df.columns]).to_parquet(path)
    with pytest.raises(DatasetError, match="missing subtask annotation columns 'sparse_subtask_names' with start/end frames or times"):
        read_info(copy)


def test_missing_video_is_named(mixed_dataset, tmp_path):
    root, _ = mixed_dataset
    copy = tmp_path / "novideo"
    shutil.copytree(root, copy)
    for mp4 in (copy / "videos" / "observation.images.side").rglob("*.mp4"):
        mp4.unlink()
    with pytest.raises(DatasetError, match="observation.images.side.*missing"):
        load_episode(copy, 0)
    with pytest.raises(DatasetError, match="no episode 99"):
        load_episode(copy, 99)
    with pytest.raises(DatasetError, match="camera 'top' not in dataset"):
        load_episode(copy, 0, cameras=("top",))


def test_not_a_dataset(tmp_path):
    with pytest.raises(DatasetError, match="not a LeRobot dataset"):
        read_info(tmp_path)


def test_after_success_defaults_by_task_family_and_refuses_nonsense(tmp_path):
    """`collect --after-success`: -1 resolves to the task family's tail (MetaWorld 10 steps, the suite 0); a given
    value is kept; below -1 is refused by name."""
    from robo_reward.data.collect import METAWORLD_AFTER_SUCCESS, CollectConfig, after_success

    assert after_success(CollectConfig(task="mw/button-press-v3", out=tmp_path)) == METAWORLD_AFTER_SUCCESS == 10
    assert after_success(CollectConfig(task="pick-place", out=tmp_path)) == 0
    assert after_success(CollectConfig(task="pick-place", out=tmp_path, after_success=3)) == 3
    with pytest.raises(ValueError, match="--after-success"):
        CollectConfig(task="pick-place", out=tmp_path, after_success=-2).validate()
