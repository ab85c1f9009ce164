"""Simulation throughput: control steps per second (policy excluded) and collect episodes/min."""

from __future__ import annotations

import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from robo_reward.envs import SimConfig, make_env


@dataclass(frozen=True)
class BenchSimConfig:
    tasks: tuple[str, ...] = field(default=("pick-place", "peg-insert", "drawer-stow"), metadata={"help": "tasks to time"})
    steps: int = field(default=600, metadata={"help": "timed control steps per task (random actions)"})
    collect_episodes: int = field(default=5, metadata={"help": "episodes for the collect timing (0 skips it)"})
    image_size: int = field(default=96, metadata={"help": "camera image size"})
    out: Path | None = field(default=None, metadata={"help": "optional JSON output file"})


def steps_per_second(task: str, steps: int, image_size: int) -> float:
    env = make_env(task, SimConfig(image_size=image_size))
    rng = np.random.default_rng(0)
    try:
        ts = env.reset(0)
        env.step(np.zeros(env.spec.action.dim))  # renderer and caches warm
        n, start = 0, time.perf_counter()
        while n < steps:
            ts = env.step(rng.uniform(-1, 1, env.spec.action.dim))
            n += 1
            if ts.done:
                ts = env.reset(n)
        return n / (time.perf_counter() - start)
    finally:
        env.close()


def bench_sim(cfg: BenchSimConfig) -> dict:
    from robo_reward.config import write_json
    from robo_reward.data.collect import CollectConfig, collect

    result: dict = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "threads": "1 process",
        "image_size": cfg.image_size,
        "cameras": 3,
        "control_steps_per_s": {},
        "collect_episodes_per_min": {},
    }
    for task in cfg.tasks:
        result["control_steps_per_s"][task] = round(steps_per_second(task, cfg.steps, cfg.image_size), 1)
        if cfg.collect_episodes:
            with tempfile.TemporaryDirectory() as tmp:
                s = collect(CollectConfig(task=task, out=Path(tmp) / "ds", episodes=cfg.collect_episodes,
                                          image_size=cfg.image_size), progress=False)
            result["collect_episodes_per_min"][task] = s["episodes_per_minute"]
    if cfg.out:
        write_json(cfg.out, result)
    return result
