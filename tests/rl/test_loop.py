import json

import numpy as np
import pytest
import torch

from robo_reward.rl.loop import RLConfig, run_rl
from robo_reward.rl.replay import ReplayBuffer, sample_mixed
from robo_reward.rl.sac import SAC, SACConfig

FAST = dict(warmup_steps=30, batch_size=16, utd=1, checkpoint_every=1)


def test_sparse_run_writes_metrics_summary_plot_and_resumes(tmp_path):
    out = tmp_path / "run"
    summary = run_rl(RLConfig(task="pick-place", out=out, episodes=2, **FAST), progress=False)
    assert summary["episodes"] == 2 and 0.0 <= summary["success_rate_final"] <= 1.0
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["episode"] for r in rows] == [0, 1]
    assert all(r["length"] == 100 and r["gold"] == 0.0 for r in rows)  # random actions do not succeed
    assert all(np.isfinite(r["learner/critic_loss"]) for r in rows)  # updates start after 30 warm-up steps
    assert (out / "success.png").stat().st_size > 0 and (out / "checkpoint" / "state.pt").exists()
    summary = run_rl(RLConfig(task="pick-place", out=out, episodes=3, resume=True, **FAST), progress=False)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["episode"] for r in rows] == [0, 1, 2] and rows[2]["total_steps"] == 300


def test_grm_shaped_run_with_demos(tmp_path, tiny_grm):
    out = tmp_path / "grm"
    run_rl(RLConfig(task="pick-place", out=out, episodes=1, reward=f"grm:{tiny_grm}", obs="state+grm",
                    demo_episodes=1, **FAST), progress=False)
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert 0.0 <= row["final_progress"] <= 1.0
    assert row["shaping"] != 0.0 and row["reward_s"] > 0.0


def test_bad_rl_config():
    with pytest.raises(ValueError, match="--reward must be"):
        RLConfig(task="pick-place", out="x", reward="magic").validate()
    with pytest.raises(ValueError, match="needs a GRM"):
        RLConfig(task="pick-place", out="x", obs="state+grm").validate()


def test_timeouts_bootstrap_and_terminals_do_not():
    buf = ReplayBuffer(10, 2, 1)
    buf.add(np.zeros(2), np.zeros(1), 1.0, np.ones(2), terminated=False)  # time-limit truncation
    buf.add(np.zeros(2), np.zeros(1), 1.0, np.ones(2), terminated=True)
    assert buf.discount[:2].tolist() == [1.0, 0.0]


def test_sac_learns_a_one_step_bandit():
    """Reward = -(a - 0.5)^2, terminal: the policy mean must move to 0.5."""
    rng = np.random.default_rng(0)
    sac = SAC(1, 1, SACConfig(init_alpha=0.01, learn_alpha=False), torch.device("cpu"), seed=0)
    buf = ReplayBuffer(5000, 1, 1)
    for _ in range(2000):
        a = rng.uniform(-1, 1, 1)
        buf.add(np.zeros(1), a, float(-(a[0] - 0.5) ** 2), np.zeros(1), terminated=True)
    for _ in range(600):
        sac.update(sample_mixed(buf, None, 128, rng, torch.device("cpu")))
    assert abs(sac.act(np.zeros(1), deterministic=True)[0] - 0.5) < 0.15
