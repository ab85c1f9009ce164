"""`robo-reward rl`: the environment loop. Any `Env` (suite, MetaWorld, later ROS 2); reward from
the environment (sparse / dense reference) or from a GRM's streaming scorer, shaped by
robo_reward.shaping; policy, environment and reward timed separately; resumable."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from robo_reward.config import run_record, write_json
from robo_reward.envs import SimConfig, make_env
from robo_reward.fsutil import staging_dir, swap_in
from robo_reward.rl.replay import ReplayBuffer, sample_mixed
from robo_reward.rl.sac import SAC, SACConfig
from robo_reward.shaping import SHAPINGS, shaped_reward
from robo_reward.types import TimeStep

FINAL_WINDOW = 20


@dataclass(frozen=True)
class RLConfig:
    task: str = field(metadata={"help": "task name"})
    out: Path = field(metadata={"help": "run folder"})
    episodes: int = field(default=100, metadata={"help": "online episodes"})
    reward: str = field(default="sparse", metadata={"help": "sparse | dense (the simulator's own) | grm:<checkpoint dir>"})
    shaping: str = field(default="pbrs", metadata={"help": "pbrs | delta | progress | none (with a grm reward)"})
    obs: str = field(default="privileged", metadata={"help": "privileged (robot + object state) | state+grm (robot state + frozen GRM features)"})
    demo_episodes: int = field(default=0, metadata={"help": "scripted-expert episodes for the demonstration buffer (RLPD 50/50 batches)"})
    gamma: float = field(default=0.99, metadata={"help": "discount, shared by critic and shaping"})
    utd: int = field(default=2, metadata={"help": "gradient updates per environment step"})
    batch_size: int = field(default=256, metadata={"help": "SAC batch size"})
    warmup_steps: int = field(default=500, metadata={"help": "random-action steps before learning"})
    n_critics: int = field(default=2, metadata={"help": "critic ensemble size"})
    gold_from_model: bool = field(default=False, metadata={"help": "also pay r_gold when the model's Φ >= 1 - δ"})
    seed: int = field(default=0, metadata={"help": "seed (episode k resets with seed*100000 + k)"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda"})
    checkpoint_every: int = field(default=10, metadata={"help": "episodes between checkpoints"})
    resume: bool = field(default=False, metadata={"help": "continue from out/checkpoint"})
    env: str = field(default="sim", metadata={"help": "sim (in-process MuJoCo/MetaWorld) | ros (a robot behind ROS 2 topics)"})
    profile: str = field(default="sim_panda", metadata={"help": "--env ros: hardware profile (hardware/<name>.yaml)"})
    ros_real: bool = field(default=False, metadata={"help": "--env ros: a real arm (reset = home pose + operator confirmation), not sim_robot_node"})

    def validate(self) -> None:
        if not (self.reward in ("sparse", "dense") or self.reward.startswith("grm:")):
            raise ValueError(f"--reward must be sparse, dense or grm:<dir>, got {self.reward!r}")
        if self.shaping not in SHAPINGS:
            raise ValueError(f"--shaping must be one of {SHAPINGS}")
        if self.obs not in ("privileged", "state+grm"):
            raise ValueError(f"--obs must be privileged or state+grm, got {self.obs!r}")
        if self.obs == "state+grm" and not self.reward.startswith("grm:"):
            raise ValueError("--obs state+grm needs a GRM: pass --reward grm:<dir>")
        if self.env not in ("sim", "ros"):
            raise ValueError(f"--env must be sim or ros, got {self.env!r}")
        if self.env == "ros" and self.demo_episodes:
            raise ValueError("--demo-episodes needs the scripted expert of the in-process sim: not with --env ros")
        if self.env == "ros" and self.ros_real and (self.obs == "privileged" or self.reward == "dense"):
            raise ValueError("a real arm has no privileged state or dense reward: use --obs state+grm --reward grm:<dir>")


def make_rl_env(cfg: RLConfig, cameras: tuple[str, ...], image_size: int):
    """The in-process simulator, or the same task behind ROS 2 (joint-target actions, clamped)."""
    if cfg.env == "sim":
        return make_env(cfg.task, SimConfig(image_size=image_size, cameras=cameras))
    from robo_reward.envs.ros import RosEnvConfig, RosRobotEnv

    probe = make_env(cfg.task, SimConfig(image_size=32, cameras=("front",)))
    spec = probe.spec
    probe.close()
    return RosRobotEnv(spec.task_text, spec.subtasks, spec.max_steps, RosEnvConfig(profile=cfg.profile, sim=not cfg.ros_real))


class RewardSource:
    """Progress Φ for each observation (0 without a model) plus the shaped reward."""

    def __init__(self, cfg: RLConfig, task_text: str, device: torch.device) -> None:
        self.cfg = cfg
        self.stream = None
        self.embedding = np.zeros(0, np.float32)
        if cfg.reward.startswith("grm:"):
            from robo_reward.reward.checkpoint import load_checkpoint
            from robo_reward.reward.infer import Scorer, StreamingScorer

            model, tasks, _ = load_checkpoint(Path(cfg.reward[4:]), device)
            self.stream = StreamingScorer(Scorer(model, tasks, device), task_text)
            self.cameras = model.cfg.cameras

    def reset(self, ts: TimeStep) -> float:
        if self.stream is None:
            return 0.0
        self.stream.reset_state()
        return self._phi(ts)

    def _phi(self, ts: TimeStep) -> float:
        out = self.stream.step(ts.obs.images)
        self.embedding = self.stream.last_embedding
        return out.progress

    def step(self, phi_s: float, ts: TimeStep) -> tuple[float, float, float, float]:
        """Returns (reward, Φ(s'), gold, shaping term)."""
        if self.cfg.reward == "dense":
            return float(ts.info["dense_reward"]), 0.0, float(ts.info["success"]), 0.0
        phi_next = self._phi(ts) if self.stream is not None else 0.0
        shaping = self.cfg.shaping if self.stream is not None else "none"
        r = shaped_reward(shaping, bool(ts.info["success"]), phi_s, phi_next, self.cfg.gamma, ts.terminated,
                          gold_from_model=self.cfg.gold_from_model)
        return r.total, phi_next, r.gold, r.shaping


def observation(cfg: RLConfig, ts: TimeStep, reward: RewardSource) -> np.ndarray:
    extra = ts.info["privileged"] if cfg.obs == "privileged" else reward.embedding
    return np.concatenate([ts.obs.state, extra]).astype(np.float32)


def run_rl(cfg: RLConfig, progress: bool = True) -> dict:
    cfg.validate()
    from robo_reward.reward.train import resolve_device

    device = resolve_device(cfg.device)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    probe = make_env(cfg.task, SimConfig(image_size=32, cameras=("front",)))
    task_text = probe.spec.task_text
    probe.close()
    reward = RewardSource(cfg, task_text, device)
    cams = reward.cameras if reward.stream is not None else ("front",)
    env = make_rl_env(cfg, cams, 96 if reward.stream is not None else 32)
    rng = np.random.default_rng(cfg.seed)
    ts = env.reset(cfg.seed * 100_000)
    reward.reset(ts)
    obs_dim = len(observation(cfg, ts, reward))
    act_dim = env.spec.action.dim
    learner = SAC(obs_dim, act_dim, SACConfig(gamma=cfg.gamma, n_critics=cfg.n_critics), device, cfg.seed)
    online = ReplayBuffer(200_000, obs_dim, act_dim)
    demos = ReplayBuffer(50_000, obs_dim, act_dim) if cfg.demo_episodes else None
    start_ep, total_steps = 0, 0
    ckpt = out / "checkpoint"
    if cfg.resume and (ckpt / "state.pt").exists():
        state = torch.load(ckpt / "state.pt", map_location=device, weights_only=False)
        learner.load_state_dict(state["learner"])
        start_ep, total_steps = state["episode"], state["total_steps"]
        rng = state["rng"]
        online.load(ckpt / "online.npz")
        if demos is not None and (ckpt / "demos.npz").exists():
            demos.load(ckpt / "demos.npz")
    else:
        (out / "metrics.jsonl").write_text("")
        if demos is not None:
            _fill_demos(env, cfg, reward, demos)
        write_json(out / "config.json", run_record(cfg, obs_dim=obs_dim, act_dim=act_dim, task_text=task_text,
                                                   action_low=env.spec.action.low.tolist(),
                                                   action_high=env.spec.action.high.tolist()))
    low, high = env.spec.action.low, env.spec.action.high
    bar = tqdm(range(start_ep, cfg.episodes), desc=f"rl {cfg.task}", disable=not progress, initial=start_ep, total=cfg.episodes)
    try:
        for ep in bar:
            ts = env.reset(cfg.seed * 100_000 + ep)
            t_reward = time.perf_counter()
            phi = reward.reset(ts)
            timers = {"policy_s": 0.0, "env_s": 0.0, "reward_s": time.perf_counter() - t_reward, "update_s": 0.0}
            obs = observation(cfg, ts, reward)
            stats = {"return": 0.0, "gold": 0.0, "shaping": 0.0, "length": 0}
            learner_metrics: dict[str, float] = {}
            while not ts.done:
                t0 = time.perf_counter()
                a = rng.uniform(-1, 1, act_dim).astype(np.float32) if total_steps < cfg.warmup_steps else learner.act(obs)
                t1 = time.perf_counter()
                ts = env.step(low + (a + 1) * 0.5 * (high - low))
                t2 = time.perf_counter()
                r, phi, gold, shaping = reward.step(phi, ts)
                next_obs = observation(cfg, ts, reward)
                t3 = time.perf_counter()
                online.add(obs, a, r, next_obs, ts.terminated)
                obs = next_obs
                total_steps += 1
                if total_steps >= cfg.warmup_steps:
                    for _ in range(cfg.utd):
                        learner_metrics = learner.update(sample_mixed(online, demos, cfg.batch_size, rng, device))
                t4 = time.perf_counter()
                timers["policy_s"] += t1 - t0
                timers["env_s"] += t2 - t1
                timers["reward_s"] += t3 - t2
                timers["update_s"] += t4 - t3
                stats["return"] += r
                stats["gold"] += gold
                stats["shaping"] += shaping
                stats["length"] += 1
            record = {"episode": ep, "success": bool(ts.info["success"]), **stats, "final_progress": phi,
                      "total_steps": total_steps, **{k: round(v, 4) for k, v in timers.items()},
                      **{f"learner/{k}": v for k, v in learner_metrics.items()}}
            with (out / "metrics.jsonl").open("a") as f:
                f.write(json.dumps(record) + "\n")
            bar.set_postfix(success=record["success"], ret=f"{stats['return']:.2f}")
            if (ep + 1) % cfg.checkpoint_every == 0 or ep + 1 == cfg.episodes:
                _save(ckpt, learner, online, demos, ep + 1, total_steps, rng)
    finally:
        env.close()
    return summarize_run(out)


def _fill_demos(env, cfg: RLConfig, reward: RewardSource, demos: ReplayBuffer) -> None:
    """Scripted-expert rollouts, relabelled with the same reward pipeline, into the demo buffer.
    Actions are stored in the policy's [-1, 1] space."""
    low, high = env.spec.action.low, env.spec.action.high
    for k in range(cfg.demo_episodes):
        ts = env.reset(10_000_000 + cfg.seed * 1000 + k)
        phi = reward.reset(ts)
        expert = env.expert("expert")
        obs = observation(cfg, ts, reward)
        while not ts.done:
            act = expert.act(ts)
            ts = env.step(act)
            r, phi, _, _ = reward.step(phi, ts)
            next_obs = observation(cfg, ts, reward)
            demos.add(obs, (2 * (act - low) / (high - low) - 1).astype(np.float32), r, next_obs, ts.terminated)
            obs = next_obs


def _save(ckpt: Path, learner: SAC, online: ReplayBuffer, demos: ReplayBuffer | None, episode: int, total_steps: int,
          rng: np.random.Generator) -> None:
    """Atomic: everything goes to a staging folder that then replaces the old checkpoint."""
    tmp = staging_dir(ckpt)
    torch.save({"learner": learner.state_dict(), "episode": episode, "total_steps": total_steps, "rng": rng}, tmp / "state.pt")
    online.save(tmp / "online.npz")
    if demos is not None:
        demos.save(tmp / "demos.npz")
    swap_in(tmp, ckpt)


def summarize_run(out: Path) -> dict:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    success = np.array([r["success"] for r in rows], dtype=float)
    final = success[-FINAL_WINDOW:]
    summary = {"episodes": len(rows), "success_rate_final": float(final.mean()) if len(final) else 0.0,
               "success_rate_overall": float(success.mean()) if len(success) else 0.0,
               "final_window": FINAL_WINDOW,
               "mean_step_ms": {k: 1e3 * float(np.sum([r[k] for r in rows]) / max(1, sum(r["length"] for r in rows)))
                                for k in ("policy_s", "env_s", "reward_s", "update_s")}}
    write_json(out / "summary.json", summary)
    _plot(out / "success.png", success)
    return summary


def _plot(path: Path, success: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    if len(success):
        w = min(FINAL_WINDOW, len(success))
        ax.plot(np.arange(len(success)), np.convolve(success, np.ones(w) / w, mode="full")[: len(success)])
    ax.set_xlabel("online episode")
    ax.set_ylabel(f"success (moving mean, {FINAL_WINDOW})")
    ax.set_ylim(-0.05, 1.05)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
