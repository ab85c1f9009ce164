"""Interventions (HIL-SERL's rule): the scripted expert standing in for a person takes over a stalled policy in
the real simulator and hands back after its correction; an `rl` run stores the taken-over transitions in the
demonstration buffer as well as the online one and logs who acted; bad configurations and bad commands are
named."""

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest

from robo_reward.environment_loop import INTERVENTION, POLICY, Action, EnvironmentLoop, Observer
from robo_reward.envs import SimConfig, make_env
from robo_reward.rl.config import PRE_REDESIGN, SuccessDemoConfig, rl_config
from robo_reward.rl.intervention import ExpertTakeover, Intervened, InterventionConfig
from robo_reward.rl.loop import run_rl
from robo_reward.ros.messages import intervention_command

FAST = dict(warmup_steps=30, batch_size=16, utd=1, checkpoint_every=1, eval_episodes=0)


class StandStill:
    """A policy that never moves: it stalls from the first step."""

    def __init__(self, spec) -> None:
        self.spec = spec

    def reset(self, ts) -> None:
        pass

    def act(self, ts, reading) -> Action:
        unit = np.zeros(self.spec.dim, np.float32)
        return Action(self.spec.from_unit(unit), unit)


class Who(Observer):
    def __init__(self) -> None:
        self.by, self.subtasks = [], []

    def observe(self, action, ts, reading) -> None:
        self.by.append(action.by)
        self.subtasks.append(ts.info.subtasks_completed)


def test_expert_takes_over_a_stalled_policy_and_hands_back_after_its_correction():
    env = make_env("pick-place", SimConfig(image_size=32, cameras=("front",)))
    try:
        who = Who()
        loop = EnvironmentLoop(env, Intervened(StandStill(env.spec.action), ExpertTakeover(env, patience=5, hold=40)), observers=[who])
        end = loop.run_episode(3)
    finally:
        env.close()
    by, subtasks = np.array(who.by), np.array(who.subtasks)
    assert (by[:5] == POLICY).all() and by[5] == INTERVENTION  # five steps without progress, then the expert
    first_back = 5 + int(np.argmax(by[5:] == POLICY))
    assert first_back > 5 and subtasks[first_back - 1] > subtasks[4]  # it handed back once it completed a subtask
    assert end.last.info.subtasks_completed >= 2  # the stand-in gets the still policy through several subtasks
    assert (by == INTERVENTION).mean() < 1.0


def test_rl_run_stores_interventions_as_demonstrations_and_logs_the_rate(tmp_path):
    out = tmp_path / "run"
    summary = run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=out, episodes=2, intervene="expert",
                               intervene_patience=5, intervene_hold=20,
                               **FAST), progress=False)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    taken = sum(r["intervention_steps"] for r in rows)
    assert taken > 0 and all(0 < r["intervention_rate"] <= 1 for r in rows)  # random warm-up actions stall
    demos = np.load(out / "checkpoint" / "demos.npz")
    online = np.load(out / "checkpoint" / "online.npz")
    assert len(demos["reward"]) == taken and len(online["reward"]) == sum(r["length"] for r in rows)
    # each demonstration row is one of the online rows (stored twice, HIL-SERL's rule)
    online_rows = {tuple(np.round(np.concatenate([o, a]), 5)) for o, a in zip(online["obs"], online["action"])}
    assert all(tuple(np.round(np.concatenate([o, a]), 5)) in online_rows for o, a in zip(demos["obs"], demos["action"]))
    assert summary["intervention_steps"] == taken and 0 < summary["intervention_rate_final"] <= 1
    assert json.loads((out / "config.json").read_text())["config"]["intervene"]["source"] == "expert"


def test_bad_intervention_configs_are_named():
    with pytest.raises(ValueError, match="--intervene.source must be one of"):
        InterventionConfig("spacemouse")
    with pytest.raises(ValueError, match="--intervene.patience"):
        InterventionConfig("expert", 0)
    with pytest.raises(ValueError, match="needs --env ros"):
        rl_config(PRE_REDESIGN, task="pick-place", out="x", intervene="ros").validate()
    with pytest.raises(ValueError, match="in-process simulator's scripted expert"):
        rl_config(PRE_REDESIGN, task="pick-place", out="x", env="ros", demo_episodes=0,
                  intervene="expert").validate()


def test_intervention_commands_are_read_by_name_or_count_and_bad_ones_are_named():
    names = ("j1", "j2", "gripper")
    msg = SimpleNamespace
    np.testing.assert_array_equal(intervention_command(msg(name=[], position=[0.1, 0.2, 1.0]), names), [0.1, 0.2, 1.0])
    np.testing.assert_array_equal(intervention_command(msg(name=["gripper", "j2", "j1"], position=[-1, 0.2, 0.1]), names),
                                  [0.1, 0.2, -1.0])
    for bad, says in ((msg(name=[], position=[0.1, 0.2]), "2 positions for 3 joints"),
                      (msg(name=["j1", "j2", "grip"], position=[0, 0, 0]), r"no \['gripper'\]"),
                      (msg(name=["j1"], position=[0, 0, 0]), "1 joint names but 3 positions"),
                      (msg(name=[], position=[0.1, float("nan"), 0]), "non-finite")):
        with pytest.raises(ValueError, match=says):
            intervention_command(bad, names)


