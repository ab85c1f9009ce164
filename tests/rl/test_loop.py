import json

import numpy as np
import pytest
import torch

from robo_reward.rl.config import PRE_REDESIGN, rl_config
from robo_reward.rl.loop import run_rl
from robo_reward.rl.replay import ReplayBuffer, sample_mixed
from robo_reward.rl.sac import SAC, SACConfig

FAST = dict(warmup_steps=30, batch_size=16, utd=1, checkpoint_every=1, eval_episodes=0)


def test_sparse_run_writes_metrics_summary_plot_and_resumes(tmp_path):
    out = tmp_path / "run"
    summary = run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=out, episodes=2, **FAST), progress=False)
    assert summary["episodes"] == 2 and 0.0 <= summary["success_rate_final"] <= 1.0
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["episode"] for r in rows] == [0, 1]
    assert all(r["length"] == 100 and r["gold"] == 0.0 for r in rows)  # random actions do not succeed
    assert all(np.isfinite(r["learner/critic_loss"]) for r in rows)  # updates start after 30 warm-up steps
    assert (out / "success.png").stat().st_size > 0 and (out / "checkpoint" / "state.pt").exists()
    summary = run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=out, episodes=3, resume=True, **FAST), progress=False)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["episode"] for r in rows] == [0, 1, 2] and rows[2]["total_steps"] == 300
    with (out / "metrics.jsonl").open("a") as f:  # killed after logging episode 3, before its checkpoint
        f.write(json.dumps({**rows[2], "episode": 3}) + "\n")
    run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=out, episodes=4, resume=True, **FAST), progress=False)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["episode"] for r in rows] == [0, 1, 2, 3] and rows[3]["total_steps"] == 400


TIMERS = ("policy_s", "env_s", "reward_s", "update_s")


def test_a_resumed_run_is_the_uninterrupted_run(tmp_path):
    """Killed and resumed, a run continues exactly as if it had never stopped: same episodes, same
    learner. Needs every generator in the checkpoint: the loop's, the learner's own (which 2 of the 3 critics) and
    torch's (the actor's exploration noise)."""
    def run(out, episodes, resume=False):
        run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=out, episodes=episodes, resume=resume, n_critics=3, **FAST), progress=False)
        rows = [{k: v for k, v in json.loads(x).items() if k not in TIMERS} for x in (out / "metrics.jsonl").read_text().splitlines()]
        return rows, torch.load(out / "checkpoint" / "state.pt", weights_only=False)["learner"]

    whole, learner = run(tmp_path / "whole", 2)
    run(tmp_path / "resumed", 1)
    torch.manual_seed(123)  # whatever the process did in between
    resumed, resumed_learner = run(tmp_path / "resumed", 2, resume=True)
    assert resumed == whole and whole[1]["total_steps"] == 200
    for part in ("actor", "critics"):
        for k, v in learner[part].items():
            assert torch.equal(v, resumed_learner[part][k]), (part, k)


def test_grm_shaped_run_with_demos(tmp_path, tiny_grm):
    out = tmp_path / "grm"
    run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=out, episodes=1, reward=f"grm:{tiny_grm}", obs="state+grm",
                    demo_episodes=1, value_bounds=True, **FAST), progress=False)
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert 0.0 <= row["final_progress"] <= 1.0
    assert row["shaping"] != 0.0 and row["reward_s"] > 0.0
    for buffer in ("online", "demos"):  # every row stored with its pbrs range [−Φ(s), 1 − Φ(s)]
        rows = np.load(out / "checkpoint" / f"{buffer}.npz")
        assert len(rows["q_low"]) > 0 and np.allclose(rows["q_high"] - rows["q_low"], 1.0)
        assert (rows["q_low"] <= 0).all() and (rows["q_low"] >= -1).all()


def test_delta_anneal_run_logs_its_weight_and_stores_the_excess(tmp_path, tiny_grm):
    out = tmp_path / "anneal"
    run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=out, episodes=2, reward=f"grm:{tiny_grm}", delta_anneal=2, value_bounds=True,
                    **FAST), progress=False)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["delta_weight"] for r in rows] == [1.0, 0.5]
    buf = np.load(out / "checkpoint" / "online.npz")
    assert (buf["excess"] > 0).any() and (buf["excess"] >= 0).all()  # (1 − γ)·Φ(s') on every step
    assert np.allclose(buf["q_high"] - buf["q_low"], 2.0)  # pbrs plus a share of delta's excess: delta's range


