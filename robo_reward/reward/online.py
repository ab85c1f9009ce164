"""The reward an online learner is paid, defined once: the streaming GRM's progress Φ, shaped by
robo_reward.shaping, plus r_gold, with the value range every return from the state must lie in.
`rl` (training and evaluation), a deployed policy, `eval-policy` and the ROS reward_node all use
`OnlineReward`, so what a robot is paid is what the learner was trained on."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch

from robo_reward.environment_loop import NO_FEATURES, NOTHING_PAID, RewardStep
from robo_reward.reward.infer import DEFAULT_FUSION, FEATURES, FUSIONS
from robo_reward.reward.judge import Judge, SuccessJudge
from robo_reward.shaping import SHAPINGS, UNBOUNDED, ShapedReward, shaped_reward, value_range
from robo_reward.types import TimeStep

SUCCESS_FROM = ("env", "model")


@dataclass(frozen=True)
class RewardConfig:
    """What the learner is paid: the environment's reward, or a GRM's progress shaped, plus r_gold."""

    source: str = field(default="sparse", metadata={"help": "sparse | dense (the simulator's own) | grm:<checkpoint dir>",
                                                    "alias": "--reward"})
    shaping: str = field(default="pbrs", metadata={"help": "pbrs | delta | progress | none (with a grm source)", "alias": "--shaping"})
    fusion: str = field(default=DEFAULT_FUSION, metadata={"help": f"how the GRM fuses its perspectives into Φ: {' | '.join(FUSIONS)}",
                                                          "alias": "--fusion"})
    features: str = field(default="fused", metadata={
        "help": "what a policy reads of the GRM: fused (its state embedding, D values) | views (each camera's features "
                "before fusion, V x D: they keep where things are) | estimate (the object and target positions the model's "
                "environment-state head reads from those; train-reward --env-state-weight) | views+estimate (both)",
        "alias": "--grm-features"})
    gold_from_model: bool = field(default=False, metadata={"help": "also pay r_gold when the model's Φ >= 1 - δ",
                                                           "alias": "--gold-from-model"})
    no_gold: bool = field(default=False, metadata={
        "help": "with delta or progress shaping: pay no r_gold (success still ends the episode); delta is then the bare "
                "Φ(s') − Φ(s), as where no success flag exists", "alias": "--no-gold"})
    potential_scale: float = field(default=1.0, metadata={
        "help": "with pbrs: shape with k·Φ (as policy-invariant as Φ; the critic starts k·Φ(s) high)", "alias": "--potential-scale"})
    value_bounds: bool = field(default=False, metadata={
        "help": "clip TD targets to the range the reward allows every return (pbrs: [−Φ(s), 1 − Φ(s)], sparse: [0, 1]); "
                "no effect with the dense reward or gold from the model, which can pay more than once", "alias": "--value-bounds"})
    delta_anneal: int = field(default=0, metadata={
        "help": "with pbrs: add delta's excess over pbrs ((1 − γ)·Φ(s')), weighted 1 → 0 over this many episodes and "
                "re-weighted in replay (0: pure pbrs)", "alias": "--delta-anneal"})
    success: str = field(default="env", metadata={
        "help": "who says an episode succeeded: env (the simulator, or an operator / detector on the success topic) | model "
                "(the GRM: Φ >= --judge-progress in its last stage, spread <= --judge-uncertainty, for --judge-hold steps; "
                "it ends the episode and pays r_gold, the simulator's flag is only the yardstick)", "alias": "--success-from"})
    judge_progress: float = field(default=Judge.progress, metadata={"help": "with --success-from model: the least Φ",
                                                                    "alias": "--judge-progress"})
    judge_hold: int = field(default=Judge.hold, metadata={"help": "with --success-from model: steps in a row",
                                                          "alias": "--judge-hold"})
    judge_uncertainty: float = field(default=Judge.max_uncertainty, metadata={
        "help": "with --success-from model: the most spread (1.0, the most there is: no bound)", "alias": "--judge-uncertainty"})
    judge_any_stage: bool = field(default=False, metadata={
        "help": "with --success-from model: any subtask will do, not only the last (a model whose stage head does not "
                "know this task's subtasks)", "alias": "--judge-any-stage"})
    gamma: float = field(default=0.99, metadata={"help": "the shaping's discount: the critic's own (set from it)", "cli": False})

    def __post_init__(self) -> None:
        if not (self.source in ("sparse", "dense") or self.source.startswith("grm:")):
            raise ValueError(f"--reward must be sparse, dense or grm:<dir>, got {self.source!r}")
        if self.shaping not in SHAPINGS:
            raise ValueError(f"--shaping must be one of {SHAPINGS}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"--fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if self.features not in FEATURES:
            raise ValueError(f"--grm-features must be one of {FEATURES}, got {self.features!r}")
        grm = self.model is not None
        if self.delta_anneal < 0 or (self.delta_anneal and (self.shaping != "pbrs" or not grm)):
            raise ValueError(f"--delta-anneal must be >= 0, and > 0 only with --shaping pbrs and a grm reward, got {self.delta_anneal}")
        if self.potential_scale <= 0 or (self.potential_scale != 1.0 and (self.shaping != "pbrs" or not grm or self.delta_anneal)):
            raise ValueError(f"--potential-scale must be > 0, and other than 1 only with a grm reward and --shaping pbrs "
                             f"(not --delta-anneal), got {self.potential_scale}")
        if self.no_gold and (not grm or self.shaping not in ("delta", "progress") or self.gold_from_model):
            raise ValueError("--no-gold needs a grm reward with --shaping delta or progress, and not --gold-from-model "
                             "(pbrs or sparse without gold pays every policy the same return)")
        if self.success not in SUCCESS_FROM:
            raise ValueError(f"--success-from must be one of {SUCCESS_FROM}, got {self.success!r}")
        if self.success == "model" and (not grm or self.gold_from_model):
            raise ValueError("--success-from model needs a grm reward and not --gold-from-model (the judge pays r_gold once)")
        self.judge  # its own checks

    @property
    def judge(self) -> Judge:
        return Judge(self.judge_progress, self.judge_hold, self.judge_uncertainty, final_stage=not self.judge_any_stage)

    @property
    def model(self) -> Path | None:
        """The GRM checkpoint folder, or None for the environment's own reward."""
        return Path(self.source[4:]) if self.source.startswith("grm:") else None


