"""Actors and a learner on Ray, on this machine (loopback): every episode of the run arrives once, the actors act on
published weights, and a learner killed mid-run comes back from its checkpoint with nothing lost."""

import dataclasses
import json
import os
import threading

import numpy as np
import pytest

from robo_reward.rl.config import PRE_REDESIGN, rl_config
from robo_reward.rl.config import DistConfig
from robo_reward.rl.distributed import episode_slots, run_distributed

ray = pytest.importorskip("ray")

FAST = dict(warmup_steps=30, batch_size=16, utd=1, checkpoint_every=1, eval_episodes=0)


def test_episode_slots_cover_the_run_once():
    slots = [episode_slots(7, 3, k) for k in range(3)]
    assert sorted(sum(slots, [])) == list(range(7)) and slots[1] == [1, 4]
    with pytest.raises(ValueError, match="--dist.actors"):
        DistConfig(actors=-1)


def _rows(out):
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


def test_two_actors_feed_one_learner_and_a_killed_learner_loses_nothing(tmp_path):
    out = tmp_path / "run"
    cfg = dataclasses.replace(rl_config(PRE_REDESIGN, task="pick-place", out=out, episodes=6, **FAST),
                              dist=DistConfig(actors=2, publish_every=20))
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False, configure_logging=False)
    killed = []
    try:
        def kill_learner_once() -> None:  # after a few episodes, as a GPU machine that goes away
            import time

            for _ in range(3000):  # up to 300 s: set-up and pre-training come first, slower beside other jobs
                if out.joinpath("metrics.jsonl").exists() and len(out.joinpath("metrics.jsonl").read_text().splitlines()) >= 3:
                    learner = ray.get_actor("robo_reward_learner")
                    pid = ray.get(learner.pid.remote())
                    os.kill(pid, 9)
                    killed.append(pid)
                    return
                time.sleep(0.1)

        killer = threading.Thread(target=kill_learner_once, daemon=True)
        killer.start()
        summary = run_distributed(cfg, progress=False)
        killer.join(5)
    finally:
        ray.shutdown()
    assert killed, "the learner was never killed: the test did not test a restart"
    rows = _rows(out)
    assert len(rows) == 6 and [r["episode"] for r in rows] == list(range(6))
    assert sorted(r["slot"] for r in rows) == list(range(6))  # every episode once, none lost, none twice
    assert {r["actor"] for r in rows} == {"actor0", "actor1"}
    online = np.load(out / "checkpoint" / "online.npz")
    assert len(online["reward"]) == sum(r["length"] for r in rows) == rows[-1]["total_steps"]
    assert max(r["weights_version"] for r in rows) >= 1  # the actors acted on weights the learner published
    dist = json.loads((out / "distributed.json").read_text())
    assert len(dist["actors"]) == 2 and summary["episodes"] == 6


def test_kept_successes_and_interventions_reach_the_learners_demonstrations_and_clones(tmp_path):
    """The recipe's self-imitation across processes: an actor's successful episode sends its policy-chosen steps as
    demonstration rows (its expert takeovers too), the learner stores them and re-clones its frozen clones."""
    from robo_reward.rl.config import SuccessDemoConfig

    out = tmp_path / "run"
    cfg = rl_config(PRE_REDESIGN, task="pick-place", out=out, episodes=3, demo_episodes=1, bc_init_steps=20, residual=0.05,
                    intervene="expert", intervene_patience=5, intervene_hold=20, intervene_reclone_every=0, **FAST)
    cfg = dataclasses.replace(cfg, successes=SuccessDemoConfig(keep=True, every=1, steps=5), dist=DistConfig(actors=2, publish_every=20))
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        run_distributed(cfg, progress=False)
    finally:
        ray.shutdown()
    assert json.loads((out / "config.json").read_text())["config"]["successes"]["keep"]
    rows = _rows(out)
    assert len(rows) == 3 and any(r["gold"] > 0 for r in rows)
    for r in rows:
        assert r["success_demo_rows"] == (r["length"] - r["intervention_steps"] - r["hold_steps"] if r["gold"] > 0 else 0)
    demos = np.load(out / "checkpoint" / "demos.npz")
    first_demo = json.loads((out / "pretrain.json").read_text())["demo_transitions"]
    assert len(demos["reward"]) == first_demo + sum(r["success_demo_rows"] + r["intervention_steps"] for r in rows)
    learner = json.loads((out / "distributed.json").read_text())["learner"]
    assert sum(stats["reclones"] for stats in learner) >= 1  # the learner re-cloned its clones on them