def test_bad_rl_config():
    with pytest.raises(ValueError, match="--reward must be"):
        rl_config(PRE_REDESIGN, task="pick-place", out="x", reward="magic").validate()
    with pytest.raises(ValueError, match="--fusion must be one of"):
        rl_config(PRE_REDESIGN, task="pick-place", out="x", reward="grm:m", fusion="median").validate()
    with pytest.raises(ValueError, match="needs a GRM"):
        rl_config(PRE_REDESIGN, task="pick-place", out="x", obs="state+grm").validate()
    with pytest.raises(ValueError, match="--bc-ensemble .* only with a frozen clone"):
        rl_config(PRE_REDESIGN, task="pick-place", out="x", demo_episodes=2, bc_init_steps=10, bc_ensemble=5).validate()
    for bad in (dict(reward="grm:m", potential_scale=0.0), dict(reward="grm:m", shaping="delta", potential_scale=2.0),
                dict(potential_scale=2.0)):  # not positive; not pbrs; sparse reward has no potential
        with pytest.raises(ValueError, match="--potential-scale"):
            rl_config(PRE_REDESIGN, task="pick-place", out="x", **bad).validate()


def test_observation_modes_read_what_they_name():
    """Robot state first (only the kept entries), then object state and/or the GRM's embedding."""
    from types import SimpleNamespace

    from robo_reward.observation import ObservationPipeline

    from robo_reward.types import StepInfo

    ts = SimpleNamespace(obs=SimpleNamespace(state=np.array([1.0, 2.0, 3.0])), info=StepInfo(privileged=np.array([4.0, 5.0])))
    features = np.array([6.0, 7.0, 8.0])
    got = {m: ObservationPipeline(m, np.array([0, 2]))(ts, features).tolist() for m in ("privileged", "state+grm", "privileged+grm")}
    assert got == {"privileged": [1, 3, 4, 5], "state+grm": [1, 3, 6, 7, 8], "privileged+grm": [1, 3, 4, 5, 6, 7, 8]}
    with pytest.raises(ValueError, match="needs a GRM"):
        rl_config(PRE_REDESIGN, task="pick-place", out="x", obs="privileged+grm").validate()
    with pytest.raises(ValueError, match="a real arm has no privileged state"):
        rl_config(PRE_REDESIGN, task="pick-place", out="x", obs="privileged+grm", reward="grm:m", env="ros", ros_real=True).validate()
    rl_config(PRE_REDESIGN, task="pick-place", out="x", grm_features="views").validate()  # no GRM is run: nothing reads them
    with pytest.raises(ValueError, match="--grm-features must be one of"):
        rl_config(PRE_REDESIGN, task="pick-place", out="x", obs="state+grm", reward="grm:m", grm_features="keypoints").validate()


def test_timeouts_bootstrap_and_terminals_do_not():
    buf = ReplayBuffer(10, 2, 1)
    buf.add(np.zeros(2), np.zeros(1), 1.0, np.ones(2), terminated=False)  # time-limit truncation
    buf.add(np.zeros(2), np.zeros(1), 1.0, np.ones(2), terminated=True)
    assert buf.discount[:2].tolist() == [1.0, 0.0]


def test_value_range_caps_the_critic_and_survives_a_checkpoint(tmp_path):
    """A target above the row's value range is clipped to it: the critic settles at the bound, not
    at the reward the row claims; the bounds are saved with the buffer (a buffer without them is refused)."""
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(100, 1, 1)
    for _ in range(100):
        buf.add(np.zeros(1), np.zeros(1), 5.0, np.zeros(1), terminated=True, value_range=(-0.2, 0.8))
    sac = SAC(1, 1, SACConfig(), torch.device("cpu"), seed=0)
    for _ in range(300):
        metrics = sac.update(sample_mixed(buf, None, 64, rng, torch.device("cpu")))
    assert metrics["target_clipped"] == 1.0 and metrics["q_mean"] == pytest.approx(0.8, abs=0.05)
    buf.save(tmp_path / "b.npz")
    back = ReplayBuffer(100, 1, 1)
    back.load(tmp_path / "b.npz")
    assert back.q_low[:100].tolist() == [pytest.approx(-0.2)] * 100 and back.q_high[:100].tolist() == [pytest.approx(0.8)] * 100
    np.savez(tmp_path / "old.npz", **{k: v for k, v in np.load(tmp_path / "b.npz").items() if not k.startswith("q_")})
    with pytest.raises(ValueError, match=r"old.npz: replay rows lack \['q_high', 'q_low'\]"):
        back.load(tmp_path / "old.npz")