class OnlineReward:
    """Streaming Φ + shaping + gold for one episode at a time: `reset(ts)` at the first state, then
    `step(ts)` for each next one (Φ of the previous state is kept here, nowhere else)."""

    def __init__(self, cfg: RewardConfig, task_text: str, device: torch.device | str = "cpu",
                 loaded: tuple | None = None) -> None:
        """`loaded`: (model, tasks) already read from cfg's checkpoint (saves a second load)."""
        from robo_reward.reward.infer import Scorer, StreamingScorer

        self.cfg = cfg
        self.stream = None
        self.cameras: tuple[str, ...] = ()
        self._phi = 0.0
        if cfg.model is not None:
            if loaded is None:
                from robo_reward.reward.checkpoint import load_checkpoint

                loaded = load_checkpoint(cfg.model, device)[:2]
            model, tasks = loaded
            try:
                self.stream = StreamingScorer(Scorer(model, tasks, device, cfg.fusion), task_text, features=cfg.features)
            except ValueError as e:  # e.g. --grm-features estimate on a model without the head: name the checkpoint
                raise ValueError(f"{cfg.model}: {e}") from e
            self.cameras = tuple(model.cfg.cameras)
        self.judge = SuccessJudge(cfg.judge, len(self.stream.names)) if cfg.success == "model" else None

    @property
    def shaping(self) -> str:
        return self.cfg.shaping if self.stream is not None else "none"

    def reset(self, ts: TimeStep) -> RewardStep:
        if self.stream is not None:
            self.stream.reset_state()
        if self.judge is not None:
            self.judge.reset()
        return self._reading(ts, NOTHING_PAID)

    def step(self, ts: TimeStep) -> RewardStep:
        """The state `ts` reached and the reward of the transition into it."""
        success = bool(ts.info.success)
        if self.cfg.source == "dense":
            return self._reading(ts, ShapedReward(dense_reward(ts, self.cfg.gamma), float(success), 0.0))
        phi_s = self._phi
        step = self._reading(ts, None)
        ends = False
        if self.judge is not None:  # the model says when it succeeded, and that ends the episode
            success = ends = self.judge.step(step.phi, step.stage, step.uncertainty)
        paid = shaped_reward(self.shaping, success, phi_s, step.phi, self.cfg.gamma, ts.terminated or ends,
                             gold_from_model=self.cfg.gold_from_model, pay_gold=not self.cfg.no_gold,
                             scale=self._scale(self.shaping))
        return dataclasses.replace(step, reward=paid, success=success, ends_episode=ends)

    def _reading(self, ts: TimeStep, paid: ShapedReward | None) -> RewardStep:
        phi, uncertainty, features, stage = 0.0, 0.0, NO_FEATURES, -1
        if self.stream is not None:
            out = self.stream.step(ts.obs.images)
            phi, uncertainty, features, stage = out.progress, out.uncertainty, out.features, out.stage
        self._phi = phi
        return RewardStep(phi, paid if paid is not None else NOTHING_PAID, bool(ts.info.success),
                          uncertainty, features, self.value_range(phi), stage)

    def value_range(self, phi_s: float) -> tuple[float, float]:
        """Where Q(s, ·) must lie for a state of progress Φ(s): needs gold paid at most once, so none
        with the dense reward or gold from the model."""
        cfg = self.cfg
        if not cfg.value_bounds or cfg.source == "dense" or cfg.gold_from_model:
            return UNBOUNDED
        # with the anneal a return is pbrs's plus a share of delta's excess: inside delta's (wider) range
        shaping = "delta" if cfg.delta_anneal else self.shaping
        return value_range(shaping, phi_s, cfg.gamma, not cfg.no_gold, self._scale(shaping))

    def _scale(self, shaping: str) -> float:
        """The potential scale applies to pbrs's potential only."""
        return self.cfg.potential_scale if shaping == "pbrs" else 1.0


def dense_reward(ts: TimeStep, gamma: float) -> float:
    """The simulator's dense reward (1 when successful), with the success terminal paid as if the
    episode went on at 1 forever (1 / (1 - γ)): otherwise ending the episode by succeeding forfeits
    the reward of hovering just short of success, and the optimal policy never finishes."""
    if ts.info.dense_reward is None:
        raise ValueError(f"--reward dense: the environment reports no dense reward at step {ts.info.step} (a real arm has none)")
    r = float(ts.info.dense_reward)
    return r / (1.0 - gamma) if ts.terminated and ts.info.success else r
