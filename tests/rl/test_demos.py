"""The demonstration buffer from a LeRobot dataset (`rl --demos DIR`): real collected episodes,
relabelled with a real GRM, checked against the environment before any training."""

import json

import numpy as np
import pytest

from robo_reward.data.lerobot_io import DatasetError, read_info
from robo_reward.envs import SimConfig, make_env
from robo_reward.rl.demos import check_episode
from robo_reward.rl.config import PRE_REDESIGN, rl_config
from robo_reward.rl.loop import run_rl
from robo_reward.types import Episode

FAST = dict(warmup_steps=30, batch_size=16, utd=1, checkpoint_every=1, eval_episodes=0)


def test_rl_fills_its_demo_buffer_from_the_successful_episodes_of_a_dataset(tmp_path, mixed_dataset, tiny_grm):
    root, _ = mixed_dataset
    info = read_info(root)
    successes = [a for a in info.episodes if a.outcome == "success"]
    assert successes and len(successes) < len(info.episodes)  # the fixture mixes outcomes
    out = tmp_path / "run"
    run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=out, episodes=1, reward=f"grm:{tiny_grm}", obs="state+grm", demos=root,
                    bc_init_steps=20, residual=0.1, **FAST), progress=False)
    pre = json.loads((out / "pretrain.json").read_text())
    assert pre["demo_episodes_used"] == len(successes)
    assert pre["demo_episodes_skipped"] == len(info.episodes) - len(successes)
    assert pre["demo_transitions"] == pre["demo_transitions_from_dataset"] == sum(a.length - 1 for a in successes)
    assert np.isfinite(pre["bc_mse"])


def test_a_privileged_policy_clones_from_the_object_state_a_dataset_recorded(tmp_path, mixed_dataset, dataset_without_env_state):
    """`--obs privileged --demos DIR`: the demo observations are robot state + the recorded
    observation.environment_state (no reward model needed); a dataset without it is refused by episode."""
    from robo_reward.data.lerobot_io import load_episode

    root, _ = mixed_dataset
    out = tmp_path / "run"
    run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=out, episodes=0, demos=root, bc_init_steps=5, residual=0.05, **FAST),
           progress=False)
    successes = [a for a in read_info(root).episodes if a.outcome == "success"]
    pre = json.loads((out / "pretrain.json").read_text())
    assert pre["demo_transitions_from_dataset"] == sum(a.length - 1 for a in successes)
    demos = np.load(out / "checkpoint" / "demos.npz")
    ep = load_episode(root, successes[0].episode_index)
    keep = make_env("pick-place").spec.state.policy_index()
    np.testing.assert_allclose(demos["obs"][0], np.concatenate([ep.states[0, keep], ep.env_state[0]]), atol=1e-6)
    with pytest.raises(DatasetError, match="episode 0 has no observation.environment_state"):
        run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=tmp_path / "r2", episodes=0, demos=dataset_without_env_state, bc_init_steps=5, residual=0.05,
                        **FAST), progress=False)


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
    both = rl_config(task="pick-place", out="x", reward="grm:m", demos="d")  # a dataset replaces the default scripted demos
    both.validate()
    assert both.demos.episodes == 20 and both.demos.scripted == 0 and str(both.demos.dataset) == "d"
    with pytest.raises(ValueError, match="--demo-noise must be >= 0 and needs --demo-episodes"):
        rl_config(task="pick-place", out="x", reward="grm:m", demos="d", demo_noise=0.1)
    with pytest.raises(ValueError, match="--demos with --reward dense"):
        rl_config(PRE_REDESIGN, task="pick-place", out="x", demos="d", reward="dense").validate()
    rl_config(PRE_REDESIGN, task="pick-place", out="x", reward="grm:m", obs="state+grm", demos="d", bc_init_steps=10, env="ros").validate()


def test_dart_demos_execute_noisy_motion_and_label_the_clean_expert_action():
    """--demo-noise: the buffer holds what was executed (true transitions for the critic), the labels
    what the closed-loop expert commanded; the gripper is never perturbed; noise 0 changes nothing."""
    from robo_reward.environment_loop import NO_FEATURES
    from robo_reward.observation import ObservationPipeline
    from robo_reward.reward.online import OnlineReward
    from robo_reward.rl.actor import ReplayWriter
    from robo_reward.rl.config import reward_config
    from robo_reward.rl.demos import scripted_demos
    from robo_reward.rl.replay import ReplayBuffer

    cfg = rl_config(PRE_REDESIGN, task="pick-place", out="x", demo_episodes=1)
    env = make_env("pick-place", SimConfig(image_size=32, cameras=("front",)))
    try:
        reward = OnlineReward(reward_config(cfg), env.spec.task_text)
        pipeline = ObservationPipeline("privileged")
        dim = len(pipeline(env.reset(0), NO_FEATURES))
        runs = {}
        for noise in (0.0, 0.2):
            buf = ReplayBuffer(500, dim, env.spec.action.dim)
            labels = scripted_demos(env, 1, 0, reward, ReplayWriter(buf, pipeline, keep_labels=True), noise)
            runs[noise] = (buf, labels)
    finally:
        env.close()
    clean_buf, clean_labels = runs[0.0]
    np.testing.assert_array_equal(clean_labels, clean_buf.action[: clean_buf.size])
    buf, labels = runs[0.2]
    assert labels.shape == (buf.size, env.spec.action.dim)
    executed = buf.action[: buf.size]
    np.testing.assert_array_equal(labels[:, -1], executed[:, -1])
    noise = executed[:, :-1] - labels[:, :-1]
    assert 0.1 < noise[np.abs(executed[:, :-1]) < 0.99].std() < 0.3  # unclipped entries carry the N(0, 0.2) noise
    with pytest.raises(ValueError, match="--demo-noise must be >= 0 and needs --demo-episodes"):
        rl_config(PRE_REDESIGN, task="pick-place", out="x", demo_noise=0.1).validate()


def test_a_behaviour_cloning_only_run_can_be_evaluated(tmp_path):
    """`rl --episodes 0` (clones of the demos, no online phase) leaves a checkpoint eval-policy loads."""
    from robo_reward.cli import main

    run = tmp_path / "bc"
    run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=run, episodes=0, demo_episodes=1, demo_noise=0.1, bc_init_steps=20,
                    residual=0.05, **FAST), progress=False)
    assert json.loads((run / "pretrain.json").read_text())["demo_noise"] == 0.1
    assert main(["eval-policy", "--run", str(run), "--out", str(tmp_path / "ev"), "--episodes", "1", "--videos", "0"]) == 0
    assert len(json.loads((tmp_path / "ev" / "eval.json").read_text())["rows"]) == 1


def test_eval_policy_names_a_run_whose_observation_no_longer_matches(tmp_path, capsys):
    """A run trained when the task's privileged state was shorter: a clear error, not a matmul failure."""
    from robo_reward.cli import main

    run = tmp_path / "bc"
    run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=run, episodes=0, demo_episodes=1, bc_init_steps=5, residual=0.05, **FAST),
           progress=False)
    record = json.loads((run / "config.json").read_text())
    record["config"]["task"] = "peg-insert"  # same robot state, a longer privileged vector
    (run / "config.json").write_text(json.dumps(record))
    assert main(["eval-policy", "--run", str(run), "--out", str(tmp_path / "ev"), "--episodes", "1", "--videos", "0"]) == 2
    assert "trained on 18 observation values, the peg-insert environment now gives" in capsys.readouterr().err
