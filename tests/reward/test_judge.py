"""Success judged by the reward model: the count of convinced readings, its reset on a wavering one, the online
judge agreeing with the offline one on a real streamed episode, the loop ending the episode where the judge
says so (stored as a true terminal), and an `rl` run that reports the judge against the simulator."""

import json
import re

import numpy as np
import pytest
import torch

from robo_reward.environment_loop import NOTHING_PAID, NO_FEATURES, Action, EnvironmentLoop, RewardStep
from robo_reward.envs import SimConfig, make_env
from robo_reward.reward.judge import Judge, SuccessJudge, first_success
from robo_reward.reward.labels import bin_centers
from robo_reward.reward.model import hop_moments
from robo_reward.reward.online import OnlineReward, RewardConfig
from robo_reward.shaping import UNBOUNDED


def test_the_default_spread_bound_bounds_nothing():
    """The default judge has no spread bound (validation chose none): 1.0 is the largest std a hop distribution over
    [-1, 1] can have, half its mass at each end."""
    logits = torch.full((1, 25), -1e4)
    logits[0, [0, -1]] = 0.0
    _, std = hop_moments(logits, torch.tensor(bin_centers(25), dtype=torch.float32))
    widest = float(std[0])
    assert widest == pytest.approx(1.0) and widest <= Judge().max_uncertainty
    assert SuccessJudge(Judge(), stages=4).convinced(0.95, 3, widest)


def test_the_judge_wants_hold_convinced_readings_in_a_row():
    judge = SuccessJudge(Judge(progress=0.9, hold=3, max_uncertainty=0.1), stages=4)
    readings = [(0.95, 3, 0.05), (0.95, 3, 0.05), (0.5, 3, 0.05),  # wavers: the count starts again
                (0.95, 3, 0.05), (0.95, 2, 0.05),  # not the last stage
                (0.95, 3, 0.2),  # unsure
                (0.91, 3, 0.01), (0.99, 3, 0.1), (0.92, 3, 0.0)]
    said = [judge.step(*r) for r in readings]
    assert said == [False] * 8 + [True]
    assert first_success(Judge(0.9, 3, 0.1), 4, *zip(*readings)) == 8
    assert first_success(Judge(0.9, 4, 0.1), 4, *zip(*readings)) is None
    # --judge-any-stage: readings in other subtasks count too
    early = [(0.95, 3, 0.05), (0.95, 2, 0.05), (0.95, 2, 0.05), (0.95, 3, 0.05)]
    any_stage = RewardConfig(source="grm:x", success="model", judge_progress=0.9, judge_hold=2, judge_uncertainty=0.1,
                             judge_any_stage=True).judge
    assert first_success(any_stage, 4, *zip(*early)) == 1
    assert first_success(Judge(0.9, 2, 0.1), 4, *zip(*early)) is None
    with pytest.raises(ValueError, match="judge"):
        Judge(progress=0.0)
    with pytest.raises(ValueError, match="--success-from model needs a grm reward"):
        RewardConfig(success="model")


def test_the_estimate_on_a_model_without_the_head_is_refused_naming_the_checkpoint(tiny_grm):
    with pytest.raises(ValueError, match=rf"{re.escape(str(tiny_grm))}: features 'estimate' .* no such head"):
        OnlineReward(RewardConfig(source=f"grm:{tiny_grm}", features="estimate"), "pick up the cube and place it in the bin")


def test_online_judge_matches_the_offline_one_on_a_streamed_episode(tiny_grm):
    cfg = RewardConfig(source=f"grm:{tiny_grm}", success="model", judge_progress=0.05, judge_hold=2, judge_uncertainty=10.0)
    reward = OnlineReward(cfg, "pick up the cube and place it in the bin")
    env = make_env("pick-place", SimConfig(image_size=32, cameras=reward.cameras, end_on_success=False))
    try:
        ts = env.reset(7)
        expert = env.expert("expert")
        readings, said = [reward.reset(ts)], []
        for _ in range(40):
            ts = env.step(expert.act(ts))
            r = reward.step(ts)
            readings.append(r)
            said.append(r.ends_episode)
            assert r.success == r.ends_episode  # the model's judgement is the success the learner is paid for
    finally:
        env.close()
    offline = first_success(cfg.judge, len(reward.stream.names), *zip(*[(r.phi, r.stage, r.uncertainty) for r in readings[1:]]))
    online = said.index(True) if True in said else None
    assert online == offline


