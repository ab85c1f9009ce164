import json

import numpy as np
import pandas as pd
import pytest

from robo_reward.bc.train import BCConfig, train_bc
from robo_reward.data.lerobot_io import DatasetError, read_info


def test_tiny_bc_runs_both_weightings(mixed_dataset, tiny_grm, tmp_path):
    root, _ = mixed_dataset
    summaries = {}
    for weighting in ("none", "rabc"):
        out = tmp_path / weighting
        s = summaries[weighting] = train_bc(BCConfig(data=root, out=out, reward_model=tiny_grm, weighting=weighting, steps=30,
                              batch_size=32, eval_episodes=1), progress=False)
        assert 0.0 <= s["success_rate"] <= 1.0 and s["eval_episodes"] == 1
        assert (out / "policy.pt").exists() and (out / "eval_episode_0.mp4").exists()
        saved = json.loads((out / "summary.json").read_text())
        assert saved["weighting"] == weighting
    assert 0.0 < s["mean_weight"] <= 1.0
    shares = s["loss_share_by_outcome"]  # every frame's weight is counted under its episode's outcome
    assert abs(sum(shares.values()) - 1.0) < 1e-9 and shares["success"] > 0.0
    episodes = read_info(root).episodes  # unweighted, each outcome's share is its share of the frames
    frames = {o: sum(a.length for a in episodes if a.outcome == o) for o in ("success", "partial", "failure")}
    for o, n in frames.items():
        assert abs(summaries["none"]["loss_share_by_outcome"][o] - n / sum(frames.values())) < 1e-9


def test_rabc_on_camera_frames_through_the_policys_own_encoder(mixed_dataset, tiny_grm, tmp_path):
    """`--obs state+images`: the chunk policy reads the recorded frames at its own size (the GRM only weights
    the samples); the saved policy records its cameras and frame shape; a camera the task lacks is named."""
    import torch

    root, _ = mixed_dataset
    out = tmp_path / "img"
    s = train_bc(BCConfig(data=root, out=out, reward_model=tiny_grm, weighting="rabc", obs="state+images",
                          cameras=("front", "wrist"), image_size=32, steps=20, batch_size=16, eval_episodes=1), progress=False)
    assert 0.0 <= s["success_rate"] <= 1.0 and s["eval_episodes"] == 1 and np.isfinite(s["final_loss"])
    saved = torch.load(out / "policy.pt", weights_only=False)
    assert saved["cameras"] == ["front", "wrist"] and saved["pixel_shape"] == (2, 32, 32, 3)
    assert any(k.startswith("members.0.encoder.") for k in saved["policy"])
    with pytest.raises(ValueError, match=r"unknown camera 'top' for task 'pick-place'; available: \['front', 'side', 'wrist'\]"):
        train_bc(BCConfig(data=root, out=tmp_path / "bad", obs="state+images", cameras=("front", "top"), steps=1,
                          eval_episodes=0), progress=False)
    with pytest.raises(ValueError, match=r"--image-size must be in \[16, 128\] with --obs state\+images, got 8"):
        train_bc(BCConfig(data=root, out=tmp_path / "tiny", obs="state+images", image_size=8, eval_episodes=0), progress=False)


def test_bc_bad_inputs(mixed_dataset, tiny_grm, tmp_path):
    root, _ = mixed_dataset
    short = tmp_path / "short.parquet"
    pd.DataFrame({"index": [0, 1], "episode_index": [0, 0], "frame_index": [0, 1], "progress_sparse": [0.0, 0.1]}).to_parquet(short)
    with pytest.raises(KeyError, match="does not cover this dataset's frames"):
        train_bc(BCConfig(data=root, out=tmp_path / "a", reward_model=tiny_grm, weighting="rabc", progress=short,
                          steps=1, eval_episodes=0), progress=False)
    import dataclasses

    from robo_reward.bc.train import build_data
    from robo_reward.envs import SimConfig, make_env
    from robo_reward.reward.checkpoint import load_checkpoint
    from robo_reward.reward.infer import Scorer
    from robo_reward.types import BoxSpec

    model, tasks, _ = load_checkpoint(tiny_grm)
    env = make_env("pick-place", SimConfig(image_size=32, cameras=("front",)))
    spec = env.spec
    env.close()
    cfg = BCConfig(data=root, out=tmp_path / "b", reward_model=tiny_grm)
    with pytest.raises(DatasetError, match="episode 0 has 4-d actions, the simulator pick-place has 8"):
        build_data(cfg, Scorer(model, tasks), dataclasses.replace(spec, action=BoxSpec(np.zeros(8), np.ones(8))))
    with pytest.raises(DatasetError, match="episode 0 has 18-d states, the simulator pick-place has 11"):
        build_data(cfg, Scorer(model, tasks), dataclasses.replace(spec, state=BoxSpec(np.zeros(11), np.ones(11))))
    with pytest.raises(ValueError, match="--weighting must be one of"):
        BCConfig(data=root, out=tmp_path, reward_model=tiny_grm, weighting="awr").validate()