@pytest.mark.parametrize("bounded", [False, True])
def test_pbrs_is_sparse_reward_with_the_critic_started_at_phi(bounded):
    """Q_pbrs = Q_sparse − Φ(s) through every SAC step, not only at the fixed point: a learner on PBRS rewards whose
    critics output Q_θ(s, a) − Φ(s) takes the sparse learner's steps on the same batches (with or without value
    bounds). So all PBRS changes is where the critic starts (docs/BENCHMARKS.md, "Why PBRS is not much faster")."""
    from robo_reward.shaping import UNBOUNDED, shaped_reward, value_range

    def phi(x):  # a potential of the observation (the learner's normalisation is the identity here)
        return torch.sigmoid(3.0 * torch.as_tensor(x)[..., 0])

    rng, gamma = np.random.default_rng(0), 0.95
    sparse_buf, pbrs_buf = ReplayBuffer(200, 2, 1), ReplayBuffer(200, 2, 1)
    for i in range(200):
        s, s2, a = rng.normal(size=2).astype(np.float32), rng.normal(size=2).astype(np.float32), rng.uniform(-1, 1, 1)
        success = i % 5 == 0  # a success ends the episode; the other rows are steps or time-limit truncations
        phi_s, phi_next = float(phi(s)), float(phi(s2))
        bounds = {m: value_range(m, phi_s, gamma) if bounded else UNBOUNDED for m in ("none", "pbrs")}
        sparse_buf.add(s, a, float(success), s2, success, bounds["none"])
        pbrs_buf.add(s, a, shaped_reward("pbrs", success, phi_s, phi_next, gamma, success).total, s2, success, bounds["pbrs"])

    def train(buf: ReplayBuffer, offset: bool) -> SAC:
        sac = SAC(2, 1, SACConfig(gamma=gamma), torch.device("cpu"), seed=0)  # re-seeds torch: same noise for both
        if offset:
            sac._q = lambda nets, obs, act: SAC._q(sac, nets, obs, act) - phi(obs)[None]
        batches = np.random.default_rng(1)
        for _ in range(20):  # Adam magnifies float rounding over many more steps
            sac.update(sample_mixed(buf, None, 64, batches, torch.device("cpu")))
        return sac

    sparse, pbrs = train(sparse_buf, offset=False), train(pbrs_buf, offset=True)
    for net in ("actor", "critics", "target"):
        for p, q in zip(getattr(sparse, net).parameters(), getattr(pbrs, net).parameters(), strict=True):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), atol=1e-5)
    assert sparse.log_alpha.item() == pytest.approx(pbrs.log_alpha.item(), abs=1e-6)


def test_delta_excess_is_weighted_when_learned_from_and_survives_a_checkpoint(tmp_path):
    """The excess is stored apart from the reward and weighted by the learner's current weight at each
    update, so rows collected early stop paying it once the anneal reaches 0."""
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(100, 1, 1)
    for _ in range(100):
        buf.add(np.zeros(1), np.zeros(1), 0.2, np.zeros(1), terminated=True, excess=0.5)
    sac = SAC(1, 1, SACConfig(), torch.device("cpu"), seed=0)
    for weight, q in ((1.0, 0.7), (0.0, 0.2)):
        sac.excess_weight = weight
        for _ in range(200):
            metrics = sac.update(sample_mixed(buf, None, 64, rng, torch.device("cpu")))
        assert metrics["q_mean"] == pytest.approx(q, abs=0.05)
    buf.save(tmp_path / "b.npz")
    back = ReplayBuffer(100, 1, 1)
    back.load(tmp_path / "b.npz")
    assert back.excess[:100].tolist() == [0.5] * 100
    np.savez(tmp_path / "old.npz", **{k: v for k, v in np.load(tmp_path / "b.npz").items() if k != "excess"})
    with pytest.raises(ValueError, match=r"old.npz: replay rows lack \['excess'\]"):  # written before the anneal: refused
        back.load(tmp_path / "old.npz")


