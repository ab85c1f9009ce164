"""Regenerate the golden `rl` run fixture (tests/fixtures/golden_rl): a behaviour-cloning-only run (two
clones + residual, privileged state) and the actions its policy gives on fixed inputs.

Run only when the RL checkpoint format or the learner changes on purpose; bump
robo_reward.rl.checkpoint.RL_CHECKPOINT_VERSION when old checkpoints can no longer load, and say so
in the commit: the golden test exists to make such changes deliberate."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robo_reward.rl.config import PRE_REDESIGN, rl_config  # noqa: E402
from robo_reward.rl.deploy import load_run  # noqa: E402
from robo_reward.rl.loop import run_rl  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "golden_rl"


def golden_inputs(obs_dim: int) -> np.ndarray:
    return np.random.default_rng(1234).normal(size=(4, obs_dim)).astype(np.float32)


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        run = Path(d) / "run"
        run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=run, episodes=0, demo_episodes=1, bc_init_steps=10, bc_ensemble=2,
                        residual=0.05, critic_pretrain_steps=2, batch_size=16, eval_episodes=0, device="cpu"), progress=False)
        shutil.rmtree(OUT, ignore_errors=True)
        OUT.mkdir(parents=True)
        shutil.copy(run / "config.json", OUT / "config.json")
        shutil.copytree(run / "checkpoint", OUT / "checkpoint")
    _, record, learner = load_run(OUT, "cpu")
    x = golden_inputs(int(record["obs_dim"]))
    expected = {"actions": [learner.act(o, deterministic=True).tolist() for o in x],
                "values": [learner.value(o, learner.act(o, deterministic=True)) for o in x]}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
