"""Success judged by the reward model (rl --success-from model) against the simulator's, as on a real arm: the
simulator runs on past success (`end_on_success=False`), the GRM streams every frame, and the judge's first verdict
is compared with the simulator's flag at that state. Episodes: the scripted modes (successes, near misses, drops,
missed grasps, stalls, imposters) and, with --run, a trained `rl` run's own stochastic episodes (what a policy in
training does). Judge settings are chosen on the validation seeds (false positives <= --max-fp, then the fewest false
negatives, then the earliest verdict) and reported on the test seeds, beside the default setting.

    .venv/bin/python scripts/bench_success_judge.py --model runs/arm/grm/last --task pick-place --seeds 20 \
        [--run runs/arm/pp_s0] --out docs/results/success_judge.json

A false positive: the judge calls success in a state the simulator does not. A false negative: the simulator's
success held at some step and the judge never called it within the episode. Every episode's readings go to the
.npz beside --out."""

from __future__ import annotations

import argparse
import itertools
import platform
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from robo_reward.config import git_revision, write_json
from robo_reward.environment_loop import Action, EnvironmentLoop, Observer
from robo_reward.envs import SimConfig, make_env
from robo_reward.envs.registry import task_text
from robo_reward.envs.tasks import MODE_OUTCOME
from robo_reward.reward.judge import Judge, first_success, verdict_rates
from robo_reward.reward.online import OnlineReward, RewardConfig

SEED0 = 30_000_000  # episodes no GRM, demo or rl run of the benchmarks trained or evaluated on
GRID = {"progress": (0.8, 0.85, 0.9, 0.95), "hold": (1, 2, 3, 5, 8), "max_uncertainty": (0.05, 0.1, 0.15, 0.25, 1.0)}


class Readings(Observer):
    """Per step: the model's reading and the simulator's success flag."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, int, float, bool]] = []

    def observe_first(self, ts, reading) -> None:
        self.rows = []

    def observe(self, action, ts, reading) -> None:
        self.rows.append((reading.phi, reading.stage, reading.uncertainty, bool(ts.info.success)))


class Scripted:
    """One of the scripted modes as a policy."""

    def __init__(self, env, mode: str) -> None:
        self.env, self.mode = env, mode

    def reset(self, ts) -> None:
        self.expert = self.env.expert(self.mode)

    def act(self, ts, reading) -> Action:
        return Action(self.expert.act(ts))


def record(model: Path, task: str, seeds: int, run: Path | None) -> tuple[list[dict], int]:
    """Every episode's readings and the simulator's flags; the task's number of stages."""
    reward = OnlineReward(RewardConfig(source=f"grm:{model}", shaping="none"), task_text(task))
    env = make_env(task, SimConfig(cameras=reward.cameras, end_on_success=False))
    policies = {f"scripted:{m}": Scripted(env, m) for m in MODE_OUTCOME}
    if run is not None:
        import torch

        from robo_reward.rl.deploy import RunActor

        policies[f"run:{run.name}"] = RunActor(run, "cpu", deterministic=False)
        torch.manual_seed(SEED0)  # the run samples its actions: the same episodes on every call
    episodes = []
    try:
        for (name, policy), k in tqdm(list(itertools.product(policies.items(), range(seeds))), desc="episodes"):
            watch = Readings()
            EnvironmentLoop(env, policy, reward, [watch]).run_episode(SEED0 + k, k)
            phi, stage, unc, success = map(np.array, zip(*watch.rows))
            episodes.append({"policy": name, "seed": SEED0 + k, "split": "validation" if k < seeds // 2 else "test",
                             "phi": phi, "stage": stage, "uncertainty": unc, "success": success})
    finally:
        env.close()
    return episodes, len(reward.stream.names)


def rates(judge: Judge, stages: int, episodes: list[dict]) -> dict:
    """False positive / negative rates of `judge` (reward.judge.verdict_rates), and how many steps after the
    simulator's first success its right verdicts came."""
    verdicts = [first_success(judge, stages, ep["phi"], ep["stage"], ep["uncertainty"]) for ep in episodes]
    at = [t is not None and bool(ep["success"][t]) for t, ep in zip(verdicts, episodes)]
    latency = [t - int(np.argmax(ep["success"])) for t, ep, ok in zip(verdicts, episodes, at) if ok]
    return {**verdict_rates([t is not None for t in verdicts], at, [bool(ep["success"].any()) for ep in episodes]),
            "verdict_steps_after_success_median": float(np.median(latency)) if latency else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--task", default="pick-place")
    ap.add_argument("--seeds", type=int, default=20, help="per policy; the first half validation, the rest test")
    ap.add_argument("--run", type=Path, default=None, help="also a trained rl run's own (stochastic) episodes")
    ap.add_argument("--max-fp", type=float, default=0.02)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    t0 = time.perf_counter()
    episodes, stages = record(args.model, args.task, args.seeds, args.run)
    split = {s: [e for e in episodes if e["split"] == s] for s in ("validation", "test")}
    grid = [Judge(*values) for values in itertools.product(*GRID.values())]
    scored = [(j, rates(j, stages, split["validation"])) for j in grid]
    ok = [(j, r) for j, r in scored if r["false_positive_rate"] <= args.max_fp] or scored
    chosen, on_validation = min(ok, key=lambda jr: (jr[1]["false_negative_rate"], jr[1]["false_positive_rate"],
                                                   jr[1]["verdict_steps_after_success_median"] or 1e9))
    by_policy = {name: rates(chosen, stages, [e for e in split["test"] if e["policy"] == name])
                 for name in sorted({e["policy"] for e in episodes})}
    write_json(args.out, {
        "model": str(args.model), "task": args.task, "episodes": len(episodes), "seeds_per_policy": args.seeds,
        "chosen_on_validation": vars(chosen) | {"validation": on_validation},
        "test": rates(chosen, stages, split["test"]), "test_by_policy": by_policy,
        "default": vars(Judge()) | {"validation": rates(Judge(), stages, split["validation"]),
                                    "test": rates(Judge(), stages, split["test"]),
                                    "test_by_policy": {name: rates(Judge(), stages, [e for e in split["test"] if e["policy"] == name])
                                                       for name in by_policy}},
        "seconds": round(time.perf_counter() - t0, 1), "machine": platform.platform(), "git_revision": git_revision()})
    # every episode's readings beside the JSON, to look at what the judge got wrong
    np.savez_compressed(args.out.with_suffix(".npz"), **{f"{e['policy']}|{e['seed']}|{k}": e[k] for e in episodes
                                                         for k in ("phi", "stage", "uncertainty", "success")})
    print(args.out.read_text())


if __name__ == "__main__":
    main()
