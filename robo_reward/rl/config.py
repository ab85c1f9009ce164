"""The configuration of `robo-reward rl`: nested configs, each validating itself, composed by RLConfig, whose
defaults are the benchmarked recipe (docs/BENCHMARKS.md, pick-place from 20 demonstrations): five clones of
20 scripted demonstrations, critic pre-training, a residual of 0.05 learned online on the GRM's per-view
features, the run's successes kept as demonstrations and re-cloned on. `robo-reward rl --task T --reward grm:DIR
--out DIR` runs it. Flags are `--<config>.<field>`; the
flat spellings from before configs nested (`--demo-episodes`, `--residual`, ...) still work. The run's
config.json can be fed back with `--config`; configs/rl_pre_redesign.yaml holds the defaults every `rl`
command in BENCHMARKS.md before the redesign ran with."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from robo_reward.config import config_from_dict, deep_merge, flat_names, load_config_file, unflatten
from robo_reward.envs import SimConfig, make_env
import numpy as np

from robo_reward.observation import OBSERVATIONS, ObservationPipeline, camera_union, reads_grm, reads_images, reads_privileged
from robo_reward.reward.online import RewardConfig
from robo_reward.rl.intervention import InterventionConfig
from robo_reward.rl.sac import SACConfig

POLICY_INPUTS = ("auto", *OBSERVATIONS)
ONLINE_CAPACITY = 200_000  # online replay rows
PRE_REDESIGN = Path(__file__).resolve().parents[1] / "configs" / "rl_pre_redesign.yaml"


@dataclass(frozen=True)
class DemoConfig:
    """Demonstrations: half of every learner batch (RLPD), and what the actor is cloned from."""

    episodes: int = field(default=20, metadata={"help": "scripted-expert episodes (in-process sim only; not with --demos.dataset)",
                                                "alias": "--demo-episodes"})
    dataset: Path | None = field(default=None, metadata={
        "help": "a LeRobot dataset whose successful episodes are the demonstrations (e.g. teleoperation on the robot)",
        "alias": "--demos"})
    noise: float = field(default=0.0, metadata={
        "help": "DART: Gaussian noise (policy units) on the scripted expert's executed motion; clones copy the clean action",
        "alias": "--demo-noise"})

    def __post_init__(self) -> None:
        if self.episodes < 0:
            raise ValueError(f"--demos.episodes must be >= 0, got {self.episodes}")
        if self.noise < 0 or (self.noise > 0 and (not self.episodes or self.dataset is not None)):
            raise ValueError(f"--demo-noise must be >= 0 and needs --demo-episodes (the scripted expert), got {self.noise}")

    @property
    def scripted(self) -> int:
        """Scripted-expert episodes to run: none when a dataset gives the demonstrations."""
        return 0 if self.dataset is not None else self.episodes

    @property
    def any(self) -> bool:
        return self.dataset is not None or self.episodes > 0


@dataclass(frozen=True)
class PretrainConfig:
    """Before going online: clone the actor from the demonstrations, then train the critics to value it."""

    bc_steps: int = field(default=3000, metadata={"help": "behaviour-cloning steps for the actor (then no random warm-up actions)",
                                                  "alias": "--bc-init-steps"})
    critic_steps: int = field(default=1000, metadata={"help": "offline SAC updates on the demos alone (the actor held fixed)",
                                                      "alias": "--critic-pretrain-steps"})

    def __post_init__(self) -> None:
        if self.bc_steps < 0 or self.critic_steps < 0:
            raise ValueError(f"--pretrain.* must be >= 0, got {self.bc_steps} and {self.critic_steps}")


@dataclass(frozen=True)
class EnvConfig:
    """Where the loop runs: the in-process simulator, or a robot behind ROS 2 topics."""

    kind: str = field(default="sim", metadata={"help": "sim (in-process MuJoCo/MetaWorld) | ros (a robot behind ROS 2 topics)",
                                               "alias": "--env"})
    profile: str = field(default="sim_panda", metadata={"help": "with ros: hardware profile (hardware/<name>.yaml)", "alias": "--profile"})
    real: bool = field(default=False, metadata={"help": "with ros: a real arm (reset = home pose + operator confirmation), "
                                                        "not sim_robot_node", "alias": "--ros-real"})

    def __post_init__(self) -> None:
        if self.kind not in ("sim", "ros"):
            raise ValueError(f"--env must be sim or ros, got {self.kind!r}")


@dataclass(frozen=True)
class ImageConfig:
    """The policy's own cameras, read by its own encoder (--obs state+images)."""

    cameras: tuple[str, ...] = field(default=(), metadata={
        "help": "cameras the policy reads (default: the GRM's cameras, else front,wrist)"})
    size: int = field(default=0, metadata={"help": "square size the policy reads them at (0: 64 on a GPU, 32 on a CPU)"})

    def __post_init__(self) -> None:
        if self.size and not 16 <= self.size <= 128:
            raise ValueError(f"--images.size must be 0 (auto) or in [16, 128], got {self.size}")

    def resolved(self, grm_cameras: tuple[str, ...], device_type: str) -> ImageConfig:
        """Defaults filled in: the GRM's cameras (else front and wrist) and the size for the device."""
        return ImageConfig(self.cameras or grm_cameras or ("front", "wrist"), self.size or (64 if device_type == "cuda" else 32))