def test_value_bounds_follow_the_reward_mode(tmp_path, tiny_grm):
    from robo_reward.reward.online import OnlineReward
    from robo_reward.rl.config import reward_config

    def bounds(**kw):
        text = "pick up the cube and place it in the bin"  # the tiny GRM's task
        return OnlineReward(reward_config(rl_config(PRE_REDESIGN, task="pick-place", out=tmp_path, **kw)), text).value_range(0.4)

    assert bounds(reward="sparse") == (-np.inf, np.inf)  # off by default
    assert bounds(reward="sparse", value_bounds=True) == (0.0, 1.0)
    assert bounds(reward="dense", value_bounds=True) == (-np.inf, np.inf)  # pays every step
    assert bounds(reward="sparse", value_bounds=True, gold_from_model=True) == (-np.inf, np.inf)  # gold can repeat
    assert bounds(reward=f"grm:{tiny_grm}", shaping="delta", value_bounds=True) == pytest.approx((-0.4, 1.6))
    assert bounds(reward=f"grm:{tiny_grm}", shaping="delta", value_bounds=True, no_gold=True) == pytest.approx((-0.4, 0.6))
    assert bounds(reward=f"grm:{tiny_grm}", shaping="pbrs", value_bounds=True, potential_scale=2.0) == pytest.approx((-0.8, 0.2))
    for bad in ({"reward": "grm:m", "shaping": "pbrs"}, {"reward": "sparse", "shaping": "delta"},
                {"reward": "grm:m", "shaping": "delta", "gold_from_model": True}):
        with pytest.raises(ValueError, match="--no-gold needs a grm reward with --shaping delta or progress"):
            rl_config(PRE_REDESIGN, task="pick-place", out=tmp_path, no_gold=True, **bad).validate()
    with pytest.raises(ValueError, match="--delta-anneal .* only with --shaping pbrs and a grm reward"):
        rl_config(PRE_REDESIGN, task="pick-place", out=tmp_path, delta_anneal=50).validate()
    with pytest.raises(ValueError, match="--delta-anneal"):
        rl_config(PRE_REDESIGN, task="pick-place", out=tmp_path, reward="grm:m", shaping="delta", delta_anneal=50).validate()


def test_sac_learns_a_one_step_bandit():
    """Reward = -(a - 0.5)^2, terminal: the policy mean must move to 0.5."""
    rng = np.random.default_rng(0)
    sac = SAC(1, 1, SACConfig(init_alpha=0.01, learn_alpha=False), torch.device("cpu"), seed=0)
    buf = ReplayBuffer(5000, 1, 1)
    for _ in range(2000):
        a = rng.uniform(-1, 1, 1)
        buf.add(np.zeros(1), a, float(-(a[0] - 0.5) ** 2), np.zeros(1), terminated=True)
    for _ in range(600):
        sac.update(sample_mixed(buf, None, 128, rng, torch.device("cpu")))
    assert abs(sac.act(np.zeros(1), deterministic=True)[0] - 0.5) < 0.15


def test_clone_noise_reaches_what_the_clones_read():
    """--clone-noise: Gaussian noise in standardised units on the clones' input while cloned. A small noise still fits
    a smooth expert; a noise far wider than the inputs' spread leaves nothing to fit (so the noise is applied)."""
    rng = np.random.default_rng(0)
    obs = rng.normal(3.0, 5.0, (600, 3)).astype(np.float32)
    act = np.stack([np.tanh((obs[:, 0] - 3.0) / 5.0), np.tanh((obs[:, 2] - 3.0) / 5.0)], -1).astype(np.float32)
    mse = {}
    for noise in (0.0, 0.1, 30.0):
        sac = SAC(3, 2, SACConfig(clone_noise=noise), torch.device("cpu"), seed=0)
        sac.set_normalization(obs)
        mse[noise] = sac.pretrain_bc(obs, act, steps=400, batch=128)
    assert mse[0.0] < 0.02 and mse[0.1] < 0.02 and mse[30.0] > 0.1
    with pytest.raises(ValueError, match="--clone-noise must be >= 0"):
        rl_config(PRE_REDESIGN, task="pick-place", out="x", clone_noise=-0.1).validate()


def test_behaviour_cloning_init_and_actor_frozen_critic_pretraining():
    """pretrain_bc fits a state-dependent expert (incl. a saturated gripper-like dimension); critic
    updates with actor=False leave the cloned actor exactly as it was; observation statistics
    travel with the state dict."""
    rng = np.random.default_rng(0)
    obs = rng.normal(3.0, 5.0, (600, 3)).astype(np.float32)  # far from zero-mean: normalisation matters
    act = np.stack([np.tanh((obs[:, 0] - 3.0) / 5.0), np.where(obs[:, 1] > 3.0, 1.0, -1.0)], -1).astype(np.float32)
    sac = SAC(3, 2, SACConfig(bc_weight=1.0), torch.device("cpu"), seed=0)
    sac.set_normalization(obs)
    untrained = float(((np.stack([sac.act(o, deterministic=True) for o in obs[:100]]) - act[:100]) ** 2).mean())
    mse = sac.pretrain_bc(obs, act, steps=400, batch=128)
    assert mse < 0.05 < untrained
    demos = ReplayBuffer(600, 3, 2)
    for o, a in zip(obs, act):
        demos.add(o, a, 0.0, o, terminated=False)
    before = {k: v.clone() for k, v in sac.actor.state_dict().items()}
    batch = sample_mixed(None, demos, 64, rng, torch.device("cpu"))
    assert bool(batch.demo.all())
    metrics = sac.update(batch, actor=False)
    assert "actor_loss" not in metrics and all(torch.equal(before[k], v) for k, v in sac.actor.state_dict().items())
    assert "bc_mse" in sac.update(batch)
    restored = SAC(3, 2, SACConfig(), torch.device("cpu"), seed=1)
    restored.load_state_dict(sac.state_dict())
    np.testing.assert_allclose(restored.act(obs[0], deterministic=True), sac.act(obs[0], deterministic=True), atol=1e-6)


