"""Golden RL checkpoint: a committed run folder (tests/fixtures/golden_rl, from scripts/make_golden_rl.py)
must keep loading, deploying and resuming to the same numbers; a checkpoint of another format version is
refused by name. If this fails after an intended change, regenerate it and bump RL_CHECKPOINT_VERSION
when old checkpoints can no longer load."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from robo_reward.rl.checkpoint import RL_CHECKPOINT_VERSION, CheckpointError, load_checkpoint
from robo_reward.rl.config import demo_capacity
from robo_reward.rl.deploy import load_run
from robo_reward.rl.replay import ReplayBuffer
from robo_reward.rl.sac import SAC

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden_rl"
sys.path.insert(0, str(GOLDEN.parents[2] / "scripts"))
from make_golden_rl import golden_inputs  # noqa: E402


def test_golden_run_deploys_to_the_same_actions_and_values():
    cfg, record, learner = load_run(GOLDEN, "cpu")
    expected = json.loads((GOLDEN / "expected.json").read_text())
    x = golden_inputs(int(record["obs_dim"]))
    actions = [learner.act(o, deterministic=True) for o in x]
    np.testing.assert_allclose(actions, expected["actions"], atol=1e-5)
    np.testing.assert_allclose([learner.value(o, a) for o, a in zip(x, actions)], expected["values"], atol=1e-5)
    assert cfg.sac.residual == 0.05 and cfg.sac.bc_ensemble == 2  # the residual on two frozen clones is restored


def test_golden_checkpoint_resumes_and_other_versions_are_refused(tmp_path):
    cfg, record, learner = load_run(GOLDEN, "cpu")
    obs_dim, act_dim = int(record["obs_dim"]), int(record["act_dim"])
    online, demos = ReplayBuffer(1000, obs_dim, act_dim), ReplayBuffer(demo_capacity(cfg), obs_dim, act_dim)
    fresh = SAC(obs_dim, act_dim, learner.cfg, torch.device("cpu"), seed=99)
    at, extra = load_checkpoint(GOLDEN / "checkpoint", fresh, online, demos)
    assert (at.episode, at.total_steps, online.size, extra) == (0, 0, 0, {}) and demos.size > 0
    x = golden_inputs(obs_dim)[0]
    np.testing.assert_array_equal(fresh.act(x, deterministic=True), learner.act(x, deterministic=True))

    old = tmp_path / "checkpoint"
    shutil.copytree(GOLDEN / "checkpoint", old)
    state = torch.load(old / "state.pt", weights_only=False)
    assert state.pop("format_version") == RL_CHECKPOINT_VERSION
    torch.save(state, old / "state.pt")  # as runs before the version was recorded wrote it
    with pytest.raises(CheckpointError, match=f"RL checkpoint format 1, this robo_reward reads {RL_CHECKPOINT_VERSION}"):
        load_checkpoint(old, fresh, online, demos)