class ScriptedStream:
    """Stands in for the GRM's stream: given readings, one per frame (tests the code around the judge)."""

    names = ("reach", "grasp", "lift", "place")

    def __init__(self, readings) -> None:
        self.readings = readings

    def reset_state(self) -> None:
        self.t = 0

    def step(self, images):
        from types import SimpleNamespace

        phi, stage, unc = self.readings[self.t]
        self.t += 1
        return SimpleNamespace(progress=phi, stage=stage, uncertainty=unc, features=NO_FEATURES)


def test_the_judge_pays_gold_once_and_ends_the_episode_at_its_verdict(tiny_grm):
    cfg = RewardConfig(source=f"grm:{tiny_grm}", success="model", judge_progress=0.9, judge_hold=2)
    reward = OnlineReward(cfg, "pick up the cube and place it in the bin")
    reward.stream = ScriptedStream([(0.1, 0, 0.05), (0.5, 2, 0.05), (0.95, 3, 0.05), (0.97, 3, 0.05), (0.99, 3, 0.05)])
    env = make_env("pick-place", SimConfig(image_size=32, cameras=("front",), end_on_success=False))
    try:
        ts = env.reset(0)
        first = reward.reset(ts)
        steps = [reward.step(env.step(np.zeros(4))) for _ in range(3)]
    finally:
        env.close()
    assert not first.ends_episode and [s.ends_episode for s in steps] == [False, False, True]
    assert [s.reward.gold for s in steps] == [0.0, 0.0, 1.0]
    assert steps[-1].reward.shaping == pytest.approx(-0.95)  # Φ(terminal) = 0: pbrs pays back the potential

class EndsAt:
    """A reward source whose judge says success at step `t`."""

    def __init__(self, t: int) -> None:
        self.t, self.k = t, 0

    def reset(self, ts) -> RewardStep:
        self.k = 0
        return RewardStep(0.0, NOTHING_PAID, False, 0.0, NO_FEATURES, UNBOUNDED)

    def step(self, ts) -> RewardStep:
        self.k += 1
        return RewardStep(0.0, NOTHING_PAID, self.k == self.t, 0.0, NO_FEATURES, UNBOUNDED, ends_episode=self.k == self.t)


def test_the_loop_ends_where_the_judge_says_and_stores_a_true_terminal():
    from robo_reward.observation import ObservationPipeline
    from robo_reward.rl.actor import ReplayWriter
    from robo_reward.rl.replay import ReplayBuffer

    env = make_env("pick-place", SimConfig(image_size=32, cameras=("front",), end_on_success=False))

    class Still:
        def reset(self, ts):
            pass

        def act(self, ts, reading):
            return Action(np.zeros(4), np.zeros(4, np.float32))

    try:
        pipeline = ObservationPipeline("privileged", np.arange(env.spec.state.dim))
        buffer = ReplayBuffer(100, len(pipeline(env.reset(0), NO_FEATURES)), 4)
        writer = ReplayWriter(buffer, pipeline)
        end = EnvironmentLoop(env, Still(), EndsAt(6), [writer]).run_episode(0)
    finally:
        env.close()
    assert end.steps == 6 and not end.last.done  # the env would have gone on
    assert buffer.size == 6 and buffer.discount[5] == 0.0 and (buffer.discount[:5] == 1.0).all()


def test_rl_run_with_the_model_judging_success_reports_it_against_the_simulator(tmp_path, tiny_grm):
    from robo_reward.rl.config import PRE_REDESIGN, rl_config
    from robo_reward.rl.loop import run_rl

    out = tmp_path / "run"
    summary = run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=out, episodes=2, reward=f"grm:{tiny_grm}", success_from="model",
                               warmup_steps=30, batch_size=16, checkpoint_every=1, eval_episodes=0), progress=False)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert all({"judged_success", "env_success_seen"} <= set(r) for r in rows)
    judge = summary["judge"]
    assert judge["episodes"] == 2 and judge["judged"] == sum(r["judged_success"] for r in rows)
    assert judge["false_positives"] + judge["false_negatives"] <= 2
