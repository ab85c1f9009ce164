"""`robo-reward collect`: scripted episodes from a task into a LeRobotDataset with annotations."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from robo_reward.config import run_record, write_json
from robo_reward.data.lerobot_io import DatasetWriter, atomic_dir
from robo_reward.data.recording import RandomActor, choose_mode, record_episode
from robo_reward.environment_loop import Policy
from robo_reward.envs import SimConfig, make_env

SUMMARY_FILE = "meta/robo_reward_collect.json"


@dataclass(frozen=True)
class CollectConfig:
    task: str = field(metadata={"help": "task name (see `robo-reward tasks`)"})
    out: Path = field(metadata={"help": "output dataset folder (must not exist unless --overwrite)"})
    episodes: int = field(default=20, metadata={"help": "number of episodes"})
    quality: str = field(default="expert", metadata={"help": "expert (all succeed) or mixed (success/partial/failure mix)"})
    image_size: int = field(default=96, metadata={"help": "camera image size in pixels"})
    cameras: tuple[str, ...] = field(default=("front", "side", "wrist"), metadata={"help": "comma-separated cameras"})
    seed: int = field(default=0, metadata={"help": "episode i uses seed + i: keep train and test seed ranges apart"})
    visual_shift: bool = field(default=False, metadata={"help": "out-of-distribution cameras, lights and colours"})
    randomize_appearance: bool = field(default=False, metadata={
        "help": "MetaWorld: per-episode lights, table tint, object colours and camera placement within the suite's "
                "training ranges (training data for a model that must hold up under --visual-shift)"})
    shift_parts: tuple[str, ...] = field(default=("camera", "light", "colour"), metadata={
        "help": "with --visual-shift: which parts are shifted (a diagnostic: the rest stay in the training ranges)"})
    after_success: int = field(default=-1, metadata={
        "help": "control steps recorded after the task's success, the success state held, as a recording stops a moment "
                "after the task is done (-1: the task's default: 10 on MetaWorld, whose tasks complete on a single frame, "
                "so that without a tail a success and a near miss differ in one frame; 0 on the suite, whose last subtask "
                "already spans its own frames)"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing output folder"})
    policy: Path | None = field(default=None, metadata={
        "help": "an `rl` run folder: record its policy (stochastic actions) instead of the scripted expert — on-policy "
                "episodes, labelled by physics, to show the reward model the states a policy really reaches"})
    deterministic: bool = field(default=False, metadata={"help": "with --policy: the policy's mean action"})
    random_actions: bool = field(default=False, metadata={
        "help": "record uniformly random actions (an `rl` warm-up's exploration) instead of the scripted expert: the "
                "flailing states and accidental successes a learner starts from, labelled by physics"})

    def validate(self) -> None:
        if self.episodes < 1:
            raise ValueError(f"--episodes must be >= 1, got {self.episodes}")
        if self.deterministic and self.policy is None:
            raise ValueError("--deterministic needs --policy")
        if self.random_actions and self.policy is not None:
            raise ValueError("--random-actions and --policy both choose who acts: give one")
        if self.after_success < -1:
            raise ValueError(f"--after-success must be >= 0 (or -1: the task's default), got {self.after_success}")
        if self.quality not in ("expert", "mixed"):
            raise ValueError(f"--quality must be expert or mixed, got {self.quality!r}")


METAWORLD_AFTER_SUCCESS = 10  # half a second at MetaWorld's 20 Hz


def after_success(cfg: CollectConfig) -> int:
    """`--after-success`, the task's default resolved."""
    if cfg.after_success >= 0:
        return cfg.after_success
    return METAWORLD_AFTER_SUCCESS if cfg.task.startswith("mw/") else 0


def collect(cfg: CollectConfig, progress: bool = True, actor: Policy | None = None) -> dict:
    """`actor`: what acts for `--policy` (robo_reward.rl.deploy.collect_actor builds it; the CLI does)."""
    cfg.validate()
    if cfg.policy is not None and actor is None:
        raise ValueError("--policy needs the run's actor: pass robo_reward.rl.deploy.collect_actor(cfg)")
    env = make_env(cfg.task, SimConfig(image_size=cfg.image_size, cameras=cfg.cameras, visual_shift=cfg.visual_shift,
                                       randomize_appearance=cfg.randomize_appearance,
                                       shift_parts=cfg.shift_parts, after_success=after_success(cfg)))
    if cfg.random_actions:
        actor = RandomActor(env.spec.action.dim, cfg.seed)
    start = time.perf_counter()
    outcomes: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    frames = 0
    try:
        with atomic_dir(cfg.out, cfg.overwrite) as tmp:
            writer = None  # opened on the first episode, which tells the size of the environment state
            for i in tqdm(range(cfg.episodes), desc=f"collect {cfg.task}", disable=not progress, unit="ep"):
                seed = cfg.seed + i
                if actor is None:
                    ep = record_episode(env, choose_mode(cfg.quality, np.random.default_rng([seed, 7]), env.expert_modes), seed)
                else:
                    ep = record_episode(env, "random" if cfg.random_actions else "policy", seed, actor)
                if writer is None:
                    writer = DatasetWriter(tmp, env.spec, env_state_dim=None if ep.env_state is None else ep.env_state.shape[1])
                writer.add(ep)
                outcomes[ep.outcome] += 1
                modes[ep.mode] += 1
                frames += ep.length
            writer.finalize()
            elapsed = time.perf_counter() - start
            summary = run_record(
                cfg, task_text=env.spec.task_text, subtasks=list(env.spec.subtasks), frames=frames,
                outcomes=dict(outcomes), modes=dict(modes), seconds=round(elapsed, 2),
                episodes_per_minute=round(60.0 * cfg.episodes / elapsed, 1),
            )
            write_json(tmp / SUMMARY_FILE, summary)
    finally:
        env.close()
    return summary
