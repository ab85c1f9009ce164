"""The demonstration buffer from a LeRobot dataset (`rl --demos DIR`): real collected episodes,
relabelled with a real GRM, checked against the environment before any training."""

import json

import numpy as np
import pytest

from robo_reward.data.lerobot_io import DatasetError, read_info
from robo_reward.envs import SimConfig, make_env
from robo_reward.rl.demos import check_episode
from robo_reward.rl.loop import RLConfig, run_rl
from robo_reward.types import Episode

FAST = dict(warmup_steps=30, batch_size=16, utd=1, checkpoint_every=1, eval_episodes=0)


def test_rl_fills_its_demo_buffer_from_the_successful_episodes_of_a_dataset(tmp_path, mixed_dataset, tiny_grm):
    root, _ = mixed_dataset
    info = read_info(root)
    successes = [a for a in info.episodes if a.outcome == "success"]
    assert successes and len(successes) < len(info.episodes)  # the fixture mixes outcomes
    out = tmp_path / "run"
    run_rl(RLConfig(task="pick-place", out=out, episodes=1, reward=f"grm:{tiny_grm}", obs="state+grm", demos=root,
                    bc_init_steps=20, residual=0.1, **FAST), progress=False)
    pre = json.loads((out / "pretrain.json").read_text())
    assert pre["demo_episodes_used"] == len(successes)
    assert pre["demo_episodes_skipped"] == len(info.episodes) - len(successes)
    assert pre["demo_transitions"] == pre["demo_transitions_from_dataset"] == sum(a.length - 1 for a in successes)
    assert np.isfinite(pre["bc_mse"])


def _episode(actions: np.ndarray, states: np.ndarray) -> Episode:
    n = len(actions)
    return Episode(task="pick-place", task_text="t", images={"front": np.zeros((n, 8, 8, 3), np.uint8)}, states=states,
                   actions=actions, subtasks=(), outcome="success", mode="teleop", seed=-1, fps=10.0)


def test_a_dataset_recorded_for_another_robot_or_action_space_is_refused():
    env = make_env("pick-place", SimConfig(image_size=32, cameras=("front",)))
    spec = env.spec
    env.close()
    states = np.zeros((4, spec.state.shape[0]), np.float32)
    good = np.zeros((4, spec.action.dim), np.float32)
    np.testing.assert_allclose(check_episode(_episode(good, states), spec, "d: episode 0"), 0.0)
    with pytest.raises(DatasetError, match="d: episode 0: 8-d actions, pick-place takes 4"):
        check_episode(_episode(np.zeros((4, 8), np.float32), states), spec, "d: episode 0")
    with pytest.raises(DatasetError, match="7-d states"):
        check_episode(_episode(good, states[:, :7]), spec, "d: episode 0")
    joint_targets = good.copy()
    joint_targets[2, 0] = 2.5  # radians, not a normalised end-effector step
    with pytest.raises(DatasetError, match="episode 0, frame 2: action .* outside"):
        check_episode(_episode(joint_targets, states), spec, "d: episode 0")
    nan_state = states.copy()
    nan_state[3, 1] = np.nan
    with pytest.raises(DatasetError, match="frame 3: non-finite state"):
        check_episode(_episode(good, nan_state), spec, "d: episode 0")


def test_demos_flag_combinations():
    with pytest.raises(ValueError, match="choose one of --demos"):
        RLConfig(task="pick-place", out="x", reward="grm:m", obs="state+grm", demos="d", demo_episodes=2).validate()
    with pytest.raises(ValueError, match="--demos needs --obs state"):
        RLConfig(task="pick-place", out="x", demos="d").validate()
    RLConfig(task="pick-place", out="x", reward="grm:m", obs="state+grm", demos="d", bc_init_steps=10, env="ros").validate()