def test_mixed_batches_mark_demo_rows():
    rng = np.random.default_rng(0)
    online, demos = ReplayBuffer(10, 1, 1), ReplayBuffer(10, 1, 1)
    online.add(np.zeros(1), np.zeros(1), 0.0, np.zeros(1), terminated=False)
    demos.add(np.ones(1), np.ones(1), 1.0, np.ones(1), terminated=False)
    b = sample_mixed(online, demos, 8, rng, torch.device("cpu"))
    assert b.demo.tolist() == [True] * 4 + [False] * 4 and b.obs[b.demo].eq(1).all() and b.obs[~b.demo].eq(0).all()
    assert not sample_mixed(online, None, 4, rng, torch.device("cpu")).demo.any()
    with pytest.raises(ValueError, match="nothing to sample"):
        sample_mixed(None, None, 4, rng, torch.device("cpu"))


def test_dense_reference_pays_the_success_terminal():
    from robo_reward.observation import ObservationPipeline
    from robo_reward.reward.online import dense_reward
    from robo_reward.types import Observation, StepInfo, TimeStep

    def ts(r: float, success: bool, terminated: bool) -> TimeStep:
        return TimeStep(Observation({}, np.zeros(1), 0.0), 0.0, terminated, False, StepInfo(success=success, dense_reward=r))

    assert dense_reward(ts(0.7, False, False), 0.99) == 0.7
    assert dense_reward(ts(1.0, True, True), 0.99) == pytest.approx(100.0)  # = staying at 1 forever
    assert dense_reward(ts(0.0, False, True), 0.99) == 0.0  # a failure terminal pays nothing extra
    robot = TimeStep(Observation({}, np.zeros(2), 0.0), 0.0, False, False, StepInfo(step=4))  # a real arm: neither
    with pytest.raises(ValueError, match="reports no dense reward at step 4"):
        dense_reward(robot, 0.99)
    with pytest.raises(ValueError, match="--obs privileged reads the simulator's object state; this environment reports none"):
        ObservationPipeline("privileged")(robot, np.zeros(0))


def test_learner_options_need_demos_and_switch_off():
    from robo_reward.cli import build_parser

    with pytest.raises(ValueError, match="need demonstrations"):
        rl_config(PRE_REDESIGN, task="pick-place", out="x", bc_init_steps=100).validate()
    from robo_reward.config import config_from_args
    from robo_reward.rl.config import RLConfig

    def parsed(*flags):
        argv = ["rl", "--task", "pick-place", "--out", "x", *flags]
        return config_from_args(RLConfig, build_parser(argv).parse_args(argv))

    assert parsed("--no-learn-alpha").sac.learn_alpha is False and parsed("--no-sac.learn-alpha").sac.learn_alpha is False
    assert parsed().sac.learn_alpha is True


def test_success_curve_helpers():
    from robo_reward.rl.summary import episodes_to, moving_success

    s = np.array([0] * 20 + [1] * 30, float)
    np.testing.assert_allclose(moving_success(s)[19:22], [0.0, 0.05, 0.1])
    assert episodes_to(s, 0.8) == 36  # 16 of the last 20
    assert episodes_to(np.zeros(40), 0.5) is None


def test_speed_is_measured_against_one_level_per_seed():
    """Each mode's episodes to 80% of the reference mode's final success on that seed: a flat run that
    never improves is not 'fast' (its own 80%-of-final is reached at once), and one that never gets there
    counts as the slowest in the median."""
    from robo_reward.rl.sweep import speed_vs_reference

    fast = np.array([0] * 20 + [1] * 40, float)  # final 1.0: level 0.8, reached at episode 36
    slow = np.array([0] * 35 + [1] * 25, float)  # reaches 16 of 20 at episode 51
    flat = np.array([0, 0, 0, 1] * 15, float)  # 25% from the start to the end
    speed = speed_vs_reference({"pbrs": [fast, fast, slow], "sparse": [slow, flat, flat]}, "pbrs")
    assert speed["reference"] == "pbrs" and speed["level_per_seed"] == pytest.approx([0.8, 0.8, 0.8])
    assert speed["episodes_to_level"] == {"pbrs": [36, 36, 51], "sparse": [51, None, None]}
    assert speed["episodes_to_level_median"] == {"pbrs": 36.0, "sparse": None}
    flat_ref = speed_vs_reference({"sparse": [flat], "pbrs": [fast]}, "sparse")  # level 0.2
    assert flat_ref["episodes_to_level"] == {"sparse": [20], "pbrs": [24]}
    none = speed_vs_reference({"sparse": [np.zeros(30)], "pbrs": [fast]}, "sparse")  # no level to reach
    assert none["episodes_to_level"] == {"sparse": [None], "pbrs": [None]}


