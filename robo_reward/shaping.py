"""Policy-invariant (potential-based) reward shaping from progress Φ, as pure functions.

r = r_gold + γ·Φ(s') − Φ(s), with the critic's γ (Ng et al. 1999; Robo-Dopamine's Dopamine-RL).
Φ(s') is taken as 0 when s' is a true terminal state, so an episode's shaping sums to
γ^T·Φ(s_T) − Φ(s_0) → −Φ(s_0), which no policy can change: the optimal policy is the sparse one's.
On time-limit truncation Φ(s') is kept and the critic keeps bootstrapping. `delta` (Φ(s') − Φ(s),
no γ: the "semantic trap" that pays for parking in high-progress states) and `progress` (Φ(s')
alone) are the baselines the ablations compare against.

delta = pbrs + (1 − γ)·Φ(s') (Φ(s') itself at a true terminal). Under a policy that never succeeds every
pbrs return is −Φ(s) whatever it does, so the critic's fixed point has no advantage to offer until a
success is seen. More exactly, a SAC learner on pbrs is the sparse learner with its critic started at
Φ(s), update for update (tests/rl/test_loop.py): pbrs helps only while the critic unlearns that start.
Delta's excess pays for reaching high Φ before that, our reading of why delta trains faster where
successes are rare. `anneal_weight` fades the excess out (`rl --delta-anneal`): delta's guidance early,
pbrs's invariance once the weight is 0 — measured worse than either on button-press (docs/BENCHMARKS.md),
kept off by default.

Every mode adds r_gold by default; `pay_gold=False` (`rl --no-gold`) withholds it, so `delta` is the issue's
bare Φ(s') − Φ(s): the reward a progress model alone gives where no success flag exists. Its return is a
γ-weighted mean of the progress reached, so a state held at Φ = 0.9 is worth nearly what finishing is
(measured on MetaWorld button-press: its learners park at an over-read pose where pbrs's keep looking)."""

from __future__ import annotations

from dataclasses import dataclass

SHAPINGS = ("pbrs", "delta", "progress", "none")
DEFAULT_DELTA = 0.05
UNBOUNDED = (float("-inf"), float("inf"))  # the value range where none is known


@dataclass(frozen=True)
class ShapedReward:
    total: float
    gold: float  # 1 on success (environment's flag, or the model's Φ >= 1 - δ when allowed)
    shaping: float  # the progress term added to gold
    excess: float = 0.0  # pbrs only: what delta would pay on top (delta_excess); the learner weighs it

    def with_excess(self, weight: float) -> float:
        """The reward a learner whose excess weight is `weight` (rl --delta-anneal) is trained on."""
        return self.total + weight * self.excess


def pbrs(phi_s: float, phi_next: float, gamma: float, terminated: bool) -> float:
    """F(s, s') = γ·Φ(s') − Φ(s), with Φ(s') = 0 on a true terminal state."""
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    return gamma * (0.0 if terminated else phi_next) - phi_s


def delta_excess(phi_next: float, gamma: float, terminated: bool) -> float:
    """delta − pbrs for one transition: (Φ(s') − Φ(s)) − (γ·Φ(s') − Φ(s)), Φ(s') = 0 for pbrs at a true terminal."""
    return phi_next - (0.0 if terminated else gamma * phi_next)


def anneal_weight(episode: int, episodes: int) -> float:
    """The weight of delta's excess in episode `episode`: 1 → 0 linearly over `episodes` (0: always 0)."""
    return max(0.0, 1.0 - episode / episodes) if episodes > 0 else 0.0


def gold_reward(env_success: bool, phi_next: float | None, delta: float = DEFAULT_DELTA, from_model: bool = False) -> float:
    """1 when the environment reports success, or (if `from_model`) when Φ(s') >= 1 − δ."""
    if env_success:
        return 1.0
    if from_model and phi_next is not None and phi_next >= 1.0 - delta:
        return 1.0
    return 0.0


def _check_scale(shaping: str, scale: float) -> None:
    if scale != 1.0 and shaping != "pbrs":
        raise ValueError(f"a potential scale other than 1 is for pbrs only, got {scale} with {shaping!r}")


def shaped_reward(shaping: str, env_success: bool, phi_s: float, phi_next: float, gamma: float, terminated: bool,
                  delta: float = DEFAULT_DELTA, gold_from_model: bool = False, pay_gold: bool = True,
                  scale: float = 1.0) -> ShapedReward:
    """`scale` multiplies pbrs's potential (k·Φ is as policy-invariant as Φ; gold stays 1 and r_gold from the
    model still reads the unscaled Φ)."""
    if shaping not in SHAPINGS:
        raise ValueError(f"shaping must be one of {SHAPINGS}, got {shaping!r}")
    _check_scale(shaping, scale)
    gold = gold_reward(env_success, phi_next, delta, gold_from_model) if pay_gold else 0.0
    excess = 0.0
    if shaping == "pbrs":
        f = pbrs(scale * phi_s, scale * phi_next, gamma, terminated)
        excess = delta_excess(scale * phi_next, gamma, terminated)
    elif shaping == "delta":
        f = phi_next - phi_s
    elif shaping == "progress":
        f = phi_next
    else:
        f = 0.0
    return ShapedReward(gold + f, gold, f, excess)


def value_range(shaping: str, phi_s: float, gamma: float, pay_gold: bool = True, scale: float = 1.0) -> tuple[float, float]:
    """The interval every return from s lies in (so every Q(s, ·)), for Φ in [0, 1] and gold 1 at
    most once (success ends the episode; never with `pay_gold=False`, which lowers each upper end by 1).
    pbrs: the shaping telescopes to −Φ(s) (Φ = 0 at a true terminal, γ^T·Φ(s_T) → 0 when the critic
    bootstraps past time limits), so [−Φ(s), 1 − Φ(s)];
    delta: −Φ(s) plus a weighted mean of later Φ (weights γ^(t−1)(1 − γ), summing to 1), plus
    gold: [−Φ(s), 2 − Φ(s)]; progress: [0, 1/(1 − γ) + 1]; none: [0, 1]. Clipping TD targets to it
    stops the critic from extrapolating past any reachable return (a MetaWorld button-press critic
    valued a start state at 1.12 where no return exceeds 0.95); an overestimate inside the range it
    leaves (docs/BENCHMARKS.md). `scale` is pbrs's potential scale: [−k·Φ(s), 1 − k·Φ(s)]."""
    gold = 1.0 if pay_gold else 0.0
    _check_scale(shaping, scale)
    if shaping == "pbrs":
        return -scale * phi_s, gold - scale * phi_s
    if shaping == "delta":
        return -phi_s, 1.0 + gold - phi_s
    if shaping == "progress":
        return 0.0, 1.0 / (1.0 - gamma) + gold
    if shaping == "none":
        return 0.0, gold
    raise ValueError(f"shaping must be one of {SHAPINGS}, got {shaping!r}")