def test_interventions_are_recloned_into_the_frozen_clones_and_a_resumed_run_is_the_same(tmp_path):
    """HG-DAgger's use of interventions in the recipe: every few episodes the frozen clones are cloned on the
    demonstrations plus the interventions; the schedule reads the metrics file, so a resumed run re-clones where the
    uninterrupted one did."""
    import torch

    timers = ("policy_s", "env_s", "reward_s", "update_s")
    args = dict(task="pick-place", demo_episodes=1, bc_init_steps=20, residual=0.05, intervene="expert", intervene_patience=5,
                intervene_hold=20, intervene_reclone_every=2, intervene_reclone_steps=5, **FAST)

    def run(out, episodes, resume=False):
        run_rl(rl_config(PRE_REDESIGN, out=out, episodes=episodes, resume=resume, **args), progress=False)
        rows = [{k: v for k, v in json.loads(x).items() if k not in timers} for x in (out / "metrics.jsonl").read_text().splitlines()]
        return rows, torch.load(out / "checkpoint" / "state.pt", weights_only=False)["learner"]["bc_actor"]

    whole, clones = run(tmp_path / "whole", 2)
    assert "reclone_mse" not in whole[0] and whole[1]["reclone_mse"] >= 0  # after episode 2 (interventions came in)
    run(tmp_path / "resumed", 1)
    resumed, resumed_clones = run(tmp_path / "resumed", 2, resume=True)
    assert resumed == whole
    assert all(torch.equal(v, resumed_clones[k]) for k, v in clones.items())
    first, _ = run(tmp_path / "first", 1)
    first_clones = torch.load(tmp_path / "first" / "checkpoint" / "state.pt", weights_only=False)["learner"]["bc_actor"]
    assert any(not torch.equal(v, first_clones[k]) for k, v in clones.items())  # the re-cloning changed them


def test_successes_kept_as_demonstrations_are_the_policys_own_steps_and_recloned(tmp_path):
    """Self-imitation (`--successes.keep`): an episode the reward paid r_gold for puts its policy-chosen
    transitions (not the expert's takeovers) into the demonstration buffer, failures put none, and the clones
    are re-cloned after an episode that brought any. The scripted expert stepping in makes successes come
    within two short episodes."""
    import numpy as np

    out = tmp_path / "run"
    cfg = rl_config(PRE_REDESIGN, out=out, episodes=2, task="pick-place", demo_episodes=1, bc_init_steps=20, residual=0.05,
                    intervene="expert", intervene_patience=5, intervene_hold=20, intervene_reclone_every=0, **FAST)
    cfg = dataclasses.replace(cfg, successes=SuccessDemoConfig(keep=True, every=1, steps=5))
    run_rl(cfg, progress=False)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert any(r["gold"] > 0 for r in rows)
    for r in rows:
        kept = r["length"] - r["intervention_steps"] - r["hold_steps"] if r["gold"] > 0 else 0
        assert r["success_demo_rows"] == kept
        assert ("reclone_mse" in r) == (kept > 0)
    demos = np.load(out / "checkpoint" / "demos.npz")
    first_demo = json.loads((out / "pretrain.json").read_text())["demo_transitions"]
    assert len(demos["reward"]) == first_demo + sum(r["success_demo_rows"] for r in rows) + sum(r["intervention_steps"] for r in rows)


@pytest.mark.parametrize("flat", [dict(residual=0.0, bc_ensemble=1), dict(bc_init_steps=0, residual=0.0, bc_ensemble=1),
                                  dict(reward="grm:x", no_gold=True, shaping="delta")])
def test_successes_are_kept_by_default_and_off_in_the_config_as_run_where_they_cannot_be(tmp_path, flat):
    """On by default (the benchmarked recipe, a distributed run too); the run's config.json says off where there are
    no clones to re-clone or no r_gold to say success."""
    assert rl_config(out=tmp_path, task="pick-place").resolved().successes.keep
    assert rl_config(out=tmp_path, task="pick-place", **{"dist.actors": 2}).resolved().successes.keep
    cfg = rl_config(out=tmp_path, task="pick-place", **flat)
    cfg.validate()
    assert cfg.successes.keep and not cfg.resolved().successes.keep
    assert not rl_config(PRE_REDESIGN, out=tmp_path, task="pick-place", bc_init_steps=10, residual=0.05).resolved().successes.keep
