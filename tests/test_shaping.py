import numpy as np
import pytest

from robo_reward.shaping import anneal_weight, delta_excess, gold_reward, pbrs, shaped_reward, value_range


def test_pbrs_by_hand():
    assert pbrs(0.2, 0.5, 0.9, terminated=False) == pytest.approx(0.9 * 0.5 - 0.2)
    assert pbrs(0.2, 0.5, 0.9, terminated=True) == pytest.approx(-0.2)  # Φ(terminal) = 0
    with pytest.raises(ValueError, match="gamma"):
        pbrs(0.0, 0.0, 0.0, False)


@pytest.mark.parametrize("terminated", [True, False])
def test_discounted_shaping_telescopes(terminated):
    """Σ γ^t F_t = γ^T Φ(s_T) − Φ(s_0), with Φ(s_T) = 0 at a true terminal: no policy can change it."""
    rng = np.random.default_rng(0)
    phi = rng.uniform(0, 1, 31)
    gamma, n = 0.97, 30
    total = sum(gamma**t * pbrs(phi[t], phi[t + 1], gamma, terminated and t == n - 1) for t in range(n))
    end = 0.0 if terminated else phi[n]
    assert total == pytest.approx(gamma**n * end - phi[0])


def test_parking_pays_under_delta_but_not_under_pbrs():
    """The semantic trap: hovering at Φ = 0.9 costs (1 − γ)·Φ per step under pbrs (finishing is the
    only way to gain), is free under delta and pays 0.9 per step under `progress`."""
    park = [shaped_reward(s, False, 0.9, 0.9, 0.98, False) for s in ("pbrs", "delta", "progress")]
    assert park[0].total == pytest.approx(-0.02 * 0.9)
    assert park[1].total == 0.0
    assert park[2].total == pytest.approx(0.9)


@pytest.mark.parametrize("terminated", [True, False])
def test_pbrs_plus_its_excess_is_delta(terminated):
    """delta = pbrs + delta_excess on every transition, success terminals included; the anneal weight
    runs 1 → 0 over its episodes and stays 0 after (and is 0 throughout when off)."""
    rng = np.random.default_rng(2)
    for phi_s, phi_next in rng.uniform(0, 1, (50, 2)):
        p = shaped_reward("pbrs", terminated, phi_s, phi_next, 0.95, terminated)
        d = shaped_reward("delta", terminated, phi_s, phi_next, 0.95, terminated)
        assert p.total + p.excess == pytest.approx(d.total) and d.excess == 0.0
        assert p.with_excess(1.0) == pytest.approx(d.total) and p.with_excess(0.0) == p.total
    assert delta_excess(0.8, 0.95, False) == pytest.approx(0.05 * 0.8) and delta_excess(0.8, 0.95, True) == 0.8
    assert [anneal_weight(e, 4) for e in (0, 2, 4, 9)] == [1.0, 0.5, 0.0, 0.0] and anneal_weight(0, 0) == 0.0


def test_gold_reward():
    assert gold_reward(True, 0.1) == 1.0
    assert gold_reward(False, 0.97) == 0.0
    assert gold_reward(False, 0.97, from_model=True) == 1.0
    assert gold_reward(False, 0.9, from_model=True) == 0.0
    r = shaped_reward("pbrs", True, 0.8, 1.0, 0.99, terminated=True)
    assert r.gold == 1.0 and r.total == pytest.approx(1.0 - 0.8)
    with pytest.raises(ValueError, match="shaping must be one of"):
        shaped_reward("magic", False, 0, 0, 0.99, False)


def test_no_gold_delta_is_bare_progress_difference():
    """Without gold, delta pays Φ(s') − Φ(s) even on the success step, and finishing from Φ = 0.9 is
    worth only 0.1 more than holding 0.9 for ever (with gold: 1.1 more; pbrs with gold: 1 vs −0.9·(1 − γ)/step)."""
    r = shaped_reward("delta", True, 0.9, 1.0, 0.95, terminated=True, pay_gold=False)
    assert r.gold == 0.0 and r.total == pytest.approx(0.1)
    assert shaped_reward("delta", True, 0.9, 1.0, 0.95, terminated=True).total == pytest.approx(1.1)
    assert shaped_reward("delta", False, 0.9, 0.9, 0.95, False, pay_gold=False).total == 0.0


