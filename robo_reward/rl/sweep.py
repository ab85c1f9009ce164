"""`robo-reward sweep`: several reward modes × seeds of `robo-reward rl`, run as parallel
subprocesses (one torch thread each, resumable: finished runs are kept, killed ones resume), then
one plot of every mode's success curve (median and spread over seeds) and sweep.json."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np

from robo_reward.config import run_record, write_json
from robo_reward.viz.rl import plot_sweep

# mode -> (reward, shaping, extra rl flags); delta-nogold is the issue's bare Φ(s') − Φ(s), delta adds r_gold;
# sparse-grm is sparse reward with the model still run, for its features (--obs state+grm)
MODES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "sparse": ("sparse", "none", ()), "sparse-grm": ("grm", "none", ()), "dense": ("dense", "none", ()), "pbrs": ("grm", "pbrs", ()),
    "delta": ("grm", "delta", ()), "delta-nogold": ("grm", "delta", ("--no-gold",)), "progress": ("grm", "progress", ())}
# every run single-threaded: runs side by side do not fight over cores, and (with CPU torch) the result depends on it
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class SweepConfig:
    task: str = field(metadata={"help": "task name"})
    out: Path = field(metadata={"help": "sweep folder (one run folder per mode and seed)"})
    modes: tuple[str, ...] = field(default=("sparse", "pbrs"), metadata={"help": f"reward modes: {', '.join(MODES)}"})
    seeds: tuple[str, ...] = field(default=("0", "1", "2"), metadata={"help": "seeds"})
    grm: str = field(default="", metadata={"help": "GRM checkpoint for pbrs / delta / progress"})
    episodes: int = field(default=150, metadata={"help": "online episodes per run"})
    jobs: int = field(default=2, metadata={"help": "runs at a time"})
    rl_args: str = field(default="", metadata={"help": "extra `robo-reward rl` flags for every run, as one string: --rl-args=\"--demo-episodes 20 ...\""})

    def validate(self) -> None:
        unknown = [m for m in self.modes if m not in MODES]
        if unknown:
            raise ValueError(f"unknown --modes {unknown}: choose from {sorted(MODES)}")
        if any(MODES[m][0] == "grm" for m in self.modes) and not self.grm:
            raise ValueError(f"modes {[m for m in self.modes if MODES[m][0] == 'grm']} need --grm <checkpoint dir>")
        if self.grm and not Path(self.grm).exists():
            raise FileNotFoundError(f"--grm {self.grm} does not exist")


def _finished(run: Path, episodes: int) -> bool:
    """A run whose summary covers the requested episodes (fewer: it is resumed and trained on)."""
    summary = run / "summary.json"
    return summary.exists() and json.loads(summary.read_text())["episodes"] >= episodes


def reproduce_line(cmd: list[str]) -> str:
    """The shell line that reruns one sweep run on its own with the same result: the thread count is part
    of it (cloning 20 pick-place demos single-threaded and on two threads gives different weights)."""
    return " ".join(f"{k}={v}" for k, v in THREADS.items()) + " " + shlex.join(cmd)


def run_command(cfg: SweepConfig, mode: str, seed: str) -> list[str]:
    reward, shaping, flags = MODES[mode]
    run = cfg.out / f"{mode}-s{seed}"
    cmd = [sys.executable, "-m", "robo_reward.cli", "rl", "--task", cfg.task, "--out", str(run), "--episodes", str(cfg.episodes),
           "--seed", seed, "--reward", f"grm:{cfg.grm}" if reward == "grm" else reward, "--shaping", shaping, *flags]
    if (run / "checkpoint" / "state.pt").exists():
        cmd.append("--resume")
    return cmd + shlex.split(cfg.rl_args)


def sweep(cfg: SweepConfig, progress: bool = True) -> dict:
    cfg.validate()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    pending = [(m, s) for m in cfg.modes for s in cfg.seeds if not _finished(out / f"{m}-s{s}", cfg.episodes)]
    env = {**os.environ, **THREADS}
    running: list[tuple[str, str, subprocess.Popen, IO]] = []
    failed = []
    while pending or running:
        while pending and len(running) < cfg.jobs:
            m, s = pending.pop(0)
            log = open(out / f"{m}-s{s}.log", "a")
            cmd = run_command(cfg, m, s)
            log.write(f"# {reproduce_line(cmd)}\n")  # the run alone, bit for bit
            log.flush()
            running.append((m, s, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log))
            if progress:
                print(f"started {m} seed {s}", flush=True)
        time.sleep(2)
        for item in list(running):
            m, s, proc, log = item
            if proc.poll() is not None:
                running.remove(item)
                log.close()
                if proc.returncode != 0:
                    failed.append(f"{m}-s{s} (exit {proc.returncode}, log {out / f'{m}-s{s}.log'})")
                if progress:
                    print(f"finished {m} seed {s}: exit {proc.returncode}", flush=True)
    if failed:
        raise RuntimeError(f"runs failed: {', '.join(failed)}")
    return summarize_sweep(cfg)


def summarize_sweep(cfg: SweepConfig) -> dict:
    from robo_reward.rl.summary import FINAL_WINDOW, load_metrics, moving_success

    modes = {}
    curves = {}
    successes_by_mode: dict[str, list[np.ndarray]] = {}
    for m in cfg.modes:
        runs = [Path(cfg.out) / f"{m}-s{s}" for s in cfg.seeds]
        summaries = [json.loads((r / "summary.json").read_text()) for r in runs]
        successes = successes_by_mode[m] = [np.array([row["success"] for row in load_metrics(r)], float) for r in runs]
        curves[m] = np.stack([moving_success(x) for x in successes])

        def med(key: str) -> float | None:
            vals = [s[key] for s in summaries if s.get(key) is not None]
            return float(np.median(vals)) if vals else None

        modes[m] = {"seeds": list(cfg.seeds), "per_seed": summaries,
                    "success_rate_final_median": med("success_rate_final"),
                    "eval_success_rate_median": med("eval_success_rate"),
                    "episodes_to_80pct_of_final_median": med("episodes_to_80pct_of_final"),
                    "episodes_to_80pct_success_median": med("episodes_to_80pct_success"),
                    "reward_hacking_rate_max": max(s["reward_hacking_rate"] for s in summaries),
                    "failed_final_progress_final_median": med("failed_final_progress_final"),
                    "success_rate_overall_median": med("success_rate_overall")}
    speed = speed_vs_reference(successes_by_mode, cfg.modes[0])
    result = run_record(cfg, final_window=FINAL_WINDOW, modes=modes, speed=speed)
    write_json(Path(cfg.out) / "sweep.json", result)
    plot_sweep(Path(cfg.out) / "sweep.png", curves, cfg.task)
    return result


def speed_vs_reference(successes: dict[str, list[np.ndarray]], reference: str) -> dict:
    """Episodes each mode needs to reach 80% of the reference mode's final success on the same seed.

    Each run's own `episodes_to_80pct_of_final` rewards a run that never improves (its final is reached at
    once); one level per seed, set by the reference (the first --modes entry), compares speed to one bar."""
    from robo_reward.rl.summary import FINAL_WINDOW, episodes_to

    levels = [0.8 * float(x[-FINAL_WINDOW:].mean()) if len(x) else 0.0 for x in successes[reference]]
    episodes = {m: [episodes_to(x, level) if level > 0 else None for x, level in zip(runs, levels)]
                for m, runs in successes.items()}

    def median(values: list[int | None]) -> float | None:  # a seed that never gets there counts as slowest
        med = float(np.median([np.inf if v is None else v for v in values])) if values else np.inf
        return med if np.isfinite(med) else None

    return {"reference": reference, "level_per_seed": levels, "episodes_to_level": episodes,
            "episodes_to_level_median": {m: median(v) for m, v in episodes.items()}}
