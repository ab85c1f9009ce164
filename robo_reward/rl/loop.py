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
from robo_reward.reward.infer import DEFAULT_FUSION, FEATURES, FUSIONS
from robo_reward.rl.demos import dataset_demos, scripted_demos
from robo_reward.rl.replay import ReplayBuffer, sample_mixed
from robo_reward.rl.sac import SAC, SACConfig
from robo_reward.shaping import DEFAULT_DELTA, SHAPINGS, UNBOUNDED, ShapedReward, anneal_weight, shaped_reward, value_range
from robo_reward.types import TimeStep

FINAL_WINDOW = 20


OBSERVATIONS = ("privileged", "state+grm", "privileged+grm")  # what the policy and critics read beside the robot state


def reads_privileged(obs: str) -> bool:
    """Simulator object state: sim only, never on a real arm."""
    return obs.startswith("privileged")


def reads_grm(obs: str) -> bool:
    """The frozen GRM encoder's embedding of the current views (needs the model run every step)."""
    return obs.endswith("+grm")


@dataclass(frozen=True)
class RLConfig:
    task: str = field(metadata={"help": "task name"})
    out: Path = field(metadata={"help": "run folder"})
    episodes: int = field(default=100, metadata={"help": "online episodes"})
    reward: str = field(default="sparse", metadata={"help": "sparse | dense (the simulator's own) | grm:<checkpoint dir>"})
    shaping: str = field(default="pbrs", metadata={"help": "pbrs | delta | progress | none (with a grm reward)"})
    obs: str = field(default="privileged", metadata={"help": "privileged (robot + object state) | state+grm (robot state + frozen GRM features) | privileged+grm (both: a sim-only ablation)"})
    grm_features: str = field(default="fused", metadata={"help": "with --obs *+grm: fused (the GRM's state embedding, D values) | views (each camera's features before fusion, V x D: keeps where things are)"})
    demo_episodes: int = field(default=0, metadata={"help": "scripted-expert episodes for the demonstration buffer (RLPD 50/50 batches)"})
    demo_noise: float = field(default=0.0, metadata={"help": "DART: Gaussian noise (policy units) on the scripted expert's executed motion; clones copy the clean action"})
    demos: Path | None = field(default=None, metadata={"help": "LeRobot dataset whose successful episodes fill the demonstration buffer (instead of --demo-episodes; needs --obs state+grm)"})
    velocities: bool = field(default=False, metadata={"help": "include joint velocities in the policy input (noisy: cloning 20 pick-place demos fell from 80% to 47% with them)"})
    gamma: float = field(default=SACConfig.gamma, metadata={"help": "discount, shared by critic and shaping"})
    utd: int = field(default=2, metadata={"help": "gradient updates per environment step"})
    batch_size: int = field(default=256, metadata={"help": "SAC batch size"})
    warmup_steps: int = field(default=500, metadata={"help": "random-action steps before learning"})
    n_critics: int = field(default=SACConfig.n_critics, metadata={"help": "critic ensemble size"})
    bc_init_steps: int = field(default=0, metadata={"help": "behaviour-clone the actor on the demos first (then no random warm-up actions)"})
    bc_ensemble: int = field(default=SACConfig.bc_ensemble, metadata={"help": "with --bc-init-steps: clone this many actors and act with their mean (5 benchmarked)"})
    critic_pretrain_steps: int = field(default=0, metadata={"help": "offline SAC updates on the demos alone before going online"})
    bc_weight: float = field(default=SACConfig.bc_weight, metadata={"help": "BC term on the demo half of each batch (TD3+BC-style, e.g. 1.0)"})
    init_alpha: float = field(default=SACConfig.init_alpha, metadata={"help": "initial entropy temperature"})
    learn_alpha: bool = field(default=SACConfig.learn_alpha, metadata={"help": "learn the temperature (else fixed at --init-alpha)"})
    ibrl: bool = field(default=SACConfig.ibrl, metadata={"help": "with --bc-init-steps: keep the cloned actor as a second proposal (IBRL)"})
    residual: float = field(default=SACConfig.residual, metadata={"help": "with --bc-init-steps: learn a residual of at most this size (0.05 benchmarked) on the frozen cloned actor(s)"})
    max_std: float = field(default=SACConfig.max_std, metadata={"help": "cap on the actor's spread before tanh (0.5 in the benchmarked recipe: a wide spread flips the gripper)"})
    gold_from_model: bool = field(default=False, metadata={"help": "also pay r_gold when the model's Φ >= 1 - δ"})
    no_gold: bool = field(default=False, metadata={"help": "with --shaping delta or progress: pay no r_gold (success still ends the episode); delta is then the bare Φ(s') − Φ(s), as where no success flag exists"})
    delta_anneal: int = field(default=0, metadata={"help": "with --shaping pbrs: add delta's excess over pbrs ((1 − γ)·Φ(s')), weighted 1 → 0 over this many episodes, re-weighted in replay: delta's early guidance, pbrs's invariance after (0: pure pbrs)"})
    potential_scale: float = field(default=1.0, metadata={"help": "with --shaping pbrs: shape with k·Φ (as policy-invariant as Φ; the critic starts k·Φ(s) high); measured no faster, k = 10 collapsed (docs/BENCHMARKS.md): 1 by default"})
    value_bounds: bool = field(default=False, metadata={"help": "clip TD targets to the range the reward allows every return (pbrs: [−Φ(s), 1 − Φ(s)], sparse: [0, 1]; shaping.value_range); no effect with the dense reward or --gold-from-model, which can pay more than once"})
    fusion: str = field(default=DEFAULT_FUSION, metadata={"help": f"how the reward model fuses its perspectives into Φ: {' | '.join(FUSIONS)}"})
    seed: int = field(default=0, metadata={"help": "seed (episode k resets with seed*100000 + k)"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda"})
    eval_episodes: int = field(default=20, metadata={"help": "deterministic evaluation episodes on unseen seeds after training (eval.json)"})
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
        if self.delta_anneal < 0 or (self.delta_anneal and (self.shaping != "pbrs" or not self.reward.startswith("grm:"))):
            raise ValueError(f"--delta-anneal must be >= 0, and > 0 only with --shaping pbrs and a grm reward, got {self.delta_anneal}")
        if self.potential_scale <= 0 or (self.potential_scale != 1.0 and (self.shaping != "pbrs" or not self.reward.startswith("grm:") or self.delta_anneal)):
            raise ValueError(f"--potential-scale must be > 0, and other than 1 only with a grm reward and --shaping pbrs "
                             f"(not --delta-anneal), got {self.potential_scale}")
        if self.no_gold and (not self.reward.startswith("grm:") or self.shaping not in ("delta", "progress") or self.gold_from_model):
            raise ValueError("--no-gold needs a grm reward with --shaping delta or progress, and not --gold-from-model "
                             "(pbrs or sparse without gold pays every policy the same return)")
        if self.fusion not in FUSIONS:
            raise ValueError(f"--fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if self.obs not in OBSERVATIONS:
            raise ValueError(f"--obs must be one of {OBSERVATIONS}, got {self.obs!r}")
        if reads_grm(self.obs) and not self.reward.startswith("grm:"):
            raise ValueError(f"--obs {self.obs} needs a GRM: pass --reward grm:<dir>")
        if self.grm_features not in FEATURES or (self.grm_features != "fused" and not reads_grm(self.obs)):
            raise ValueError(f"--grm-features must be one of {FEATURES}, and other than fused only with --obs *+grm; "
                             f"got {self.grm_features!r} with --obs {self.obs}")
        if self.env not in ("sim", "ros"):
            raise ValueError(f"--env must be sim or ros, got {self.env!r}")
        if (self.ibrl or self.residual > 0) and not self.bc_init_steps:
            raise ValueError("--ibrl and --residual need a cloned actor: pass --bc-init-steps")
        if self.bc_ensemble < 1 or (self.bc_ensemble > 1 and not (self.ibrl or self.residual > 0)):
            raise ValueError(f"--bc-ensemble must be >= 1, and > 1 only with a frozen clone (--residual or --ibrl), got {self.bc_ensemble}")
        if self.ibrl and self.residual > 0:
            raise ValueError("choose one of --ibrl and --residual")
        if self.demos is not None and self.demo_episodes:
            raise ValueError("choose one of --demos (a dataset) and --demo-episodes (the scripted expert)")
        if self.demo_noise < 0 or (self.demo_noise > 0 and not self.demo_episodes):
            raise ValueError(f"--demo-noise must be >= 0 and needs --demo-episodes (the scripted expert), got {self.demo_noise}")
        if self.demos is not None and self.reward == "dense":
            raise ValueError("--demos with --reward dense: a recorded dataset has no simulator dense reward to relabel it with")
        if (self.bc_init_steps or self.critic_pretrain_steps or self.bc_weight) and not (self.demo_episodes or self.demos):
            raise ValueError("--bc-init-steps, --critic-pretrain-steps and --bc-weight need demonstrations (--demo-episodes or --demos)")
        if self.env == "ros" and self.demo_episodes:
            raise ValueError("--demo-episodes needs the scripted expert of the in-process sim: with --env ros pass --demos DIR")
        if self.env == "ros" and self.ros_real and (reads_privileged(self.obs) or self.reward == "dense"):
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
            self.stream = StreamingScorer(Scorer(model, tasks, device, cfg.fusion), task_text, features=cfg.grm_features)
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

    @property
    def shaping(self) -> str:
        return self.cfg.shaping if self.stream is not None else "none"

    def step(self, phi_s: float, ts: TimeStep) -> tuple[ShapedReward, float]:
        """The reward of the transition into `ts`, and Φ(s')."""
        if self.cfg.reward == "dense":
            return ShapedReward(dense_reward(ts, self.cfg.gamma), float(ts.info["success"]), 0.0), 0.0
        phi_next = self._phi(ts) if self.stream is not None else 0.0
        return shaped_reward(self.shaping, bool(ts.info["success"]), phi_s, phi_next, self.cfg.gamma, ts.terminated,
                             gold_from_model=self.cfg.gold_from_model, pay_gold=not self.cfg.no_gold,
                             scale=self._scale(self.shaping)), phi_next

    def value_range(self, phi_s: float) -> tuple[float, float]:
        """Where Q(s, ·) must lie for a transition from a state of progress Φ(s) (--value-bounds):
        needs gold paid at most once, so not with the dense reward or gold from the model."""
        if not self.cfg.value_bounds or self.cfg.reward == "dense" or self.cfg.gold_from_model:
            return UNBOUNDED
        # with the anneal a return is pbrs's plus a share of delta's excess: inside delta's (wider) range
        shaping = "delta" if self.cfg.delta_anneal else self.shaping
        return value_range(shaping, phi_s, self.cfg.gamma, not self.cfg.no_gold, self._scale(shaping))

    def _scale(self, shaping: str) -> float:
        """--potential-scale applies to pbrs's potential only."""
        return self.cfg.potential_scale if shaping == "pbrs" else 1.0


def dense_reward(ts: TimeStep, gamma: float) -> float:
    """The simulator's dense reward (1 when successful), with the success terminal paid as if the
    episode went on at 1 forever (1 / (1 - γ)): otherwise ending the episode by succeeding forfeits
    the reward of hovering just short of success, and the optimal policy never finishes."""
    r = float(ts.info["dense_reward"])
    return r / (1.0 - gamma) if ts.terminated and ts.info["success"] else r


def check_timestep(ts: TimeStep, spec, episode: int, step: int) -> TimeStep:
    """Fail before a bad observation reaches the replay buffer: wrong state size or non-finite values."""
    where = f"{spec.name}: episode {episode}, step {step}"
    state = np.asarray(ts.obs.state)
    if state.shape != spec.state.shape:
        raise ValueError(f"{where}: state has shape {state.shape}, the env's spec says {spec.state.shape}")
    if not np.all(np.isfinite(state)):
        bad = [spec.state.names[i] if i < len(spec.state.names) else str(i) for i in np.flatnonzero(~np.isfinite(state))]
        raise ValueError(f"{where}: non-finite state values in {bad}")
    if not np.isfinite(ts.reward):
        raise ValueError(f"{where}: non-finite reward {ts.reward}")
    return ts


def observation(cfg: RLConfig, ts: TimeStep, reward: RewardSource, keep: np.ndarray | None = None) -> np.ndarray:
    state = ts.obs.state if keep is None else ts.obs.state[keep]
    parts = [state] + ([ts.info["privileged"]] if reads_privileged(cfg.obs) else []) + ([reward.embedding] if reads_grm(cfg.obs) else [])
    return np.concatenate(parts).astype(np.float32)


def run_rl(cfg: RLConfig, progress: bool = True) -> dict:
    cfg.validate()
    from robo_reward.device import resolve_device

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
    keep = env.spec.state.policy_index(cfg.velocities)
    obs_dim = len(observation(cfg, ts, reward, keep))
    act_dim = env.spec.action.dim
    learner = SAC(obs_dim, act_dim, sac_config(cfg), device, cfg.seed)
    online = ReplayBuffer(200_000, obs_dim, act_dim)
    demos = ReplayBuffer(demo_capacity(cfg), obs_dim, act_dim) if cfg.demo_episodes or cfg.demos else None
    start_ep, total_steps = 0, 0
    ckpt = out / "checkpoint"
    if cfg.resume and (ckpt / "state.pt").exists():
        state = torch.load(ckpt / "state.pt", map_location=device, weights_only=False)
        learner.load_state_dict(state["learner"])
        start_ep, total_steps = state["episode"], state["total_steps"]
        rng = state["rng"]
        if "torch_rng" in state:  # the actor's exploration noise goes on where it stopped (not saved before 2026-12-05)
            set_torch_rng(state["torch_rng"], device)
        online.load(ckpt / "online.npz")
        if demos is not None and (ckpt / "demos.npz").exists():
            demos.load(ckpt / "demos.npz")
        _truncate_metrics(out / "metrics.jsonl", start_ep)
    else:
        (out / "metrics.jsonl").write_text("")
        if demos is not None:
            def observe(step: TimeStep) -> np.ndarray:
                return observation(cfg, step, reward, keep)

            labels = None
            if cfg.demos is not None:
                env_state_dim = len(ts.info["privileged"]) if reads_privileged(cfg.obs) else None
                source = dataset_demos(Path(cfg.demos), env.spec, cams, reward, observe, demos, env_state_dim)
            else:
                source = {"scripted_demo_episodes": cfg.demo_episodes, "demo_noise": cfg.demo_noise}
                labels = scripted_demos(env, cfg.demo_episodes, cfg.seed, reward, observe, demos, cfg.demo_noise)
            _pretrain(learner, demos, cfg, rng, device, out, source, labels)
        write_json(out / "config.json", run_record(cfg, obs_dim=obs_dim, act_dim=act_dim, task_text=task_text,
                                                   state_index=keep.tolist(),
                                                   action_low=env.spec.action.low.tolist(),
                                                   action_high=env.spec.action.high.tolist()))
        _save(ckpt, learner, online, demos, 0, 0, rng)  # a BC-only run (--episodes 0) can be evaluated and deployed
    bar = tqdm(range(start_ep, cfg.episodes), desc=f"rl {cfg.task}", disable=not progress, initial=start_ep, total=cfg.episodes)
    try:
        for ep in bar:
            learner.excess_weight = anneal_weight(ep, cfg.delta_anneal)
            ts = check_timestep(env.reset(cfg.seed * 100_000 + ep), env.spec, ep, 0)
            t_reward = time.perf_counter()
            phi = reward.reset(ts)
            phi_max = phi
            timers = {"policy_s": 0.0, "env_s": 0.0, "reward_s": time.perf_counter() - t_reward, "update_s": 0.0}
            obs = observation(cfg, ts, reward, keep)
            stats = {"return": 0.0, "gold": 0.0, "shaping": 0.0, "length": 0, "bc_action_share": 0.0}
            learner_metrics: dict[str, float] = {}
            while not ts.done:
                t0 = time.perf_counter()
                random_warmup = total_steps < cfg.warmup_steps and not cfg.bc_init_steps
                a = rng.uniform(-1, 1, act_dim).astype(np.float32) if random_warmup else learner.act(obs)
                t1 = time.perf_counter()
                ts = check_timestep(env.step(env.spec.action.from_unit(a)), env.spec, ep, stats["length"] + 1)
                t2 = time.perf_counter()
                bounds = reward.value_range(phi)
                sr, phi = reward.step(phi, ts)
                phi_max = max(phi_max, phi)
                next_obs = observation(cfg, ts, reward, keep)
                t3 = time.perf_counter()
                online.add(obs, a, sr.total, next_obs, ts.terminated, bounds, sr.excess)
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
                stats["return"] += sr.with_excess(learner.excess_weight)
                stats["gold"] += sr.gold
                stats["shaping"] += sr.shaping
                stats["length"] += 1
                stats["bc_action_share"] += learner.acted_bc
            stats["bc_action_share"] /= max(1, stats["length"])
            record = {"episode": ep, "success": bool(ts.info["success"]), **stats, "final_progress": phi, "max_progress": phi_max,
                      **({"delta_weight": learner.excess_weight} if cfg.delta_anneal else {}),
                      "model_success": reward.stream is not None and phi_max >= 1.0 - DEFAULT_DELTA,
                      "total_steps": total_steps, **{k: round(v, 4) for k, v in timers.items()},
                      **{f"learner/{k}": v for k, v in learner_metrics.items()}}
            with (out / "metrics.jsonl").open("a") as f:
                f.write(json.dumps(record) + "\n")
            bar.set_postfix(success=record["success"], ret=f"{stats['return']:.2f}")
            if (ep + 1) % cfg.checkpoint_every == 0 or ep + 1 == cfg.episodes:
                _save(ckpt, learner, online, demos, ep + 1, total_steps, rng)
        if cfg.eval_episodes and _evaluated_after(out) != cfg.episodes:  # a resumed run that trained on is re-evaluated
            from robo_reward.rl.evaluate import rollout_policy

            result = rollout_policy(learner, cfg, env, reward, keep, cfg.eval_episodes)
            write_json(out / "eval.json", {**result, "after_episodes": cfg.episodes})
    finally:
        env.close()
    return summarize_run(out)


def _truncate_metrics(path: Path, episodes: int) -> None:
    """A killed run logged episodes after its last checkpoint; they are re-run on resume, so their
    rows go (else the resumed episodes would appear twice)."""
    if path.exists():
        rows = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["episode"] < episodes]
        path.write_text("".join(f"{line}\n" for line in rows))


def _evaluated_after(out: Path) -> int | None:
    """Training episodes the run's eval.json was made after (None: no evaluation yet)."""
    path = out / "eval.json"
    return json.loads(path.read_text()).get("after_episodes") if path.exists() else None


def sac_config(cfg: RLConfig) -> SACConfig:
    return SACConfig(gamma=cfg.gamma, n_critics=cfg.n_critics, bc_weight=cfg.bc_weight, init_alpha=cfg.init_alpha,
                     learn_alpha=cfg.learn_alpha, max_std=cfg.max_std, ibrl=cfg.ibrl,
                     residual=cfg.residual, bc_ensemble=cfg.bc_ensemble)


def demo_capacity(cfg: RLConfig) -> int:
    """Room for every frame of the --demos dataset; 50,000 transitions for the scripted expert."""
    if cfg.demos is None:
        return 50_000
    from robo_reward.data.lerobot_io import read_info

    return max(1, sum(a.length for a in read_info(Path(cfg.demos), annotated=False).episodes))


def _pretrain(learner: SAC, demos: ReplayBuffer, cfg: RLConfig, rng: np.random.Generator, device: torch.device,
              out: Path, source: dict, labels: np.ndarray | None = None) -> None:
    """Observation statistics from the demos, then BC of the actor (on `labels` when the executed
    actions were noisy, else on the buffer's actions), then critic updates on the demos that evaluate
    that actor without changing it (an untrained critic would pull it off the demos)."""
    obs = demos.obs[: demos.size]
    learner.set_normalization(obs)
    record: dict[str, float] = {}
    if cfg.bc_init_steps:
        target = demos.action[: demos.size] if labels is None else labels
        record["bc_mse"] = learner.pretrain_bc(obs, target, cfg.bc_init_steps, cfg.batch_size)
        if cfg.ibrl or cfg.residual > 0:
            learner.freeze_bc_actor()
    learner.excess_weight = anneal_weight(0, cfg.delta_anneal)
    for _ in range(cfg.critic_pretrain_steps):
        record.update(learner.update(sample_mixed(None, demos, cfg.batch_size, rng, device), actor=False))
    write_json(out / "pretrain.json", {"demo_transitions": demos.size, **source, **record})


def _save(ckpt: Path, learner: SAC, online: ReplayBuffer, demos: ReplayBuffer | None, episode: int, total_steps: int,
          rng: np.random.Generator) -> None:
    """Atomic: everything goes to a staging folder that then replaces the old checkpoint."""
    tmp = staging_dir(ckpt)
    torch.save({"learner": learner.state_dict(), "episode": episode, "total_steps": total_steps, "rng": rng,
                "torch_rng": torch_rng(learner.device)}, tmp / "state.pt")
    online.save(tmp / "online.npz")
    if demos is not None:
        demos.save(tmp / "demos.npz")
    swap_in(tmp, ckpt)


def torch_rng(device: torch.device) -> torch.Tensor:
    """The generator the actor samples its exploration noise from (the CPU one, or the device's)."""
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()


def set_torch_rng(state: torch.Tensor, device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(state.cpu(), device)
    else:
        torch.set_rng_state(state.cpu())


def load_metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines() if line.strip()]


def summarize_run(out: Path) -> dict:
    rows = load_metrics(out)
    success = np.array([r["success"] for r in rows], dtype=float)
    returns = np.array([r["return"] for r in rows], dtype=float)
    fooled = np.array([r.get("model_success", False) and not r["success"] for r in rows], dtype=float)
    # the stricter reading: the episode *ends* in a state the model calls done and the simulator does not
    # (a touch of Φ >= 1 - δ on the way pays nothing under PBRS, which telescopes; ending there is what a
    # policy that learned to fool the model would do)
    fooled_at_end = np.array([not r["success"] and r["final_progress"] >= 1.0 - DEFAULT_DELTA for r in rows], dtype=float)
    # the semantic trap's signature: failed episodes that end where the model reads progress (parked, not pressing on)
    failed_phi = np.array([r["final_progress"] for r in rows if not r["success"]], dtype=float)
    failed_phi_final = np.array([r["final_progress"] for r in rows[-FINAL_WINDOW:] if not r["success"]], dtype=float)
    final = success[-FINAL_WINDOW:]
    final_rate = float(final.mean()) if len(final) else 0.0
    summary = {"episodes": len(rows), "success_rate_final": final_rate,
               "success_rate_overall": float(success.mean()) if len(success) else 0.0,
               "final_window": FINAL_WINDOW,
               "episodes_to_80pct_success": episodes_to(success, 0.8),
               "episodes_to_80pct_of_final": episodes_to(success, 0.8 * final_rate) if final_rate > 0 else None,
               "reward_hacking_rate": float(fooled.mean()) if len(fooled) else 0.0,
               "reward_hacking_rate_at_end": float(fooled_at_end.mean()) if len(fooled_at_end) else 0.0,
               "failed_final_progress": float(failed_phi.mean()) if len(failed_phi) else None,
               "failed_final_progress_final": float(failed_phi_final.mean()) if len(failed_phi_final) else None,
               "return_success_correlation": _corr(returns, success),
               "mean_step_ms": {k: 1e3 * float(np.sum([r[k] for r in rows]) / max(1, sum(r["length"] for r in rows)))
                                for k in ("policy_s", "env_s", "reward_s", "update_s")}}
    if (out / "eval.json").exists():
        evaluation = json.loads((out / "eval.json").read_text())
        summary["eval_success_rate"] = evaluation["success_rate"]
        summary["eval_episodes"] = evaluation["episodes"]
        summary["eval_value_overestimate"] = evaluation.get("value_overestimate")  # None: evaluated before it was measured
    write_json(out / "summary.json", summary)
    _plot(out / "success.png", success, returns, fooled)
    return summary


def moving_success(success: np.ndarray, window: int = FINAL_WINDOW) -> np.ndarray:
    """Success rate over the last `window` episodes (fewer at the start)."""
    c = np.concatenate([[0.0], np.cumsum(success)])
    idx = np.arange(1, len(success) + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def episodes_to(success: np.ndarray, level: float, window: int = FINAL_WINDOW) -> int | None:
    """Episodes until the moving success rate (full window) first reaches `level`; None if never."""
    rate = moving_success(success, window)
    hit = [i + 1 for i in range(window - 1, len(rate)) if rate[i] >= level]
    return hit[0] if hit else None


def _corr(x: np.ndarray, y: np.ndarray) -> float | None:
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def _plot(path: Path, success: np.ndarray, returns: np.ndarray, fooled: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
    if len(success):
        ax.plot(moving_success(success), label="true success")
        ax.plot(moving_success(fooled), label="model says success, simulator does not", color="tab:red")
        ep = np.arange(len(success))
        ax2.scatter(ep, returns, c=np.where(success > 0, "tab:green", "tab:gray"), s=8)
        ax.legend(fontsize=7, loc="upper left")
    ax.set_ylabel(f"rate (moving, {FINAL_WINDOW})")
    ax.set_ylim(-0.05, 1.05)
    ax2.set_ylabel("episode return (green: success)")
    ax2.set_xlabel("online episode")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
