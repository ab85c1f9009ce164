"""`make demo`: the embedded default run, end to end over what the stack has so far.

collect (train seeds, mixed quality) -> collect (held-out seeds) -> train-reward -> eval-reward on
the held-out episodes -> a short online RL run whose reward is the trained GRM's PBRS-shaped
progress and whose policy reads what a real arm has: the robot state and camera frames, through its own
encoder (the benchmarked learner: five actors cloned from 10 scripted demos plus a learned residual)
-> a report (JSON + plots + videos) under --out. The RL budget here shows the path working; the
benchmark's figures come from 150-episode runs (see docs/BENCHMARKS.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from robo_reward.config import write_json


@dataclass(frozen=True)
class DemoConfig:
    out: Path = field(default=Path("runs/demo"), metadata={"help": "output folder (datasets are replaced on each run)"})
    task: str = field(default="pick-place", metadata={"help": "task to run the demo on"})
    train_episodes: int = field(default=30, metadata={"help": "training episodes (mixed quality)"})
    test_episodes: int = field(default=20, metadata={"help": "held-out evaluation episodes (other seeds)"})
    steps: int = field(default=800, metadata={"help": "reward-model training steps"})
    image_size: int = field(default=64, metadata={"help": "reward-model input size"})
    rl_episodes: int = field(default=10, metadata={"help": "online RL episodes with the GRM-shaped reward"})
    rl_bc_steps: int = field(default=1000, metadata={"help": "behaviour-cloning steps before the online episodes"})


def run_demo(cfg: DemoConfig) -> dict:
    from robo_reward.data.collect import CollectConfig, collect
    from robo_reward.reward.evaluate import EvalConfig, evaluate
    from robo_reward.reward.train import TrainConfig, train

    cfg.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"task": cfg.task}
    sets = {"train": (cfg.train_episodes, 0), "test": (cfg.test_episodes, 100_000)}
    for name, (episodes, seed) in sets.items():
        summary = collect(CollectConfig(task=cfg.task, out=cfg.out / f"data-{name}", episodes=episodes,
                                        quality="mixed", seed=seed, overwrite=True))
        report[f"data_{name}"] = {"outcomes": summary["outcomes"], "modes": summary["modes"],
                                  "episodes_per_minute": summary["episodes_per_minute"]}
    run = cfg.out / "grm"
    report["train"] = train(TrainConfig(data=(str(cfg.out / "data-train"),), out=run, steps=cfg.steps,
                                        image_size=cfg.image_size, checkpoint_every=max(100, cfg.steps // 4)))
    metrics = evaluate(EvalConfig(model=run / "last", data=cfg.out / "data-test", out=cfg.out / "eval", plots=8, videos=2))
    report["eval_held_out"] = {k: metrics[k] for k in ("episodes", "voc_mean", "completion_accuracy", "auroc",
                                                        "stage_accuracy")}
    report["eval_held_out"]["per_perspective_completion"] = {
        p: metrics[p]["completion_accuracy"] for p in ("incremental", "forward", "backward", "fused")}
    from robo_reward.rl.config import rl_config
    from robo_reward.rl.loop import run_rl

    # the default recipe on the input a real arm has (robot state + camera frames), smaller budgets
    report["rl"] = run_rl(rl_config(task=cfg.task, out=cfg.out / "rl", episodes=cfg.rl_episodes, reward=f"grm:{run / 'last'}",
                                    obs="state+images", demo_episodes=10, bc_init_steps=cfg.rl_bc_steps,
                                    critic_pretrain_steps=cfg.rl_bc_steps // 5, warmup_steps=200, eval_episodes=5))
    report["look_at"] = [str(cfg.out / "eval" / "plots"), str(cfg.out / "eval" / "videos"), str(cfg.out / "rl" / "success.png")]
    write_json(cfg.out / "demo_report.json", report)
    print(json.dumps(report, indent=2))
    return report
