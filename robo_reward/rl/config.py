"""The configuration of `robo-reward rl` and the pieces built from it: the learner's and the reward's
configs and the environment (in-process simulator or a robot behind ROS 2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from robo_reward.envs import SimConfig, make_env
from robo_reward.observation import OBSERVATIONS, reads_grm, reads_privileged
from robo_reward.reward.infer import DEFAULT_FUSION, FEATURES, FUSIONS
from robo_reward.reward.online import RewardConfig
from robo_reward.rl.sac import SACConfig


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
        reward_config(self)  # the reward's own checks: source, shaping, fusion, features
        if self.delta_anneal < 0 or (self.delta_anneal and (self.shaping != "pbrs" or not self.reward.startswith("grm:"))):
            raise ValueError(f"--delta-anneal must be >= 0, and > 0 only with --shaping pbrs and a grm reward, got {self.delta_anneal}")
        if self.potential_scale <= 0 or (self.potential_scale != 1.0 and (self.shaping != "pbrs" or not self.reward.startswith("grm:") or self.delta_anneal)):
            raise ValueError(f"--potential-scale must be > 0, and other than 1 only with a grm reward and --shaping pbrs "
                             f"(not --delta-anneal), got {self.potential_scale}")
        if self.no_gold and (not self.reward.startswith("grm:") or self.shaping not in ("delta", "progress") or self.gold_from_model):
            raise ValueError("--no-gold needs a grm reward with --shaping delta or progress, and not --gold-from-model "
                             "(pbrs or sparse without gold pays every policy the same return)")
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


def reward_config(cfg: RLConfig) -> RewardConfig:
    """What the run's learner is paid (robo_reward.reward.online)."""
    return RewardConfig(source=cfg.reward, shaping=cfg.shaping, fusion=cfg.fusion, features=cfg.grm_features,
                        gamma=cfg.gamma, gold_from_model=cfg.gold_from_model, pay_gold=not cfg.no_gold,
                        potential_scale=cfg.potential_scale, value_bounds=cfg.value_bounds,
                        annealed_excess=bool(cfg.delta_anneal))