def test_bc_ensemble_and_state_selection(mixed_dataset, tiny_grm, tmp_path):
    """Three members act with their mean chunk; joint velocities are left out of the input by default."""
    import torch

    from robo_reward.bc.policy import ChunkEnsemble, ChunkPolicy
    from robo_reward.envs import make_env

    root, _ = mixed_dataset
    out = tmp_path / "ens"
    train_bc(BCConfig(data=root, out=out, reward_model=tiny_grm, steps=5, batch_size=16, eval_episodes=0, ensemble=3),
             progress=False)
    saved = torch.load(out / "policy.pt")
    names = make_env("pick-place").spec.state.names
    assert saved["ensemble"] == 3 and [names[i] for i in saved["state_index"]] == [n for n in names if not n.endswith(".vel")]
    members = [ChunkPolicy(saved["obs_dim"], saved["act_dim"], saved["chunk"]) for _ in range(3)]
    policy = ChunkEnsemble(members)
    policy.load_state_dict(saved["policy"])
    obs = torch.randn(2, saved["obs_dim"])
    assert torch.allclose(policy(obs), torch.stack([m(obs) for m in members]).mean(0))
    assert not torch.allclose(members[0](obs), members[1](obs))  # own initialisation
    with pytest.raises(ValueError, match="--ensemble must be >= 1"):
        BCConfig(data=root, out=tmp_path, reward_model=tiny_grm, ensemble=0).validate()


def test_privileged_bc_reads_the_recorded_object_state(mixed_dataset, dataset_without_env_state, tiny_grm, tmp_path):
    """`collect` records the simulator's object state per frame; `--obs privileged` clones from it (no reward
    model needed) and acts on the simulator's live copy; a dataset without it is refused by name before training."""
    import torch

    from robo_reward.data.lerobot_io import load_episode
    from robo_reward.envs import SimConfig, make_env

    root, _ = mixed_dataset
    ep = load_episode(root, 0)
    env = make_env("pick-place", SimConfig(image_size=ep.images["front"].shape[1]))
    ts = env.reset(ep.seed)
    np.testing.assert_allclose(ep.env_state[0], ts.info.privileged, atol=1e-6)  # the frame's own state, not a later one
    out = tmp_path / "priv"
    s = train_bc(BCConfig(data=root, out=out, obs="privileged", steps=5, batch_size=16, eval_episodes=1), progress=False)
    saved = torch.load(out / "policy.pt")
    assert saved["obs"] == "privileged" and saved["obs_dim"] == len(saved["state_index"]) + ep.env_state.shape[1]
    assert s["eval_episodes"] == 1
    env.close()
    with pytest.raises(DatasetError, match="episode 0 has no observation.environment_state"):
        train_bc(BCConfig(data=dataset_without_env_state, out=tmp_path / "c", obs="privileged", steps=1,
                          eval_episodes=0, task="pick-place"), progress=False)
    with pytest.raises(ValueError, match="--obs must be one of"):
        BCConfig(data=root, out=tmp_path, reward_model=tiny_grm, obs="pixels").validate()
    with pytest.raises(ValueError, match="--reward-model is needed"):
        BCConfig(data=root, out=tmp_path).validate()
    with pytest.raises(ValueError, match="--weighting rabc needs --progress"):
        BCConfig(data=root, out=tmp_path, obs="privileged", weighting="rabc").validate()