def test_eval_policy_and_sweep_cli(tmp_path, capsys):
    """A 1-episode run is evaluated on unseen seeds (eval.json, a video); a 2-seed sweep of it runs
    as subprocesses and draws one plot; a finished sweep is not re-run."""
    from robo_reward.cli import main

    run = tmp_path / "run"
    run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=run, episodes=1, **{**FAST, "eval_episodes": 1}), progress=False)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["eval_episodes"] == 1 and 0.0 <= summary["eval_success_rate"] <= 1.0
    assert np.isfinite(summary["eval_value_overestimate"])
    assert json.loads((run / "eval.json").read_text())["after_episodes"] == 1
    run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=run, episodes=2, resume=True, **{**FAST, "eval_episodes": 1}), progress=False)
    assert json.loads((run / "eval.json").read_text())["after_episodes"] == 2  # trained on, so evaluated again
    assert summary["reward_hacking_rate"] == 0.0  # no model, so no model success signal
    assert main(["eval-policy", "--run", str(run), "--out", str(tmp_path / "ev"), "--episodes", "1", "--videos", "1"]) == 0
    ev = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert ev["rows"][0]["seed"] >= 20_000_000 and (tmp_path / "ev" / "eval_00.mp4").stat().st_size > 0
    row = ev["rows"][0]  # sparse reward, a failed episode: it returned 0, whatever the critic hoped
    assert not row["success"] and row["discounted_return"] == 0.0
    assert ev["value_overestimate"] == pytest.approx(row["start_value"]) and np.isfinite(row["start_value"])
    sweep_dir = tmp_path / "sweep"
    argv = ["sweep", "--task", "pick-place", "--out", str(sweep_dir), "--modes", "sparse", "--seeds", "0,1", "--episodes", "1",
            f"--rl-args=--config {PRE_REDESIGN} --warmup-steps 30 --batch-size 16 --utd 1 --eval-episodes 1"]
    assert main(argv) == 0
    result = json.loads((sweep_dir / "sweep.json").read_text())
    assert len(result["modes"]["sparse"]["per_seed"]) == 2 and (sweep_dir / "sweep.png").stat().st_size > 0
    assert result["speed"]["reference"] == "sparse" and len(result["speed"]["episodes_to_level"]["sparse"]) == 2
    assert "to 80% of sparse's final" in capsys.readouterr().out
    first = (sweep_dir / "sparse-s1.log").read_text().splitlines()[0]  # how to rerun that run alone, threads included
    assert first.startswith("# OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 ") and "--seed 1 " in first and "--warmup-steps 30" in first
    stamp = (sweep_dir / "sparse-s0" / "summary.json").stat().st_mtime
    assert main(argv) == 0 and (sweep_dir / "sparse-s0" / "summary.json").stat().st_mtime == stamp
    longer = [a if a != "1" else "2" for a in argv]  # --episodes 2: the finished runs resume and train on
    assert main(longer) == 0
    assert json.loads((sweep_dir / "sparse-s1" / "summary.json").read_text())["episodes"] == 2
    from robo_reward.rl.sweep import SweepConfig, run_command

    with pytest.raises(ValueError, match="need --grm"):
        SweepConfig(task="pick-place", out=tmp_path, modes=("pbrs",)).validate()
    cmd = run_command(SweepConfig(task="pick-place", out=tmp_path, modes=("delta-nogold",), grm="m"), "delta-nogold", "3")
    assert cmd[cmd.index("--shaping") + 1] == "delta" and "--no-gold" in cmd and str(tmp_path / "delta-nogold-s3") in cmd


