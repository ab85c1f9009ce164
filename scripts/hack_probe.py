"""Reward-hacking probe: roll out a trained `robo-reward rl` policy with stochastic actions and score
the very same states with several reward models side by side. Reports, per model, the fraction of
episodes whose progress touched >= 1 - δ without a simulator success (the loop's reward-hacking
signal) — a like-for-like comparison that training runs with different models cannot give.

  .venv/bin/python scripts/hack_probe.py --run runs/sweep_peg_v2/pbrs-s0 \
      --model runs/bench_grm/grm_multiview/last --model runs/bench_grm_v2/grm_multiview/last
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robo_reward.environment_loop import EnvironmentLoop, Observer  # noqa: E402
from robo_reward.reward.online import OnlineReward  # noqa: E402
from robo_reward.rl.actor import GreedyPolicy  # noqa: E402
from robo_reward.rl.config import make_rl_env, policy_pipeline, reward_config  # noqa: E402
from robo_reward.rl.deploy import load_run  # noqa: E402
from robo_reward.shaping import DEFAULT_DELTA  # noqa: E402


class Peaks(Observer):
    """The highest Φ each model reads in an episode: the loop's own reward is the first, `others` follow."""

    def __init__(self, others: list[OnlineReward]) -> None:
        self.others = others

    def observe_first(self, ts, reading) -> None:
        self.peak = np.array([reading.phi] + [s.reset(ts).phi for s in self.others])

    def observe(self, action, ts, reading) -> None:
        self.peak = np.maximum(self.peak, [reading.phi] + [s.step(ts).phi for s in self.others])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="a `robo-reward rl` run folder (its policy acts)")
    ap.add_argument("--model", action="append", required=True, help="GRM checkpoint to score with (repeat)")
    ap.add_argument("--episodes", type=int, default=40)
    ap.add_argument("--seed", type=int, default=777_000, help="episode k resets with seed + k")
    args = ap.parse_args()

    run_cfg, record, learner = load_run(args.run, "cpu")
    sources = [OnlineReward(reward_config(replace(run_cfg, reward=replace(run_cfg.reward, source=f"grm:{m}"))), record["task_text"], learner.device)
               for m in args.model]
    torch.manual_seed(args.seed)  # the policy's action noise, seeded after loading: the same rollouts whichever models score
    env = make_rl_env(run_cfg, sources[0].cameras)
    policy = GreedyPolicy(learner, policy_pipeline(run_cfg, np.array(record["state_index"])), env.spec.action,
                          deterministic=False)
    peak = Peaks(sources[1:])
    loop = EnvironmentLoop(env, policy, sources[0], [peak])  # the policy reads the first model's features
    peaks = np.zeros((args.episodes, len(sources)))
    success = np.zeros(args.episodes, bool)
    try:
        for k in range(args.episodes):
            success[k] = bool(loop.run_episode(args.seed + k, k).last.info.success)
            peaks[k] = peak.peak
    finally:
        env.close()
    fooled = (peaks >= 1.0 - DEFAULT_DELTA) & ~success[:, None]
    print(json.dumps({"run": str(args.run), "episodes": args.episodes, "successes": int(success.sum()),
                      "models": {m: {"fooled_fraction": float(fooled[:, i].mean()),
                                     "peak_phi_failures_top5": sorted(np.round(peaks[~success, i], 3).tolist())[-5:],
                                     "peak_phi_successes_min": float(peaks[success, i].min()) if success.any() else None}
                                 for i, m in enumerate(args.model)}}, indent=1))


if __name__ == "__main__":
    main()
