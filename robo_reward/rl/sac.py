"""SAC in the RLPD / HIL-SERL style: LayerNorm critics in an ensemble (target = min over a random
pair), a tanh-Gaussian actor, a learned (or fixed) entropy temperature, no entropy in the TD target.

With demonstrations: observations standardised with the demos' statistics, and the actor cloned from
them (mean action by squared error, spread by likelihood; optionally several clones acting with their
mean action). Then one of three ways to keep the clone while learning online: `residual` (the clone
frozen, a fresh actor adds a bounded correction — the only one that held the clone's success in the
pick-place benchmark), `ibrl` (the clone as a second proposal, chosen per state by the critics) or
`bc_weight` (a TD3+BC term on the demo rows); fine-tuning the clone directly, with or without the BC
term, lost it within a few episodes (docs/BENCHMARKS.md)."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from robo_reward.rl.replay import Batch


@dataclass(frozen=True)
class SACConfig:
    """The learner: SAC with a critic ensemble; how it keeps a cloned actor (residual, IBRL or a BC term)."""

    gamma: float = field(default=0.99, metadata={"help": "discount (also the shaping's γ)", "alias": "--gamma"})
    lr: float = field(default=3e-4, metadata={"help": "learning rate of actor, critics and temperature"})
    hidden: int = field(default=256, metadata={"help": "MLP width"})
    n_critics: int = field(default=2, metadata={"help": "critic ensemble size (RLPD uses 10)", "alias": "--n-critics"})
    critic_subset: int = field(default=2, metadata={"help": "critics the target takes the min over"})
    tau: float = field(default=0.005, metadata={"help": "target network Polyak rate"})
    init_alpha: float = field(default=0.1, metadata={"help": "initial entropy temperature", "alias": "--init-alpha"})
    learn_alpha: bool = field(default=True, metadata={"help": "learn the temperature toward -|A| entropy", "alias": "--learn-alpha"})
    backup_entropy: bool = field(default=False, metadata={"help": "soft targets (−α log π in the TD target); off as in RLPD"})
    max_std: float = field(default=math.exp(2.0), metadata={"help": "cap on the actor's spread before tanh (exploration noise)", "alias": "--max-std"})
    ibrl: bool = field(default=False, metadata={"help": "keep the cloned actor frozen beside the RL actor; act and bootstrap with whichever action the critics value more (IBRL)", "alias": "--ibrl"})
    residual: float = field(default=0.0, metadata={"help": "> 0: learn a residual of at most this size on top of the frozen cloned actor", "alias": "--residual"})
    bc_weight: float = field(default=0.0, metadata={"help": "BC term on demo rows (actor loss scaled by 1/mean|Q| when > 0)", "alias": "--bc-weight"})
    bc_ensemble: int = field(default=1, metadata={"help": "actors cloned from the demos (own init and batches); the frozen clone acts with their mean action", "alias": "--bc-ensemble"})

ACTION_EPS = 1e-2  # |a| >= 1 - eps counts as saturated (a closed gripper is exactly -1)


def mlp(inp: int, hidden: int, out: int, layernorm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(2):
        layers += [nn.Linear(inp if i == 0 else hidden, hidden)]
        if layernorm:
            layers += [nn.LayerNorm(hidden)]
        layers += [nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(hidden, out))


class Actor(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: int, max_std: float = math.exp(2.0)) -> None:
        super().__init__()
        self.max_log_std = math.log(max_std)
        self.net = mlp(obs_dim, hidden, 2 * act_dim, layernorm=True)

    def forward(self, obs: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_std = self.net(obs).chunk(2, dim=-1)
        log_std = log_std.clamp(-5.0, self.max_log_std)
        std = log_std.exp()
        u = mu if deterministic else mu + std * torch.randn_like(mu)
        return torch.tanh(u), _tanh_gaussian_logp(u, mu, log_std)

    def bc_loss(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Behaviour cloning: squared error of the mean action in [-1, 1], plus the likelihood of the
        demo action for the spread alone (mean detached), so that the cloned policy explores about as
        widely as it errs. Saturated demo actions (a gripper command of exactly ±1) say nothing about
        the spread (their atanh target is unbounded) and are left out of that term."""
        mu, log_std = self.net(obs).chunk(2, dim=-1)
        log_std = log_std.clamp(-5.0, self.max_log_std)
        inside = (action.abs() < 1 - ACTION_EPS).float()
        u = torch.atanh(action.clamp(-1 + ACTION_EPS, 1 - ACTION_EPS))
        nll = 0.5 * ((u - mu.detach()) / log_std.exp()) ** 2 + log_std
        return ((torch.tanh(mu) - action) ** 2).mean() + 1e-2 * (nll * inside).sum() / inside.sum().clamp(min=1.0)

    def mean_action(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(obs).chunk(2, dim=-1)[0])