@dataclass(frozen=True)
class DistConfig:
    """Actors on their own processes (or machines) feeding one learner (`--dist.actors 0`: one process)."""

    actors: int = field(default=0, metadata={"help": "actor processes (0: actor and learner in this process)"})
    address: str = field(default="", metadata={
        "help": "'' starts Ray here; 'auto' or HOST:PORT joins a cluster started with `ray start` (docs/ARCHITECTURE.md)"})
    publish_every: int = field(default=50, metadata={"help": "learner updates between weight versions the actors load"})
    actor_resource: str = field(default="", metadata={
        "help": "a custom Ray resource the actors need (e.g. robot: `ray start --resources '{\"robot\": 1}'` on the arm's computer)"})
    push_timeout_s: float = field(default=60.0, metadata={"help": "longest wait for the learner to take an episode"})

    def __post_init__(self) -> None:
        if self.actors < 0 or self.publish_every < 1 or self.push_timeout_s <= 0:
            raise ValueError(f"--dist.actors must be >= 0, --dist.publish-every >= 1, --dist.push-timeout-s > 0, got {self}")


@dataclass(frozen=True)
class SuccessDemoConfig:
    """The run's own successes as demonstrations (self-imitation, filtered BC's rule inside RLPD).

    An online episode the reward paid success for (r_gold: the simulator's flag, or on a real arm
    the model's verdict) goes into the demonstration buffer, its policy-chosen steps only, and every `every`
    episodes that brought any the frozen clones are cloned further on that grown buffer. With 20
    demonstrations the clones are the cap on the real-arm input (docs/BENCHMARKS.md); the successes a
    150-episode run collects are several times that many."""

    keep: bool = field(default=True, metadata={
        "help": "keep successful online episodes as demonstrations and re-clone on them (with frozen clones: --residual or "
                "--ibrl; off in the run's config.json where it cannot apply: no clones, --no-gold)",
        "alias": "--self-imitation"})
    every: int = field(default=10, metadata={"help": "episodes between re-clonings (when successes came in)"})
    steps: int = field(default=500, metadata={"help": "cloning steps per clone at each re-cloning"})

    def __post_init__(self) -> None:
        if self.every < 1 or self.steps < 1:
            raise ValueError(f"--successes.every and --successes.steps must be >= 1, got {self.every} and {self.steps}")


def _recipe_sac() -> SACConfig:
    """The benchmarked learner: five frozen clones acting with their mean, cloned with noise of 0.1 on what they
    read (issue #40: better clones from 20 demonstrations), a residual of at most 0.05, a low starting temperature
    and a spread cap (a wide spread flips the gripper)."""
    return SACConfig(init_alpha=0.01, max_std=0.5, residual=0.05, bc_ensemble=5, clone_noise=0.1)