@pytest.mark.parametrize("mode,members", [("residual", 1), ("residual", 3), ("ibrl", 1)])
def test_cloned_actor_modes_start_as_the_clone_and_survive_a_checkpoint(mode, members):
    """Residual: a fresh actor whose zero-mean residual leaves the cloned actors' mean action
    unchanged, bounded by the residual size. IBRL: the action is one of the two proposals. Both reload."""
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(300, 3)).astype(np.float32)
    act = np.tanh(obs[:, :2]).astype(np.float32)
    cfg = SACConfig(residual=0.2, bc_ensemble=members) if mode == "residual" else SACConfig(ibrl=True)
    sac = SAC(3, 2, cfg, torch.device("cpu"), seed=0)
    sac.set_normalization(obs)
    sac.pretrain_bc(obs, act, steps=200, batch=64)
    assert len(sac.clones) == members and len({id(c) for c in sac.clones}) == members
    with torch.no_grad():
        x = sac._n(torch.as_tensor(obs[:1]))
        per_member = torch.stack([c.mean_action(x)[0] for c in sac.clones]).numpy()
    if members > 1:
        assert np.abs(per_member[0] - per_member[1]).max() > 1e-4  # own init and batches: not copies
    clone = per_member.mean(0)
    sac.freeze_bc_actor()
    np.testing.assert_allclose(sac.act(obs[0], deterministic=True), clone, atol=1e-6)
    buf = ReplayBuffer(300, 3, 2)
    for o, a in zip(obs, act):
        buf.add(o, a, 1.0, o, terminated=True)
    for _ in range(50):
        sac.update(sample_mixed(buf, None, 64, rng, torch.device("cpu")))
    moved = sac.act(obs[0], deterministic=True)
    if mode == "residual":
        assert np.all(np.abs(moved - clone) <= 0.2 + 1e-6)
    restored = SAC(3, 2, cfg, torch.device("cpu"), seed=1)
    restored.load_state_dict(sac.state_dict())
    np.testing.assert_allclose(restored.act(obs[0], deterministic=True), moved, atol=1e-6)


def _dot(x: float) -> np.ndarray:
    """The walk seen by a camera: a bright 3x3 dot at column 2 + 27x of a dark 32x32 image, [1, 32, 32, 3]."""
    img = np.zeros((1, 32, 32, 3), np.uint8)
    c = 2 + int(round(27 * x))
    img[0, 14:17, c - 1:c + 2] = 255
    return img


def _chain_walk(shaping: str, episodes: int, seed: int, pixels: bool = False) -> list[bool]:
    """A 1-D walk to x = 1 (0.05 per step at |a| = 1, 60 steps): random exploration almost never
    gets there; Φ(x) = x is a correct potential. SAC + robo_reward.shaping, nothing else. With `pixels`
    the policy reads only an image of the walker (its PixelEncoder; the state vector is a constant)."""
    from robo_reward.shaping import shaped_reward

    rng = np.random.default_rng(seed)
    shape = (1, 32, 32, 3) if pixels else None
    sac = SAC(1, 1, SACConfig(init_alpha=0.01), torch.device("cpu"), seed=seed, pixel_shape=shape)
    buf = ReplayBuffer(10_000, 1, 1, shape)

    def obs(x: float) -> tuple[np.ndarray, np.ndarray | None]:
        return (np.zeros(1), _dot(x)) if pixels else (np.array([x]), None)

    wins, steps = [], 0
    for _ in range(episodes):
        x, done, t = 0.0, False, 0
        while not done:
            o, p = obs(x)
            a = rng.uniform(-1, 1, 1) if steps < 300 else sac.act(o.astype(np.float32), pixels=p)
            x2 = float(np.clip(x + 0.05 * a[0], 0.0, 1.0))
            t, steps = t + 1, steps + 1
            success = x2 >= 1.0
            r = shaped_reward(shaping, success, x, x2, 0.99, terminated=success)
            o2, p2 = obs(x2)
            buf.add(o, a, r.total, o2, terminated=success, pixels=p, next_pixels=p2)
            x, done = x2, success or t >= 60
            if steps >= 300:
                sac.update(sample_mixed(buf, None, 64, rng, torch.device("cpu")))
        wins.append(x >= 1.0)
    return wins


@pytest.mark.slow
def test_pbrs_learns_a_chain_walk_that_sparse_reward_does_not():
    pbrs = [np.mean(_chain_walk("pbrs", 25, s)[-10:]) for s in range(2)]
    sparse = [np.mean(_chain_walk("none", 25, s)[-10:]) for s in range(2)]
    assert min(pbrs) >= 0.8 and max(sparse) < min(pbrs)


@pytest.mark.slow
def test_pbrs_learns_the_chain_walk_from_pixels_alone():
    """The same walk with only a camera image as input: the policy's encoder, trained by the critics' loss on
    shifted frames, must find the walker for PBRS to pay off."""
    pbrs = [np.mean(_chain_walk("pbrs", 25, s, pixels=True)[-10:]) for s in range(2)]  # measured: 1.0 and 0.8
    sparse = [np.mean(_chain_walk("none", 25, s, pixels=True)[-10:]) for s in range(2)]  # 0 and 0
    assert min(pbrs) >= 0.7 and max(sparse) < min(pbrs)