@pytest.mark.parametrize("shaping,pay_gold,scale", [("pbrs", True, 1.0), ("pbrs", True, 3.0), ("delta", True, 1.0),
                                                    ("progress", True, 1.0), ("none", True, 1.0),
                                                    ("delta", False, 1.0), ("progress", False, 1.0)])  # rl --no-gold allows these two
@pytest.mark.parametrize("end", ["success", "failure", "time limit"])
def test_every_return_lies_in_the_value_range(shaping, end, pay_gold, scale):
    """Gold 1 at most once (success ends the episode), or never: whatever the path of Φ, the discounted
    return from s lies in value_range(Φ(s)) (pbrs with its potential scaled by `scale` too). A time-limit
    path is cut after n steps without its bootstrap, so its partial return stays inside only while
    γ^n·scale ≤ 1 (here 0.9^12·3 = 0.85); the critic's full return goes on to −scale·Φ(s) + gold."""
    rng = np.random.default_rng(1)
    gamma, n = 0.9, 12
    for k in range(300):
        phi = rng.uniform(0, 1, n + 1) if k % 3 else np.r_[rng.uniform(0, 1), np.tile([0.0, 1.0], n)[:n]]  # + oscillating paths
        ret = sum(gamma**t * shaped_reward(shaping, end == "success" and t == n - 1, phi[t], phi[t + 1], gamma,
                                           end != "time limit" and t == n - 1, pay_gold=pay_gold, scale=scale).total
                  for t in range(n))
        lo, hi = value_range(shaping, phi[0], gamma, pay_gold, scale)
        assert lo - 1e-9 <= ret <= hi + 1e-9
    assert value_range("pbrs", 0.3, gamma) == pytest.approx((-0.3, 0.7))
    assert value_range("none", 0.7, gamma) == (0.0, 1.0)  # sparse: Φ plays no part
    assert value_range("delta", 0.3, gamma, pay_gold=False) == pytest.approx((-0.3, 0.7))  # no gold: one lower
    assert value_range("progress", 0.3, gamma, pay_gold=False) == pytest.approx((0.0, 1 / (1 - gamma)))
    with pytest.raises(ValueError, match="shaping must be one of"):
        value_range("pbrss", 0.1, gamma)
    assert value_range("pbrs", 0.3, gamma, scale=3.0) == pytest.approx((-0.9, 0.1))
    with pytest.raises(ValueError, match="for pbrs only"):
        value_range("delta", 0.3, gamma, scale=3.0)
    with pytest.raises(ValueError, match="for pbrs only"):
        shaped_reward("delta", False, 0.3, 0.4, gamma, False, scale=3.0)


def test_a_scaled_potential_still_telescopes_and_gold_reads_the_model_unscaled():
    """k·Φ is a potential like Φ: an episode's shaping sums to −k·Φ(s_0) at a true terminal; r_gold from
    the model fires on Φ itself (0.96 >= 1 − δ), not on k·Φ."""
    rng = np.random.default_rng(3)
    phi, gamma, n = rng.uniform(0, 0.9, 21), 0.95, 20
    total = sum(gamma**t * shaped_reward("pbrs", False, phi[t], phi[t + 1], gamma, t == n - 1, scale=4.0).shaping for t in range(n))
    assert total == pytest.approx(-4.0 * phi[0])
    assert shaped_reward("pbrs", False, 0.2, 0.96, gamma, False, gold_from_model=True, scale=0.5).gold == 1.0
    assert shaped_reward("pbrs", False, 0.2, 0.5, gamma, False, gold_from_model=True, scale=4.0).gold == 0.0