@dataclass(frozen=True)
class RLConfig:
    """`robo-reward rl`: SAC against a simulator or a robot, paid by the online reward."""

    task: str = field(metadata={"help": "task name (`robo-reward tasks`)"})
    out: Path = field(metadata={"help": "run folder"})
    episodes: int = field(default=150, metadata={"help": "online episodes (0: the clones alone, evaluated and checkpointed)"})
    obs: str = field(default="auto", metadata={
        "help": "what the policy reads beside the robot state: auto (state+grm with a grm reward, what a real arm has; "
                "privileged otherwise, sim only) | privileged (the simulator's object state: a diagnostic) | state+grm "
                "(the GRM's features, --reward.features) | state+images (camera frames through the policy's own encoder, "
                "--images) | privileged+grm (both: a sim-only ablation)"})
    velocities: bool = field(default=False, metadata={"help": "include joint velocities in the policy input (noisy to clone from)"})
    utd: int = field(default=1, metadata={"help": "gradient updates per environment step"})
    batch_size: int = field(default=256, metadata={"help": "SAC batch size"})
    warmup_steps: int = field(default=256, metadata={"help": "steps before learning (random actions unless the actor was cloned)"})
    eval_episodes: int = field(default=40, metadata={"help": "deterministic evaluation episodes on unseen seeds after training (eval.json)"})
    eval_clones: bool = field(default=False, metadata={
        "help": "also evaluate the cloned policy before the first online episode, on the same layouts (eval_clones.json): "
                "what the online phase added, per seed"})
    checkpoint_every: int = field(default=10, metadata={"help": "episodes between checkpoints"})
    seed: int = field(default=0, metadata={"help": "seed (episode k resets with seed*100000 + k)"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda"})
    resume: bool = field(default=False, metadata={"help": "continue from out/checkpoint"})
    reward: RewardConfig = field(default_factory=lambda: RewardConfig(features="views"))
    sac: SACConfig = field(default_factory=_recipe_sac)
    demos: DemoConfig = field(default_factory=DemoConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    images: ImageConfig = field(default_factory=ImageConfig)
    intervene: InterventionConfig = field(default_factory=InterventionConfig)
    successes: SuccessDemoConfig = field(default_factory=SuccessDemoConfig)
    dist: DistConfig = field(default_factory=DistConfig)

    @property
    def policy_input(self) -> str:
        """`obs` with auto resolved: the GRM's features when there is a GRM, else the simulator's object state."""
        if self.obs != "auto":
            return self.obs
        return "state+grm" if self.reward.model is not None else "privileged"

    def resolved(self, grm_cameras: tuple[str, ...] = (), device_type: str = "cpu") -> RLConfig:
        """The config as run: auto resolved, the reward's γ the critic's, an image policy's cameras and size
        (what config.json records)."""
        images = self.images.resolved(grm_cameras, device_type) if reads_images(self.policy_input) else self.images
        return dataclasses.replace(self, obs=self.policy_input, reward=dataclasses.replace(self.reward, gamma=self.sac.gamma),
                                   images=images, successes=dataclasses.replace(self.successes, keep=self.keeps_successes))

    @property
    def keeps_successes(self) -> bool:
        """--successes.keep where it applies: frozen clones to re-clone (a residual or IBRL after cloning) and r_gold
        to say success (not --no-gold)."""
        clones = (self.sac.residual > 0 or self.sac.ibrl) and self.pretrain.bc_steps > 0 and self.demos.any
        return self.successes.keep and clones and not self.reward.no_gold

    def validate(self) -> None:
        """Checks across configs (each config checks its own fields when made)."""
        grm = self.reward.model is not None
        if self.obs not in POLICY_INPUTS:
            raise ValueError(f"--obs must be one of {POLICY_INPUTS}, got {self.obs!r}")
        obs = self.policy_input
        if reads_grm(obs) and not grm:
            raise ValueError(f"--obs {obs} needs a GRM: pass --reward grm:<dir>")
        clone = self.sac.ibrl or self.sac.residual > 0
        if clone and not self.pretrain.bc_steps:
            raise ValueError("--ibrl and --residual need a cloned actor: pass --bc-init-steps")
        if self.sac.bc_ensemble < 1 or (self.sac.bc_ensemble > 1 and not clone):
            raise ValueError(f"--bc-ensemble must be >= 1, and > 1 only with a frozen clone (--residual or --ibrl), got {self.sac.bc_ensemble}")
        if self.sac.ibrl and self.sac.residual > 0:
            raise ValueError("choose one of --ibrl and --residual")
        if self.sac.clone_noise < 0:
            raise ValueError(f"--clone-noise must be >= 0, got {self.sac.clone_noise}")
        if self.demos.dataset is not None and self.reward.source == "dense":
            raise ValueError("--demos with --reward dense: a recorded dataset has no simulator dense reward to relabel it with")
        if (self.pretrain.bc_steps or self.pretrain.critic_steps or self.sac.bc_weight) and not self.demos.any:
            raise ValueError("--bc-init-steps, --critic-pretrain-steps and --bc-weight need demonstrations (--demo-episodes or --demos)")
        if self.env.kind == "ros" and self.demos.scripted:
            raise ValueError("--demo-episodes needs the scripted expert of the in-process sim: with --env ros pass --demos DIR "
                             "(or --demos.episodes 0)")
        if self.dist.actors and self.intervene.reclone_every and self.intervene.on:
            raise ValueError("--dist.actors does not re-clone on interventions yet: pass --intervene-reclone-every 0")
        if self.intervene.source == "expert" and self.env.kind != "sim":
            raise ValueError("--intervene.source expert is the in-process simulator's scripted expert: with --env ros "
                             "use --intervene.source ros (a person's commands on the intervention topic)")
        if self.intervene.source == "ros" and self.env.kind != "ros":
            raise ValueError("--intervene.source ros listens on a ROS 2 topic: it needs --env ros")
        if self.env.kind == "ros" and self.env.real and (reads_privileged(obs) or self.reward.source == "dense"):
            raise ValueError("a real arm has no privileged state or dense reward: use --obs state+grm --reward grm:<dir>")


def policy_pipeline(cfg: RLConfig, state_index: np.ndarray) -> ObservationPipeline:
    """What a resolved run's policy reads (the same in training, evaluation and deployment)."""
    return ObservationPipeline(cfg.obs, np.asarray(state_index), cfg.images.cameras, cfg.images.size)


def make_rl_env(cfg: RLConfig, grm_cameras: tuple[str, ...], size: int = 32):
    """The in-process simulator, or the same task behind ROS 2 (joint-target actions, clamped). The simulator
    renders the GRM's cameras at 96 px (`size` without a GRM) and an image policy's at 96 px or its own size if
    larger, in training and evaluation alike, so the policy's resized frames are the same in both. On ROS 2 the
    robot's cameras must include the policy's (named if not)."""
    cameras, size = grm_cameras, 96 if grm_cameras else size
    if reads_images(cfg.obs):
        cameras = camera_union(cameras, cfg.images.cameras)
        size = max(96, cfg.images.size)
    if cfg.env.kind == "sim":  # with the model judging success the sim runs on past it, as a real arm does
        return make_env(cfg.task, SimConfig(image_size=size, cameras=cameras or ("front",),
                                            end_on_success=cfg.reward.success != "model"))
    from robo_reward.envs.ros import RosEnvConfig, RosRobotEnv

    probe = make_env(cfg.task, SimConfig(image_size=32, cameras=("front",)))
    spec = probe.spec
    probe.close()
    from robo_reward.ros.messages import INTERVENTION_TOPIC

    listen = INTERVENTION_TOPIC if cfg.intervene.source == "ros" else None
    env = RosRobotEnv(spec.task_text, spec.subtasks, spec.max_steps,
                      RosEnvConfig(profile=cfg.env.profile, sim=not cfg.env.real, intervention_topic=listen,
                                   end_on_success=cfg.reward.success != "model"))
    missing = [c for c in cameras if c not in env.spec.camera_names]
    if missing:
        env.close()
        raise ValueError(f"the run reads cameras {list(cameras)}; profile {cfg.env.profile!r} has {list(env.spec.camera_names)} "
                         f"(no {missing})")
    return env


def demo_capacity(cfg: RLConfig, online_capacity: int = ONLINE_CAPACITY) -> int:
    """Room for every frame of the --demos dataset (50,000 transitions for the scripted expert), plus room for
    every online step when interventions or successes may enter the buffer (none of the demonstrations is
    overwritten)."""
    room = online_capacity if cfg.intervene.on or cfg.successes.keep else 0
    if cfg.demos.dataset is None:
        return 50_000 + room
    from robo_reward.data.lerobot_io import read_info

    return max(1, sum(a.length for a in read_info(Path(cfg.demos.dataset), annotated=False).episodes) + room)


def reward_config(cfg: RLConfig) -> RewardConfig:
    """What the run's learner is paid (robo_reward.reward.online), with the critic's γ."""
    return dataclasses.replace(cfg.reward, gamma=cfg.sac.gamma)


def rl_config(base: Path | None = None, **flat) -> RLConfig:
    """An RLConfig from flat field names (`demo_episodes=20`, `reward="grm:DIR"`: each nested field's spelling
    from before configs nested) over a config file's values (`base`, e.g. PRE_REDESIGN) over the defaults."""
    places = flat_names(RLConfig)
    unknown = sorted(set(flat) - set(places))
    if unknown:
        raise ValueError(f"unknown rl config field(s) {unknown}")
    given = unflatten({places[name]: value for name, value in flat.items()})
    return config_from_dict(RLConfig, deep_merge(load_config_file(base) if base is not None else {}, given), "rl config")