def test_bad_env_output_is_named_before_it_is_learned_from():
    from robo_reward.environment_loop import check_timestep
    from robo_reward.types import BoxSpec, EnvSpec, Observation, TimeStep

    spec = EnvSpec(name="fake", task_text="t", subtasks=("a",), cameras=(), control_hz=10.0, max_steps=5,
                   state=BoxSpec(-np.ones(2, np.float32), np.ones(2, np.float32), ("q", "tcp.x")),
                   action=BoxSpec(-np.ones(1, np.float32), np.ones(1, np.float32)))

    def ts(state, reward=0.0):
        return TimeStep(Observation({}, np.asarray(state, np.float32), 0.0), reward, False, False, {})

    assert check_timestep(ts([0.0, 0.5]), spec, 0, 0).obs.state.shape == (2,)
    with pytest.raises(ValueError, match=r"fake: episode 3, step 7: state has shape \(3,\)"):
        check_timestep(ts([0.0, 0.5, 1.0]), spec, 3, 7)
    with pytest.raises(ValueError, match=r"non-finite state values in \['tcp.x'\]"):
        check_timestep(ts([0.0, np.nan]), spec, 0, 1)
    with pytest.raises(ValueError, match="non-finite reward"):
        check_timestep(ts([0.0, 0.0], reward=np.inf), spec, 0, 1)


def test_reward_hacking_counts_touches_and_episode_ends(tmp_path):
    """reward_hacking_rate: Φ touched 1 - δ without simulator success; _at_end: the episode also ended there;
    failed_final_progress: the mean Φ at the end of failed episodes (where a policy parks)."""
    from robo_reward.rl.summary import summarize_run

    base = {"return": 0.0, "length": 10, "policy_s": 0.0, "env_s": 0.0, "reward_s": 0.0, "update_s": 0.0}
    rows = [{**base, "episode": 0, "success": False, "model_success": True, "final_progress": 0.97},  # ends fooled
            {**base, "episode": 1, "success": False, "model_success": True, "final_progress": 0.40},  # a touch
            {**base, "episode": 2, "success": True, "model_success": True, "final_progress": 0.99},   # true success
            {**base, "episode": 3, "success": False, "model_success": False, "final_progress": 0.20}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = summarize_run(tmp_path)
    assert summary["reward_hacking_rate"] == 0.5 and summary["reward_hacking_rate_at_end"] == 0.25
    assert summary["failed_final_progress"] == pytest.approx((0.97 + 0.40 + 0.20) / 3) == summary["failed_final_progress_final"]


def test_collect_records_a_trained_policy_labelled_by_physics(tmp_path, tiny_grm, capsys):
    """`collect --policy`: the run's policy acts (here a state+grm one, so the GRM streams too), each episode
    is labelled by the simulator like scripted ones, the action noise is seeded, and a run of another task,
    a camera the policy needs or a folder that is no run are refused before anything is written."""
    from robo_reward.cli import main
    from robo_reward.data.lerobot_io import load_episode, read_info

    run = tmp_path / "run"
    run_rl(rl_config(PRE_REDESIGN, task="pick-place", out=run, episodes=1, reward=f"grm:{tiny_grm}", obs="state+grm", **FAST), progress=False)
    args = ["collect", "--task", "pick-place", "--policy", str(run), "--episodes", "2", "--seed", "5"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    info = read_info(tmp_path / "a")
    assert [a.mode for a in info.episodes] == ["policy", "policy"]
    assert all(a.outcome == "failure" and a.seed == 5 + i for i, a in enumerate(info.episodes))  # an untrained policy
    a, b = (load_episode(tmp_path / d, 1, ("front",)) for d in ("a", "b"))
    np.testing.assert_array_equal(a.actions, b.actions)  # same seed, same noise
    assert np.abs(np.diff(a.actions, axis=0)).max() > 0  # the policy acted (not a constant action)
    assert main(["collect", "--task", "peg-insert", "--policy", str(run), "--out", str(tmp_path / "c")]) == 2
    assert main(args + ["--cameras", "front", "--out", str(tmp_path / "d")]) == 2
    assert main(["collect", "--task", "pick-place", "--policy", str(tmp_path / "nope"), "--out", str(tmp_path / "e")]) == 2
    assert f"{tmp_path / 'nope' / 'config.json'} is missing" in capsys.readouterr().err
    assert not any((tmp_path / d).exists() for d in "cde")