class CloneEnsemble(nn.Module):
    """Several actors cloned from the same demonstrations, acting with their mean action. With 20
    pick-place demos one clone stalls in states the demos never visited; the members disagree there
    and their mean moves on (measured in docs/BENCHMARKS.md)."""

    def __init__(self, members: list[Actor]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def mean_action(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.stack([m.mean_action(obs) for m in self.members]).mean(0)

    def forward(self, obs: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Deterministic: the mean action (log-probability not defined, zeros); else a random member's sample."""
        if deterministic:
            return self.mean_action(obs), obs.new_zeros(len(obs))
        return self.members[int(torch.randint(len(self.members), ()))](obs)


def _tanh_gaussian_logp(u: torch.Tensor, mu: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    logp = (-0.5 * ((u - mu) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    return logp - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)


class SAC:
    """Learner: `update(batch) -> metrics`, `act(obs)`, `state_dict()` / `load_state_dict()`."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: SACConfig, device: torch.device, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.cfg, self.device, self.obs_dim, self.act_dim = cfg, device, obs_dim, act_dim
        self.rng = np.random.default_rng(seed)
        self.actor = Actor(obs_dim, act_dim, cfg.hidden, cfg.max_std).to(device)
        self.critics = nn.ModuleList(mlp(obs_dim + act_dim, cfg.hidden, 1, layernorm=True) for _ in range(cfg.n_critics)).to(device)
        self.target = copy.deepcopy(self.critics).requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(cfg.init_alpha), device=device, requires_grad=True)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr)
        self.critic_opt = torch.optim.Adam(self.critics.parameters(), lr=cfg.lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.lr)
        self.obs_mean = torch.zeros(obs_dim, device=device)
        self.obs_std = torch.ones(obs_dim, device=device)
        self.bc_actor: CloneEnsemble | None = None
        self.clones: list[Actor] = [self.actor]  # pretrain_bc fills cfg.bc_ensemble of them; the first is the actor
        self.acted_bc = 0.0  # IBRL: share of cloned actions in the last act() call
        self.excess_weight = 0.0  # how much of each row's delta excess the reward includes now (rl --delta-anneal)

    def set_normalization(self, obs: np.ndarray) -> None:
        """Fixed per-dimension standardisation (from the demonstrations); clipped to ±10 when applied."""
        self.obs_mean = torch.as_tensor(obs.mean(0), dtype=torch.float32, device=self.device)
        self.obs_std = torch.as_tensor(np.maximum(obs.std(0), 1e-2), dtype=torch.float32, device=self.device)

    def _n(self, obs: torch.Tensor) -> torch.Tensor:
        return ((obs - self.obs_mean) / self.obs_std).clamp(-10.0, 10.0)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        x = self._n(torch.as_tensor(obs, dtype=torch.float32, device=self.device)[None])
        a, _ = self._policy(x, deterministic)
        if self.bc_actor is not None and self.cfg.ibrl:
            a, self.acted_bc = self._best_of(self.critics, x, a, deterministic)
        return a[0].cpu().numpy()

    @torch.no_grad()
    def value(self, obs: np.ndarray, action: np.ndarray) -> float:
        """The critics' mean Q(obs, action): what the learner expects the return from here to be."""
        x = self._n(torch.as_tensor(obs, dtype=torch.float32, device=self.device)[None])
        a = torch.as_tensor(action, dtype=torch.float32, device=self.device)[None]
        return float(self._q(self.critics, x, a).mean())

    def _best_of(self, nets: nn.ModuleList, x: torch.Tensor, a_rl: torch.Tensor, deterministic: bool = False,
                 subset: torch.Tensor | None = None) -> tuple[torch.Tensor, float]:
        """IBRL's proposal step: the RL action or the frozen cloned actor's, whichever the critics
        (mean, or min over `subset`) value more, per row; also the share of cloned actions."""
        a_bc, _ = self.bc_actor(x, deterministic)
        q = torch.stack([self._q(nets, x, a) for a in (a_rl, a_bc)])  # [2, E, B]
        q = q.mean(1) if subset is None else q[:, subset].min(1).values
        pick_bc = q[1] > q[0]
        return torch.where(pick_bc[:, None], a_bc, a_rl), float(pick_bc.float().mean())

    def _policy(self, x: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """The acting policy: the actor's tanh-Gaussian action, or with `residual` > 0 the frozen
        cloned actor's mean action plus `residual` times it (log-probability of the residual)."""
        a, logp = self.actor(x, deterministic)
        if self.cfg.residual > 0 and self.bc_actor is not None:
            a = (self.bc_actor.mean_action(x) + self.cfg.residual * a).clamp(-1.0, 1.0)
        return a, logp

    def freeze_bc_actor(self, members: int | None = None) -> None:
        """Keep a frozen copy of the cloned actors: IBRL's second proposal, or the base policy that a
        fresh residual actor (`residual` > 0) corrects. `members`: build that many untrained ones
        (to load a checkpoint into)."""
        clones = self.clones if members is None else [self._new_actor() for _ in range(members)]
        self.bc_actor = CloneEnsemble([copy.deepcopy(c) for c in clones]).requires_grad_(False)
        if self.cfg.residual > 0:
            self.actor = self._new_actor()
            with torch.no_grad():  # start as the cloned policy: zero residual mean
                self.actor.net[-1].weight[: self.act_dim].zero_()
                self.actor.net[-1].bias[: self.act_dim].zero_()
            self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=self.cfg.lr)

    def _new_actor(self) -> Actor:
        return Actor(self.obs_dim, self.act_dim, self.cfg.hidden, self.cfg.max_std).to(self.device)

    def pretrain_bc(self, obs: np.ndarray, action: np.ndarray, steps: int, batch: int = 256) -> float:
        """Behaviour cloning on (obs, action in [-1, 1]) pairs (Actor.bc_loss) of the actor and, with
        `bc_ensemble` > 1, of further fresh actors (own init, own batches); returns the squared error
        of the clones' mean action over all pairs."""
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        a = torch.as_tensor(action, dtype=torch.float32, device=self.device)
        self.clones = [self.actor] + [self._new_actor() for _ in range(self.cfg.bc_ensemble - 1)]
        for clone in self.clones:
            opt = torch.optim.Adam(clone.parameters(), lr=1e-3)
            for _ in range(steps):
                idx = torch.as_tensor(self.rng.integers(0, len(o), batch), device=self.device)
                loss = clone.bc_loss(self._n(o[idx]), a[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        with torch.no_grad():
            return float(((CloneEnsemble(self.clones).mean_action(self._n(o)) - a) ** 2).mean())

    def _q(self, nets: nn.ModuleList, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        x = torch.cat([obs, act], dim=-1)
        return torch.stack([n(x).squeeze(-1) for n in nets])  # [E, B]

    def update(self, b: Batch, actor: bool = True) -> dict[str, float]:
        """One critic step, then (actor=True) one actor and temperature step. actor=False evaluates
        the current policy without changing it (critic pre-training on demonstrations)."""
        cfg = self.cfg
        alpha = self.log_alpha.exp().detach()
        obs, next_obs = self._n(b.obs), self._n(b.next_obs)
        with torch.no_grad():
            a2, logp2 = self._policy(next_obs)
            subset = torch.as_tensor(self.rng.choice(cfg.n_critics, size=min(cfg.critic_subset, cfg.n_critics), replace=False))
            bc_share = None
            if self.bc_actor is not None and cfg.ibrl:
                a2, bc_share = self._best_of(self.target, next_obs, a2, subset=subset)
            q_next = self._q(self.target, next_obs, a2)[subset].min(0).values
            soft = alpha * logp2 if cfg.backup_entropy else 0.0
            raw = b.reward + self.excess_weight * b.excess + cfg.gamma * b.discount * (q_next - soft)
            target = raw.clamp(b.q_low, b.q_high)
        q = self._q(self.critics, obs, b.action)
        critic_loss = ((q - target[None]) ** 2).mean()
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        metrics = {"critic_loss": critic_loss.item(), "q_mean": q.detach().mean().item(), "alpha": float(alpha),
                   "target_clipped": (raw != target).float().mean().item()}
        if bc_share is not None:
            metrics["bc_share_target"] = bc_share
        if actor:
            metrics.update(self._actor_step(obs, b, alpha))
        with torch.no_grad():
            for p, tp in zip(self.critics.parameters(), self.target.parameters(), strict=True):
                tp.lerp_(p, cfg.tau)
        return metrics

    def _actor_step(self, obs: torch.Tensor, b: Batch, alpha: torch.Tensor) -> dict[str, float]:
        cfg = self.cfg
        a, logp = self._policy(obs)
        q_pi = self._q(self.critics, obs, a).mean(0)
        actor_loss = (alpha * logp - q_pi).mean()
        bc = torch.zeros((), device=self.device)
        if cfg.bc_weight > 0 and bool(b.demo.any()):
            bc = ((self._policy(obs[b.demo], deterministic=True)[0] - b.action[b.demo]) ** 2).mean()
            actor_loss = actor_loss / q_pi.abs().mean().detach().clamp(min=1e-2) + cfg.bc_weight * bc
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_opt.step()
        if cfg.learn_alpha:
            alpha_loss = -(self.log_alpha * (logp.detach() - self.act_dim)).mean()
            self.alpha_opt.zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.alpha_opt.step()
        return {"actor_loss": actor_loss.item(), "bc_mse": bc.item()}

    def state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "critics": self.critics.state_dict(), "target": self.target.state_dict(),
                "log_alpha": self.log_alpha.detach().cpu(), "actor_opt": self.actor_opt.state_dict(),
                "critic_opt": self.critic_opt.state_dict(), "alpha_opt": self.alpha_opt.state_dict(),
                "obs_mean": self.obs_mean.cpu(), "obs_std": self.obs_std.cpu(), "rng": self.rng.bit_generator.state,
                "bc_actor": None if self.bc_actor is None else self.bc_actor.state_dict()}

    def load_state_dict(self, s: dict) -> None:
        if s.get("bc_actor") is not None:  # first: with a residual this replaces the actor and its optimiser
            clone = s["bc_actor"]
            self.freeze_bc_actor(members=len({k.split(".")[1] for k in clone}))
            self.bc_actor.load_state_dict(clone)
        self.actor.load_state_dict(s["actor"])
        self.critics.load_state_dict(s["critics"])
        self.target.load_state_dict(s["target"])
        with torch.no_grad():
            self.log_alpha.copy_(s["log_alpha"])
        self.actor_opt.load_state_dict(s["actor_opt"])
        self.critic_opt.load_state_dict(s["critic_opt"])
        self.alpha_opt.load_state_dict(s["alpha_opt"])
        self.rng.bit_generator.state = s["rng"]  # the critic-pair and batch choices go on where they stopped
        self.obs_mean, self.obs_std = s["obs_mean"].to(self.device), s["obs_std"].to(self.device)
